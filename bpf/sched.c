/* Process lifecycle from the scheduler's tracepoints: these see every fork, exec
 * and exit, including the ones no syscall of ours reports (a process killed by a
 * signal never calls exit_group). */

RAW_TRACEPOINT_PROBE(sched_process_exit)
{
    struct evt_writer w;
    if (!writer__begin(&w, EVT_PROCEXIT, EVT_PROCEXIT_NSCALAR, 0, EVT_PROCEXIT_FIXED_SIZE))
        return 0;
    const void *task = (const void *)bpf_get_current_task();
    s32 code = (s32)task__read_u32(task, OFF_TASK_EXIT_CODE);
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
    const void *child = (const void *)ctx->args[1];
    struct evt_writer w;
    /* Recorded even when the recorder forks: the child (a recorded command) is
     * not the recorder, and its state starts from this event. */
    if (!writer__start(&w, EVT_PROCFORK, EVT_PROCFORK_NSCALAR, 0, EVT_PROCFORK_FIXED_SIZE))
        return 0;
    /* Parameter 1: child_tid (pid) */
    writer__scalar(&w, task__read_u32(child, OFF_TASK_PID));
    /* Parameter 2: child_pid (pid) */
    writer__scalar(&w, task__read_u32(child, OFF_TASK_TGID));
    writer__submit(&w);
    return 0;
}

RAW_TRACEPOINT_PROBE(sched_process_exec)
{
    const void *bprm = (const void *)ctx->args[2];
    struct evt_writer w;
    if (!writer__begin(&w, EVT_PROCEXEC, EVT_PROCEXEC_NSCALAR, 0, EVT_PROCEXEC_FIXED_SIZE))
        return 0;
    /* Parameter 1: old_tid (pid) */
    writer__scalar(&w, (u32)ctx->args[1]);
    /* Parameter 2: filename (path) */
    writer__kernel_str(&w, (const void *)task__read_u64(bprm, OFF_BINPRM_FILENAME));
    writer__submit(&w);
    return 0;
}
