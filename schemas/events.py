"""The event table: every event type scapula records, with its ordered, typed parameters.

This is the one source of truth. The BPF side gets its defines from it, the decoder
its record layouts, the capture file embeds it (see FORMAT.md), and tests check the
fillers against it.

Kernel record layout of one event (little-endian, no padding):
    header (HEADER_FORMAT below, 64 bytes)
    one 8-byte slot per scalar parameter, in table order
    per variable parameter, in table order: u16 length, then that many bytes
        (length 0xFFFF: the kernel could not read it, the value is None)
Derived parameters are added in user space (for example a path resolved to an
absolute one) and are never sent by the kernel.
"""
from dataclasses import dataclass
from functools import cached_property
import struct

SCHEMA_VERSION = 1  # the table's layout; events and kinds are added within it

# ts, cgroup_id, res, tid, pid, ppid, uid, gid, type, cpu, comm
HEADER_FORMAT = "<QQqIIIIIHH16s"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)
HEADER_FIELDS = ("ts", "cgroup", "res", "tid", "pid", "ppid", "uid", "gid", "type", "cpu", "comm")
VAR_ABSENT = 0xFFFF

# Parameter kinds. Scalars travel in 8-byte slots; the rest are variable length.
SCALAR_KINDS = {
    "fd": "q",      # a file descriptor number (AT_FDCWD is -100)
    "int": "q",
    "uint": "Q",
    "pid": "q",
    "uid": "q",     # -1 means "unchanged" for the setres* family
    "gid": "q",
    "mode": "Q",    # rendered in octal
    "flags": "Q",   # rendered with the table named by Param.table
    "tty": "Q",     # a terminal's device number, rendered as its name (pts/3)
}
VAR_KINDS = {
    "path": "bytes",   # a path as the process passed it
    "str": "bytes",    # a string that is not a path (memfd name, ...)
    "argv": "bytes",   # NUL-separated list, decoded to a list of bytes
    "sockaddr": "bytes",  # a raw struct sockaddr (at most 128 bytes), see schemas/sockaddr.py
    "buf": "bytes",    # raw bytes of a data buffer, cut at the recording's snaplen
}
DERIVED_KINDS = {"abspath", "container"}


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    table: str | None = None       # flags table name, for kind "flags"
    desc: str = ""
    # For kind "abspath": the path parameter it resolves and the dirfd parameter
    # (None: relative to the cwd).
    source: str | None = None
    dirfd: str | None = None

    @property
    def scalar(self) -> bool:
        return self.kind in SCALAR_KINDS

    @property
    def derived(self) -> bool:
        return self.kind in DERIVED_KINDS


@dataclass(frozen=True)
class EventType:
    id: int
    name: str
    category: str               # file, process, lifecycle, net, priv, kernel, io, generic
    params: tuple[Param, ...]
    syscall: int | None = None  # x86_64 syscall number, None for tracepoint events
    res: str = "res"            # what the result means (fd, tid, ...)
    desc: str = ""

    @property
    def returns(self) -> bool:
        """Whether the header's res is a syscall's result (-errno on failure)."""
        return self.syscall is not None or self.category == "generic"

    @property
    def scalars(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.scalar)

    @property
    def variables(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.scalar and not p.derived)

    @property
    def derived(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.derived)

    @cached_property
    def kinds(self) -> dict[str, str]:
        """Parameter name -> kind: readers look kinds up per parameter read."""
        return {p.name: p.kind for p in self.params}

    @cached_property
    def by_name(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    @cached_property
    def recorded(self) -> tuple[Param, ...]:
        """The parameters the kernel side gives (not derived), in order."""
        return tuple(p for p in self.params if not p.derived)

    @property
    def kernel_format(self) -> str:
        return HEADER_FORMAT + "".join(SCALAR_KINDS[p.kind] for p in self.scalars)


def P(name, kind, table=None, desc="", source=None, dirfd=None):
    return Param(name, kind, table, desc, source, dirfd)


def ABS(source, dirfd=None):
    return Param(f"{source}_abs", "abspath", desc=f"{source} resolved to an absolute path",
                 source=source, dirfd=dirfd)


_FD, _DIRFD = P("fd", "fd"), P("dirfd", "fd", desc="directory fd for a relative path (AT_FDCWD = -100)")
_DOMAIN = P("domain", "flags", "domain", desc="address family (AF_INET, ...)")
# socktype, not type: a parameter must not share a header field's name.
_SOCKTYPE = P("socktype", "flags", "socktype", desc="SOCK_STREAM, ... with SOCK_NONBLOCK|SOCK_CLOEXEC")
_PROTOCOL = P("protocol", "int")
_LOCAL = P("local", "sockaddr", desc="the socket's own address at exit, read from the kernel "
           "(inet and inet6 only, else None): with addr, the connection's tuple")
_SIG = P("sig", "flags", "signal", desc="0 checks the target exists and may be signalled")
_OWNER = P("owner", "uid", desc="new owner, -1 unchanged")
_GROUP = P("group", "gid", desc="new group, -1 unchanged")
_PEER = P("addr", "sockaddr", desc="the peer as written to user memory at exit; None when not "
          "asked for or on failure")

_SIZE = P("size", "uint", desc="the byte count the caller asked for")
_POS = P("pos", "int", desc="the file offset")
_IOVCNT = P("iovcnt", "uint", desc="iovec entries, as the kernel read the register")
_DATA_IN = P("data", "buf", desc="the first bytes read (at most snaplen); None on failure")
_DATA_OUT = P("data", "buf", desc="the first bytes written (at most snaplen); None on failure")

# What procfork and procexec tell of a process, read from the kernel (bpf/facts.h).
# A fact this kernel's BTF cannot give is None (the file's header lists them).
PROCESS_FACTS = (
    P("loginuid", "uid", desc="audit login uid, -1 when never set"),
    P("sessionid", "uint", desc="audit session id, 4294967295 when never set"),
    P("sid", "pid", desc="session id: the session leader's pid"),
    P("pgid", "pid", desc="process group id"),
    P("tty", "tty", desc="controlling terminal as /proc's tty_nr encodes it, 0 for none"),
    P("cap_effective", "flags", "caps"),
    P("cap_permitted", "flags", "caps"),
    P("exe_flags", "flags", "exe", desc="where the executable lives: memfd, an overlay's "
      "upper layer, unlinked"),
    P("cwd", "path", desc="the working directory, as the process sees it (relative to its root)"),
    P("exe", "path", desc="the executable, as the kernel knows it (relative to the root)"),
    P("cgroup_path", "str", desc="the unified hierarchy's cgroup path, or a v1 controller's when "
      "the process sits at the unified root"),
    P("container_id", "container", desc="parsed from cgroup (docker, containerd, cri-o, "
      "podman), None outside a container", source="cgroup_path"),
)

EVENTS: tuple[EventType, ...] = (
    # --- process lifecycle: syscalls --------------------------------------------
    EventType(1, "execve", "process", (
        P("filename", "path"), P("argv", "argv"), P("envp", "argv"), ABS("filename")),
        syscall=59, desc="execute a program; argv/envp as the new image sees them"),
    EventType(2, "execveat", "process", (
        _DIRFD, P("filename", "path"), P("argv", "argv"), P("envp", "argv"),
        P("flags", "flags", "at"), ABS("filename", "dirfd")), syscall=322),
    EventType(3, "clone", "process", (P("flags", "flags", "clone"),), syscall=56,
              res="tid", desc="result: the child's tid in the parent, 0 in the child"),
    EventType(4, "clone3", "process", (P("flags", "flags", "clone"), P("size", "uint")),
              syscall=435, res="tid"),
    EventType(5, "fork", "process", (), syscall=57, res="tid"),
    EventType(6, "vfork", "process", (), syscall=58, res="tid"),
    # --- process lifecycle: scheduler tracepoints --------------------------------
    EventType(7, "procexit", "lifecycle", (
        P("exit_code", "int", desc="the raw wait status word"),
        P("status", "int", desc="exit status (exit_code >> 8)"),
        P("sig", "int", desc="terminating signal, 0 for a normal exit"),
        P("core", "int", desc="1 when a core was dumped")),
        desc="a thread ended (sched_process_exit); exit/exit_group end here"),
    EventType(8, "procfork", "lifecycle", (
        P("child_tid", "pid"), P("child_pid", "pid", desc="the child's thread group id"),
        *PROCESS_FACTS),
        desc="a task was created (sched_process_fork), seen from the parent; the facts "
             "are the child's"),
    EventType(9, "procexec", "lifecycle", (
        P("old_tid", "pid", desc="the tid that called exec"),
        P("filename", "path", desc="as passed to exec"),
        P("argv", "argv", desc="as the new image sees them"),
        P("envp", "argv", desc="the environment, cut at 4096 bytes"),
        *PROCESS_FACTS),
        desc="a program image was loaded (sched_process_exec); the facts are the new image's"),
    # --- files -------------------------------------------------------------------
    EventType(10, "open", "file", (
        P("name", "path"), P("flags", "flags", "open"), P("mode", "mode"), ABS("name")),
        syscall=2, res="fd"),
    EventType(11, "openat", "file", (
        _DIRFD, P("name", "path"), P("flags", "flags", "open"), P("mode", "mode"),
        ABS("name", "dirfd")), syscall=257, res="fd"),
    EventType(12, "openat2", "file", (
        _DIRFD, P("name", "path"), P("flags", "flags", "open"), P("mode", "mode"),
        P("resolve", "flags", "resolve"), ABS("name", "dirfd")), syscall=437, res="fd"),
    EventType(13, "creat", "file", (P("name", "path"), P("mode", "mode"), ABS("name")),
              syscall=85, res="fd"),
    EventType(14, "close", "file", (_FD,), syscall=3),
    EventType(15, "dup", "file", (P("oldfd", "fd"),), syscall=32, res="fd"),
    EventType(16, "dup2", "file", (P("oldfd", "fd"), P("newfd", "fd")), syscall=33, res="fd"),
    EventType(17, "dup3", "file", (P("oldfd", "fd"), P("newfd", "fd"), P("flags", "flags", "dup")),
              syscall=292, res="fd"),
    EventType(18, "pipe", "file", (P("fd1", "fd", desc="read end"), P("fd2", "fd", desc="write end")),
              syscall=22),
    EventType(19, "pipe2", "file", (P("fd1", "fd"), P("fd2", "fd"), P("flags", "flags", "pipe")),
              syscall=293),
    EventType(20, "chdir", "file", (P("path", "path"), ABS("path")), syscall=80),
    EventType(21, "fchdir", "file", (_FD,), syscall=81),
    EventType(22, "unlink", "file", (P("path", "path"), ABS("path")), syscall=87),
    EventType(23, "unlinkat", "file", (
        _DIRFD, P("name", "path"), P("flags", "flags", "at"), ABS("name", "dirfd")), syscall=263),
    EventType(24, "rename", "file", (
        P("oldpath", "path"), P("newpath", "path"), ABS("oldpath"), ABS("newpath")), syscall=82),
    EventType(25, "renameat", "file", (
        P("olddirfd", "fd"), P("oldpath", "path"), P("newdirfd", "fd"), P("newpath", "path"),
        ABS("oldpath", "olddirfd"), ABS("newpath", "newdirfd")), syscall=264),
    EventType(26, "renameat2", "file", (
        P("olddirfd", "fd"), P("oldpath", "path"), P("newdirfd", "fd"), P("newpath", "path"),
        P("flags", "flags", "rename"),
        ABS("oldpath", "olddirfd"), ABS("newpath", "newdirfd")), syscall=316),
    EventType(27, "mkdir", "file", (P("path", "path"), P("mode", "mode"), ABS("path")), syscall=83),
    EventType(28, "mkdirat", "file", (
        _DIRFD, P("path", "path"), P("mode", "mode"), ABS("path", "dirfd")), syscall=258),
    EventType(29, "rmdir", "file", (P("path", "path"), ABS("path")), syscall=84),
    EventType(30, "link", "file", (
        P("oldpath", "path"), P("newpath", "path"), ABS("oldpath"), ABS("newpath")), syscall=86),
    EventType(31, "linkat", "file", (
        P("olddirfd", "fd"), P("oldpath", "path"), P("newdirfd", "fd"), P("newpath", "path"),
        P("flags", "flags", "at"),
        ABS("oldpath", "olddirfd"), ABS("newpath", "newdirfd")), syscall=265),
    EventType(32, "symlink", "file", (
        P("target", "path", desc="the link's content, not resolved"), P("linkpath", "path"),
        ABS("linkpath")), syscall=88),
    EventType(33, "symlinkat", "file", (
        P("target", "path"), P("linkdirfd", "fd"), P("linkpath", "path"),
        ABS("linkpath", "linkdirfd")), syscall=266),
    EventType(34, "chmod", "file", (P("filename", "path"), P("mode", "mode"), ABS("filename")),
              syscall=90),
    EventType(35, "fchmod", "file", (_FD, P("mode", "mode")), syscall=91),
    EventType(36, "fchmodat", "file", (
        _DIRFD, P("filename", "path"), P("mode", "mode"), ABS("filename", "dirfd")), syscall=268),
    EventType(37, "memfd_create", "file", (P("name", "str"), P("flags", "flags", "memfd")),
              syscall=319, res="fd"),
    # --- identity ----------------------------------------------------------------
    # new_uid/new_gid, not uid/gid: a parameter must not share a header field's name.
    EventType(38, "setuid", "process", (P("new_uid", "uid"),), syscall=105),
    EventType(39, "setgid", "process", (P("new_gid", "gid"),), syscall=106),
    EventType(40, "setresuid", "process", (P("ruid", "uid"), P("euid", "uid"), P("suid", "uid")),
              syscall=117),
    EventType(41, "setresgid", "process", (P("rgid", "gid"), P("egid", "gid"), P("sgid", "gid")),
              syscall=119),
    # --- network -------------------------------------------------------------------
    EventType(42, "socket", "net", (_DOMAIN, _SOCKTYPE, _PROTOCOL), syscall=41, res="fd"),
    EventType(43, "socketpair", "net", (
        _DOMAIN, _SOCKTYPE, _PROTOCOL,
        P("fd1", "fd", desc="read from user memory at exit, -1 on failure"), P("fd2", "fd")),
        syscall=53),
    EventType(44, "connect", "net", (
        _FD, P("addr", "sockaddr", desc="the address connected to"), _LOCAL), syscall=42),
    EventType(45, "accept", "net", (_FD, _PEER, _LOCAL), syscall=43, res="fd",
              desc="local: the new socket's own address"),
    EventType(46, "accept4", "net", (_FD, _PEER, P("flags", "flags", "socktype"), _LOCAL),
              syscall=288, res="fd", desc="local: the new socket's own address"),
    EventType(47, "bind", "net", (_FD, P("addr", "sockaddr")), syscall=49),
    EventType(48, "listen", "net", (_FD, P("backlog", "int")), syscall=50),
    EventType(49, "sendto", "net", (
        _FD, P("size", "uint"), P("flags", "flags", "msg"),
        P("addr", "sockaddr", desc="destination; None when not given")), syscall=44, res="bytes"),
    EventType(50, "sendmsg", "net", (
        _FD, P("flags", "flags", "msg"),
        P("addr", "sockaddr", desc="msg_name; None when not given")), syscall=46, res="bytes"),
    EventType(51, "recvfrom", "net", (
        _FD, P("size", "uint"), P("flags", "flags", "msg"),
        P("addr", "sockaddr", desc="source as written to user memory at exit; None when not "
          "asked for or on failure")), syscall=45, res="bytes"),
    EventType(52, "recvmsg", "net", (
        _FD, P("flags", "flags", "msg"),
        P("addr", "sockaddr", desc="msg_name as written at exit; None when not asked for or "
          "on failure")), syscall=47, res="bytes"),
    EventType(53, "shutdown", "net", (_FD, P("how", "flags", "shutdown")), syscall=48),
    # --- privilege: tracing, signals, identity, capabilities, namespaces, mounts ---------
    # target/target_tid, owner/group: a parameter must not share a header field's name.
    EventType(54, "ptrace", "priv", (
        P("request", "flags", "ptrace"), P("target", "pid"), P("addr", "uint"),
        P("data", "uint")), syscall=101),
    EventType(55, "kill", "priv", (P("target", "pid"), _SIG), syscall=62),
    EventType(56, "tkill", "priv", (P("target_tid", "pid"), _SIG), syscall=200),
    EventType(57, "tgkill", "priv", (P("tgid", "pid"), P("target_tid", "pid"), _SIG),
              syscall=234),
    EventType(58, "setreuid", "priv", (P("ruid", "uid"), P("euid", "uid")), syscall=113),
    EventType(59, "setregid", "priv", (P("rgid", "gid"), P("egid", "gid")), syscall=114),
    EventType(60, "capset", "priv", (
        P("target", "pid", desc="the header's pid (0: the caller)"),
        P("effective", "uint", desc="capabilities 0-63: both data structs' words (version 2 "
          "and 3; a version 1 call's 0-31)"),
        P("permitted", "uint"), P("inheritable", "uint")), syscall=126),
    EventType(61, "prctl", "priv", (
        P("option", "flags", "prctl"), P("arg2", "uint"), P("arg3", "uint"), P("arg4", "uint"),
        P("arg5", "uint")), syscall=157),
    EventType(62, "setns", "priv", (_FD, P("nstype", "flags", "nstype")), syscall=308),
    EventType(63, "unshare", "priv", (P("flags", "flags", "clone"),), syscall=272),
    EventType(64, "chroot", "priv", (P("path", "path"), ABS("path")), syscall=161),
    EventType(65, "fchown", "priv", (_FD, _OWNER, _GROUP), syscall=93),
    EventType(66, "chown", "priv", (P("path", "path"), _OWNER, _GROUP, ABS("path")),
              syscall=92),
    EventType(67, "lchown", "priv", (P("path", "path"), _OWNER, _GROUP, ABS("path")),
              syscall=94),
    EventType(68, "fchownat", "priv", (
        _DIRFD, P("path", "path"), _OWNER, _GROUP, P("flags", "flags", "at"),
        ABS("path", "dirfd")), syscall=260),
    EventType(69, "mount", "priv", (
        P("source", "str", desc="a device, a path or any word (tmpfs)"), P("target", "path"),
        P("fstype", "str"), P("flags", "flags", "mount"), ABS("target")),
        syscall=165, desc="data (the options) is not recorded"),
    EventType(70, "umount2", "priv", (
        P("target", "path"), P("flags", "flags", "umount"), ABS("target")), syscall=166),
    # --- kernel: modules, BPF, userfaultfd, io_uring --------------------------------
    EventType(71, "init_module", "kernel", (
        P("len", "uint", desc="the image's length (the image is not recorded)"),
        P("params", "str")), syscall=175),
    EventType(72, "finit_module", "kernel", (
        _FD, P("params", "str"), P("flags", "flags", "finit_module")), syscall=313),
    EventType(73, "delete_module", "kernel", (
        P("name", "str"), P("flags", "flags", "delete_module")), syscall=176),
    EventType(74, "bpf", "kernel", (P("cmd", "flags", "bpf_cmd"), P("size", "uint")),
              syscall=321, res="fd", desc="result: an fd for the commands that make one"),
    EventType(75, "userfaultfd", "kernel", (P("flags", "flags", "userfaultfd"),), syscall=323,
              res="fd"),
    EventType(76, "io_uring_setup", "kernel", (
        P("entries", "uint"),
        P("flags", "flags", "io_uring_setup", desc="from the io_uring_params struct")),
        syscall=425, res="fd"),
    # --- io: off by default (record --io or --all); data is cut at --snaplen ----------
    # The data is what the call moved: min(res, snaplen) bytes, None on failure.
    EventType(77, "read", "io", (_FD, _SIZE, _DATA_IN), syscall=0, res="bytes"),
    EventType(78, "write", "io", (_FD, _SIZE, _DATA_OUT), syscall=1, res="bytes"),
    EventType(79, "pread64", "io", (_FD, _SIZE, _POS, _DATA_IN), syscall=17, res="bytes"),
    EventType(80, "pwrite64", "io", (_FD, _SIZE, _POS, _DATA_OUT), syscall=18, res="bytes"),
    EventType(81, "readv", "io", (_FD, _IOVCNT, _DATA_IN), syscall=19, res="bytes",
              desc="data gathered across the first 16 iovecs"),
    EventType(82, "writev", "io", (_FD, _IOVCNT, _DATA_OUT), syscall=20, res="bytes",
              desc="data gathered across the first 16 iovecs"),
    # --- generic: with --all, every syscall that has no event of its own ----------
    EventType(83, "syscall", "generic", (
        P("nr", "uint", desc="the x86_64 syscall number; its name is in schemas/syscalls.py"),),
        desc="a syscall without a filler (record --all): its number and result only"),
)

BY_ID = {e.id: e for e in EVENTS}
BY_NAME = {e.name: e for e in EVENTS}
BY_SYSCALL = {e.syscall: e for e in EVENTS if e.syscall is not None}

# Syscalls that end a process: they never return, so procexit stands for them.
EXIT_SYSCALLS = {"exit": 60, "exit_group": 231}

# Recorded when no --syscalls/--all is given: every syscall in the table but the I/O
# ones (record --io adds them): reads and writes outnumber everything else.
IO_SYSCALLS = tuple(e.name for e in EVENTS if e.category == "io")
DEFAULT_SYSCALLS = tuple(e.name for e in EVENTS
                         if e.syscall is not None and e.category != "io")

# The event of a syscall with no filler of its own (record --all).
GENERIC = BY_NAME["syscall"]


def as_dict() -> dict:
    """The table as plain data, for embedding in capture files and for other tools."""
    return {
        "version": SCHEMA_VERSION,
        "header": {"format": HEADER_FORMAT, "fields": list(HEADER_FIELDS)},
        "events": [
            {
                "id": e.id, "name": e.name, "category": e.category, "syscall": e.syscall,
                "res": e.res, "desc": e.desc,
                "params": [
                    {k: v for k, v in (("name", p.name), ("kind", p.kind), ("table", p.table),
                                       ("desc", p.desc), ("source", p.source), ("dirfd", p.dirfd))
                     if v is not None and v != ""}
                    for p in e.params
                ],
            }
            for e in EVENTS
        ],
    }


def from_dict(data: dict) -> tuple[EventType, ...]:
    """Rebuild a table embedded in a capture file (possibly older than this code)."""
    return tuple(
        EventType(
            d["id"], d["name"], d["category"],
            tuple(Param(p["name"], p["kind"], p.get("table"), p.get("desc", ""),
                        p.get("source"), p.get("dirfd")) for p in d["params"]),
            d.get("syscall"), d.get("res", "res"), d.get("desc", ""),
        )
        for d in data["events"]
    )
