/* Fillers for process creation, program execution and identity changes.
 * Each: one event at sys_exit, parameters in schemas/events.py order. */

/* argv/envp of an exec: after a success, from the new image's memory (the
 * pointers passed in belong to the old one); after a failure, from the pointers. */
static __always_inline void exec__fill(struct evt_writer *w, s64 res, int at)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct exec_stash *s = exec_stash.lookup(&tgid);
    if (!s) {
        writer__absent(w);
        writer__absent(w);
        writer__absent(w);
        return;
    }
    /* filename, copied at sys_enter */
    u32 off = bounded(w->var_off, VAR_MASK);
    s32 n = s->filename_len;
    if (n > 0 && n <= MAX_PATH) {
        bpf_probe_read_kernel(w->buf + off + 2, bounded(n, MAX_PATH - 1), s->filename);
        *(u16 *)(w->buf + off) = n - 1;
        w->var_off = off + 2 + n - 1;
    } else {
        writer__absent(w);
    }
    if (res == 0) {
        exec__image_args(w, bpf_get_current_task());
    } else {
        /* execveat's arguments sit one place later than execve's */
        writer__user_argv(w, (const u64 *)(at ? s->args[2] : s->args[1]));
        writer__user_argv(w, (const u64 *)(at ? s->args[3] : s->args[2]));
    }
}

/* execve(filename, argv, envp) */
int sys_execve_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, EXECVE);
    /* Parameters 1-3: filename (path), argv (argv), envp (argv) */
    exec__fill(&w, (s64)ctx->args[1], 0);
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    exec_stash.delete(&tgid);
    writer__submit(&w);
    return 0;
}

/* execveat(dirfd, filename, argv, envp, flags) */
int sys_execveat_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, EXECVEAT);
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct exec_stash *s = exec_stash.lookup(&tgid);
    /* Parameter 1: dirfd (fd) */
    writer__scalar(&w, s ? (s64)(s32)s->args[0] : 0);
    /* Parameter 5: flags (flags) */
    writer__scalar(&w, s ? s->args[4] : 0);
    /* Parameters 2-4: filename (path), argv (argv), envp (argv) */
    exec__fill(&w, (s64)ctx->args[1], 1);
    exec_stash.delete(&tgid);
    writer__submit(&w);
    return 0;
}

/* clone(flags, stack, parent_tid, child_tid, tls) */
int sys_clone_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, CLONE);
    /* Parameter 1: flags (flags) */
    writer__scalar(&w, ARG(0));
    writer__submit(&w);
    return 0;
}

/* clone3(struct clone_args *args, size): flags is the struct's first member. */
int sys_clone3_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, CLONE3);
    u64 flags = 0;
    bpf_probe_read_user(&flags, sizeof(flags), (const void *)ARG(0));
    /* Parameter 1: flags (flags) */
    writer__scalar(&w, flags);
    /* Parameter 2: size (uint) */
    writer__scalar(&w, ARG(1));
    writer__submit(&w);
    return 0;
}

int sys_fork_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, FORK);
    writer__submit(&w);
    return 0;
}

int sys_vfork_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, VFORK);
    writer__submit(&w);
    return 0;
}

/* setuid(uid), setgid(gid): ids are 32-bit; -1 stays -1. */
int sys_setuid_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SETUID);
    /* Parameter 1: new_uid (uid) */
    writer__scalar(&w, FD(0));
    writer__submit(&w);
    return 0;
}

int sys_setgid_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SETGID);
    /* Parameter 1: new_gid (gid) */
    writer__scalar(&w, FD(0));
    writer__submit(&w);
    return 0;
}

/* setresuid(ruid, euid, suid) */
int sys_setresuid_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SETRESUID);
    /* Parameters 1-3: ruid, euid, suid (uid) */
    writer__scalar(&w, FD(0));
    writer__scalar(&w, FD(1));
    writer__scalar(&w, FD(2));
    writer__submit(&w);
    return 0;
}

/* setresgid(rgid, egid, sgid) */
int sys_setresgid_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SETRESGID);
    /* Parameters 1-3: rgid, egid, sgid (gid) */
    writer__scalar(&w, FD(0));
    writer__scalar(&w, FD(1));
    writer__scalar(&w, FD(2));
    writer__submit(&w);
    return 0;
}
