/* Building an event in the per-CPU scratch buffer and sending it to the ring.
 * Layout (schemas/events.py): header, one 8-byte slot per scalar parameter,
 * then each variable parameter as a u16 length and its bytes. */

struct evt_header {
    u64 ts;          /* ns since the epoch */
    u64 cgroup;
    s64 res;
    u32 tid;
    u32 pid;
    u32 ppid;
    u32 uid;
    u32 gid;
    u16 type;
    u16 cpu;
    char comm[16];
} __attribute__((packed));

struct evt_writer {
    u8 *buf;         /* the ring's own memory (in_ring) or the per-CPU scratch */
    u8 in_ring;
    u32 slot;        /* next scalar slot */
    u32 var_off;     /* next free byte of the variable part */
};

/* Offsets are masked so the verifier can bound every write into the buffer. */
#define VAR_MASK (SCRATCH_SIZE / 2 - 1)
#define VAR_ABSENT 0xFFFF

/* v & mask, done where the verifier sees it: the empty asm hides v's value from
 * the compiler, which would otherwise drop a mask it can prove redundant. */
static __always_inline u32 bounded(u32 v, u32 mask)
{
    asm volatile("" : "+r"(v));
    return v & mask;
}

static __always_inline void counter__add(void *map_value)
{
    if (map_value)
        (*(u64 *)map_value)++;
}

/* Room for a fixed-size event, reserved in the ring itself. A reservation can
 * fail with room to spare (seen on 6.18 with several CPUs writing at once):
 * trying again saves nearly all of those. */
static __always_inline u8 *writer__reserve(u32 size)
{
    u32 zero = 0;
    u8 *buf = events.ringbuf_reserve(size);
    for (int i = 0; i < OUTPUT_RETRIES && !buf; i++) {
        counter__add(retries.lookup(&zero));
        buf = events.ringbuf_reserve(size);
    }
    if (!buf)
        counter__add(drops.lookup(&zero));
    return buf;
}

/* Starts an event for the current task, whoever it is. `fixed_size` is the
 * event's size when it has no variable parameters (then it is built in place in
 * the ring), 0 otherwise (then it is built in the per-CPU scratch and copied). */
static __always_inline int writer__start(struct evt_writer *w, u16 type, u32 nscalar, s64 res,
                                         u32 fixed_size)
{
    u64 pid_tgid = bpf_get_current_pid_tgid();
    if (fixed_size) {
        w->buf = writer__reserve(fixed_size);
        if (!w->buf)
            return 0;
    } else {
        u32 cpu = bpf_get_smp_processor_id();
        struct scratch_buf *s = scratch.lookup(&cpu);
        if (!s)
            return 0;
        w->buf = s->data;
    }
    w->in_ring = fixed_size != 0;
    struct evt_header *h = (struct evt_header *)w->buf;
    u64 uid_gid = bpf_get_current_uid_gid();
    h->ts = bpf_ktime_get_boot_ns() + BOOT_EPOCH_NS;
    h->cgroup = bpf_get_current_cgroup_id();
    h->res = res;
    h->tid = (u32)pid_tgid;
    h->pid = pid_tgid >> 32;
    h->ppid = task__current_ppid();
    h->uid = (u32)uid_gid;
    h->gid = uid_gid >> 32;
    h->type = type;
    h->cpu = bpf_get_smp_processor_id();
    bpf_get_current_comm(h->comm, sizeof(h->comm));
    w->slot = 0;
    w->var_off = sizeof(struct evt_header) + 8 * nscalar;
    return 1;
}

/* Starts an event unless the current task is the recorder: it never records itself. */
static __always_inline int writer__begin(struct evt_writer *w, u16 type, u32 nscalar, s64 res,
                                         u32 fixed_size)
{
    if ((bpf_get_current_pid_tgid() >> 32) == SELF_TGID)
        return 0;
    return writer__start(w, type, nscalar, res, fixed_size);
}

static __always_inline void writer__scalar(struct evt_writer *w, u64 value)
{
    u32 off = sizeof(struct evt_header) + 8 * (w->slot & 31);
    *(u64 *)(w->buf + off) = value;
    w->slot++;
}

static __always_inline void writer__absent(struct evt_writer *w)
{
    u32 off = bounded(w->var_off, VAR_MASK);
    *(u16 *)(w->buf + off) = VAR_ABSENT;
    w->var_off = off + 2;
}

/* A NUL-terminated string from user memory, stored without its NUL. */
static __always_inline void writer__user_str(struct evt_writer *w, const void *ptr)
{
    u32 off = bounded(w->var_off, VAR_MASK);
    long n = ptr ? bpf_probe_read_user_str(w->buf + off + 2, MAX_PATH, ptr) : -1;
    if (n <= 0) {
        writer__absent(w);
        return;
    }
    *(u16 *)(w->buf + off) = n - 1;
    w->var_off = off + 2 + n - 1;
}

/* A NUL-terminated string from kernel memory, stored without its NUL. */
static __always_inline void writer__kernel_str(struct evt_writer *w, const void *ptr)
{
    u32 off = bounded(w->var_off, VAR_MASK);
    long n = ptr ? bpf_probe_read_kernel_str(w->buf + off + 2, MAX_PATH, ptr) : -1;
    if (n <= 0) {
        writer__absent(w);
        return;
    }
    *(u16 *)(w->buf + off) = n - 1;
    w->var_off = off + 2 + n - 1;
}

/* `len` bytes of user memory, cut at MAX_PATH. */
static __always_inline void writer__user_bytes(struct evt_writer *w, const void *ptr, u64 len)
{
    u32 off = bounded(w->var_off, VAR_MASK);
    if (len > MAX_PATH)
        len = MAX_PATH;
    if (!ptr || bpf_probe_read_user(w->buf + off + 2, bounded(len, MAX_PATH * 2 - 1), ptr) < 0) {
        writer__absent(w);
        return;
    }
    *(u16 *)(w->buf + off) = len;
    w->var_off = off + 2 + len;
}

/* A NULL-terminated array of user string pointers (argv, envp), as one
 * NUL-separated block of at most MAX_PATH bytes and MAX_ARGS strings. */
static __always_inline void writer__user_argv(struct evt_writer *w, const u64 *argv)
{
    u32 start = bounded(w->var_off, VAR_MASK);
    u32 used = 0;
    if (!argv) {
        writer__absent(w);
        return;
    }
    for (int i = 0; i < MAX_ARGS; i++) {
        const void *arg = NULL;
        if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) < 0 || !arg)
            break;
        if (used >= MAX_PATH)
            break;
        u32 pos = bounded(used, MAX_PATH - 1);
        long n = bpf_probe_read_user_str(w->buf + start + 2 + pos, MAX_PATH - pos, arg);
        if (n <= 0)
            break;
        used += n;
    }
    if (used > MAX_PATH)
        used = MAX_PATH;
    *(u16 *)(w->buf + start) = used;
    w->var_off = start + 2 + used;
}

/* Whether this event wakes the reader: one in WAKE_EVERY per CPU does. Waking it
 * for every event made a busy server's syscalls pay for an interrupt and a
 * context switch each (redis-benchmark: about 12,000 a second); the reader reads
 * on its own clock as well, so a quiet machine's events wait at most that long.
 * (BCC 0.26 cannot pass the ring to bpf_ringbuf_query, which would let the fill
 * level decide.) */
static __always_inline u64 writer__wake_flag(void)
{
    u32 zero = 0;
    u64 *n = sent.lookup(&zero);
    return n && (*n & (WAKE_EVERY - 1)) == WAKE_EVERY - 1 ? BPF_RB_FORCE_WAKEUP
                                                          : BPF_RB_NO_WAKEUP;
}

static __always_inline void writer__submit(struct evt_writer *w)
{
    u32 zero = 0;
    if (w->in_ring) {
        events.ringbuf_submit(w->buf, writer__wake_flag());
        counter__add(sent.lookup(&zero));
        return;
    }
    /* Masked rather than compared: the compiler may drop a comparison it can
     * prove, the verifier still needs the bound. var_off never reaches it. */
    u32 len = bounded(w->var_off, SCRATCH_SIZE - 1);
    u64 wake = writer__wake_flag();
    long err = events.ringbuf_output(w->buf, len, wake);
    for (int i = 0; i < OUTPUT_RETRIES && err < 0; i++) {
        counter__add(retries.lookup(&zero));
        err = events.ringbuf_output(w->buf, len, BPF_RB_FORCE_WAKEUP);
    }
    counter__add(err < 0 ? drops.lookup(&zero) : sent.lookup(&zero));
}

/* Shorthand for a syscall filler's first lines: KEEP (which may read the
 * arguments) decides whether the call makes an event at all. */
#define FILLER_BEGIN_IF(w, NAME, KEEP)                                          \
    u64 regs = REGS_OF(ctx);                                                    \
    if (!(KEEP))                                                                \
        return 0;                                                               \
    struct evt_writer w;                                                        \
    if (!writer__begin(&w, EVT_##NAME, EVT_##NAME##_NSCALAR, (s64)ctx->args[1],  \
                       EVT_##NAME##_FIXED_SIZE))                                \
        return 0;
#define FILLER_BEGIN(w, NAME) FILLER_BEGIN_IF(w, NAME, 1)

/* The filler's i-th syscall argument, and the same as a signed 32-bit fd. */
#define ARG(i) syscall__arg(regs, i)
#define FD(i) ((s64)(s32)ARG(i))
