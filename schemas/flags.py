"""Symbolic names for the flag and mode words that syscalls take (x86_64 Linux values)."""
import errno as _errno
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

# Tables whose word is one value, not a set of bits: value -> name.
VALUE_TABLES = {
    "domain": {0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX",
               5: "AF_APPLETALK", 9: "AF_X25", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET",
               29: "AF_CAN", 30: "AF_TIPC", 31: "AF_BLUETOOTH", 38: "AF_ALG", 40: "AF_VSOCK",
               44: "AF_XDP", 45: "AF_MCTP"},
    "shutdown": {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"},
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


def flags_text(table: str, value: int) -> str:
    return "|".join(flag_names(table, value)) or "0"


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
