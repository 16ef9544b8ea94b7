"""The `fds` table: one row per fd lifetime, from the /proc snapshot's open fds and the
events that make, copy and end fds (open, socket, accept, dup, pipe, fork, exec, exit,
close), replayed in event order. Only those events are read back from `events`, a few
columns of them, so this costs a fraction of the load."""
import pyarrow as pa

from scapula.query import schema as qs

O_CLOEXEC = 0o2000000          # also SOCK_CLOEXEC
MFD_CLOEXEC = 1
EBADF = -9
# bpf(2) commands whose result is a new fd (the others return 0 or a count)
BPF_FD_CMDS = {0, 5, 7, 13, 14, 17, 18, 19, 28, 30, 32, 33, 36}
SOCK_PROTO = {1: "tcp", 2: "udp", 3: "raw", 5: "seqpacket"}
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
_COLUMNS = ("seq", "ts_ns", "pid", "tid", "proc_id", "type", "result", "fd", "path", "flags",
            "family", "local_addr", "local_port", "remote_addr", "remote_port", "errno")
_ARGS = ("oldfd", "newfd", "fd1", "fd2", "socktype", "name", "child_pid", "cmd")


class Fd:
    """One fd lifetime, changed in place (a connect fills its ends) until it ends."""
    __slots__ = ("fd_id", "from_id", "proc_id", "pid", "fd", "type", "name", "path",
                 "family", "proto", "local_addr", "local_port", "remote_addr",
                 "remote_port", "how", "flags", "cloexec", "opened_seq", "opened_ns",
                 "closed_seq", "closed_ns", "closed_by")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def copy(self, **kw) -> "Fd":
        new = Fd(**{k: getattr(self, k) for k in self.__slots__})
        for k, v in kw.items():
            setattr(new, k, v)
        return new


class FdTable:
    """Every process lifetime's open fds, and every lifetime seen (`done`)."""

    def __init__(self, capture: int, fork_children: dict):
        self.capture = capture
        self.children = fork_children      # (child pid, fork ts) -> child proc_id
        self.open: dict = {}               # proc_id -> {fd: Fd}
        self.done: list[Fd] = []

    def add(self, proc, fd: Fd) -> None:
        fd.fd_id = (self.capture << 32) | len(self.done)
        fd.proc_id = proc
        self.done.append(fd)
        table = self.open.setdefault(proc, {})
        old = table.get(fd.fd)
        if old is not None:   # an fd we never saw closed was reused: it ended unseen
            old.closed_by = "unseen"
        table[fd.fd] = fd

    def end(self, proc, num, seq, ts, why) -> None:
        fd = self.open.get(proc, {}).pop(num, None)
        if fd is not None:
            fd.closed_seq, fd.closed_ns, fd.closed_by = seq, ts, why

    def seed(self, snapshot_fds, snapshot_procs: dict) -> None:
        for pid, num, target in snapshot_fds:
            proc = snapshot_procs.get(pid)
            if proc is not None:
                text = _text(target)
                self.add(proc, Fd(pid=pid, fd=num, type=_target_type(text), name=text,
                                  path=text if text.startswith("/") else None,
                                  how="snapshot"))

    def event(self, r: dict) -> None:
        """One event row (a dict of _COLUMNS and _ARGS), in seq order."""
        kind, proc, res, seq, ts = r["type"], r["proc_id"], r["result"], r["seq"], r["ts_ns"]
        if proc is None:
            proc = -r["pid"]   # no lifetime (cannot happen after the loader's join): by pid
        if kind in MAKERS:
            if res is not None and res >= 0:
                self._made(r, proc, kind, res, seq, ts)
        elif kind == "close":
            if res != EBADF:   # Linux frees the fd even when close reports EINTR or EIO
                self.end(proc, r["fd"], seq, ts, "close")
        elif kind in ("connect", "bind"):
            self._ends(r, proc)
        elif kind == "procfork":
            self._forked(r, proc, seq, ts)
        elif kind == "procexec" and res is not None and res >= 0:
            for num in [n for n, fd in self.open.get(proc, {}).items() if fd.cloexec]:
                self.end(proc, num, seq, ts, "exec")
        elif kind == "procexit" and r["tid"] == r["pid"]:
            for num in list(self.open.get(proc, {})):
                self.end(proc, num, seq, ts, "exit")

    def _made(self, r, proc, kind, res, seq, ts) -> None:
        base = dict(pid=r["pid"], how=kind, opened_seq=seq, opened_ns=ts, flags=r["flags"])
        flags = r["flags"] or 0
        if kind in ("open", "openat", "openat2", "creat"):
            is_dir = kind != "creat" and flags & 0o200000
            self.add(proc, Fd(fd=res, type="directory" if is_dir else "file", name=r["path"],
                              path=r["path"], cloexec=bool(flags & O_CLOEXEC), **base))
        elif kind in ("socket", "socketpair"):
            socktype = r["socktype"] or 0
            family = r["family"]
            nums = [res] if kind == "socket" else [r["fd1"], r["fd2"]]
            for num in nums:
                self.add(proc, Fd(fd=num, type=FAMILY_TYPE.get(family, "socket"),
                                  family=family, proto=SOCK_PROTO.get(socktype & 0xF),
                                  cloexec=bool(socktype & O_CLOEXEC), **base))
        elif kind in ("accept", "accept4"):
            listener = self.open.get(proc, {}).get(r["fd"])
            fd = Fd(fd=res, type=FAMILY_TYPE.get(r["family"], "socket"), family=r["family"],
                    proto=listener.proto if listener else None,
                    cloexec=bool(flags & O_CLOEXEC) if kind == "accept4" else False,
                    from_id=listener.fd_id if listener else None, **base)
            _set_ends(fd, r)
            self.add(proc, fd)
        elif kind in ("dup", "dup2", "dup3"):
            old = self.open.get(proc, {}).get(r["oldfd"])
            if res == r["oldfd"]:
                return   # dup2(fd, fd): nothing changes
            self.end(proc, res, seq, ts, kind)    # dup2/dup3 close what newfd was
            cloexec = bool(flags & O_CLOEXEC) if kind == "dup3" else False
            if old is None:
                self.add(proc, Fd(fd=res, type=None, cloexec=cloexec, **base))
            else:
                self.add(proc, old.copy(fd=res, cloexec=cloexec, from_id=old.fd_id,
                                        closed_seq=None, closed_ns=None, closed_by=None,
                                        **base))
        elif kind in ("pipe", "pipe2"):
            cloexec = bool(flags & O_CLOEXEC) if kind == "pipe2" else False
            for num in (r["fd1"], r["fd2"]):
                self.add(proc, Fd(fd=num, type="pipe", name="pipe", cloexec=cloexec, **base))
        elif kind == "memfd_create":
            self.add(proc, Fd(fd=res, type="memfd", name="memfd:" + (r["name"] or ""),
                              cloexec=bool(flags & MFD_CLOEXEC), **base))
        elif kind != "bpf" or r["cmd"] in BPF_FD_CMDS:
            self.add(proc, Fd(fd=res, type=kind.removesuffix("_setup"), name=kind, **base))

    def _ends(self, r, proc) -> None:
        ok = r["result"] == 0 or (r["type"] == "connect" and r["errno"] == "EINPROGRESS")
        if not ok or r["fd"] is None:
            return
        fd = self.open.get(proc, {}).get(r["fd"])
        if fd is None:   # a socket made before the capture saw it (and not in the snapshot)
            fd = Fd(pid=r["pid"], fd=r["fd"], type="socket", how="unseen")
            self.add(proc, fd)
        _set_ends(fd, r)

    def _forked(self, r, parent, seq, ts) -> None:
        child_pid = r["child_pid"]
        if child_pid is None or child_pid == r["pid"]:
            return   # a thread: it shares the fd table
        child = self.children.get((child_pid, ts))
        if child is None:
            return
        for num, fd in list(self.open.get(parent, {}).items()):
            self.add(child, fd.copy(pid=child_pid, how="fork", from_id=fd.fd_id,
                                    opened_seq=seq, opened_ns=ts))

    def table(self, host: str) -> pa.Table:
        cols = {c.name: [] for c in qs.FDS}
        for fd in self.done:
            row = {k: getattr(fd, k) for k in Fd.__slots__}
            row.update(capture=self.capture, host=host, opened=fd.opened_ns,
                       closed=fd.closed_ns)
            for k, col in cols.items():
                col.append(row.get(k))
        return pa.table(cols, schema=qs.arrow_schema(qs.FDS))


def _set_ends(fd: Fd, r: dict) -> None:
    """A connect's, bind's or accept's addresses onto the socket; its name as Falco
    writes a tuple (lip:lport->rip:rport)."""
    for k in ("local_addr", "local_port", "remote_addr", "remote_port"):
        if r[k] is not None:
            setattr(fd, k, r[k])
    if r["family"] is not None:
        fd.family = r["family"]
        if fd.type in (None, "socket"):
            fd.type = FAMILY_TYPE.get(r["family"], "socket")

    def end(addr, port):
        return "" if addr is None else f"{addr}:{port}" if port is not None else addr
    fd.name = f"{end(fd.local_addr, fd.local_port)}->{end(fd.remote_addr, fd.remote_port)}"


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


def _text(b) -> str:
    return b if isinstance(b, str) else b.decode("utf-8", "backslashreplace")


def load(con, cap, capture: int, host: str, insert) -> None:
    """Build the capture's fd lifetimes from its loaded events; `insert` appends rows."""
    procs = con.execute("SELECT pid, proc_id, origin, start_ns FROM processes "
                        "WHERE capture = ? AND origin IN ('snapshot', 'fork')",
                        [capture]).fetchall()
    table = FdTable(capture, {(pid, start): p for pid, p, origin, start in procs
                              if origin == "fork"})
    table.seed(cap.fds or [], {pid: p for pid, p, origin, _s in procs if origin == "snapshot"})
    select = ", ".join([f'"{c}"' for c in _COLUMNS] + [f'args."{a}" AS "{a}"' for a in _ARGS])
    types = list(MAKERS + OTHERS)
    rel = con.sql(f"SELECT {select} FROM events WHERE capture = ? AND type IN "
                      f"(SELECT unnest(?::VARCHAR[])) ORDER BY seq", params=[capture, types])
    data = _fetch(rel)
    names = list(data)
    for values in zip(*data.values()):
        table.event(dict(zip(names, values)))
    if table.done:
        insert(con, "fds", table.table(host))


def _fetch(rel) -> dict:
    # DuckDB 1.4 named it to_arrow_table; arrow() is the older name
    arrow = (getattr(rel, "to_arrow_table", None) or rel.arrow)()
    return {name: arrow.column(name).to_pylist() for name in arrow.column_names}
