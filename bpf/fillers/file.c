/* Fillers for file and descriptor syscalls. Each: one event at sys_exit,
 * parameters in schemas/events.py order (scalars fill slots in order, variable
 * parameters follow in order). */

/* open(name, flags, mode) */
int sys_open_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, OPEN);
    /* Parameter 1: name (path) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: flags (flags) */
    writer__scalar(&w, (u32)ARG(1));
    /* Parameter 3: mode (mode) */
    writer__scalar(&w, (u32)ARG(2));
    writer__submit(&w);
    return 0;
}

/* openat(dirfd, name, flags, mode) */
int sys_openat_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, OPENAT);
    /* Parameter 1: dirfd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: name (path) */
    writer__user_str(&w, (const void *)ARG(1));
    /* Parameter 3: flags (flags) */
    writer__scalar(&w, (u32)ARG(2));
    /* Parameter 4: mode (mode) */
    writer__scalar(&w, (u32)ARG(3));
    writer__submit(&w);
    return 0;
}

/* close(fd) */
int sys_close_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, CLOSE);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    writer__submit(&w);
    return 0;
}

/* openat2(dirfd, name, struct open_how *how, size): how = {u64 flags, mode, resolve} */
int sys_openat2_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, OPENAT2);
    u64 how[3] = {0, 0, 0};
    bpf_probe_read_user(how, sizeof(how), (const void *)ARG(2));
    /* Parameter 1: dirfd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: name (path) */
    writer__user_str(&w, (const void *)ARG(1));
    /* Parameter 3: flags (flags) */
    writer__scalar(&w, how[0]);
    /* Parameter 4: mode (mode) */
    writer__scalar(&w, how[1]);
    /* Parameter 5: resolve (flags) */
    writer__scalar(&w, how[2]);
    writer__submit(&w);
    return 0;
}

/* creat(name, mode) */
int sys_creat_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, CREAT);
    /* Parameter 1: name (path) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: mode (mode) */
    writer__scalar(&w, (u32)ARG(1));
    writer__submit(&w);
    return 0;
}

/* dup(oldfd) */
int sys_dup_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, DUP);
    /* Parameter 1: oldfd (fd) */
    writer__scalar(&w, FD(0));
    writer__submit(&w);
    return 0;
}

/* dup2(oldfd, newfd) */
int sys_dup2_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, DUP2);
    /* Parameter 1: oldfd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: newfd (fd) */
    writer__scalar(&w, FD(1));
    writer__submit(&w);
    return 0;
}

/* dup3(oldfd, newfd, flags) */
int sys_dup3_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, DUP3);
    /* Parameter 1: oldfd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: newfd (fd) */
    writer__scalar(&w, FD(1));
    /* Parameter 3: flags (flags) */
    writer__scalar(&w, (u32)ARG(2));
    writer__submit(&w);
    return 0;
}

/* The two fds a pipe call wrote to user memory; -1 each when it failed. */
static __always_inline void pipe__fds(struct evt_writer *w, u64 regs, s64 res)
{
    s32 fds[2] = {-1, -1};
    if (res == 0)
        bpf_probe_read_user(fds, sizeof(fds), (const void *)ARG(0));
    /* Parameter 1: fd1 (fd) */
    writer__scalar(w, (s64)fds[0]);
    /* Parameter 2: fd2 (fd) */
    writer__scalar(w, (s64)fds[1]);
}

/* pipe(int fds[2]) */
int sys_pipe_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, PIPE);
    pipe__fds(&w, regs, (s64)ctx->args[1]);
    writer__submit(&w);
    return 0;
}

/* pipe2(int fds[2], flags) */
int sys_pipe2_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, PIPE2);
    pipe__fds(&w, regs, (s64)ctx->args[1]);
    /* Parameter 3: flags (flags) */
    writer__scalar(&w, (u32)ARG(1));
    writer__submit(&w);
    return 0;
}

/* chdir(path) */
int sys_chdir_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, CHDIR);
    /* Parameter 1: path (path) */
    writer__user_str(&w, (const void *)ARG(0));
    writer__submit(&w);
    return 0;
}

/* fchdir(fd) */
int sys_fchdir_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, FCHDIR);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    writer__submit(&w);
    return 0;
}

/* unlink(path) */
int sys_unlink_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, UNLINK);
    /* Parameter 1: path (path) */
    writer__user_str(&w, (const void *)ARG(0));
    writer__submit(&w);
    return 0;
}

/* unlinkat(dirfd, name, flags) */
int sys_unlinkat_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, UNLINKAT);
    /* Parameter 1: dirfd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: name (path) */
    writer__user_str(&w, (const void *)ARG(1));
    /* Parameter 3: flags (flags) */
    writer__scalar(&w, (u32)ARG(2));
    writer__submit(&w);
    return 0;
}

/* rename(oldpath, newpath) */
int sys_rename_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, RENAME);
    /* Parameter 1: oldpath (path) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: newpath (path) */
    writer__user_str(&w, (const void *)ARG(1));
    writer__submit(&w);
    return 0;
}

/* renameat(olddirfd, oldpath, newdirfd, newpath) */
int sys_renameat_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, RENAMEAT);
    /* Parameter 1: olddirfd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: oldpath (path) */
    writer__user_str(&w, (const void *)ARG(1));
    /* Parameter 3: newdirfd (fd) */
    writer__scalar(&w, FD(2));
    /* Parameter 4: newpath (path) */
    writer__user_str(&w, (const void *)ARG(3));
    writer__submit(&w);
    return 0;
}

/* renameat2(olddirfd, oldpath, newdirfd, newpath, flags) */
int sys_renameat2_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, RENAMEAT2);
    /* Parameter 1: olddirfd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: oldpath (path) */
    writer__user_str(&w, (const void *)ARG(1));
    /* Parameter 3: newdirfd (fd) */
    writer__scalar(&w, FD(2));
    /* Parameter 4: newpath (path) */
    writer__user_str(&w, (const void *)ARG(3));
    /* Parameter 5: flags (flags) */
    writer__scalar(&w, (u32)ARG(4));
    writer__submit(&w);
    return 0;
}

/* mkdir(path, mode) */
int sys_mkdir_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, MKDIR);
    /* Parameter 1: path (path) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: mode (mode) */
    writer__scalar(&w, (u32)ARG(1));
    writer__submit(&w);
    return 0;
}

/* mkdirat(dirfd, path, mode) */
int sys_mkdirat_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, MKDIRAT);
    /* Parameter 1: dirfd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: path (path) */
    writer__user_str(&w, (const void *)ARG(1));
    /* Parameter 3: mode (mode) */
    writer__scalar(&w, (u32)ARG(2));
    writer__submit(&w);
    return 0;
}

/* rmdir(path) */
int sys_rmdir_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, RMDIR);
    /* Parameter 1: path (path) */
    writer__user_str(&w, (const void *)ARG(0));
    writer__submit(&w);
    return 0;
}

/* link(oldpath, newpath) */
int sys_link_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, LINK);
    /* Parameter 1: oldpath (path) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: newpath (path) */
    writer__user_str(&w, (const void *)ARG(1));
    writer__submit(&w);
    return 0;
}

/* linkat(olddirfd, oldpath, newdirfd, newpath, flags) */
int sys_linkat_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, LINKAT);
    /* Parameter 1: olddirfd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: oldpath (path) */
    writer__user_str(&w, (const void *)ARG(1));
    /* Parameter 3: newdirfd (fd) */
    writer__scalar(&w, FD(2));
    /* Parameter 4: newpath (path) */
    writer__user_str(&w, (const void *)ARG(3));
    /* Parameter 5: flags (flags) */
    writer__scalar(&w, (u32)ARG(4));
    writer__submit(&w);
    return 0;
}

/* symlink(target, linkpath) */
int sys_symlink_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SYMLINK);
    /* Parameter 1: target (path) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: linkpath (path) */
    writer__user_str(&w, (const void *)ARG(1));
    writer__submit(&w);
    return 0;
}

/* symlinkat(target, linkdirfd, linkpath) */
int sys_symlinkat_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SYMLINKAT);
    /* Parameter 1: target (path) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: linkdirfd (fd) */
    writer__scalar(&w, FD(1));
    /* Parameter 3: linkpath (path) */
    writer__user_str(&w, (const void *)ARG(2));
    writer__submit(&w);
    return 0;
}

/* chmod(filename, mode) */
int sys_chmod_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, CHMOD);
    /* Parameter 1: filename (path) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: mode (mode) */
    writer__scalar(&w, (u32)ARG(1));
    writer__submit(&w);
    return 0;
}

/* fchmod(fd, mode) */
int sys_fchmod_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, FCHMOD);
    /* Parameter 1: fd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: mode (mode) */
    writer__scalar(&w, (u32)ARG(1));
    writer__submit(&w);
    return 0;
}

/* fchmodat(dirfd, filename, mode) */
int sys_fchmodat_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, FCHMODAT);
    /* Parameter 1: dirfd (fd) */
    writer__scalar(&w, FD(0));
    /* Parameter 2: filename (path) */
    writer__user_str(&w, (const void *)ARG(1));
    /* Parameter 3: mode (mode) */
    writer__scalar(&w, (u32)ARG(2));
    writer__submit(&w);
    return 0;
}

/* memfd_create(name, flags) */
int sys_memfd_create_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, MEMFD_CREATE);
    /* Parameter 1: name (str) */
    writer__user_str(&w, (const void *)ARG(0));
    /* Parameter 2: flags (flags) */
    writer__scalar(&w, (u32)ARG(1));
    writer__submit(&w);
    return 0;
}
