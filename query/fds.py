"""The `fds` table: one row per fd lifetime, from the /proc snapshot's open fds and the
events that make, copy and end fds (open, socket, accept, dup, pipe, fork, exec, exit,
close), replayed in event order. Most opens are closed again with nothing in between
that could see them: query/fd_pairs.py pairs those with their close by sorting, and
their rows are made in SQL; only the other events (an eighth of them on the bench
captures) are read back from `events` and replayed here. An fd is a plain list (not an
object or a dict): it keeps the replay's cost per fd small."""
import numpy as np
import pyarrow as pa

from scapula.query import fd_pairs
from scapula.query import schema as qs
from scapula.query.batches import text as as_text
from scapula.query.relations import arrow_table

O_CLOEXEC = 0o2000000          # also SOCK_CLOEXEC
O_DIRECTORY = 0o200000
O_TMPFILE = 0o20000000         # with O_DIRECTORY: an unnamed file in that directory
MFD_CLOEXEC = 1
EBADF = -9
# bpf(2) commands whose result is a new fd (the others return 0 or a count)
BPF_FD_CMDS = {0, 5, 7, 13, 14, 17, 18, 19, 28, 30, 32, 33, 36}
SOCK_PROTO = {1: "tcp", 2: "udp", 3: "raw", 5: "seqpacket"}   # of AF_INET/AF_INET6 only
IP_FAMILIES = ("AF_INET", "AF_INET6")
FAMILY_TYPE = {"AF_INET": "ipv4", "AF_INET6": "ipv6", "AF_UNIX": "unix",
               "AF_NETLINK": "netlink"}
# snapshot targets, readlink(/proc/PID/fd/N): "anon_inode:[eventfd]" and the like
ANON_TYPES = {"eventfd": "eventfd", "eventpoll": "epoll", "inotify": "inotify",
              "signalfd": "signalfd", "timerfd": "timerfd", "bpf-map": "bpf",
              "bpf-prog": "bpf", "userfaultfd": "userfaultfd", "io_uring": "io_uring"}

MAKERS = ("open", "openat", "openat2", "creat", "socket", "socketpair", "accept", "accept4",
          "dup", "dup2", "dup3", "pipe", "pipe2", "memfd_create", "userfaultfd",
          "io_uring_setup", "bpf")
OTHERS = ("close", "connect", "bind", "procfork", "procexec", "procexit")
# An event row read back from `events`, and where each column sits in it; last, how
# many paired opens came before it (fd_pairs.Pairs.skipped).
_COLUMNS = ("seq", "ts_ns", "pid", "tid", "proc_id", "type", "result", "fd", "path", "flags",
            "family", "local_addr", "local_port", "remote_addr", "remote_port", "errno")
# `args` keys, each read only for the calls that use it: a JSON lookup costs (5M events,
# bounded: 0.9 -> 0.55 CPU s), and most replayed events are closes.
_ARGS = {"oldfd": ("dup", "dup2", "dup3"), "fd1": ("pipe", "pipe2", "socketpair"),
         "fd2": ("pipe", "pipe2", "socketpair"), "socktype": ("socket", "socketpair"),
         "name": ("memfd_create",), "child_pid": ("procfork",), "cmd": ("bpf",)}
(E_SEQ, E_TS, E_PID, E_TID, E_PROC, E_TYPE, E_RES, E_FD, E_PATH, E_FLAGS, E_FAMILY, E_LADDR,
 E_LPORT, E_RADDR, E_RPORT, E_ERRNO, E_OLDFD, E_FD1, E_FD2, E_SOCKTYPE, E_NAME,
 E_CHILD, E_CMD, E_SKIPPED) = range(len(_COLUMNS) + len(_ARGS) + 1)

# An fd lifetime: the `fds` columns the Python side fills, in this order.
FIELDS = ("fd_id", "from_id", "proc_id", "pid", "fd", "type", "name", "path", "family",
          "proto", "local_addr", "local_port", "remote_addr", "remote_port", "how", "flags",
          "cloexec", "opened_seq", "opened_ns", "closed_seq", "closed_ns", "closed_by")
(FD_ID, FROM_ID, PROC_ID, PID, FD, TYPE, NAME, PATH, FAMILY, PROTO, LADDR, LPORT, RADDR,
 RPORT, HOW, FLAGS, CLOEXEC, OPENED_SEQ, OPENED_NS, CLOSED_SEQ, CLOSED_NS,
 CLOSED_BY) = range(len(FIELDS))
_ENDS = ((E_LADDR, LADDR), (E_LPORT, LPORT), (E_RADDR, RADDR), (E_RPORT, RPORT))


def new_fd(pid, num, typ, how, seq=None, ts=None, name=None, path=None, flags=None,
           cloexec=None, family=None, proto=None) -> list:
    return [None, None, None, pid, num, typ, name, path, family, proto, None, None, None,
            None, how, flags, cloexec, seq, ts, None, None, None]


class FdTable:
    """Every process lifetime's open fds, and the fd lifetimes not yet handed on
    (`rows`: `finished()` takes those that have ended). The paired opens it never sees
    still number among the fds made: `skipped` of them came before the event at hand."""

    def __init__(self, capture: int, fork_children: dict):
        self.capture = capture
        self.children = fork_children      # (child pid, fork ts) -> child proc_id
        self.open: dict = {}               # proc_id -> {fd number: fd}
        self.rows: list[list] = []
        self.made = 0                      # fds made but the paired opens
        self.skipped = 0
        self.made_at = [(-1 << 63, 0)]     # (seq, made after it), at each event that made one

    def add(self, proc, fd: list) -> None:
        fd[FD_ID] = (self.capture << 32) | (self.made + self.skipped)
        self.made += 1
        fd[PROC_ID] = proc
        self.rows.append(fd)
        table = self.open.get(proc)
        if table is None:
            table = self.open[proc] = {}
        old = table.get(fd[FD])
        if old is not None:   # an fd we never saw closed was reused: it ended unseen,
            # by then at the latest
            old[CLOSED_SEQ], old[CLOSED_NS], old[CLOSED_BY] = \
                fd[OPENED_SEQ], fd[OPENED_NS], "unseen"
        table[fd[FD]] = fd

    def end(self, proc, num, seq, ts, why) -> None:
        table = self.open.get(proc)
        fd = table.pop(num, None) if table else None
        if fd is not None:
            fd[CLOSED_SEQ], fd[CLOSED_NS], fd[CLOSED_BY] = seq, ts, why

    def seed(self, snapshot_fds, snapshot_procs: dict) -> None:
        for pid, num, target in snapshot_fds:
            proc = snapshot_procs.get(pid)
            if proc is not None:
                text = as_text(target)
                self.add(proc, new_fd(pid, num, _target_type(text), "snapshot", name=text,
                                      path=text if text.startswith("/") else None))
        self.made_at = [(-1 << 63, self.made)]   # before every event

    def event(self, r: tuple) -> None:
        """One event row (_COLUMNS, _ARGS, then E_SKIPPED), in seq order."""
        kind, proc, res = r[E_TYPE], r[E_PROC], r[E_RES]
        self.skipped, made = r[E_SKIPPED], self.made
        if proc is None:
            proc = -r[E_PID]   # no lifetime: its events came before any image of its pid
        if kind == "close":
            if res != EBADF:   # Linux frees the fd even when close reports EINTR or EIO
                self.end(proc, r[E_FD], r[E_SEQ], r[E_TS], "close")
        elif kind in _OPENS:
            if res >= 0:
                flags = r[E_FLAGS] or 0
                typ = "directory" if kind != "creat" and flags & O_DIRECTORY \
                    and not flags & O_TMPFILE else "file"
                self.add(proc, new_fd(r[E_PID], res, typ, kind, r[E_SEQ], r[E_TS], r[E_PATH],
                                      r[E_PATH], r[E_FLAGS], bool(flags & O_CLOEXEC)))
        elif kind in MAKERS:
            if res is not None and res >= 0:
                self._made(r, proc, kind, res)
        elif kind in ("connect", "bind"):
            self._ends(r, proc)
        elif kind == "procfork":
            self._forked(r, proc)
        elif kind == "procexec" and res is not None and res >= 0:
            table = self.open.get(proc) or {}
            for num in [n for n, fd in table.items() if fd[CLOEXEC]]:
                self.end(proc, num, r[E_SEQ], r[E_TS], "exec")
        elif kind == "procexit" and r[E_TID] == r[E_PID]:
            for num in list(self.open.get(proc) or ()):
                self.end(proc, num, r[E_SEQ], r[E_TS], "exit")
        if self.made != made:   # the paired opens' fd ids count from here
            self.made_at.append((r[E_SEQ], self.made))

    def _made(self, r, proc, kind, res) -> None:
        """An fd made by a call other than open (those are the hot path, in event())."""
        pid, seq, ts, flags = r[E_PID], r[E_SEQ], r[E_TS], r[E_FLAGS] or 0
        if kind in ("socket", "socketpair"):
            socktype, family = r[E_SOCKTYPE] or 0, r[E_FAMILY]
            for num in ([res] if kind == "socket" else [r[E_FD1], r[E_FD2]]):
                self.add(proc, new_fd(pid, num, FAMILY_TYPE.get(family, "socket"), kind, seq,
                                      ts, cloexec=bool(socktype & O_CLOEXEC), family=family,
                                      proto=SOCK_PROTO.get(socktype & 0xF)
                                      if family in IP_FAMILIES else None))
        elif kind in ("accept", "accept4"):
            listener = (self.open.get(proc) or {}).get(r[E_FD])
            family = r[E_FAMILY] or (listener[FAMILY] if listener else None)
            fd = new_fd(pid, res, FAMILY_TYPE.get(family, "socket"), kind, seq, ts,
                        flags=r[E_FLAGS], family=family,
                        cloexec=bool(flags & O_CLOEXEC) if kind == "accept4" else False,
                        proto=listener[PROTO] if listener else None)
            fd[FROM_ID] = listener[FD_ID] if listener else None
            _set_ends(fd, r)
            self.add(proc, fd)
        elif kind in ("dup", "dup2", "dup3"):
            if res == r[E_OLDFD]:
                return   # dup2(fd, fd): nothing changes
            old = (self.open.get(proc) or {}).get(r[E_OLDFD])
            self.end(proc, res, seq, ts, kind)    # dup2/dup3 close what newfd was
            fd = list(old) if old is not None else new_fd(pid, res, None, kind)
            fd[FROM_ID] = old[FD_ID] if old is not None else None
            fd[FD], fd[HOW], fd[FLAGS], fd[OPENED_SEQ], fd[OPENED_NS] = \
                res, kind, r[E_FLAGS], seq, ts
            fd[CLOEXEC] = bool(flags & O_CLOEXEC) if kind == "dup3" else False
            fd[CLOSED_SEQ] = fd[CLOSED_NS] = fd[CLOSED_BY] = None
            self.add(proc, fd)
        elif kind in ("pipe", "pipe2"):
            cloexec = bool(flags & O_CLOEXEC) if kind == "pipe2" else False
            for num in (r[E_FD1], r[E_FD2]):
                self.add(proc, new_fd(pid, num, "pipe", kind, seq, ts, "pipe",
                                      flags=r[E_FLAGS], cloexec=cloexec))
        elif kind == "memfd_create":
            self.add(proc, new_fd(pid, res, "memfd", kind, seq, ts,
                                  "memfd:" + (r[E_NAME] or ""), flags=r[E_FLAGS],
                                  cloexec=bool(flags & MFD_CLOEXEC)))
        elif kind != "bpf" or r[E_CMD] in BPF_FD_CMDS:
            self.add(proc, new_fd(pid, res, kind.removesuffix("_setup"), kind, seq, ts, kind))

    def _ends(self, r, proc) -> None:
        ok = r[E_RES] == 0 or (r[E_TYPE] == "connect" and r[E_ERRNO] == "EINPROGRESS")
        if not ok or r[E_FD] is None:
            return
        fd = (self.open.get(proc) or {}).get(r[E_FD])
        if fd is None:   # a socket made before the capture saw it (and not in the snapshot)
            fd = new_fd(r[E_PID], r[E_FD], "socket", "unseen")
            self.add(proc, fd)
        _set_ends(fd, r)

    def _forked(self, r, parent) -> None:
        child_pid, seq, ts = r[E_CHILD], r[E_SEQ], r[E_TS]
        if child_pid is None or child_pid == r[E_PID]:
            return   # a thread: it shares the fd table
        child = self.children.get((child_pid, ts))
        if child is None:
            return
        for fd in list((self.open.get(parent) or {}).values()):
            copy = list(fd)
            copy[FROM_ID], copy[PID], copy[HOW], copy[OPENED_SEQ], copy[OPENED_NS] = \
                fd[FD_ID], child_pid, "fork", seq, ts
            self.add(child, copy)

    def finished(self) -> list[list]:
        """The fd lifetimes that have ended since the last call: nothing changes them
        any more. The open ones stay."""
        done = [fd for fd in self.rows if fd[CLOSED_BY] is not None]
        self.rows = [fd for fd in self.rows if fd[CLOSED_BY] is None]
        return done

    def table(self, host: str, rows: list[list]) -> pa.Table:
        n = len(rows)
        cols = dict(zip(FIELDS, (list(c) for c in zip(*rows)))) if n else \
            {f: [] for f in FIELDS}
        # a process the capture never saw start has no lifetime: its fds key on -pid
        cols[PROC_ID_FIELD] = [None if p is not None and p < 0 else p
                               for p in cols[PROC_ID_FIELD]]
        types = qs.arrow_schema(qs.FDS)
        out = {"capture": pa.array([self.capture] * n, pa.int32()), "host": [host] * n}
        for f in FIELDS:
            out[f] = pa.array(cols[f], types.field(f).type)
        out["opened"] = out["opened_ns"].cast(pa.timestamp("ns"))
        out["closed"] = out["closed_ns"].cast(pa.timestamp("ns"))
        return pa.table(out)


PROC_ID_FIELD = FIELDS[PROC_ID]
_OPENS = ("open", "openat", "openat2", "creat")


def _set_ends(fd: list, r: tuple) -> None:
    """A connect's, bind's or accept's addresses onto the socket; its name as Falco
    writes a tuple (lip:lport->rip:rport)."""
    for src, dst in _ENDS:
        if r[src] is not None:
            fd[dst] = r[src]
    if r[E_FAMILY] is not None:
        fd[FAMILY] = r[E_FAMILY]
        if fd[TYPE] in (None, "socket"):
            fd[TYPE] = FAMILY_TYPE.get(r[E_FAMILY], "socket")

    def end(addr, port):
        return "" if addr is None else f"{addr}:{port}" if port is not None else addr
    fd[NAME] = f"{end(fd[LADDR], fd[LPORT])}->{end(fd[RADDR], fd[RPORT])}"


def _target_type(target: str) -> str:
    if target.startswith("socket:"):
        return "socket"
    if target.startswith("pipe:"):
        return "pipe"
    if target.startswith("anon_inode:"):
        return ANON_TYPES.get(target[len("anon_inode:"):].strip("[]"), "anon_inode")
    if target.startswith("/memfd:"):
        return "memfd"
    return "file"


def load(con, capture: int, host: str, insert, pair: bool = True) -> None:
    """Build the capture's fd lifetimes from its loaded snapshot and events; `insert`
    appends rows. `pair=False` replays every event (the tests' reference)."""
    procs = con.execute("SELECT pid, proc_id, origin, start_ns FROM processes "
                        "WHERE capture = ? AND origin IN ('snapshot', 'fork')",
                        [capture]).fetchall()
    table = FdTable(capture, {(pid, start): p for pid, p, origin, start in procs
                              if origin == "fork"})
    snapshot = con.execute("SELECT pid, fd, target FROM snapshot_fds WHERE capture = ? "
                           "ORDER BY pid, fd", [capture]).fetchall()
    table.seed(snapshot, {pid: p for pid, p, origin, _s in procs if origin == "snapshot"})
    pairs = fd_pairs.plan(con, capture, MAKERS + OTHERS, pair)
    _replay(con, capture, host, insert, table, pairs)
    if table.rows:   # open at the end of the capture
        insert(con, "fds", table.table(host, table.rows))
    _insert_paired(con, capture, host, table, pairs)


def _replay(con, capture: int, host: str, insert, table: FdTable, pairs) -> None:
    """The events the pairing left, through the state machine in seq order, BATCH at a
    time, the ended fds going into the table as they come: neither the events nor the
    fds are ever all in Python."""
    select = ", ".join([f'e."{c}"' for c in _COLUMNS] + [
        f"CASE WHEN e.type IN ({', '.join(map(repr, calls))}) THEN {qs.arg(a, 'e')} END"
        for a, calls in _ARGS.items()])   # our own names: safe to inline
    event = table.event
    for low in range(0, len(pairs.replay), BATCH):
        seqs = pairs.replay[low:low + BATCH]
        con.register("_replay", pa.table({"seq": seqs, "skipped": pairs.skipped(seqs)}))
        try:
            # the seq bounds let DuckDB skip the events' row groups outside them
            batch = arrow_table(con.sql(
                f"SELECT {select}, r.skipped FROM events e JOIN _replay r ON e.seq = r.seq "
                f"WHERE e.capture = {int(capture)} AND e.seq BETWEEN {int(seqs[0])} "
                f"AND {int(seqs[-1])} ORDER BY e.seq"))
        finally:
            con.unregister("_replay")
        for r in zip(*(col.to_pylist() for col in batch.columns)):
            event(r)
        done = table.finished()
        if done:
            insert(con, "fds", table.table(host, done))


def _insert_paired(con, capture: int, host: str, table: FdTable, pairs) -> None:
    """The paired opens' rows, made in SQL as event() makes an open's, PAIRED_ROWS at a
    time (the join's table in memory stays small). Each one's fd id counts the fds made
    before it: by the replay (made_at) and the paired opens."""
    seqs, made = np.array(table.made_at, np.int64).T
    for low in range(0, len(pairs.opens), PAIRED_ROWS):
        opens = pairs.opens[low:low + PAIRED_ROWS]
        number = made[np.searchsorted(seqs, opens) - 1] + np.arange(low, low + len(opens))
        ends = pairs.ends[low:low + PAIRED_ROWS]
        closed_ns = pa.array(pairs.end_ns[low:low + PAIRED_ROWS], mask=ends < 0)
        con.register("_paired", pa.table({
            "seq": opens,
            "fd_id": (np.uint64(capture) << np.uint64(32)) | number.astype(np.uint64),
            "closed_seq": pa.array(ends, mask=ends < 0), "closed_ns": closed_ns,
            "closed": closed_ns.cast(pa.timestamp("ns"))}))
        try:
            # events.ts is ts_ns as a timestamp: the same bytes (query/batches.py)
            con.execute(f"""
                INSERT INTO fds BY NAME
                SELECT e.capture, ? AS host, p.fd_id, e.proc_id, e.pid, e.result AS fd,
                       CASE WHEN e.type <> 'creat'
                             AND (coalesce(e.flags, 0) & {O_DIRECTORY | O_TMPFILE})
                                 = {O_DIRECTORY}
                            THEN 'directory' ELSE 'file' END AS type,
                       e.path AS name, e.path, e.type AS how, e.flags,
                       (coalesce(e.flags, 0) & {O_CLOEXEC}) <> 0 AS cloexec,
                       e.seq AS opened_seq, e.ts AS opened, e.ts_ns AS opened_ns,
                       p.closed_seq, p.closed, p.closed_ns,
                       CASE WHEN p.closed_seq IS NOT NULL THEN 'close' END AS closed_by
                FROM events e JOIN _paired p ON e.seq = p.seq
                WHERE e.capture = {int(capture)}
                  AND e.seq BETWEEN {int(opens[0])} AND {int(opens[-1])}""",
                        [host]).fetchall()
        finally:
            con.unregister("_paired")


BATCH = 16384   # events replayed at a time (as Python values: ~30 MB)
PAIRED_ROWS = 1 << 17   # paired opens inserted at a time
