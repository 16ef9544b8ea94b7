/* The filler of every syscall without one of its own, when recording --all: the
 * loader puts this one program in each empty slot of `fillers`. The number and
 * the result are all it knows; readers name the number (schemas/syscalls.py). */

int generic_syscall_x(struct bpf_raw_tracepoint_args *ctx)
{
    FILLER_BEGIN(w, SYSCALL);
    /* Parameter 1: nr (uint) */
    writer__scalar(&w, syscall__id(regs));
    writer__submit(&w);
    return 0;
}
