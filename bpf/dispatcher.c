/* The two syscall hooks. Everything not being recorded leaves at once: sys_enter
 * only acts for execve/execveat (compiled out when they are not recorded), and
 * sys_exit tail-calls the syscall's filler, which is absent for syscalls that are
 * not recorded, so the tail call falls through. */

#if RECORD_EXEC
static __always_inline void exec__stash(u64 regs, long id)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    u32 zero = 0;
    if (tgid == SELF_TGID)
        return;
    struct exec_stash *z = exec_stash_zero.lookup(&zero);
    if (!z)
        return;
    exec_stash.update(&tgid, z);
    struct exec_stash *s = exec_stash.lookup(&tgid);
    if (!s)
        return;
    s->nr = id;
    s->tid = (u32)bpf_get_current_pid_tgid();
    for (int i = 0; i < 6; i++)
        s->args[i] = syscall__arg(regs, i);
    const void *filename = (const void *)(id == NR_EXECVE ? s->args[0] : s->args[1]);
    s->filename_len = bpf_probe_read_user_str(s->filename, MAX_PATH, filename);
}

RAW_TRACEPOINT_PROBE(sys_enter)
{
    long id = (long)ctx->args[1];
    if (id == NR_EXECVE || id == NR_EXECVEAT)
        exec__stash(REGS_OF(ctx), id);
    return 0;
}
#endif

RAW_TRACEPOINT_PROBE(sys_exit)
{
    long id = syscall__id(REGS_OF(ctx));
#if RECORD_EXEC
    /* A successful execveat reaches sys_exit with execve's number in orig_ax
     * (seen on 6.18): the stash knows which one was entered. */
    if (id == NR_EXECVE) {
        u32 tgid = bpf_get_current_pid_tgid() >> 32;
        struct exec_stash *s = exec_stash.lookup(&tgid);
        if (s && s->nr == NR_EXECVEAT)
            id = NR_EXECVEAT;
    }
#endif
    fillers.call(ctx, id);
#if RECORD_EXEC
    /* Only reached when the exec has no filler (one of the two not recorded):
     * its stash must not outlive the call. */
    if (id == NR_EXECVE || id == NR_EXECVEAT) {
        u32 tgid = bpf_get_current_pid_tgid() >> 32;
        exec_stash.delete(&tgid);
    }
#endif
    return 0;
}
