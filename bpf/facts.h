/* Process facts read from a task: audit ids, session, tty, capabilities, the
 * executable and cwd as paths, the cgroup. Carried by procfork (the child's) and
 * procexec (the new image's); schemas/events.py lists them as PROCESS_FACTS.
 * Every read goes through bpf_probe_read_kernel: these run once per fork or
 * exec, not per syscall, and the child of a fork is not a BTF-typed pointer.
 * A group whose members this kernel lacks (HAVE_* = 0) writes placeholders
 * that the file's header marks as absent. */

#define MAX_DEPTH 32    /* path components kept; deeper paths lose their top */
#define MAX_WALK 48     /* steps of a dentry walk: components plus mount crossings */

/* Exe flags (table "exe" in schemas/flags.py). */
#define EXE_FROM_MEMFD 1
#define EXE_UPPER_LAYER 2
#define EXE_DELETED 4

#define TMPFS_MAGIC 0x01021994
#define HUGETLBFS_MAGIC 0x958458f6
#define OVERLAYFS_MAGIC 0x794c7630

/* Name pointers of a path's components, leaf first: a walk collects them, then
 * they are written root first. Per CPU; the stack is too small for them.
 * A dentry walk also keeps where it is here, not in registers: the verifier does
 * not track map memory, so every iteration looks alike to it and it checks the
 * loop in linear time (with the position in registers, what it learnt from each
 * comparison told iterations apart and the paths it explored doubled with each). */
struct name_stack {
    u64 names[MAX_DEPTH];
    u64 dentry, mnt;            /* the walk's position: a dentry, its struct mount */
    u64 root_dentry, root_mnt;  /* where it stops: the task's root */
    u32 n;                      /* names collected */
    u32 done;                   /* 1 once the root is reached: the path is whole */
    u32 used;                   /* bytes of the path written so far */
};
BPF_PERCPU_ARRAY(name_stacks, struct name_stack, 1);

/* Writes the collected names (st->n of them) root first, '/'-separated, as one
 * variable parameter. A walk cut short (too deep) gives a path without its
 * leading '/'. The length so far lives in the map for the verifier's sake (see
 * struct name_stack). */
static __always_inline void writer__names(struct evt_writer *w, struct name_stack *st)
{
    /* Where the parameter starts, passed through the map: what the verifier knew
     * of it (one value per way the earlier parameters went) is forgotten, so
     * those ways do not each get the loop below checked again. */
    *(volatile u32 *)&st->used = w->var_off;
    u32 start = bounded(*(volatile u32 *)&st->used, VAR_MASK);
    u8 *out = w->buf + start + 2;
    st->used = 0;
    if (st->n == 0) {
        out[0] = '/';
        st->used = 1;
    }
    for (int i = MAX_DEPTH - 1; i >= 0; i--) {
        u32 used = bounded(st->used, MAX_PATH - 1);
        if (i >= st->n || used >= MAX_PATH - 1)
            continue;
        if (used || st->done) {
            out[used] = '/';
            used = bounded(used + 1, MAX_PATH - 1);
        }
        long r = bpf_probe_read_kernel_str(out + used, MAX_PATH - used,
                                           (const void *)st->names[i]);
        st->used = r > 1 ? used + r - 1 : used;
    }
    u32 used = bounded(st->used, 2 * MAX_PATH - 1);
    if (used > MAX_PATH)
        used = MAX_PATH;
    *(u16 *)(w->buf + start) = used;
    w->var_off = start + 2 + used;
}

#if HAVE_PATHS
/* Names from st->dentry on st->mnt up to the task's root (st->root_*), crossing
 * mount points: the path as the task itself would see it. */
static __always_inline void walk__dentries(struct name_stack *st)
{
    for (int i = 0; i < MAX_WALK; i++) {
        u64 dentry = st->dentry, mnt = st->mnt;
        u64 vfsmnt = mnt + OFF_MOUNT_MNT;
        if (!dentry || (dentry == st->root_dentry && vfsmnt == st->root_mnt)) {
            st->done = 1;
            break;
        }
        if (dentry == kread64(vfsmnt + OFF_VFSMOUNT_ROOT)) {
            u64 parent_mnt = kread64(mnt + OFF_MOUNT_PARENT);
            if (!parent_mnt || parent_mnt == mnt) {
                st->done = 1;   /* the top of the mount tree */
                break;
            }
            st->dentry = kread64(mnt + OFF_MOUNT_MOUNTPOINT);
            st->mnt = parent_mnt;
            continue;
        }
        u32 n = st->n;
        if (n >= MAX_DEPTH)
            break;
        st->names[n & (MAX_DEPTH - 1)] = kread64(dentry + OFF_DENTRY_NAME + OFF_QSTR_NAME);
        st->n = n + 1;
        /* A dentry that is its own parent without being a mount's root stands
         * alone (memfd's, a pipe's): its name is the whole path. */
        u64 parent = kread64(dentry + OFF_DENTRY_PARENT);
        if (!parent || parent == dentry) {
            st->done = 1;
            break;
        }
        st->dentry = parent;
    }
}

/* A struct path (at `path`) of `task` as a parameter. */
static __always_inline void facts__path(struct evt_writer *w, u64 task, u64 path)
{
    u32 zero = 0;
    struct name_stack *st = name_stacks.lookup(&zero);
    u64 fs = kread64(task + OFF_TASK_FS);
    if (!st || !fs || !path) {
        writer__absent(w);
        return;
    }
    st->dentry = kread64(path + OFF_PATH_DENTRY);
    st->mnt = kread64(path + OFF_PATH_MNT) - OFF_MOUNT_MNT;
    st->root_dentry = kread64(fs + OFF_FS_ROOT + OFF_PATH_DENTRY);
    st->root_mnt = kread64(fs + OFF_FS_ROOT + OFF_PATH_MNT);
    st->n = 0;
    st->done = 0;
    walk__dentries(st);
    writer__names(w, st);
}

static __always_inline u64 facts__exe_file(u64 task)
{
    u64 mm = kread64(task + OFF_TASK_MM);
    return mm ? kread64(mm + OFF_MM_EXE_FILE) : 0;
}

/* Where the executable lives: memfd, an overlay's upper layer, unlinked. */
static __always_inline u64 facts__exe_flags(u64 exe)
{
    if (!exe)
        return 0;
    u64 flags = 0;
    u64 dentry = kread64(exe + OFF_FILE_F_PATH + OFF_PATH_DENTRY);
    u64 inode = kread64(exe + OFF_FILE_F_INODE);
    u32 magic = (u32)kread64(kread64(dentry + OFF_DENTRY_SB) + OFF_SB_MAGIC);
    if (inode && kread32(inode + OFF_INODE_NLINK) == 0)
        flags |= EXE_DELETED;
    /* memfd_create names its file "memfd:<name>" on the internal tmpfs (or
     * hugetlbfs) mount, with no link: a file merely named so has one. */
    if ((flags & EXE_DELETED) && (magic == TMPFS_MAGIC || magic == HUGETLBFS_MAGIC)) {
        char prefix[6] = {};
        bpf_probe_read_kernel(prefix, sizeof(prefix),
                              (const void *)kread64(dentry + OFF_DENTRY_NAME + OFF_QSTR_NAME));
        if (prefix[0] == 'm' && prefix[1] == 'e' && prefix[2] == 'm' && prefix[3] == 'f' &&
            prefix[4] == 'd' && prefix[5] == ':')
            flags |= EXE_FROM_MEMFD;
    }
#if HAVE_OVERLAY
    /* An overlay inode knows its upper-layer dentry once the file exists there
     * (created in or copied up to the container's writable layer). */
    if (magic == OVERLAYFS_MAGIC && inode &&
        kread64(inode - OFF_OVL_INODE_VFS_INODE + OFF_OVL_INODE_UPPER))
        flags |= EXE_UPPER_LAYER;
#endif
    return flags;
}
#endif

#if HAVE_CGROUP
/* The kernfs node of the task's cgroup: the unified hierarchy's, unless the task
 * sits at its root; then the first v1 controller's that places it lower. */
static __always_inline u64 facts__cgroup_node(u64 task)
{
    u64 cset = kread64(task + OFF_TASK_CGROUPS);
    if (!cset)
        return 0;
    u64 kn = kread64(kread64(cset + OFF_CSS_SET_DFL_CGRP) + OFF_CGROUP_KN);
    if (kn && kread64(kn + OFF_KERNFS_PARENT))
        return kn;
    u64 found = kn;
    for (int i = 0; i < CGROUP_SUBSYS_COUNT && i < 16; i++) {
        u64 css = kread64(cset + OFF_CSS_SET_SUBSYS + 8 * i);
        u64 v1 = css ? kread64(kread64(css + OFF_CSS_CGROUP) + OFF_CGROUP_KN) : 0;
        if (v1 && kread64(v1 + OFF_KERNFS_PARENT)) {
            found = v1;
            break;
        }
    }
    return found;
}

static __always_inline void facts__cgroup(struct evt_writer *w, u64 task)
{
    u32 zero = 0;
    struct name_stack *st = name_stacks.lookup(&zero);
    u64 kn = facts__cgroup_node(task);
    if (!st || !kn) {
        writer__absent(w);
        return;
    }
    st->n = 0;
    st->done = 0;
    st->dentry = kn;    /* a kernfs node here, not a dentry */
    for (int i = 0; i <= MAX_DEPTH; i++) {
        kn = st->dentry;
        u64 parent = kread64(kn + OFF_KERNFS_PARENT);
        if (!parent) {          /* the root: its name is not part of the path */
            st->done = 1;
            break;
        }
        u32 n = st->n;
        if (n >= MAX_DEPTH)
            break;
        st->names[n & (MAX_DEPTH - 1)] = kread64(kn + OFF_KERNFS_NAME);
        st->n = n + 1;
        st->dentry = parent;
    }
    writer__names(w, st);
}
#endif

#if HAVE_SESSION
/* The global number of one of the task's group ids (PIDTYPE_SID, _PGID). */
static __always_inline u64 facts__group_id(u64 signal, int type)
{
    u64 pid = kread64(signal + OFF_SIGNAL_PIDS + 8 * type);
    return pid ? kread32(pid + OFF_PID_NUMBERS + OFF_UPID_NR) : 0;
}
#endif

#if HAVE_TTY
/* The controlling terminal as /proc/<pid>/stat's tty_nr encodes it, 0 for none. */
static __always_inline u64 facts__tty(u64 signal)
{
    u64 tty = kread64(signal + OFF_SIGNAL_TTY);
    if (!tty)
        return 0;
    u64 driver = kread64(tty + OFF_TTY_DRIVER);
    u32 major = kread32(driver + OFF_TTY_DRIVER_MAJOR);
    u32 minor = kread32(driver + OFF_TTY_DRIVER_MINOR_START) + kread32(tty + OFF_TTY_INDEX);
    return (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
}
#endif

/* The new image's arguments and environment, from its own memory: exec has just
 * laid them out at the top of its stack. */
static __always_inline void exec__image_args(struct evt_writer *w, u64 task)
{
    u64 mm = kread64(task + OFF_TASK_MM);
    u64 arg_start = kread64(mm + OFF_MM_ARG_START), arg_end = kread64(mm + OFF_MM_ARG_END);
    u64 env_start = kread64(mm + OFF_MM_ENV_START), env_end = kread64(mm + OFF_MM_ENV_END);
    writer__user_bytes(w, (const void *)arg_start, arg_end - arg_start);
    writer__user_bytes(w, (const void *)env_start, env_end - env_start);
}

/* The scalar facts, in PROCESS_FACTS order. */
static __always_inline void facts__scalars(struct evt_writer *w, u64 task)
{
#if HAVE_AUDIT
    /* Parameter: loginuid (uid) */
    writer__scalar(w, (s64)(s32)kread32(task + OFF_TASK_LOGINUID));
    /* Parameter: sessionid (uint) */
    writer__scalar(w, kread32(task + OFF_TASK_SESSIONID));
#else
    writer__scalar(w, 0);
    writer__scalar(w, 0);
#endif
#if HAVE_SESSION || HAVE_TTY
    u64 signal = kread64(task + OFF_TASK_SIGNAL);
#endif
#if HAVE_SESSION
    /* Parameter: sid (pid) */
    writer__scalar(w, facts__group_id(signal, PIDTYPE_SID));
    /* Parameter: pgid (pid) */
    writer__scalar(w, facts__group_id(signal, PIDTYPE_PGID));
#else
    writer__scalar(w, 0);
    writer__scalar(w, 0);
#endif
#if HAVE_TTY
    /* Parameter: tty (uint) */
    writer__scalar(w, facts__tty(signal));
#else
    writer__scalar(w, 0);
#endif
#if HAVE_CAPS
    u64 cred = kread64(task + OFF_TASK_CRED);
    /* Parameter: cap_effective (flags) */
    writer__scalar(w, kread64(cred + OFF_CRED_CAP_EFFECTIVE));
    /* Parameter: cap_permitted (flags) */
    writer__scalar(w, kread64(cred + OFF_CRED_CAP_PERMITTED));
#else
    writer__scalar(w, 0);
    writer__scalar(w, 0);
#endif
#if HAVE_PATHS
    /* Parameter: exe_flags (flags) */
    writer__scalar(w, facts__exe_flags(facts__exe_file(task)));
#else
    writer__scalar(w, 0);
#endif
}

/* The variable facts, in PROCESS_FACTS order: cwd, exe, cgroup. */
static __always_inline void facts__strings(struct evt_writer *w, u64 task)
{
#if HAVE_PATHS
    u64 fs = kread64(task + OFF_TASK_FS);
    /* Parameter: cwd (path) */
    facts__path(w, task, fs ? fs + OFF_FS_PWD : 0);
    u64 exe = facts__exe_file(task);
    /* Parameter: exe (path) */
    facts__path(w, task, exe ? exe + OFF_FILE_F_PATH : 0);
#else
    writer__absent(w);
    writer__absent(w);
#endif
#if HAVE_CGROUP
    /* Parameter: cgroup_path (str) */
    facts__cgroup(w, task);
#else
    writer__absent(w);
#endif
}
