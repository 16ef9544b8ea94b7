/* Fillers for privilege-relevant syscalls (tracing, signals, identity,
 * capabilities, namespaces, mounts) and for kernel-facing ones (modules, bpf,
 * userfaultfd, io_uring). Each: one event at sys_exit, parameters in
 * schemas/events.py order. */

/* ptrace(request, pid, addr, data) */
int sys_ptrace_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, PTRACE);
    /* Parameter 1: request (flags) */
    writer__scalar(&w, ARG(0));
    /* Parameter 2: target (pid) */
    writer__scalar(&w, FD(1));
    /* Parameter 3: addr (uint) */
    writer__scalar(&w, ARG(2));
    /* Parameter 4: data (uint) */
    writer__scalar(&w, ARG(3));
    writer__submit(&w);
    return 0;
}

/* kill(pid, sig): pids are signed, -1 and negative groups stay so. */
int sys_kill_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, KILL);
    /* Parameter 1: target (pid) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: sig (flags) */
    writer__scalar(&w, FD(1));
    writer__submit(&w);
    return 0;
}

/* tkill(tid, sig) */
int sys_tkill_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, TKILL);
    /* Parameter 1: target_tid (pid) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: sig (flags) */
    writer__scalar(&w, FD(1));
    writer__submit(&w);
    return 0;
}

/* tgkill(tgid, tid, sig) */
int sys_tgkill_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, TGKILL);
    /* Parameter 1: tgid (pid) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: target_tid (pid) */
    writer__scalar(&w, FD(1));
    /* Parameter 3: sig (flags) */
    writer__scalar(&w, FD(2));
    writer__submit(&w);
    return 0;
}

/* setreuid(ruid, euid), setregid(rgid, egid): 32-bit ids, -1 stays -1. */
int sys_setreuid_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SETREUID);
    /* Parameters 1-2: ruid, euid (uid) */
    writer__scalar(&w, FD(0));
    writer__scalar(&w, FD(1));
    writer__submit(&w);
    return 0;
}

int sys_setregid_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SETREGID);
    /* Parameters 1-2: rgid, egid (gid) */
    writer__scalar(&w, FD(0));
    writer__scalar(&w, FD(1));
    writer__submit(&w);
    return 0;
}

/* capset(hdr = {u32 version; s32 pid}, data = {u32 effective, permitted,
 * inheritable}[1 or 2]): versions 2 and 3 pass two structs, capabilities 0-31 in
 * the first and 32-63 in the second (CAP_PERFMON, CAP_BPF, ...); version 1 one.
 * Each struct is read apart: unreadable memory reads as zeros (the result, EFAULT,
 * tells why), and a version 1 caller's memory past its struct is not read at all. */
#define CAPSET_VERSION_1 0x19980330

int sys_capset_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, CAPSET);
    s32 hdr[2] = {0, 0};
    u32 low[3] = {0, 0, 0};
    u32 high[3] = {0, 0, 0};
    bpf_probe_read_user(hdr, sizeof(hdr), (const void *)ARG(0));
    bpf_probe_read_user(low, sizeof(low), (const void *)ARG(1));
    if ((u32)hdr[0] != CAPSET_VERSION_1)
        bpf_probe_read_user(high, sizeof(high), (const void *)(ARG(1) + sizeof(low)));
    /* Parameter 1: target (pid) */
    writer__scalar(&w, (s64)hdr[1]);
    /* Parameters 2-4: effective, permitted, inheritable (uint): bits 0-63 */
    writer__scalar(&w, (u64)low[0] | (u64)high[0] << 32);
    writer__scalar(&w, (u64)low[1] | (u64)high[1] << 32);
    writer__scalar(&w, (u64)low[2] | (u64)high[2] << 32);
    writer__submit(&w);
    return 0;
}

/* prctl(option, arg2, arg3, arg4, arg5) */
int sys_prctl_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, PRCTL);
    /* Parameter 1: option (flags) */
    writer__scalar(&w, (u32)ARG(0));
    /* Parameters 2-5: arg2, arg3, arg4, arg5 (uint) */
    writer__scalar(&w, ARG(1));
    writer__scalar(&w, ARG(2));
    writer__scalar(&w, ARG(3));
    writer__scalar(&w, ARG(4));
    writer__submit(&w);
    return 0;
}

/* setns(fd, nstype) */
int sys_setns_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SETNS);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: nstype (flags) */
    writer__scalar(&w, (u32)ARG(1));
    writer__submit(&w);
    return 0;
}

/* unshare(flags) */
int sys_unshare_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, UNSHARE);
    /* Parameter 1: flags (flags) */
    writer__scalar(&w, ARG(0));
    writer__submit(&w);
    return 0;
}

/* chroot(path) */
int sys_chroot_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, CHROOT);
    /* Parameter 1: path (path) */
    writer__user_str(&w, (const void *)ARG(0));
    writer__submit(&w);
    return 0;
}

/* fchown(fd, owner, group) */
int sys_fchown_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, FCHOWN);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameters 2-3: owner (uid), group (gid) */
    writer__scalar(&w, FD(1));
    writer__scalar(&w, FD(2));
    writer__submit(&w);
    return 0;
}

/* chown(path, owner, group) */
int sys_chown_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, CHOWN);
    /* Parameter 1: path (path) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameters 2-3: owner (uid), group (gid) */
    writer__scalar(&w, FD(1));
    writer__scalar(&w, FD(2));
    writer__submit(&w);
    return 0;
}

/* lchown(path, owner, group) */
int sys_lchown_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, LCHOWN);
    /* Parameter 1: path (path) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameters 2-3: owner (uid), group (gid) */
    writer__scalar(&w, FD(1));
    writer__scalar(&w, FD(2));
    writer__submit(&w);
    return 0;
}

/* fchownat(dirfd, path, owner, group, flags) */
int sys_fchownat_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, FCHOWNAT);
    /* Parameter 1: dirfd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: path (path) */
    writer__user_str(&w, (const void *)ARG(1));
    /* Parameters 3-4: owner (uid), group (gid) */
    writer__scalar(&w, FD(2));
    writer__scalar(&w, FD(3));
    /* Parameter 5: flags (flags) */
    writer__scalar(&w, (u32)ARG(4));
    writer__submit(&w);
    return 0;
}

/* mount(source, target, fstype, flags, data): data is per-filesystem and may
 * be binary, so it is left out. */
int sys_mount_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, MOUNT);
    /* Parameter 1: source (str) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: target (path) */
    writer__user_str(&w, (const void *)ARG(1));
    /* Parameter 3: fstype (str) */
    writer__user_str(&w, (const void *)ARG(2));
    /* Parameter 4: flags (flags) */
    writer__scalar(&w, ARG(3));
    writer__submit(&w);
    return 0;
}

/* umount2(target, flags) */
int sys_umount2_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, UMOUNT2);
    /* Parameter 1: target (path) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: flags (flags) */
    writer__scalar(&w, (u32)ARG(1));
    writer__submit(&w);
    return 0;
}

/* init_module(image, len, params): the image itself is not recorded. */
int sys_init_module_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, INIT_MODULE);
    /* Parameter 1: len (uint) */
    writer__scalar(&w, ARG(1));
    /* Parameter 2: params (str) */
    writer__user_str(&w, (const void *)ARG(2));
    writer__submit(&w);
    return 0;
}

/* finit_module(fd, params, flags) */
int sys_finit_module_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, FINIT_MODULE);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: params (str) */
    writer__user_str(&w, (const void *)ARG(1));
    /* Parameter 3: flags (flags) */
    writer__scalar(&w, (u32)ARG(2));
    writer__submit(&w);
    return 0;
}

/* delete_module(name, flags) */
int sys_delete_module_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, DELETE_MODULE);
    /* Parameter 1: name (str) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: flags (flags) */
    writer__scalar(&w, (u32)ARG(1));
    writer__submit(&w);
    return 0;
}

/* bpf(cmd, attr, size): the attr union depends on cmd and is not recorded. */
int sys_bpf_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, BPF);
    /* Parameter 1: cmd (flags) */
    writer__scalar(&w, (u32)ARG(0));
    /* Parameter 2: size (uint) */
    writer__scalar(&w, (u32)ARG(2));
    writer__submit(&w);
    return 0;
}

/* userfaultfd(flags) */
int sys_userfaultfd_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, USERFAULTFD);
    /* Parameter 1: flags (flags) */
    writer__scalar(&w, (u32)ARG(0));
    writer__submit(&w);
    return 0;
}

/* io_uring_setup(entries, params): params = {u32 sq_entries, cq_entries, flags, ...};
 * unreadable params read as flags 0 (the result, EFAULT, says why). */
int sys_io_uring_setup_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, IO_URING_SETUP);
    u32 flags = 0;
    bpf_probe_read_user(&flags, sizeof(flags), (const void *)(ARG(1) + 8));
    /* Parameter 1: entries (uint) */
    writer__scalar(&w, (u32)ARG(0));
    /* Parameter 2: flags (flags) */
    writer__scalar(&w, flags);
    writer__submit(&w);
    return 0;
}
