"""Rules judged while recording: the recorder's rows seen as events, the same state
and engine as a replay, so a live alert and a replayed one are the same alert."""
from scapula.capture.decoder import (COMM, CPU, GID, PID, PPID, RES, TID, TS, TYPE, UID,
                                     row_columns, split_argv)
from scapula.replay.event import render_value
from scapula.replay.fields import Context
from scapula.replay.state import State
from scapula.schemas import events as schema
from scapula.schemas import syscalls
from scapula.schemas.flags import errno_name

# What the replay state follows (replay/state.py), recorded whatever the rules ask.
STATE_SYSCALLS = (
    "execve", "execveat", "open", "openat", "openat2", "creat", "close", "dup", "dup2", "dup3",
    "pipe", "pipe2", "memfd_create", "socket", "socketpair", "connect", "accept", "accept4",
    "bind", "chdir", "fchdir", "setuid", "setgid", "setresuid", "setresgid", "setreuid",
    "setregid", "userfaultfd", "io_uring_setup", "bpf")


class RowEvent:
    """A decoded row with the interface of replay.event.Event."""

    __slots__ = ("etype", "row", "_at")
    _positions: dict = {}

    def __init__(self, etype: schema.EventType, row: tuple):
        self.etype, self.row = etype, row
        at = RowEvent._positions.get(etype.id)
        if at is None:
            at = RowEvent._positions[etype.id] = {n: i for i, n in enumerate(row_columns(etype))}
        self._at = at

    name = property(lambda self: self.etype.name)
    ts = property(lambda self: self.row[TS])
    tid = property(lambda self: self.row[TID])
    pid = property(lambda self: self.row[PID])
    ppid = property(lambda self: self.row[PPID])
    uid = property(lambda self: self.row[UID])
    gid = property(lambda self: self.row[GID])
    cpu = property(lambda self: self.row[CPU])
    res = property(lambda self: self.row[RES])
    comm = property(lambda self: self.row[COMM].split(b"\0", 1)[0])

    @property
    def errno(self):
        return errno_name(self.res) if self.etype.syscall is not None else None

    @property
    def syscall_name(self):
        return syscalls.name(self.param("nr")) if self.etype.name == "syscall" else None

    def param(self, name: str):
        value = self.row[self._at[name]]     # KeyError for a name the type lacks, as Event
        if value is not None and self.etype.kinds[name] == "argv":
            return split_argv(value)
        return value

    def render(self, name: str) -> str:
        p = next(p for p in self.etype.params if p.name == name)
        return render_value(p, self.param(name))


class LiveJudge:
    """Feeds recorded rows, in time order, to the state and the engine."""

    def __init__(self, engine, processes, fds, header: dict, on_alert):
        self.engine, self.on_alert, self.header = engine, on_alert, header
        self.state = State(processes, fds)
        self.num = 0
        self.alerts = 0
        self._types = {e.id: e for e in schema.EVENTS}

    def feed(self, rows: list[tuple]) -> None:
        types, state, engine = self._types, self.state, self.engine
        for row in rows:
            etype = types.get(row[TYPE])
            if etype is None:
                continue
            ev = RowEvent(etype, row)
            self.num += 1
            state.update(ev)
            for alert in engine.judge(Context(ev, state, self.header, self.num)):
                self.alerts += 1
                self.on_alert(alert)


def syscalls_for(engine, available: set[str]) -> tuple[str, ...] | None:
    """The syscalls a live recording needs for these rules: the event types they can
    match plus the ones the state follows; None when some rule matches any type."""
    wanted = engine.types()
    if wanted is None:
        return None
    names = (set(wanted) | set(STATE_SYSCALLS)) & available
    return tuple(sorted(names))
