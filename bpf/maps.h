/* Every map the programs use, with who writes and who reads it. */

/* Events for user space. Written by every filler with bpf_ringbuf_output;
 * read by capture/ringbuf.py through mmap. Size in pages, set by --buffer-size. */
BPF_RINGBUF_OUTPUT(events, RINGBUF_PAGES);

/* Per-syscall fillers, indexed by syscall number. Filled by the loader with the
 * fillers of the syscalls being recorded and nothing else, so it is also the
 * "interesting" set: a tail call into an empty slot falls through at once. With
 * --all every slot has a program (the generic filler where no other fits) but
 * exit's and exit_group's, which never reach sys_exit; numbers from FILLER_SLOTS
 * up are not recorded (x86_64 has fewer syscalls). */
BPF_PROG_ARRAY(fillers, FILLER_SLOTS);

/* Where a filler builds its event before sending it: one per CPU, written and
 * read by the program that runs there. A plain array indexed by CPU rather than
 * a per-CPU one: per-CPU values are capped at 32 KiB, and an exec event with its
 * arguments, environment and paths can need more. */
struct scratch_buf {
    u8 data[SCRATCH_SIZE];
};
BPF_ARRAY(scratch, struct scratch_buf, NR_CPUS);

/* Events the ring buffer had no room for, per CPU. Written by fillers on a
 * failed output; read by the recorder for the file's loss statistics. */
BPF_PERCPU_ARRAY(drops, u64, 1);

/* Outputs that failed once and were tried again, per CPU (a drop only when the
 * second try fails too). Read by the recorder for the file's statistics. */
BPF_PERCPU_ARRAY(retries, u64, 1);

/* Events sent, per CPU: the denominator the drop counts are judged against. */
BPF_PERCPU_ARRAY(sent, u64, 1);

/* execve/execveat arguments saved at sys_enter, keyed by thread group id
 * (a successful exec by a non-leader thread returns with the leader's tid).
 * Written at enter, read and deleted at exit. The filename must be copied at
 * enter: once the exec succeeds, the old address space is gone. LRU, so that
 * entries of execs that never reached sys_exit cannot fill it over a long run. */
struct exec_stash {
    u64 nr;          /* NR_EXECVE or NR_EXECVEAT: which one was entered */
    u64 tid;         /* the thread that entered it */
    u64 args[6];
    s32 filename_len;
    char filename[MAX_PATH];
};
BPF_TABLE("lru_hash", u32, struct exec_stash, exec_stash, 4096);

/* A zeroed exec_stash to initialise new entries from (the stack is too small). */
BPF_PERCPU_ARRAY(exec_stash_zero, struct exec_stash, 1);
