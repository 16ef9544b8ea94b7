/* Process lifecycle from the scheduler's tracepoints: these see every fork, exec
 * and exit, including the ones no syscall of ours reports (a process killed by a
 * signal never calls exit_group). */

RAW_TRACEPOINT_PROBE(sched_process_exit)
{
    struct evt_writer w;
    if (!writer__begin(&w, EVT_PROCEXIT, EVT_PROCEXIT_NSCALAR, 0, EVT_PROCEXIT_FIXED_SIZE))
        return 0;
    s32 code = (s32)kread32(bpf_get_current_task() + OFF_TASK_EXIT_CODE);
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u32 tgid = pid_tgid >> 32;
    if ((u32)pid_tgid == tgid) {
        /* A leader dying while another thread's exec is under way is being
         * replaced (de_thread): the exec'ing thread takes over its tid, so the
         * tid that really vanishes is the exec'ing thread's. */
        struct exec_stash *s = exec_stash.lookup(&tgid);
        if (s && s->tid != tgid)
            ((struct evt_header *)w.buf)->tid = s->tid;
    }
    /* Parameter 1: exit_code (int) */
    writer__scalar(&w, code);
    /* Parameter 2: status (int) */
    writer__scalar(&w, (code >> 8) & 0xff);
    /* Parameter 3: sig (int) */
    writer__scalar(&w, code & 0x7f);
    /* Parameter 4: core (int) */
    writer__scalar(&w, (code >> 7) & 1);
    writer__submit(&w);
    return 0;
}

RAW_TRACEPOINT_PROBE(sched_process_fork)
{
    u64 child = ctx->args[1];
    struct evt_writer w;
    /* Recorded even when the recorder forks: the child (a recorded command) is
     * not the recorder, and its state starts from this event. */
    if (!writer__start(&w, EVT_PROCFORK, EVT_PROCFORK_NSCALAR, 0, EVT_PROCFORK_FIXED_SIZE))
        return 0;
    /* Parameter 1: child_tid (pid) */
    writer__scalar(&w, kread32(child + OFF_TASK_PID));
    /* Parameter 2: child_pid (pid) */
    writer__scalar(&w, kread32(child + OFF_TASK_TGID));
    /* Parameters 3-13: the child's facts (bpf/facts.h) */
    facts__scalars(&w, child);
    facts__strings(&w, child);
    writer__submit(&w);
    return 0;
}

RAW_TRACEPOINT_PROBE(sched_process_exec)
{
    u64 bprm = ctx->args[2];
    u64 task = bpf_get_current_task();
    struct evt_writer w;
    if (!writer__begin(&w, EVT_PROCEXEC, EVT_PROCEXEC_NSCALAR, 0, EVT_PROCEXEC_FIXED_SIZE))
        return 0;
    /* Parameter 1: old_tid (pid) */
    writer__scalar(&w, (u32)ctx->args[1]);
    /* Parameters 5-12: the new image's scalar facts (bpf/facts.h) */
    facts__scalars(&w, task);
    /* Parameter 2: filename (path) */
    writer__kernel_str(&w, (const void *)kread64(bprm + OFF_BINPRM_FILENAME));
    /* Parameters 3-4: argv (argv), envp (argv) */
    exec__image_args(&w, task);
    /* Parameters 13-15: cwd, exe, cgroup (bpf/facts.h) */
    facts__strings(&w, task);
    writer__submit(&w);
    return 0;
}
