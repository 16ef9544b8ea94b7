/* Reading syscall arguments and process facts without kernel headers' layouts.
 * OFF_* constants are member offsets resolved from the running kernel's BTF by
 * capture/btf.py and compiled in by capture/program.py. */

static __always_inline u64 regs__read(const void *regs, u32 off)
{
    u64 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const u8 *)regs + off);
    return v;
}

/* The i-th syscall argument (x86_64 order: di, si, dx, r10, r8, r9). */
static __always_inline u64 syscall__arg(const void *regs, int i)
{
    switch (i) {
    case 0: return regs__read(regs, OFF_PT_REGS_DI);
    case 1: return regs__read(regs, OFF_PT_REGS_SI);
    case 2: return regs__read(regs, OFF_PT_REGS_DX);
    case 3: return regs__read(regs, OFF_PT_REGS_R10);
    case 4: return regs__read(regs, OFF_PT_REGS_R8);
    default: return regs__read(regs, OFF_PT_REGS_R9);
    }
}

static __always_inline long syscall__id(const void *regs)
{
    return (long)regs__read(regs, OFF_PT_REGS_ORIG_AX);
}

static __always_inline u64 task__read_u64(const void *task, u32 off)
{
    u64 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const u8 *)task + off);
    return v;
}

static __always_inline u32 task__read_u32(const void *task, u32 off)
{
    u32 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const u8 *)task + off);
    return v;
}

static __always_inline u32 task__ppid(const void *task)
{
    const void *parent = (const void *)task__read_u64(task, OFF_TASK_REAL_PARENT);
    return parent ? task__read_u32(parent, OFF_TASK_TGID) : 0;
}
