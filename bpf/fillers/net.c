/* Fillers for socket syscalls. Each: one event at sys_exit, parameters in
 * schemas/events.py order. Socket addresses are copied raw (at most
 * MAX_SOCKADDR bytes, the size of a sockaddr_storage) and decoded in user
 * space by schemas/sockaddr.py. */

#define MAX_SOCKADDR 128

/* A sockaddr of `len` bytes at `ptr` in user memory; absent when ptr is NULL.
 * The kernel refuses longer ones for the calls that take one, so the cut only
 * matters for a caller's malformed length. */
static __always_inline void net__sockaddr(struct evt_writer *w, const void *ptr, u32 len)
{
    if (!ptr) {
        writer__absent(w);
        return;
    }
    writer__user_bytes(w, ptr, len > MAX_SOCKADDR ? MAX_SOCKADDR : len);
}

/* An address the kernel wrote back to user memory at `ptr`, with its length at
 * `lenp` (accept, recvfrom): only there when the call succeeded. The length is
 * what the kernel reports, which is the full address even when the caller's
 * buffer was shorter and got less of it. */
static __always_inline void net__sockaddr_out(struct evt_writer *w, const void *ptr,
                                              const void *lenp, s64 res)
{
    u32 len = 0;
    if (res < 0 || !ptr || !lenp || bpf_probe_read_user(&len, sizeof(len), lenp) < 0) {
        writer__absent(w);
        return;
    }
    net__sockaddr(w, ptr, len);
}

/* user_msghdr's first members, a user-space ABI (not a kernel-internal layout):
 * void *msg_name at 0, int msg_namelen at 8. */
struct net_msgname {
    u64 name;
    u32 namelen;
};

#define NET_AF_INET 2
#define NET_AF_INET6 10

/* The struct sock behind one of the current task's fds, or 0 when the fd is not
 * open or not a socket (its file's private_data is a socket pointing back at it). */
static __always_inline u64 net__sock_of(s64 fd)
{
    u64 files = kernel__u64(CURRENT_TASK(), OFF_TASK_FILES);
    if (fd < 0 || !files)
        return 0;
    u64 fdt = kread64(files + OFF_FILES_FDT);
    if (!fdt || (u64)fd >= kread32(fdt + OFF_FDTABLE_MAX_FDS))
        return 0;
    u64 fds = kread64(fdt + OFF_FDTABLE_FD);
    u64 file = fds ? kread64(fds + 8 * fd) : 0;
    u64 sock = file ? kread64(file + OFF_FILE_PRIVATE_DATA) : 0;
    if (!sock || kread64(sock + OFF_SOCKET_FILE) != file)
        return 0;
    return kread64(sock + OFF_SOCKET_SK);
}

/* The socket at `fd`'s own address as a sockaddr_in or sockaddr_in6 built from
 * its sock_common (what getsockname would say); absent for other families. */
static __always_inline void net__local(struct evt_writer *w, s64 fd)
{
#if !HAVE_SOCKET_LOCAL
    /* this kernel's BTF lacks a member on the way to the sock: left empty */
    writer__absent(w);
    return;
#endif
    u64 sk = net__sock_of(fd);
    u8 sa[28] = {};
    u16 family = 0;
    if (sk) {
        u64 common = sk + OFF_SOCK_COMMON;
        bpf_probe_read_kernel(&family, sizeof(family), (const void *)(common + OFF_SKC_FAMILY));
        u16 port = 0;
        bpf_probe_read_kernel(&port, sizeof(port), (const void *)(common + OFF_SKC_NUM));
        *(u16 *)sa = family;
        *(u16 *)(sa + 2) = __builtin_bswap16(port);  /* skc_num is in host order */
        /* Both read whatever the family: as branches, clang merges the two reads
         * into one with a computed stack pointer, which the verifier refuses. */
        u32 saddr = 0;
        bpf_probe_read_kernel(&saddr, sizeof(saddr), (const void *)(common + OFF_SKC_RCV_SADDR));
#if HAVE_SKC_V6
        bpf_probe_read_kernel(sa + 8, 16, (const void *)(common + OFF_SKC_V6_RCV_SADDR));
#else
        if (family == NET_AF_INET6)
            family = 0;  /* no IPv6 address to read: the local address is left empty */
#endif
        if (family == NET_AF_INET) {
            *(u32 *)(sa + 4) = saddr;
            __builtin_memset(sa + 8, 0, 8);  /* sin_zero */
        }
    }
    u32 len = family == NET_AF_INET ? 16 : family == NET_AF_INET6 ? 28 : 0;
    if (!len) {
        writer__absent(w);
        return;
    }
    u32 off = bounded(w->var_off, VAR_MASK);
    *(u16 *)(w->buf + off) = len;
    if (len == 16)
        __builtin_memcpy(w->buf + off + 2, sa, 16);
    else
        __builtin_memcpy(w->buf + off + 2, sa, 28);
    w->var_off = off + 2 + len;
}

/* socket(domain, type, protocol) */
int sys_socket_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SOCKET);
    /* Parameter 1: domain (flags) */
    writer__scalar(&w, (u32)ARG(0));
    /* Parameter 2: socktype (flags) */
    writer__scalar(&w, (u32)ARG(1));
    /* Parameter 3: protocol (int) */
    writer__scalar(&w, (s64)(s32)ARG(2));
    writer__submit(&w);
    return 0;
}

/* socketpair(domain, type, protocol, int sv[2]) */
int sys_socketpair_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SOCKETPAIR);
    s32 fds[2] = {-1, -1};
    if ((s64)ctx->args[1] == 0)
        bpf_probe_read_user(fds, sizeof(fds), (const void *)ARG(3));
    /* Parameter 1: domain (flags) */
    writer__scalar(&w, (u32)ARG(0));
    /* Parameter 2: socktype (flags) */
    writer__scalar(&w, (u32)ARG(1));
    /* Parameter 3: protocol (int) */
    writer__scalar(&w, (s64)(s32)ARG(2));
    /* Parameter 4: fd1 (fd) */
    writer__scalar(&w, (s64)fds[0]);
    /* Parameter 5: fd2 (fd) */
    writer__scalar(&w, (s64)fds[1]);
    writer__submit(&w);
    return 0;
}

/* connect(fd, addr, addrlen) */
int sys_connect_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, CONNECT);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: addr (sockaddr) */
    net__sockaddr(&w, (const void *)ARG(1), (u32)ARG(2));
    /* Parameter 3: local (sockaddr) */
    net__local(&w, FD(0));
    writer__submit(&w);
    return 0;
}

/* accept(fd, addr, int *addrlen) */
int sys_accept_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, ACCEPT);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: addr (sockaddr) */
    net__sockaddr_out(&w, (const void *)ARG(1), (const void *)ARG(2), (s64)ctx->args[1]);
    /* Parameter 3: local (sockaddr) */
    net__local(&w, (s64)ctx->args[1]);
    writer__submit(&w);
    return 0;
}

/* accept4(fd, addr, int *addrlen, flags) */
int sys_accept4_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, ACCEPT4);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: addr (sockaddr) */
    net__sockaddr_out(&w, (const void *)ARG(1), (const void *)ARG(2), (s64)ctx->args[1]);
    /* Parameter 3: flags (flags) */
    writer__scalar(&w, (u32)ARG(3));
    /* Parameter 4: local (sockaddr) */
    net__local(&w, (s64)ctx->args[1]);
    writer__submit(&w);
    return 0;
}

/* bind(fd, addr, addrlen) */
int sys_bind_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, BIND);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: addr (sockaddr) */
    net__sockaddr(&w, (const void *)ARG(1), (u32)ARG(2));
    writer__submit(&w);
    return 0;
}

/* listen(fd, backlog) */
int sys_listen_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, LISTEN);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: backlog (int) */
    writer__scalar(&w, (s64)(s32)ARG(1));
    writer__submit(&w);
    return 0;
}

/* The msg_name pointer of the user msghdr at `msg` (0 when none or unreadable). */
static __always_inline u64 net__msgname_ptr(u64 msg)
{
    u64 name = 0;
    if (msg)
        bpf_probe_read_user(&name, sizeof(name), (const void *)msg);
    return name;
}

/* The data path of a connected socket (no address given or asked for) says
 * nothing connect/accept did not: like read and write, it is recorded only when
 * asked for (RECORD_NET_DATA). An address is a peer, kept always (UDP). */

/* sendto(fd, buf, size, flags, dest_addr, addrlen) */
int sys_sendto_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN_IF(w, SENDTO, RECORD_NET_DATA || ARG(4));
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: size (uint) */
    writer__scalar(&w, ARG(2));
    /* Parameter 3: flags (flags) */
    writer__scalar(&w, (u32)ARG(3));
    /* Parameter 4: addr (sockaddr) */
    net__sockaddr(&w, (const void *)ARG(4), (u32)ARG(5));
    writer__submit(&w);
    return 0;
}

/* The msg_name of the user msghdr at `msg`: for sendmsg what the caller gave,
 * for recvmsg (after a success) what the kernel wrote back. */
static __always_inline void net__msgname(struct evt_writer *w, const void *msg, int ok)
{
    struct net_msgname m = {0, 0};
    if (!ok || !msg || bpf_probe_read_user(&m, sizeof(m), msg) < 0) {
        writer__absent(w);
        return;
    }
    net__sockaddr(w, (const void *)m.name, m.namelen);
}

/* sendmsg(fd, struct user_msghdr *msg, flags) */
int sys_sendmsg_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN_IF(w, SENDMSG, RECORD_NET_DATA || net__msgname_ptr(ARG(1)));
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: flags (flags) */
    writer__scalar(&w, (u32)ARG(2));
    /* Parameter 3: addr (sockaddr) */
    net__msgname(&w, (const void *)ARG(1), 1);
    writer__submit(&w);
    return 0;
}

/* recvfrom(fd, buf, size, flags, src_addr, int *addrlen) */
int sys_recvfrom_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN_IF(w, RECVFROM, RECORD_NET_DATA || ARG(4));
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: size (uint) */
    writer__scalar(&w, ARG(2));
    /* Parameter 3: flags (flags) */
    writer__scalar(&w, (u32)ARG(3));
    /* Parameter 4: addr (sockaddr) */
    net__sockaddr_out(&w, (const void *)ARG(4), (const void *)ARG(5), (s64)ctx->args[1]);
    writer__submit(&w);
    return 0;
}

/* recvmsg(fd, struct user_msghdr *msg, flags) */
int sys_recvmsg_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN_IF(w, RECVMSG, RECORD_NET_DATA || net__msgname_ptr(ARG(1)));
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: flags (flags) */
    writer__scalar(&w, (u32)ARG(2));
    /* Parameter 3: addr (sockaddr) */
    net__msgname(&w, (const void *)ARG(1), (s64)ctx->args[1] >= 0);
    writer__submit(&w);
    return 0;
}

/* shutdown(fd, how) */
int sys_shutdown_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SHUTDOWN);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: how (flags) */
    writer__scalar(&w, (u32)ARG(1));
    writer__submit(&w);
    return 0;
}
