"""The system as the events describe it: processes, their threads and their fds.

Seeded from a capture's /proc snapshot and kept up to date by the events themselves,
in time order, so that a rule looking at an event sees the process and fd tables as
the kernel had them when the call returned. What an event removes (a close, the end
of a process) goes only when the next event arrives: the event that closes an fd or
ends a process must still see what it ends.

The events are anything with the shape of `replay.event.Event` (name, tid, pid, res,
comm, uid, gid, param()), so a live recording and a file build the same state.
"""
from dataclasses import dataclass, field
import posixpath

from scapula.capture.paths import normpath
from scapula.schemas import sockaddr

AT_FDCWD = -100
O_DIRECTORY = 0o200000
O_CLOEXEC = 0o2000000
MFD_CLOEXEC = 1
EINPROGRESS = -115
SOCK_TYPE_MASK = 0xF
L4 = {1: "tcp", 2: "udp", 3: "raw", 5: "udp"}  # SOCK_STREAM, DGRAM, RAW, SEQPACKET (sctp-ish)
FAMILY_CHAR = {1: "u", 2: "4", 10: "6", 16: "n"}
# Snapshot fd targets (readlink of /proc/PID/fd/N) to Falco's fd.typechar.
_ANON = {b"eventfd": "e", b"eventpoll": "l", b"inotify": "i", b"signalfd": "s",
         b"timerfd": "t", b"bpf-map": "b", b"bpf-prog": "b", b"userfaultfd": "u",
         b"io_uring": "r"}


@dataclass
class Fd:
    """An open file descriptor: Falco's typechar, its name, and a socket's ends."""
    num: int
    typechar: str           # f file, d directory, 4/6 inet socket, u unix, p pipe, m memfd, ...
    name: bytes
    cloexec: bool = False
    l4proto: str | None = None
    local: tuple | None = None    # (ip or unix path, port)
    remote: tuple | None = None
    connected: bool = False
    role: str | None = None       # "client" (connected) or "server" (accepted): who is which end

    def tuple_name(self) -> bytes:
        """A socket's name as Falco writes it: lip:lport->rip:rport."""
        if self.local is None and self.remote is None:
            return self.name
        def end(e):
            return f"{e[0]}:{e[1]}" if e else ""
        return f"{end(self.local)}->{end(self.remote)}".encode()


@dataclass
class Process:
    """A thread group: what Falco's proc.* fields read."""
    pid: int
    ppid: int
    comm: bytes = b""
    exe: bytes | None = None        # the kernel's path of the executable
    args: list = field(default_factory=list)   # argv, argv[0] included
    env: list = field(default_factory=list)
    cwd: bytes | None = None
    uid: int | None = None
    euid: int | None = None
    gid: int | None = None
    egid: int | None = None
    loginuid: int | None = None
    sessionid: int | None = None
    sid: int | None = None
    pgid: int | None = None
    tty: int | None = None
    cap_effective: int | None = None
    cap_permitted: int | None = None
    exe_flags: int = 0
    cgroup_path: bytes | None = None
    container_id: bytes | None = None
    start_ns: int | None = None
    exit_ns: int | None = None
    exit_code: int | None = None
    fds: dict = field(default_factory=dict)     # fd number -> Fd
    threads: set = field(default_factory=set)


class State:
    def __init__(self, processes: list[dict] = (), fds: list[list] = ()):
        self.procs: dict[int, Process] = {}
        self.tid_pid: dict[int, int] = {}
        self._later: list = []  # removals that wait for the next event
        for p in processes:
            self.procs[p["pid"]] = _from_snapshot(p)
            self.tid_pid[p["pid"]] = p["pid"]
        for pid, num, target in fds:
            proc = self.procs.get(pid)
            if proc is not None:
                proc.fds[num] = _fd_from_target(num, target)

    # --- lookups, for fields ---------------------------------------------------------
    def process(self, pid: int) -> Process | None:
        return self.procs.get(pid)

    def fd(self, pid: int, num: int) -> Fd | None:
        proc = self.procs.get(pid)
        return proc.fds.get(num) if proc is not None else None

    def parent(self, proc: Process) -> Process | None:
        return self.procs.get(proc.ppid) if proc.ppid != proc.pid else None

    def ancestors(self, pid: int):
        """The process's parent, grandparent, ... up to the oldest one known."""
        seen = {pid}
        proc = self.procs.get(pid)
        while proc is not None:
            proc = self.parent(proc)
            if proc is None or proc.pid in seen:
                return
            seen.add(proc.pid)
            yield proc

    def session_leader(self, pid: int) -> Process | None:
        proc = self.procs.get(pid)
        return self.procs.get(proc.sid) if proc is not None and proc.sid else None

    # --- updates -------------------------------------------------------------------
    @staticmethod
    def follows(name: str | None) -> bool:
        """Events of this type change the tables (beyond naming their process)."""
        return name in _HANDLERS

    def knows(self, pid: int, tid: int, comm: bytes) -> bool:
        """The tables already have the process, its thread and its name as an event
        has them: an event of a type the state does not follow would change nothing,
        and replay need not look at it. (Removals waiting for the next event wait a
        little longer; no event looks at the tables in between.)"""
        proc = self.procs.get(pid)
        return proc is not None and proc.comm == comm and tid in proc.threads

    def update(self, ev) -> None:
        """Take one event (in time order) into the tables."""
        if self._later:
            for undo in self._later:
                undo()
            self._later.clear()
        proc = self._process_of(ev)
        handler = _HANDLERS.get(ev.name)
        if handler is not None:
            handler(self, ev, proc)

    def _process_of(self, ev) -> Process:
        """The event's process, made up from the event when the tables lack it (it
        was not in the snapshot and its fork came before the capture)."""
        proc = self.procs.get(ev.pid)
        if proc is None:
            proc = self.procs[ev.pid] = Process(ev.pid, ev.ppid, comm=ev.comm, uid=ev.uid,
                                                gid=ev.gid)
        if ev.tid not in proc.threads:
            proc.threads.add(ev.tid)
            self.tid_pid[ev.tid] = ev.pid
        proc.comm = ev.comm
        return proc

    def _forked(self, ev, parent: Process) -> None:
        child_pid, child_tid = ev.param("child_pid"), ev.param("child_tid")
        self.tid_pid[child_tid] = child_pid
        if child_pid == parent.pid:
            parent.threads.add(child_tid)
            return
        child = Process(child_pid, parent.pid, comm=parent.comm, exe=parent.exe,
                        args=list(parent.args), env=list(parent.env), cwd=parent.cwd,
                        uid=parent.uid, euid=parent.euid, gid=parent.gid, egid=parent.egid,
                        start_ns=ev.ts, threads={child_tid},
                        fds={n: _copy(fd) for n, fd in parent.fds.items()})
        _take_facts(child, ev)
        self.procs[child_pid] = child

    def _execed(self, ev, proc: Process) -> None:
        proc.args = ev.param("argv") or []
        proc.env = ev.param("envp") or []
        _take_facts(proc, ev)
        proc.exe_flags = ev.param("exe_flags") or 0
        for num in [n for n, fd in proc.fds.items() if fd.cloexec]:
            del proc.fds[num]

    def _exited(self, ev, proc: Process) -> None:
        if ev.tid != ev.pid:
            self._later.append(lambda: proc.threads.discard(ev.tid))
            return
        proc.exit_ns, proc.exit_code = ev.ts, ev.param("exit_code")
        self._later.append(lambda: self._forget(proc))

    def _forget(self, proc: Process) -> None:
        if self.procs.get(proc.pid) is proc:
            del self.procs[proc.pid]
        for tid in proc.threads:
            self.tid_pid.pop(tid, None)

    def _add_fd(self, proc: Process, fd: Fd) -> None:
        proc.fds[fd.num] = fd

    def _close(self, proc: Process, num: int) -> None:
        self._later.append(lambda: proc.fds.pop(num, None))


def _from_snapshot(p: dict) -> Process:
    return Process(
        p["pid"], p.get("ppid", 0), comm=p.get("comm", b""), exe=p.get("exe"),
        args=list(p.get("args") or []), cwd=p.get("cwd"), uid=p.get("uid"),
        euid=p.get("euid"), gid=p.get("gid"), egid=p.get("egid"), loginuid=p.get("loginuid"),
        sessionid=p.get("sessionid"), sid=p.get("sid"), pgid=p.get("pgid"), tty=p.get("tty"),
        cap_effective=p.get("cap_effective"), cap_permitted=p.get("cap_permitted"),
        cgroup_path=p.get("cgroup_path"), container_id=p.get("container_id"),
        start_ns=p.get("start_ns"), threads={p["pid"]})


_FACTS = ("loginuid", "sessionid", "sid", "pgid", "tty", "cap_effective", "cap_permitted",
          "exe_flags", "cwd", "exe", "cgroup_path", "container_id")


def _take_facts(proc: Process, ev) -> None:
    """procfork's and procexec's facts; an empty one (absent on the recording
    kernel, or a cut-short path) leaves what was known."""
    for name in _FACTS:
        try:
            value = ev.param(name)
        except KeyError:    # a file from before the facts were recorded
            continue
        if value is None or (name == "cwd" and value[:1] != b"/"):
            continue
        setattr(proc, name, value)


def _fd_from_target(num: int, target: bytes) -> Fd:
    if target.startswith(b"socket:"):
        return Fd(num, "o", target)     # family unknown until the events say
    if target.startswith(b"pipe:"):
        return Fd(num, "p", target)
    if target.startswith(b"anon_inode:"):
        kind = target[len(b"anon_inode:"):].strip(b"[]")   # "[eventfd]", "inotify"
        return Fd(num, _ANON.get(kind, "o"), target)
    if target.startswith(b"/memfd:"):
        return Fd(num, "m", target[1:])
    return Fd(num, "f", target)


def _copy(fd: Fd) -> Fd:
    return Fd(fd.num, fd.typechar, fd.name, fd.cloexec, fd.l4proto, fd.local, fd.remote,
              fd.connected, fd.role)


def _absolute(proc: Process, ev, path_param: str) -> bytes | None:
    resolved = ev.param(f"{path_param}_abs")
    if resolved is not None:
        return resolved
    path = ev.param(path_param)
    if path is not None and proc.cwd and path[:1] != b"/":
        return normpath(posixpath.join(proc.cwd, path))
    return path


def _endpoint(raw: bytes | None):
    """(ip or unix path, port) of a raw sockaddr, or None."""
    if raw is None:
        return None
    d = sockaddr.decode(raw)
    if not d:
        return None
    if "path" in d:
        return (d["path"], 0)
    if "addr" in d:
        return (d["addr"], d.get("port", 0))
    return None


# --- the handlers: (state, event, process) for each event that changes state -------------

def _open(s, ev, proc):
    if ev.res < 0:
        return
    flags = (ev.param("flags") or 0) if ev.name != "creat" else 0
    name = _absolute(proc, ev, "name")
    s._add_fd(proc, Fd(ev.res, "d" if flags & O_DIRECTORY else "f", name or b"",
                       bool(flags & O_CLOEXEC)))


def _memfd(s, ev, proc):
    if ev.res >= 0:
        s._add_fd(proc, Fd(ev.res, "m", b"memfd:" + (ev.param("name") or b""),
                           bool((ev.param("flags") or 0) & MFD_CLOEXEC)))


def _close(s, ev, proc):
    if ev.res >= 0:
        s._close(proc, ev.param("fd"))


def _dup(s, ev, proc):
    if ev.res < 0:
        return
    old = proc.fds.get(ev.param("oldfd"))
    if ev.res == ev.param("oldfd"):
        return
    flags = ev.param("flags") if ev.name == "dup3" else 0
    if old is None:
        proc.fds.pop(ev.res, None)
        return
    new = _copy(old)
    new.num, new.cloexec = ev.res, bool(flags & O_CLOEXEC)
    proc.fds[ev.res] = new


def _pipe(s, ev, proc):
    if ev.res < 0:
        return
    cloexec = bool((ev.param("flags") or 0) & O_CLOEXEC) if ev.name == "pipe2" else False
    for p in ("fd1", "fd2"):
        s._add_fd(proc, Fd(ev.param(p), "p", b"pipe", cloexec))


def _socket(s, ev, proc):
    if ev.res < 0:
        return
    socktype = ev.param("socktype") or 0
    typechar = FAMILY_CHAR.get(ev.param("domain"), "o")
    l4 = L4.get(socktype & SOCK_TYPE_MASK) if typechar in "46" else None
    cloexec = bool(socktype & O_CLOEXEC)
    nums = [ev.res] if ev.name == "socket" else [ev.param("fd1"), ev.param("fd2")]
    for num in nums:
        s._add_fd(proc, Fd(num, typechar, b"", cloexec, l4))


def _connect(s, ev, proc):
    if ev.res < 0 and ev.res != EINPROGRESS:
        return
    fd = proc.fds.get(ev.param("fd"))
    if fd is None:
        fd = proc.fds[ev.param("fd")] = Fd(ev.param("fd"), "o", b"")
    _set_ends(fd, ev.param("local"), ev.param("addr"))
    fd.connected, fd.role = True, "client"


def _accept(s, ev, proc):
    if ev.res < 0:
        return
    listener = proc.fds.get(ev.param("fd"))
    fd = Fd(ev.res, listener.typechar if listener else "o", b"",
            bool((ev.param("flags") or 0) & O_CLOEXEC) if ev.name == "accept4" else False,
            listener.l4proto if listener else None, connected=True, role="server")
    _set_ends(fd, ev.param("local"), ev.param("addr"))
    s._add_fd(proc, fd)


def _bind(s, ev, proc):
    fd = proc.fds.get(ev.param("fd"))
    if ev.res == 0 and fd is not None:
        _set_ends(fd, ev.param("addr"), None)


def _set_ends(fd: Fd, local_raw, remote_raw) -> None:
    local, remote = _endpoint(local_raw), _endpoint(remote_raw)
    family = sockaddr.decode(remote_raw or local_raw or b"") or {}
    if fd.typechar == "o" and family.get("family") in ("AF_INET", "AF_INET6", "AF_UNIX"):
        fd.typechar = {"AF_INET": "4", "AF_INET6": "6", "AF_UNIX": "u"}[family["family"]]
    fd.local = local or fd.local
    fd.remote = remote or fd.remote
    fd.name = fd.tuple_name()


def _chdir(s, ev, proc):
    if ev.res == 0:
        proc.cwd = _absolute(proc, ev, "path")


def _fchdir(s, ev, proc):
    fd = proc.fds.get(ev.param("fd"))
    if ev.res == 0 and fd is not None:
        proc.cwd = fd.name


def _setuid(s, ev, proc):
    if ev.res != 0:
        return
    name = ev.name
    if name == "setuid":
        proc.euid = ev.param("new_uid")
        if proc.uid == 0 or proc.euid == 0:
            proc.uid = proc.euid
    elif name == "setgid":
        proc.egid = ev.param("new_gid")
    elif name in ("setresuid", "setreuid"):
        r = ev.param("ruid")
        e = ev.param("euid")
        proc.uid = proc.uid if r == -1 else r
        proc.euid = proc.euid if e == -1 else e
    elif name in ("setresgid", "setregid"):
        r = ev.param("rgid")
        e = ev.param("egid")
        proc.gid = proc.gid if r == -1 else r
        proc.egid = proc.egid if e == -1 else e


def _typed_fd(typechar: str, name: bytes):
    def made(s, ev, proc):
        if ev.res >= 0:
            s._add_fd(proc, Fd(ev.res, typechar, name))
    return made


_HANDLERS = {
    "procfork": lambda s, ev, proc: s._forked(ev, proc),
    "procexec": lambda s, ev, proc: s._execed(ev, proc),
    "procexit": lambda s, ev, proc: s._exited(ev, proc),
    "open": _open, "openat": _open, "openat2": _open, "creat": _open,
    "memfd_create": _memfd, "close": _close,
    "dup": _dup, "dup2": _dup, "dup3": _dup, "pipe": _pipe, "pipe2": _pipe,
    "socket": _socket, "socketpair": _socket, "connect": _connect,
    "accept": _accept, "accept4": _accept, "bind": _bind,
    "chdir": _chdir, "fchdir": _fchdir,
    "setuid": _setuid, "setgid": _setuid, "setresuid": _setuid, "setresgid": _setuid,
    "setreuid": _setuid, "setregid": _setuid,
    "userfaultfd": _typed_fd("u", b"userfaultfd"),
    "io_uring_setup": _typed_fd("r", b"io_uring"),
    "bpf": _typed_fd("b", b"bpf"),
}
