/* Fillers for the I/O syscalls (record --io). Each: one event at sys_exit,
 * parameters in schemas/events.py order. The data parameter is what the call
 * moved, cut at SNAPLEN: taken at exit because only res says how many bytes that
 * was, and for a read the bytes are only in the buffer now. */

/* Readv/writev gather at most this many iovecs: enough for the usual header +
 * body pairs, and a bound the verifier can see. */
#define IO_MAX_IOVECS 16

/* Upper bound of a copy length for the verifier; SNAPLEN is at most MAX_PATH. */
#define IO_LEN_MASK (MAX_PATH * 2 - 1)

/* struct iovec, a user-space ABI: base pointer, then length. */
struct io_iovec {
    u64 base;
    u64 len;
};

/* How much of a call's buffer to keep: min(res, SNAPLEN). */
static __always_inline u32 io__snap(s64 res)
{
    return res < SNAPLEN ? (u32)res : SNAPLEN;
}

/* The first min(res, SNAPLEN) bytes at `buf`; absent when the call failed or the
 * memory cannot be read. */
static __always_inline void io__data(struct evt_writer *w, u64 buf, s64 res)
{
    if (res < 0) {
        writer__absent(w);
        return;
    }
    u32 len = io__snap(res);
    u32 off = bounded(w->var_off, VAR_MASK);
    if (len && bpf_probe_read_user(w->buf + off + 2, bounded(len, IO_LEN_MASK),
                                   (const void *)buf) < 0) {
        writer__absent(w);
        return;
    }
    *(u16 *)(w->buf + off) = len;
    w->var_off = off + 2 + len;
}

/* The same for an iovec array: its buffers' bytes one after another, as the call
 * moved them, across at most IO_MAX_IOVECS entries. */
static __always_inline void io__iov_data(struct evt_writer *w, u64 iov, u64 iovcnt, s64 res)
{
    if (res < 0) {
        writer__absent(w);
        return;
    }
    u32 want = io__snap(res);
    u32 off = bounded(w->var_off, VAR_MASK);
    u32 got = 0;
    for (int i = 0; i < IO_MAX_IOVECS; i++) {
        if (i >= iovcnt || got >= want)
            break;
        struct io_iovec v = {};
        if (bpf_probe_read_user(&v, sizeof(v), (const void *)(iov + i * sizeof(v))) < 0)
            goto unreadable;
        u32 n = v.len < want - got ? (u32)v.len : want - got;
        /* got < want <= MAX_PATH here, so the mask only shows the verifier the bound */
        u32 at = off + 2 + bounded(got, MAX_PATH - 1);
        if (n && bpf_probe_read_user(w->buf + at, bounded(n, IO_LEN_MASK),
                                     (const void *)v.base) < 0)
            goto unreadable;
        got += n;
    }
    *(u16 *)(w->buf + off) = got;
    w->var_off = off + 2 + got;
    return;
unreadable:
    writer__absent(w);
}

/* read(fd, buf, count) */
int sys_read_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, READ);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: size (uint) */
    writer__scalar(&w, ARG(2));
    /* Parameter 3: data (buf) */
    io__data(&w, ARG(1), (s64)ctx->args[1]);
    writer__submit(&w);
    return 0;
}

/* write(fd, buf, count) */
int sys_write_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, WRITE);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: size (uint) */
    writer__scalar(&w, ARG(2));
    /* Parameter 3: data (buf) */
    io__data(&w, ARG(1), (s64)ctx->args[1]);
    writer__submit(&w);
    return 0;
}

/* pread64(fd, buf, count, pos) */
int sys_pread64_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, PREAD64);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: size (uint) */
    writer__scalar(&w, ARG(2));
    /* Parameter 3: pos (int) */
    writer__scalar(&w, ARG(3));
    /* Parameter 4: data (buf) */
    io__data(&w, ARG(1), (s64)ctx->args[1]);
    writer__submit(&w);
    return 0;
}

/* pwrite64(fd, buf, count, pos) */
int sys_pwrite64_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, PWRITE64);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: size (uint) */
    writer__scalar(&w, ARG(2));
    /* Parameter 3: pos (int) */
    writer__scalar(&w, ARG(3));
    /* Parameter 4: data (buf) */
    io__data(&w, ARG(1), (s64)ctx->args[1]);
    writer__submit(&w);
    return 0;
}

/* readv(fd, iov, iovcnt) */
int sys_readv_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, READV);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: iovcnt (uint) */
    writer__scalar(&w, ARG(2));
    /* Parameter 3: data (buf) */
    io__iov_data(&w, ARG(1), ARG(2), (s64)ctx->args[1]);
    writer__submit(&w);
    return 0;
}

/* writev(fd, iov, iovcnt) */
int sys_writev_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, WRITEV);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: iovcnt (uint) */
    writer__scalar(&w, ARG(2));
    /* Parameter 3: data (buf) */
    io__iov_data(&w, ARG(1), ARG(2), (s64)ctx->args[1]);
    writer__submit(&w);
    return 0;
}
