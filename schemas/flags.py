"""Symbolic names for the flag and mode words that syscalls take (x86_64 Linux values)."""
import errno as _errno
import functools
import signal as _signal
import stat as _stat

# Each table: (name, mask) in the order they are printed. A mask of several bits
# (O_SYNC includes O_DSYNC) is listed before its parts so the wider name wins.
OPEN_FLAGS = [
    ("O_TMPFILE", 0o20200000),
    ("O_SYNC", 0o4010000),
    ("O_CREAT", 0o100),
    ("O_EXCL", 0o200),
    ("O_NOCTTY", 0o400),
    ("O_TRUNC", 0o1000),
    ("O_APPEND", 0o2000),
    ("O_NONBLOCK", 0o4000),
    ("O_DSYNC", 0o10000),
    ("O_ASYNC", 0o20000),
    ("O_DIRECT", 0o40000),
    ("O_LARGEFILE", 0o100000),
    ("O_DIRECTORY", 0o200000),
    ("O_NOFOLLOW", 0o400000),
    ("O_NOATIME", 0o1000000),
    ("O_CLOEXEC", 0o2000000),
    ("O_PATH", 0o10000000),
]
_ACCESS_MODES = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR", 3: "O_ACCMODE"}

AT_FLAGS = [
    ("AT_SYMLINK_NOFOLLOW", 0x100),
    ("AT_REMOVEDIR", 0x200),
    ("AT_SYMLINK_FOLLOW", 0x400),
    ("AT_NO_AUTOMOUNT", 0x800),
    ("AT_EMPTY_PATH", 0x1000),
]

CLONE_FLAGS = [
    ("CLONE_VM", 0x100),
    ("CLONE_FS", 0x200),
    ("CLONE_FILES", 0x400),
    ("CLONE_SIGHAND", 0x800),
    ("CLONE_PIDFD", 0x1000),
    ("CLONE_PTRACE", 0x2000),
    ("CLONE_VFORK", 0x4000),
    ("CLONE_PARENT", 0x8000),
    ("CLONE_THREAD", 0x10000),
    ("CLONE_NEWNS", 0x20000),
    ("CLONE_SYSVSEM", 0x40000),
    ("CLONE_SETTLS", 0x80000),
    ("CLONE_PARENT_SETTID", 0x100000),
    ("CLONE_CHILD_CLEARTID", 0x200000),
    ("CLONE_DETACHED", 0x400000),
    ("CLONE_UNTRACED", 0x800000),
    ("CLONE_CHILD_SETTID", 0x1000000),
    ("CLONE_NEWCGROUP", 0x2000000),
    ("CLONE_NEWUTS", 0x4000000),
    ("CLONE_NEWIPC", 0x8000000),
    ("CLONE_NEWUSER", 0x10000000),
    ("CLONE_NEWPID", 0x20000000),
    ("CLONE_NEWNET", 0x40000000),
    ("CLONE_IO", 0x80000000),
    ("CLONE_CLEAR_SIGHAND", 0x100000000),
    ("CLONE_INTO_CGROUP", 0x200000000),
]

PIPE_FLAGS = [
    ("O_NONBLOCK", 0o4000),
    ("O_DIRECT", 0o40000),
    ("O_CLOEXEC", 0o2000000),
]

DUP_FLAGS = [("O_CLOEXEC", 0o2000000)]

RENAME_FLAGS = [
    ("RENAME_NOREPLACE", 1),
    ("RENAME_EXCHANGE", 2),
    ("RENAME_WHITEOUT", 4),
]

MEMFD_FLAGS = [
    ("MFD_CLOEXEC", 1),
    ("MFD_ALLOW_SEALING", 2),
    ("MFD_HUGETLB", 4),
    ("MFD_NOEXEC_SEAL", 8),
    ("MFD_EXEC", 0x10),
]

RESOLVE_FLAGS = [
    ("RESOLVE_NO_XDEV", 0x01),
    ("RESOLVE_NO_MAGICLINKS", 0x02),
    ("RESOLVE_NO_SYMLINKS", 0x04),
    ("RESOLVE_BENEATH", 0x08),
    ("RESOLVE_IN_ROOT", 0x10),
    ("RESOLVE_CACHED", 0x20),
]

# The low 4 bits of a socket type are one value (SOCK_STREAM...), printed first like
# an open access mode; these are the bits around it.
SOCKTYPE_FLAGS = [
    ("SOCK_NONBLOCK", 0o4000),
    ("SOCK_CLOEXEC", 0o2000000),
]
_SOCK_TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM",
               5: "SOCK_SEQPACKET", 6: "SOCK_DCCP", 10: "SOCK_PACKET"}

MSG_FLAGS = [
    ("MSG_OOB", 0x1),
    ("MSG_PEEK", 0x2),
    ("MSG_DONTROUTE", 0x4),
    ("MSG_CTRUNC", 0x8),
    ("MSG_PROXY", 0x10),
    ("MSG_TRUNC", 0x20),
    ("MSG_DONTWAIT", 0x40),
    ("MSG_EOR", 0x80),
    ("MSG_WAITALL", 0x100),
    ("MSG_FIN", 0x200),
    ("MSG_SYN", 0x400),
    ("MSG_CONFIRM", 0x800),
    ("MSG_RST", 0x1000),
    ("MSG_ERRQUEUE", 0x2000),
    ("MSG_NOSIGNAL", 0x4000),
    ("MSG_MORE", 0x8000),
    ("MSG_WAITFORONE", 0x10000),
    ("MSG_BATCH", 0x40000),
    ("MSG_ZEROCOPY", 0x4000000),
    ("MSG_FASTOPEN", 0x20000000),
    ("MSG_CMSG_CLOEXEC", 0x40000000),
]

MOUNT_FLAGS = [
    ("MS_RDONLY", 1),
    ("MS_NOSUID", 2),
    ("MS_NODEV", 4),
    ("MS_NOEXEC", 8),
    ("MS_SYNCHRONOUS", 16),
    ("MS_REMOUNT", 32),
    ("MS_MANDLOCK", 64),
    ("MS_DIRSYNC", 128),
    ("MS_NOSYMFOLLOW", 256),
    ("MS_NOATIME", 1024),
    ("MS_NODIRATIME", 2048),
    ("MS_BIND", 4096),
    ("MS_MOVE", 8192),
    ("MS_REC", 16384),
    ("MS_SILENT", 32768),
    ("MS_POSIXACL", 1 << 16),
    ("MS_UNBINDABLE", 1 << 17),
    ("MS_PRIVATE", 1 << 18),
    ("MS_SLAVE", 1 << 19),
    ("MS_SHARED", 1 << 20),
    ("MS_RELATIME", 1 << 21),
    ("MS_KERNMOUNT", 1 << 22),
    ("MS_I_VERSION", 1 << 23),
    ("MS_STRICTATIME", 1 << 24),
    ("MS_LAZYTIME", 1 << 25),
]

UMOUNT_FLAGS = [
    ("MNT_FORCE", 1),
    ("MNT_DETACH", 2),
    ("MNT_EXPIRE", 4),
    ("UMOUNT_NOFOLLOW", 8),
]

# setns takes one CLONE_NEW* type, or with a pidfd several at once: bits.
NSTYPE_FLAGS = [(name, mask) for name, mask in CLONE_FLAGS
                if name.startswith("CLONE_NEW")] + [("CLONE_NEWTIME", 0x80)]

FINIT_MODULE_FLAGS = [
    ("MODULE_INIT_IGNORE_MODVERSIONS", 1),
    ("MODULE_INIT_IGNORE_VERMAGIC", 2),
    ("MODULE_INIT_COMPRESSED_FILE", 4),
]

DELETE_MODULE_FLAGS = [
    ("O_TRUNC", 0o1000),
    ("O_NONBLOCK", 0o4000),
]

USERFAULTFD_FLAGS = [
    ("UFFD_USER_MODE_ONLY", 1),
    ("O_NONBLOCK", 0o4000),
    ("O_CLOEXEC", 0o2000000),
]

IO_URING_SETUP_FLAGS = [
    ("IORING_SETUP_IOPOLL", 1 << 0),
    ("IORING_SETUP_SQPOLL", 1 << 1),
    ("IORING_SETUP_SQ_AFF", 1 << 2),
    ("IORING_SETUP_CQSIZE", 1 << 3),
    ("IORING_SETUP_CLAMP", 1 << 4),
    ("IORING_SETUP_ATTACH_WQ", 1 << 5),
    ("IORING_SETUP_R_DISABLED", 1 << 6),
    ("IORING_SETUP_SUBMIT_ALL", 1 << 7),
    ("IORING_SETUP_COOP_TASKRUN", 1 << 8),
    ("IORING_SETUP_TASKRUN_FLAG", 1 << 9),
    ("IORING_SETUP_SQE128", 1 << 10),
    ("IORING_SETUP_CQE32", 1 << 11),
    ("IORING_SETUP_SINGLE_ISSUER", 1 << 12),
    ("IORING_SETUP_DEFER_TASKRUN", 1 << 13),
    ("IORING_SETUP_NO_MMAP", 1 << 14),
    ("IORING_SETUP_REGISTERED_FD_ONLY", 1 << 15),
    ("IORING_SETUP_NO_SQARRAY", 1 << 16),
    ("IORING_SETUP_HYBRID_IOPOLL", 1 << 17),
]

PTRACE_REQUESTS = {
    0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 3: "PTRACE_PEEKUSER",
    4: "PTRACE_POKETEXT", 5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSER", 7: "PTRACE_CONT",
    8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP", 12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS",
    14: "PTRACE_GETFPREGS", 15: "PTRACE_SETFPREGS", 16: "PTRACE_ATTACH", 17: "PTRACE_DETACH",
    18: "PTRACE_GETFPXREGS", 19: "PTRACE_SETFPXREGS", 24: "PTRACE_SYSCALL",
    25: "PTRACE_GET_THREAD_AREA", 26: "PTRACE_SET_THREAD_AREA", 30: "PTRACE_ARCH_PRCTL",
    31: "PTRACE_SYSEMU", 32: "PTRACE_SYSEMU_SINGLESTEP", 33: "PTRACE_SINGLEBLOCK",
    0x4200: "PTRACE_SETOPTIONS", 0x4201: "PTRACE_GETEVENTMSG", 0x4202: "PTRACE_GETSIGINFO",
    0x4203: "PTRACE_SETSIGINFO", 0x4204: "PTRACE_GETREGSET", 0x4205: "PTRACE_SETREGSET",
    0x4206: "PTRACE_SEIZE", 0x4207: "PTRACE_INTERRUPT", 0x4208: "PTRACE_LISTEN",
    0x4209: "PTRACE_PEEKSIGINFO", 0x420a: "PTRACE_GETSIGMASK", 0x420b: "PTRACE_SETSIGMASK",
    0x420c: "PTRACE_SECCOMP_GET_FILTER", 0x420d: "PTRACE_SECCOMP_GET_METADATA",
    0x420e: "PTRACE_GET_SYSCALL_INFO", 0x420f: "PTRACE_GET_RSEQ_CONFIGURATION",
    0x4210: "PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG",
    0x4211: "PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG", 0x4212: "PTRACE_SET_SYSCALL_INFO",
}

PRCTL_OPTIONS = {
    1: "PR_SET_PDEATHSIG", 2: "PR_GET_PDEATHSIG", 3: "PR_GET_DUMPABLE", 4: "PR_SET_DUMPABLE",
    5: "PR_GET_UNALIGN", 6: "PR_SET_UNALIGN", 7: "PR_GET_KEEPCAPS", 8: "PR_SET_KEEPCAPS",
    9: "PR_GET_FPEMU", 10: "PR_SET_FPEMU", 11: "PR_GET_FPEXC", 12: "PR_SET_FPEXC",
    13: "PR_GET_TIMING", 14: "PR_SET_TIMING", 15: "PR_SET_NAME", 16: "PR_GET_NAME",
    19: "PR_GET_ENDIAN", 20: "PR_SET_ENDIAN", 21: "PR_GET_SECCOMP", 22: "PR_SET_SECCOMP",
    23: "PR_CAPBSET_READ", 24: "PR_CAPBSET_DROP", 25: "PR_GET_TSC", 26: "PR_SET_TSC",
    27: "PR_GET_SECUREBITS", 28: "PR_SET_SECUREBITS", 29: "PR_SET_TIMERSLACK",
    30: "PR_GET_TIMERSLACK", 31: "PR_TASK_PERF_EVENTS_DISABLE",
    32: "PR_TASK_PERF_EVENTS_ENABLE", 33: "PR_MCE_KILL", 34: "PR_MCE_KILL_GET",
    35: "PR_SET_MM", 36: "PR_SET_CHILD_SUBREAPER", 37: "PR_GET_CHILD_SUBREAPER",
    38: "PR_SET_NO_NEW_PRIVS", 39: "PR_GET_NO_NEW_PRIVS", 40: "PR_GET_TID_ADDRESS",
    41: "PR_SET_THP_DISABLE", 42: "PR_GET_THP_DISABLE", 43: "PR_MPX_ENABLE_MANAGEMENT",
    44: "PR_MPX_DISABLE_MANAGEMENT", 45: "PR_SET_FP_MODE", 46: "PR_GET_FP_MODE",
    47: "PR_CAP_AMBIENT", 50: "PR_SVE_SET_VL", 51: "PR_SVE_GET_VL",
    52: "PR_GET_SPECULATION_CTRL", 53: "PR_SET_SPECULATION_CTRL", 54: "PR_PAC_RESET_KEYS",
    55: "PR_SET_TAGGED_ADDR_CTRL", 56: "PR_GET_TAGGED_ADDR_CTRL", 57: "PR_SET_IO_FLUSHER",
    58: "PR_GET_IO_FLUSHER", 59: "PR_SET_SYSCALL_USER_DISPATCH", 60: "PR_PAC_SET_ENABLED_KEYS",
    61: "PR_PAC_GET_ENABLED_KEYS", 62: "PR_SCHED_CORE", 63: "PR_SME_SET_VL",
    64: "PR_SME_GET_VL", 65: "PR_SET_MDWE", 66: "PR_GET_MDWE", 67: "PR_SET_MEMORY_MERGE",
    68: "PR_GET_MEMORY_MERGE", 69: "PR_RISCV_V_SET_CONTROL", 70: "PR_RISCV_V_GET_CONTROL",
    71: "PR_RISCV_SET_ICACHE_FLUSH_CTX", 72: "PR_PPC_GET_DEXCR", 73: "PR_PPC_SET_DEXCR",
    74: "PR_GET_SHADOW_STACK_STATUS", 75: "PR_SET_SHADOW_STACK_STATUS",
    76: "PR_LOCK_SHADOW_STACK_STATUS", 77: "PR_TIMER_CREATE_RESTORE_IDS",
    78: "PR_FUTEX_HASH", 0x59616D61: "PR_SET_PTRACER",
}

BPF_COMMANDS = dict(enumerate((
    "BPF_MAP_CREATE", "BPF_MAP_LOOKUP_ELEM", "BPF_MAP_UPDATE_ELEM", "BPF_MAP_DELETE_ELEM",
    "BPF_MAP_GET_NEXT_KEY", "BPF_PROG_LOAD", "BPF_OBJ_PIN", "BPF_OBJ_GET", "BPF_PROG_ATTACH",
    "BPF_PROG_DETACH", "BPF_PROG_TEST_RUN", "BPF_PROG_GET_NEXT_ID", "BPF_MAP_GET_NEXT_ID",
    "BPF_PROG_GET_FD_BY_ID", "BPF_MAP_GET_FD_BY_ID", "BPF_OBJ_GET_INFO_BY_FD",
    "BPF_PROG_QUERY", "BPF_RAW_TRACEPOINT_OPEN", "BPF_BTF_LOAD", "BPF_BTF_GET_FD_BY_ID",
    "BPF_TASK_FD_QUERY", "BPF_MAP_LOOKUP_AND_DELETE_ELEM", "BPF_MAP_FREEZE",
    "BPF_BTF_GET_NEXT_ID", "BPF_MAP_LOOKUP_BATCH", "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
    "BPF_MAP_UPDATE_BATCH", "BPF_MAP_DELETE_BATCH", "BPF_LINK_CREATE", "BPF_LINK_UPDATE",
    "BPF_LINK_GET_FD_BY_ID", "BPF_LINK_GET_NEXT_ID", "BPF_ENABLE_STATS", "BPF_ITER_CREATE",
    "BPF_LINK_DETACH", "BPF_PROG_BIND_MAP", "BPF_TOKEN_CREATE", "BPF_PROG_STREAM_READ_BY_FD",
)))

# Capability bits (linux/capability.h), as the cred's kernel_cap_t holds them.
CAPABILITIES = [(f"CAP_{name}", 1 << bit) for bit, name in enumerate((
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"))]
ALL_CAPS = sum(mask for _name, mask in CAPABILITIES)

# Where an executable lives (bpf/facts.h), scapula's own bits.
EXE_FLAGS = [("EXE_FROM_MEMFD", 1), ("EXE_UPPER_LAYER", 2), ("EXE_DELETED", 4)]

# Tables whose word is one value, not a set of bits: value -> name.
VALUE_TABLES = {
    "domain": {0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX",
               5: "AF_APPLETALK", 9: "AF_X25", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET",
               29: "AF_CAN", 30: "AF_TIPC", 31: "AF_BLUETOOTH", 38: "AF_ALG", 40: "AF_VSOCK",
               44: "AF_XDP", 45: "AF_MCTP"},
    "shutdown": {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"},
    "signal": {s.value: s.name for s in _signal.Signals},
    "ptrace": PTRACE_REQUESTS,
    "prctl": PRCTL_OPTIONS,
    "bpf_cmd": BPF_COMMANDS,
}

TABLES = {
    "open": OPEN_FLAGS,
    "at": AT_FLAGS,
    "clone": CLONE_FLAGS,
    "pipe": PIPE_FLAGS,
    "dup": DUP_FLAGS,
    "rename": RENAME_FLAGS,
    "memfd": MEMFD_FLAGS,
    "resolve": RESOLVE_FLAGS,
    "socktype": SOCKTYPE_FLAGS,
    "msg": MSG_FLAGS,
    "mount": MOUNT_FLAGS,
    "umount": UMOUNT_FLAGS,
    "nstype": NSTYPE_FLAGS,
    "finit_module": FINIT_MODULE_FLAGS,
    "delete_module": DELETE_MODULE_FLAGS,
    "userfaultfd": USERFAULTFD_FLAGS,
    "io_uring_setup": IO_URING_SETUP_FLAGS,
    "caps": CAPABILITIES,
    "exe": EXE_FLAGS,
}


def flag_names(table: str, value: int) -> list[str]:
    """Names of the bits set in `value`; leftover bits appear as one hex number."""
    if table in VALUE_TABLES:
        return [VALUE_TABLES[table].get(value, str(value))]
    names = []
    rest = value
    if table == "socktype" and value & 0xF:
        names.append(_SOCK_TYPES.get(value & 0xF, str(value & 0xF)))
        rest &= ~0xF
    elif table == "open" and not (value & 0o10000000):
        names.append(_ACCESS_MODES[value & 3])
        rest &= ~3
    elif table == "clone" and value & 0xFF:
        names.append(f"SIG{_signal_name(value & 0xFF)}")
        rest &= ~0xFF
    for name, mask in TABLES[table]:
        if rest & mask == mask and mask:
            names.append(name)
            rest &= ~mask
    if rest:
        names.append(hex(rest))
    return names


@functools.lru_cache(maxsize=8192)   # rules and printing render the same few values again
def flags_text(table: str, value: int) -> str:
    if table == "caps" and value & ALL_CAPS == ALL_CAPS:
        return "ALL" + (f"|{value & ~ALL_CAPS:#x}" if value & ~ALL_CAPS else "")
    if table == "caps" and bin(value & ALL_CAPS).count("1") > len(CAPABILITIES) // 2:
        # root's set less a few: the few are what matters
        return "ALL" + "".join(f"-{name}" for name, mask in CAPABILITIES if not value & mask)
    return "|".join(flag_names(table, value)) or "0"


def tty_text(tty_nr: int) -> str:
    """A terminal's name from /proc's tty_nr encoding (pts/3, tty1, ttyS0)."""
    if not tty_nr:
        return "0"
    major = (tty_nr >> 8) & 0xFFF
    minor = (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    if 136 <= major <= 143:
        return f"pts/{(major - 136) * 256 + minor}"
    if major == 4:
        return f"tty{minor}" if minor < 64 else f"ttyS{minor - 64}"
    if major == 5 and minor in (0, 1, 2):
        return ("tty", "console", "ptmx")[minor]
    return f"{major}:{minor}"


# The permission bits of chmod's mode, in the order Falco's driver table lists them
# (lowest first): libsinsp names a chmod, fchmod or fchmodat mode by them.
CHMOD_MODE = [
    ("S_IXOTH", 0o1), ("S_IWOTH", 0o2), ("S_IROTH", 0o4),
    ("S_IXGRP", 0o10), ("S_IWGRP", 0o20), ("S_IRGRP", 0o40),
    ("S_IXUSR", 0o100), ("S_IWUSR", 0o200), ("S_IRUSR", 0o400),
    ("S_ISVTX", 0o1000), ("S_ISGID", 0o2000), ("S_ISUID", 0o4000),
]


def chmod_mode_names(mode: int) -> str:
    """S_IXOTH|S_IROTH|...|S_ISUID for 04755: the bits by name, in CHMOD_MODE's order;
    "" when none is set (libsinsp then shows the number)."""
    return "|".join(name for name, bit in CHMOD_MODE if mode & bit)


def mode_text(mode: int) -> str:
    """A mode as octal, with the file type when one is set (S_IFREG|0644)."""
    if not 0 <= mode < 1 << 32:
        return f"{mode:#o}"  # not a mode_t: a process may pass any word
    kind = _stat.S_IFMT(mode)
    perm = f"0{mode & 0o7777:o}" if mode & 0o7777 else "0"
    if not kind:
        return perm
    for name in ("S_IFREG", "S_IFDIR", "S_IFLNK", "S_IFCHR", "S_IFBLK", "S_IFIFO", "S_IFSOCK"):
        if getattr(_stat, name) == kind:
            return f"{name}|{perm}"
    return perm


def errno_name(res: int) -> str | None:
    """ENOENT for a result of -2; None for a success."""
    if res >= 0 or res < -4095:
        return None
    return _errno.errorcode.get(-res, f"E{-res}")


def _signal_name(num: int) -> str:
    import signal
    try:
        return signal.Signals(num).name[3:]
    except ValueError:
        return str(num)
