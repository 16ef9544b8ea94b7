"""Process lifetimes from a capture's /proc snapshot and its procfork/procexec/procexit
events (a few per process, so plain Python): who made whom, what ran, how it ended."""
from dataclasses import dataclass, field

import pyarrow as pa

from scapula.capture.decoder import split_argv
from scapula.query import schema as qs
from scapula.query.batches import text
from scapula.schemas.flags import tty_text


@dataclass
class Life:
    proc_id: int
    pid: int
    ppid: int
    start_ns: int | None
    origin: str
    parent_id: int | None = None
    comm: bytes | None = None
    exe: bytes | None = None
    argv: list = field(default_factory=list)
    cwd: bytes | None = None
    uid: int | None = None
    euid: int | None = None
    gid: int | None = None
    loginuid: int | None = None
    sessionid: int | None = None
    sid: int | None = None
    pgid: int | None = None
    tty: int | None = None
    container_id: bytes | None = None
    end_ns: int | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    core_dumped: bool | None = None
    execs: int = 0


_FACTS = ("loginuid", "sessionid", "sid", "pgid", "tty", "container_id")


class Lifetimes:
    """Builds the lifetimes of one capture, fed in seq order (query/images.py does);
    `images` are (proc_id, pid, seq, exe, since_ns), made since their reader last took
    them: which program a pid ran from which event on, for giving every event its exe;
    a snapshot's from seq -1 (before the first event) but only for events from its
    start time on (since_ns; else None)."""

    def __init__(self, capture: int):
        self.capture = capture
        self.lives: list[Life] = []
        self.current: dict[int, Life] = {}
        self.images: list[tuple] = []

    def _new(self, seq, pid, ppid, start_ns, origin, parent=None, **kw) -> Life:
        life = Life((self.capture << 32) | len(self.lives), pid, ppid, start_ns, origin,
                    parent.proc_id if parent is not None else None, **kw)
        self.lives.append(life)
        self.current[pid] = life
        self.images.append((life.proc_id, pid, seq, life.exe,
                            (start_ns or 0) if origin == "snapshot" else None))
        return life

    def snapshot(self, processes: list[dict]) -> None:
        for p in processes:
            self._new(-1, p["pid"], p.get("ppid", 0), p.get("start_ns"), "snapshot",
                      comm=p.get("comm"), exe=p.get("exe"), argv=list(p.get("args") or []),
                      cwd=p.get("cwd"), uid=p.get("uid"), euid=p.get("euid"), gid=p.get("gid"),
                      **{k: p.get(k) for k in _FACTS})
        for life in self.lives:
            parent = self.current.get(life.ppid)
            if parent is not None and parent is not life:
                life.parent_id = parent.proc_id

    def seen(self, seq, pid, ts, ppid, comm, uid, gid, fork_ts=None) -> None:
        """A pid's first event (`seq`; `ts` the least time of its events): a process
        neither in the snapshot nor forked before it (created between the snapshot and
        the first event, or its fork lost) starts there, its parent the lifetime its
        ppid has then (a forked one too). `fork_ts`: the time of its first fork, if
        known; a fork row that comes later but is no later in time makes it instead."""
        if pid in self.current or (fork_ts is not None and fork_ts <= ts):
            return
        self._new(seq, pid, ppid, ts, "seen", self.current.get(ppid), comm=comm, uid=uid,
                  gid=gid)

    def event(self, ev: dict) -> None:
        """One procfork/procexec/procexit row (in seq order)."""
        cur = self.current.get(ev["pid"])
        if cur is None:
            cur = self._new(ev["seq"], ev["pid"], ev["ppid"], ev["ts"], "seen",
                            self.current.get(ev["ppid"]), comm=ev["comm"], uid=ev["uid"],
                            gid=ev["gid"])
        kind = ev["type"]
        if kind == "procfork":
            child = ev.get("child_pid")
            if child is None or child == ev["pid"]:
                return  # a new thread, not a new process
            life = self._new(ev["seq"], child, ev["pid"], ev["ts"], "fork", cur, comm=ev["comm"],
                             exe=ev.get("exe") or cur.exe, argv=list(cur.argv),
                             cwd=_cwd(ev) or cur.cwd, uid=ev["uid"], gid=ev["gid"],
                             euid=cur.euid)
            _take_facts(life, ev, cur)
        elif kind == "procexec":
            cur.exe = ev.get("exe") or ev.get("filename") or cur.exe
            cur.argv = split_argv(ev.get("argv")) or []
            cur.cwd = _cwd(ev) or cur.cwd
            cur.comm = ev["comm"]
            cur.execs += 1
            _take_facts(cur, ev, cur)
            self.images.append((cur.proc_id, cur.pid, ev["seq"], cur.exe, None))
        elif kind == "procexit" and (ev["tid"] == ev["pid"] or cur.end_ns is not None):
            # The main thread's exit ends the process, unless other threads outlive it
            # (it called pthread_exit): then the last thread's exit does, with the
            # status the process really ended with.
            cur.end_ns = ev["ts"]
            sig = ev.get("sig")
            # a process a signal killed has no exit status (the word holds the signal)
            cur.exit_code = ev.get("status") if not sig else None
            cur.exit_signal = sig
            cur.core_dumped = bool(ev.get("core")) if ev.get("core") is not None else None

    def table(self, host: str) -> pa.Table:
        """One row per lifetime, built column by column."""
        lives, n = self.lives, len(self.lives)

        def of(name):
            return [getattr(life, name) for life in lives]

        def texts(name):
            return [text(getattr(life, name)) for life in lives]
        argvs = [[text(a) for a in life.argv] for life in lives]
        starts, ends = of("start_ns"), of("end_ns")
        cols = {
            "capture": [self.capture] * n, "host": [host] * n, "proc_id": of("proc_id"),
            "parent_id": of("parent_id"), "pid": of("pid"), "ppid": of("ppid"),
            "comm": texts("comm"), "exe": texts("exe"), "argv": argvs,
            "cmdline": [" ".join(a) for a in argvs], "cwd": texts("cwd"),
            "tty": [tty_text(life.tty) if life.tty else None for life in lives],
            "container_id": texts("container_id"), "start": starts, "start_ns": starts,
            "end": ends, "end_ns": ends,
        }
        for name in ("uid", "euid", "gid", "loginuid", "sessionid", "sid", "pgid",
                     "exit_code", "exit_signal", "core_dumped", "execs", "origin"):
            cols[name] = of(name)
        nulls = [None] * n   # columns filled later (user names) start NULL
        return pa.table({c.name: cols.get(c.name, nulls) for c in qs.PROCESSES},
                        schema=qs.arrow_schema(qs.PROCESSES))


def _cwd(ev: dict):
    cwd = ev.get("cwd")
    return cwd if cwd and cwd[:1] == b"/" else None


def _take_facts(life: Life, ev: dict, fallback: Life) -> None:
    for k in _FACTS:
        v = ev.get(k)
        setattr(life, k, v if v is not None else getattr(fallback, k))
