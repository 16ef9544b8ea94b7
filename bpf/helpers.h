/* Reading syscall arguments and process facts without kernel headers' layouts.
 * OFF_* constants are member offsets resolved from the running kernel's BTF by
 * capture/btf.py and compiled in by capture/program.py.
 *
 * With TASK_BTF (kernels >= 5.15) the current task and its saved registers come
 * as BTF-typed pointers, which the verifier lets us load from directly: a plain
 * load instead of a bpf_probe_read_kernel call (about 35 ns each, measured in
 * bench/dispatcher_variants.py) on every syscall. The u64 arithmetic keeps BCC
 * from rewriting those loads into probe reads. */

#if TASK_BTF
/* The current task's saved user registers (what sys_enter/sys_exit get). */
#define REGS_OF(ctx) ((u64)bpf_task_pt_regs((struct task_struct *)bpf_get_current_task_btf()))
#define CURRENT_TASK() ((u64)bpf_get_current_task_btf())

static __always_inline u64 kernel__u64(u64 base, u32 off)
{
    return *(volatile u64 *)(base + off);
}

static __always_inline u32 kernel__u32(u64 base, u32 off)
{
    return *(volatile u32 *)(base + off);
}
#else
#define REGS_OF(ctx) ((u64)ctx->args[0])
#define CURRENT_TASK() ((u64)bpf_get_current_task())

static __always_inline u64 kernel__u64(u64 base, u32 off)
{
    u64 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const void *)(base + off));
    return v;
}

static __always_inline u32 kernel__u32(u64 base, u32 off)
{
    u32 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const void *)(base + off));
    return v;
}
#endif

/* The i-th syscall argument (x86_64 order: di, si, dx, r10, r8, r9). */
static __always_inline u64 syscall__arg(u64 regs, int i)
{
    switch (i) {
    case 0: return kernel__u64(regs, OFF_PT_REGS_DI);
    case 1: return kernel__u64(regs, OFF_PT_REGS_SI);
    case 2: return kernel__u64(regs, OFF_PT_REGS_DX);
    case 3: return kernel__u64(regs, OFF_PT_REGS_R10);
    case 4: return kernel__u64(regs, OFF_PT_REGS_R8);
    default: return kernel__u64(regs, OFF_PT_REGS_R9);
    }
}

static __always_inline long syscall__id(u64 regs)
{
    return (long)kernel__u64(regs, OFF_PT_REGS_ORIG_AX);
}

/* Reads through pointers the verifier does not know as BTF-typed (a tracepoint's
 * task argument, anything reached from one), so always with a probe read. */
static __always_inline u64 kread64(u64 addr)
{
    u64 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const void *)addr);
    return v;
}

static __always_inline u32 kread32(u64 addr)
{
    u32 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const void *)addr);
    return v;
}

/* The current task's real parent's thread group id. */
static __always_inline u32 task__current_ppid(void)
{
    u64 parent = kernel__u64(CURRENT_TASK(), OFF_TASK_REAL_PARENT);
    return parent ? kernel__u32(parent, OFF_TASK_TGID) : 0;
}
