"""The field table: every field a condition or an output can name, with Falco's names
and types, a description and how to read it from an event and the replay state.

One table drives condition evaluation, output formatting and `scapula rules fields`.
An extractor takes a Context (the event, the state, the capture's header) and the
field's [argument] (None when not given) and returns the value, or None when it is
unknown: an unknown value compares false with every operator, as in Falco.
"""
from dataclasses import dataclass
import functools
import grp
import ipaddress
import posixpath
import pwd

from scapula.replay.event import render_value
from scapula.schemas import flags as flagnames

# Falco's field types, as `falco --list` names them.
CHARBUF, INT64, UINT64, UINT32, BOOL, IPADDR, IPNET, PORT, RELTIME, ABSTIME, L4PROTO, FSPATH = (
    "CHARBUF", "INT64", "UINT64", "UINT32", "BOOL", "IPADDR", "IPNET", "PORT", "RELTIME",
    "ABSTIME", "L4PROTO", "FSPATH")
LIST = "LIST"  # a list of CHARBUF (proc.aname without an argument, fd.types)
BYTEBUF = "BYTEBUF"  # raw bytes (evt.buffer): compared byte for byte, not as text


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    desc: str
    extract: object          # (ctx, arg) -> value or None
    arg: str = "none"        # "none", "optional" or "required": what [..] it takes


class Context:
    """What one event's fields are read from; the process and fd looked up once."""

    __slots__ = ("ev", "state", "header", "num", "values", "_proc", "_fd")

    def __init__(self, ev, state, header: dict | None = None, num: int = 0):
        self.ev, self.state, self.header, self.num = ev, state, header or {}, num
        self.values = {}    # (field, arg) -> value: rules read the same fields again
        self._proc = self._fd = False

    @property
    def proc(self):
        if self._proc is False:
            self._proc = self.state.process(self.ev.pid)
        return self._proc

    @property
    def fd(self):
        """The fd the event is about: its result for calls that make one, else its fd
        parameter."""
        if self._fd is False:
            num = fd_number(self.ev)
            self._fd = self.state.fd(self.ev.pid, num) if num is not None else None
        return self._fd


_MAKES_FD = {"open", "openat", "openat2", "creat", "socket", "accept", "accept4", "dup",
             "dup2", "dup3", "memfd_create", "userfaultfd", "io_uring_setup"}


def fd_number(ev) -> int | None:
    if ev.name in _MAKES_FD:
        return ev.res if ev.res >= 0 else None
    if "fd" in ev.etype.kinds:
        return ev.param("fd")
    return None


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "surrogateescape")


# --- process -------------------------------------------------------------------------

def _proc(get):
    def extract(ctx, arg):
        p = ctx.proc
        return get(p) if p is not None else None
    return extract


def _cmdline(p) -> str:
    return " ".join([_text(p.comm)] + [_text(a) for a in p.args[1:]])


def _exe(p) -> str | None:
    return _text(p.args[0]) if p.args else _text(p.exe)


def _parent(ctx):
    p = ctx.proc
    return ctx.state.parent(p) if p is not None else None


def _pfield(get):
    def extract(ctx, arg):
        parent = _parent(ctx)
        return get(parent) if parent is not None else None
    return extract


def _ancestor(get):
    """proc.aname[N]: the Nth ancestor (1 = parent); without N, all of them (a list,
    which `=`/`in` test as "any ancestor")."""
    def extract(ctx, arg):
        if ctx.proc is None:
            return None
        if arg is None:
            return [get(p) for p in ctx.state.ancestors(ctx.proc.pid)]
        n = int(arg)
        if n == 0:
            return get(ctx.proc)
        if n < 0:
            return None
        for p in ctx.state.ancestors(ctx.proc.pid):   # only as far up as asked
            n -= 1
            if n == 0:
                return get(p)
        return None
    return extract


def _duration(ctx, arg):
    p = ctx.proc
    return ctx.ev.ts - p.start_ns if p is not None and p.start_ns else None


def _pduration(ctx, arg):
    parent = _parent(ctx)
    return ctx.ev.ts - parent.start_ns if parent is not None and parent.start_ns else None


def _env(ctx, arg):
    p = ctx.proc
    if p is None:
        return None
    if arg is None:
        return " ".join(_text(e) for e in p.env)
    prefix = arg.encode() + b"="
    return next((_text(e[len(prefix):]) for e in p.env if e.startswith(prefix)), None)


def _sname(ctx, arg):
    leader = ctx.state.session_leader(ctx.ev.pid)
    return _text(leader.comm) if leader is not None else None


def _vpgid_name(ctx, arg):
    p = ctx.proc
    leader = ctx.state.process(p.pgid) if p is not None and p.pgid else None
    return _text(leader.comm) if leader is not None else None


def _vpgid_exe(ctx, arg):
    p = ctx.proc
    leader = ctx.state.process(p.pgid) if p is not None and p.pgid else None
    return _exe(leader) if leader is not None else None


def _flag(bit):
    return _proc(lambda p: bool(p.exe_flags & bit))


# --- user and group ------------------------------------------------------------------

def _user_name(ctx, uid):
    return _account_name(ctx, "users", uid, _local_user)


def _group_name(ctx, gid):
    return _account_name(ctx, "groups", gid, _local_group)


def _account_name(ctx, table: str, number, local):
    """A uid's or gid's name on the recording host (the capture's HEADER `users` or
    `groups`); a capture from before 1.2 has none, and then this host's answers."""
    if number is None:
        return None
    names = ctx.header.get(table)
    if names is not None:
        return names.get(number)
    return local(number)


@functools.lru_cache(maxsize=4096)   # a passwd lookup costs ~15 µs, and ids repeat
def _local_user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return None


@functools.lru_cache(maxsize=4096)
def _local_group(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except (KeyError, OverflowError):
        return None


def _loginname(ctx):
    p = ctx.proc
    if p is None or p.loginuid is None or p.loginuid < 0:
        return None
    return _user_name(ctx, p.loginuid)


# --- fds -----------------------------------------------------------------------------

_FD_TYPES = {"f": "file", "d": "directory", "4": "ipv4", "6": "ipv6", "u": "unix", "p": "pipe",
             "e": "event", "s": "signalfd", "l": "eventpoll", "i": "inotify", "t": "timerfd",
             "n": "netlink", "m": "memfd", "b": "bpf", "r": "io_uring", "o": "unknown"}


def _fd(get):
    def extract(ctx, arg):
        fd = ctx.fd
        return get(fd) if fd is not None else None
    return extract


def _is_socket(fd) -> bool:
    return fd.typechar in "46"


def _server_side(fd):
    """(server end, client end) of an inet socket: an accepted socket's local end is
    the server, a connected one's remote end; a bound, unconnected one is a server."""
    if fd.role == "client":
        return fd.remote, fd.local
    return fd.local, fd.remote


def _end(which, part):
    def extract(ctx, arg):
        fd = ctx.fd
        if fd is None or not _is_socket(fd):
            return None
        if which in ("l", "r"):
            end = fd.local if which == "l" else fd.remote
        else:
            server, client = _server_side(fd)
            end = server if which == "s" else client
        if end is None:
            return None
        return end[0] if part == "ip" else end[1]
    return extract


def _any_ip(ctx, arg):
    fd = ctx.fd
    if fd is None or not _is_socket(fd):
        return None
    return [e[0] for e in (fd.local, fd.remote) if e is not None]


def _any_port(ctx, arg):
    fd = ctx.fd
    if fd is None or not _is_socket(fd):
        return None
    return [e[1] for e in (fd.local, fd.remote) if e is not None]


def _net(which):
    """The network an endpoint's address is in; conditions compare it with CIDRs."""
    ip = _end(which, "ip") if which != "any" else _any_ip

    def extract(ctx, arg):
        value = ip(ctx, arg)
        if value is None:
            return None
        return [ipaddress.ip_address(v) for v in value] if isinstance(value, list) \
            else ipaddress.ip_address(value)
    return extract


def _directory(fd):
    if fd.typechar == "d":
        return _text(fd.name)
    if fd.typechar != "f":
        return None
    return posixpath.dirname(_text(fd.name))


def _filename(fd):
    return posixpath.basename(_text(fd.name)) if fd.typechar in "fd" else None


def _fd_types(ctx, arg):
    p = ctx.proc
    return sorted({_FD_TYPES.get(fd.typechar, "unknown") for fd in p.fds.values()}) \
        if p is not None else None


# --- the event itself ----------------------------------------------------------------

def _res(ctx, arg):
    ev = ctx.ev
    if ev.etype.syscall is None:
        return None
    return ev.errno or "SUCCESS"


def _arg(ctx, arg):
    """evt.arg.NAME / evt.arg[NAME] / evt.arg[N]: a parameter as text."""
    ev = ctx.ev
    if arg is None:
        return None
    if arg == "flags" and ev.name in _EXECS:
        p = ctx.proc
        return flagnames.flags_text("exe", p.exe_flags) if p is not None else None
    p = _arg_param(ev.etype, arg)
    if p is None:
        return None
    value = ev.param(p.name)
    if value is None:
        return None
    return _arg_text(ev.name, p, value)


def _arg_text(event: str, p, value) -> str:
    """A parameter as evt.arg and evt.args show it."""
    if p.kind in ("path", "str", "abspath"):
        return _text(value)
    if p.kind == "mode":
        return _mode_text(event, value)
    return render_value(p, value)


def _mode_text(event: str, mode: int) -> str:
    """A mode as libsinsp writes it for a rule: chmod's (a PT_MODE parameter with the
    driver's mode table) by name, so `evt.arg.mode contains S_ISUID` holds for 04755;
    mkdir's (PF_HEX) in hex; open's and creat's (PF_OCT) in octal. The driver
    records 32 bits."""
    mode &= 0xFFFFFFFF
    if event in _CHMODS and mode & 0o7777:
        return flagnames.chmod_mode_names(mode)
    if event in _MKDIRS:
        return f"{mode:X}"
    return f"0{mode:o}" if mode else "0"


_CHMODS = ("chmod", "fchmod", "fchmodat")
_MKDIRS = ("mkdir", "mkdirat")


def _arg_param(etype, arg: str):
    """The parameter evt.arg[ARG] names: by position among the recorded ones, by
    name, or by Falco's name for it."""
    if arg.isdigit():
        i = int(arg)
        return etype.recorded[i] if i < len(etype.recorded) else None
    p = etype.by_name.get(arg)
    if p is None and arg in _ARG_ALIASES:
        p = next((q for q in etype.params if q.name in _ARG_ALIASES[arg]), None)
    return p


def _rawarg(ctx, arg):
    ev = ctx.ev
    if arg == "flags" and ev.name in _EXECS:
        return ctx.proc.exe_flags if ctx.proc is not None else None
    return ev.param(arg) if arg in ev.etype.kinds else None


# Falco's execve/execveat exit event has the new image's exe flags as `flags` (rules
# print them as exe_flags=%evt.arg.flags); execveat's AT_ flags are on its enter event
# there. scapula records the exe flags on procexec, just before, so they are read from
# the process.
_EXECS = ("execve", "execveat")

# Falco's argument names where scapula's differ.
_ARG_ALIASES = {"uid": ("new_uid", "ruid"), "gid": ("new_gid", "rgid"), "path": ("filename",),
                "name": ("filename",), "target": ("target_tid",), "cmd": ("cmd",),
                "res_or_fd": ("fd",)}


def _args(ctx, arg):
    ev = ctx.ev
    return " ".join(f"{p.name}={_args_value(ev, p)}" for p in ev.etype.params
                    if not p.derived and p.name != "envp")


def _args_value(ev, p) -> str:
    if p.kind != "mode":
        return ev.render(p.name)
    value = ev.param(p.name)
    return "<NA>" if value is None else _mode_text(ev.name, value)


def _open_mode(bits):
    def extract(ctx, arg):
        ev = ctx.ev
        if ev.name not in ("open", "openat", "openat2", "creat"):
            return False
        flags = ev.param("flags") if ev.name != "creat" else 0o1101
        acc = flags & 3
        if bits == "r":
            return acc in (0, 2)
        if bits == "w":
            return acc in (1, 2) or bool(flags & 0o100)
        return False  # exec permission is not in open's flags
    return extract


def _iso(ctx, arg):
    import datetime
    ts = ctx.ev.ts
    return datetime.datetime.fromtimestamp(ts // 10**9, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts % 10**9:09d}Z"


def _time(ctx, arg):
    import time
    ts = ctx.ev.ts
    return time.strftime("%H:%M:%S", time.gmtime(ts // 10**9)) + f".{ts % 10**9:09d}"


def _container_id(ctx, arg):
    p = ctx.proc
    if p is None:
        return None
    return _text(p.container_id[:12]) if p.container_id else "host"


def _unknown(ctx, arg):
    return None


def F(name, type_, desc, extract, arg="none"):
    return FieldDef(name, type_, desc, extract, arg)


FIELDS_LIST = [
    # evt
    F("evt.num", UINT64, "event number in the capture", lambda c, a: c.num),
    F("evt.time", CHARBUF, "event time, HH:MM:SS.nnnnnnnnn (UTC)", _time),
    F("evt.time.iso8601", CHARBUF, "event time, ISO 8601 (UTC)", _iso),
    F("evt.rawtime", ABSTIME, "event time, ns since the epoch", lambda c, a: c.ev.ts),
    F("evt.datetime", CHARBUF, "event time, ISO 8601 (UTC)", _iso),
    F("evt.type", CHARBUF, "event type (syscall name, or procexec/procfork/procexit)",
      lambda c, a: c.ev.name if c.ev.name != "syscall" else c.ev.syscall_name),
    F("evt.dir", CHARBUF, "direction: always < (scapula records exits)", lambda c, a: "<"),
    F("evt.cpu", INT64, "CPU the event happened on", lambda c, a: c.ev.cpu),
    F("evt.res", CHARBUF, "SUCCESS or the errno name", _res),
    F("evt.rawres", INT64, "the result as a number", lambda c, a: c.ev.res),
    F("evt.failed", BOOL, "the call failed", lambda c, a: c.ev.res < 0
      if c.ev.etype.syscall is not None else False),
    F("evt.args", CHARBUF, "all parameters as text", _args),
    F("evt.arg", CHARBUF, "one parameter as text, by name or index: evt.arg[flags], "
      "evt.arg.flags", _arg, "required"),
    F("evt.rawarg", CHARBUF, "one parameter's raw value, by name", _rawarg, "required"),
    F("evt.is_open_read", BOOL, "an open for reading", _open_mode("r")),
    F("evt.is_open_write", BOOL, "an open for writing", _open_mode("w")),
    F("evt.is_open_exec", BOOL, "an open for execution (never set: not in open's flags)",
      _open_mode("x")),
    F("evt.buffer", BYTEBUF, "the I/O data (with --io)",
      lambda c, a: c.ev.param("data") if any(p.name == "data" for p in c.ev.etype.params)
      else None),
    F("evt.hostname", CHARBUF, "the recording host's name", lambda c, a: c.header.get("host")),
    # proc
    F("proc.pid", INT64, "process id", _proc(lambda p: p.pid)),
    F("proc.vpid", INT64, "process id (scapula records global ids)", _proc(lambda p: p.pid)),
    F("proc.ppid", INT64, "parent's process id", _proc(lambda p: p.ppid)),
    F("proc.name", CHARBUF, "the process's comm", _proc(lambda p: _text(p.comm))),
    F("proc.exe", CHARBUF, "argv[0]", _proc(_exe)),
    F("proc.exepath", FSPATH, "the executable's path, as the kernel knows it",
      _proc(lambda p: _text(p.exe))),
    F("proc.args", CHARBUF, "arguments after argv[0], space-separated",
      _proc(lambda p: " ".join(_text(a) for a in p.args[1:]))),
    F("proc.cmdline", CHARBUF, "name and arguments", _proc(_cmdline)),
    F("proc.cwd", FSPATH, "working directory", _proc(lambda p: _text(p.cwd))),
    F("proc.tty", UINT32, "controlling terminal (tty_nr), 0 for none", _proc(lambda p: p.tty)),
    F("proc.sid", INT64, "session id", _proc(lambda p: p.sid)),
    F("proc.sname", CHARBUF, "the session leader's name", _sname),
    F("proc.vpgid", INT64, "process group id", _proc(lambda p: p.pgid)),
    F("proc.vpgid.name", CHARBUF, "the process group leader's name", _vpgid_name),
    F("proc.vpgid.exe", CHARBUF, "the process group leader's argv[0]", _vpgid_exe),
    F("proc.is_vpgid_leader", BOOL, "the process leads its group",
      _proc(lambda p: p.pgid == p.pid if p.pgid else None)),
    F("proc.env", CHARBUF, "environment; proc.env[NAME] one variable", _env, "optional"),
    F("proc.duration", RELTIME, "ns since the process started", _duration),
    F("proc.ppid.duration", RELTIME, "ns since the parent started", _pduration),
    F("proc.pname", CHARBUF, "the parent's name", _pfield(lambda p: _text(p.comm))),
    F("proc.pexe", CHARBUF, "the parent's argv[0]", _pfield(_exe)),
    F("proc.pexepath", FSPATH, "the parent's executable path", _pfield(lambda p: _text(p.exe))),
    F("proc.pcmdline", CHARBUF, "the parent's command line", _pfield(_cmdline)),
    F("proc.aname", CHARBUF, "an ancestor's name: [1] parent, [2] grandparent...; without "
      "an argument, any ancestor", _ancestor(lambda p: _text(p.comm)), "optional"),
    F("proc.apid", INT64, "an ancestor's pid", _ancestor(lambda p: p.pid), "optional"),
    F("proc.aexe", CHARBUF, "an ancestor's argv[0]", _ancestor(_exe), "optional"),
    F("proc.aexepath", FSPATH, "an ancestor's executable path",
      _ancestor(lambda p: _text(p.exe)), "optional"),
    F("proc.is_exe_from_memfd", BOOL, "the executable is a memfd (fileless)", _flag(1)),
    F("proc.is_exe_upper_layer", BOOL, "the executable is in an overlay's upper layer",
      _flag(2)),
    F("proc.is_exe_deleted", BOOL, "the executable has been deleted", _flag(4)),
    F("proc.exe_ino.ctime", ABSTIME, "not recorded by scapula", _unknown),
    F("proc.exe_ino.mtime", ABSTIME, "not recorded by scapula", _unknown),
    F("proc.exe_ino.ctime_duration_proc_start", RELTIME, "not recorded by scapula", _unknown),
    # thread
    F("thread.tid", INT64, "thread id", lambda c, a: c.ev.tid),
    F("thread.vtid", INT64, "thread id (global)", lambda c, a: c.ev.tid),
    F("thread.cap_effective", CHARBUF, "effective capabilities",
      _proc(lambda p: _caps(p.cap_effective))),
    F("thread.cap_permitted", CHARBUF, "permitted capabilities",
      _proc(lambda p: _caps(p.cap_permitted))),
    # user, group
    F("user.uid", UINT32, "user id (the event's)", lambda c, a: c.ev.uid),
    F("user.name", CHARBUF, "user name, from the recording host's passwd (the capture's "
      "users map; the replaying host's passwd for captures without one)",
      lambda c, a: _user_name(c, c.ev.uid)),
    F("user.loginuid", INT64, "audit login uid, -1 when never set",
      _proc(lambda p: p.loginuid)),
    F("user.loginname", CHARBUF, "the login uid's name, looked up as user.name is",
      lambda c, a: _loginname(c)),
    F("group.gid", UINT32, "group id", lambda c, a: c.ev.gid),
    F("group.name", CHARBUF, "group name, from the recording host's group file (the "
      "capture's groups map; the replaying host's for captures without one)",
      lambda c, a: _group_name(c, c.ev.gid)),
    # fd
    F("fd.num", INT64, "fd number", lambda c, a: fd_number(c.ev)),
    F("fd.name", CHARBUF, "path, or lip:lport->rip:rport for a socket",
      _fd(lambda fd: _text(fd.name))),
    F("fd.nameraw", CHARBUF, "fd.name", _fd(lambda fd: _text(fd.name))),
    F("fd.type", CHARBUF, "file, directory, ipv4, ipv6, unix, pipe, event, memfd, ...",
      _fd(lambda fd: _FD_TYPES.get(fd.typechar, "unknown"))),
    F("fd.typechar", CHARBUF, "fd.type as one letter (f, d, 4, 6, u, p, e, m, ...)",
      _fd(lambda fd: fd.typechar)),
    F("fd.types", LIST, "the types of every fd the process holds", _fd_types),
    F("fd.directory", FSPATH, "a file's directory", _fd(_directory)),
    F("fd.filename", CHARBUF, "a file's name without its directory", _fd(_filename)),
    F("fd.l4proto", L4PROTO, "tcp, udp, raw", _fd(lambda fd: fd.l4proto)),
    F("fd.sockfamily", CHARBUF, "ip or unix",
      _fd(lambda fd: "ip" if fd.typechar in "46" else "unix" if fd.typechar == "u" else None)),
    F("fd.connected", BOOL, "the socket is connected", _fd(lambda fd: fd.connected)),
    F("fd.name_changed", BOOL, "the event gave the fd a new name (a new peer)",
      lambda c, a: c.ev.name in ("connect", "accept", "accept4", "sendto", "sendmsg",
                                 "recvfrom", "recvmsg") and c.ev.param("addr") is not None),
    F("fd.ip", IPADDR, "either end's address", _any_ip),
    F("fd.port", PORT, "either end's port", _any_port),
    F("fd.net", IPNET, "either end's network (compare with a CIDR)", _net("any")),
    F("fd.lip", IPADDR, "local address", _end("l", "ip")),
    F("fd.rip", IPADDR, "remote address", _end("r", "ip")),
    F("fd.sip", IPADDR, "server address", _end("s", "ip")),
    F("fd.cip", IPADDR, "client address", _end("c", "ip")),
    F("fd.lport", PORT, "local port", _end("l", "port")),
    F("fd.rport", PORT, "remote port", _end("r", "port")),
    F("fd.sport", PORT, "server port", _end("s", "port")),
    F("fd.cport", PORT, "client port", _end("c", "port")),
    F("fd.lnet", IPNET, "local network", _net("l")),
    F("fd.rnet", IPNET, "remote network", _net("r")),
    F("fd.snet", IPNET, "server network", _net("s")),
    F("fd.cnet", IPNET, "client network", _net("c")),
    F("fd.sip.name", CHARBUF, "server's DNS name (not recorded)", _unknown),
    F("fd.cip.name", CHARBUF, "client's DNS name (not recorded)", _unknown),
    F("fd.lip.name", CHARBUF, "local DNS name (not recorded)", _unknown),
    F("fd.rip.name", CHARBUF, "remote DNS name (not recorded)", _unknown),
    # container
    F("container.id", CHARBUF, "container id, 12 characters; 'host' outside containers",
      _container_id),
    F("container.full_id", CHARBUF, "container id, 64 characters",
      _proc(lambda p: _text(p.container_id) if p.container_id else "host")),
    F("container.name", CHARBUF, "not known without the runtime's metadata", _unknown),
    F("container.image", CHARBUF, "not known without the runtime's metadata", _unknown),
    F("container.image.repository", CHARBUF, "not known without the runtime's metadata",
      _unknown),
    F("container.image.tag", CHARBUF, "not known without the runtime's metadata", _unknown),
    F("container.privileged", BOOL, "not known without the runtime's metadata", _unknown),
    F("container.mounts", CHARBUF, "not known without the runtime's metadata", _unknown),
    F("container.mount.dest", CHARBUF, "not known without the runtime's metadata", _unknown,
      "optional"),
    F("container.start_ts", ABSTIME, "not known without the runtime's metadata", _unknown),
]


def _caps(value):
    return None if value is None else flagnames.flags_text("caps", value)


FIELDS: dict[str, FieldDef] = {f.name: f for f in FIELDS_LIST}


# Fields whose value can be a list (every ancestor, either end of a socket, all fds,
# a raw argv): a check on them holds when it holds for any item.
_LIST_VALUED = {"fd.ip", "fd.port", "fd.net", "fd.types", "evt.rawarg"}
_LIST_WITHOUT_ARG = {"proc.aname", "proc.apid", "proc.aexe", "proc.aexepath"}


def may_be_list(field: FieldDef, arg) -> bool:
    return field.type == LIST or field.name in _LIST_VALUED or (
        arg is None and field.name in _LIST_WITHOUT_ARG)


def lookup(name: str) -> tuple[FieldDef, str | None] | None:
    """The field a condition names, with the argument a dotted form carries
    (evt.arg.flags is evt.arg[flags]); None for a field scapula does not have."""
    if name in FIELDS:
        return FIELDS[name], None
    for prefix in ("evt.arg.", "evt.rawarg.", "proc.env."):
        if name.startswith(prefix):
            arg = name[len(prefix):]
            if prefix == "evt.rawarg.":
                return rawarg_field(arg), arg
            return FIELDS[prefix[:-1]], arg
    return None


def rawarg_field(param: str) -> FieldDef:
    """evt.rawarg.X takes the type of parameter X, as libsinsp types it: a number
    when every event's X is a scalar (res, fd, flags...), text otherwise."""
    from scapula.schemas import events as schema
    kinds = {p.kind for e in schema.EVENTS for p in e.params if p.name == param}
    if param == "res" or (kinds and kinds <= set(schema.SCALAR_KINDS)):
        return FieldDef("evt.rawarg", INT64, FIELDS["evt.rawarg"].desc, _rawarg_number,
                        "required")
    return FIELDS["evt.rawarg"]


def _rawarg_number(ctx, arg):
    if arg == "res":
        return ctx.ev.res
    return _rawarg(ctx, arg)
