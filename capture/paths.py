"""Resolving the paths processes pass (relative, dirfd-based) to absolute ones.

Keeps what that needs and nothing more: each process's cwd and a map of its fds to
paths, seeded from the snapshot and kept up to date by the events themselves, in
time order. A path that cannot be resolved (its dirfd is unknown) stays None.
"""
import os
import posixpath

from scapula.capture.decoder import row_columns
from scapula.capture.snapshot import read_fds
from scapula.schemas import events as schema

AT_FDCWD = -100
O_CLOEXEC = 0o2000000
MFD_CLOEXEC = 1


class PathResolver:
    def __init__(self, processes: list[dict], fds: list[list]):
        self.cwd: dict[int, bytes] = {p["pid"]: p["cwd"] for p in processes if p.get("cwd")}
        self.fds: dict[int, dict[int, bytes]] = {}
        # Per process, the fds known to close on exec (unknown for snapshot fds).
        self.cloexec: dict[int, set[int]] = {}
        self._closing: dict[int, set[int]] = {}  # exec'd, close-on-exec fds not yet closed
        self._exec_ids = {schema.BY_NAME[n].id for n in ("execve", "execveat")}
        for pid, fd, target in fds:
            self.fds.setdefault(pid, {})[fd] = target
        self._plans = {e.id: self._plan(e) for e in schema.EVENTS}
        # The recorder (this process) is never recorded, so its snapshot goes stale.
        self._me = os.getpid()

    @staticmethod
    def _plan(e: schema.EventType):
        cols = row_columns(e)
        at = {name: i for i, name in enumerate(cols)}
        derived = [(at[p.source], at[p.dirfd] if p.dirfd else None) for p in e.derived]
        params = {name: at[name] for name in cols}
        return derived, params

    def base(self, pid: int, dirfd: int | None) -> bytes | None:
        if dirfd is None or dirfd == AT_FDCWD:
            return self.cwd.get(pid)
        return self.fds.get(pid, {}).get(dirfd)

    def absolute(self, pid: int, path: bytes | None, dirfd: int | None) -> bytes | None:
        if path is None:
            return None
        if path.startswith(b"/"):
            return _normpath(path)
        base = self.base(pid, dirfd)
        if base is None or not base.startswith(b"/"):
            return None
        return _normpath(posixpath.join(base, path)) if path else base

    def apply(self, rows: list[tuple]) -> list[tuple]:
        """Rows with their derived paths appended, updating state as it goes."""
        out = []
        plans = self._plans
        for row in rows:
            t, pid = row[8], row[4]
            if pid in self._closing and t not in self._exec_ids:
                self._closed_on_exec(pid)
            derived, at = plans[t]
            if derived:
                row = row + tuple(
                    self.absolute(pid, row[src], row[dfd] if dfd is not None else None)
                    for src, dfd in derived)
            self._track(schema.BY_ID[t].name, row, at, pid)
            out.append(row)
        return out

    def _refresh_me(self) -> None:
        """The recorder's cwd and fds now, for a child it forked (the recorded command,
        or a test's child): read after the fork, but the recorder changes neither
        between forking a child and reading its events."""
        self.cwd[self._me] = os.getcwdb()
        self.fds[self._me] = {fd: target for _, fd, target in read_fds(self._me)}
        self.cloexec[self._me] = {fd for fd in self.fds[self._me] if _fd_flags(fd) & O_CLOEXEC}

    def _closed_on_exec(self, pid: int) -> None:
        fds = self.fds.get(pid, {})
        for fd in self._closing.pop(pid):
            fds.pop(fd, None)

    def _track(self, name: str, row: tuple, at: dict, pid: int) -> None:
        res = row[2]
        if name == "procfork":
            child = row[at["child_pid"]]
            if child != pid:
                if pid == self._me:
                    self._refresh_me()
                if pid in self.cwd:
                    self.cwd[child] = self.cwd[pid]
                self.fds[child] = dict(self.fds.get(pid, {}))
                self.cloexec[child] = set(self.cloexec.get(pid, ()))
            return
        if name == "procexit":
            if row[3] == pid:  # the leader: the process is gone
                self.cwd.pop(pid, None)
                self.fds.pop(pid, None)
                self.cloexec.pop(pid, None)
            return
        # procexec comes before the execve/execveat event, whose dirfd the kernel
        # resolved before closing anything: close-on-exec fds go after that event
        # is resolved (or, in apply, before whatever that process does next is).
        if name in ("execve", "execveat") and pid in self._closing:
            self._closed_on_exec(pid)
        if name == "procexec":
            self._closing[pid] = self.cloexec.pop(pid, ())
            return
        if res < 0:
            return
        fds = self.fds.setdefault(pid, {})
        cloexec = self.cloexec.setdefault(pid, set())
        made = ()  # (fd, path or None when unknown, closes on exec) per fd this call made
        if name in ("open", "openat", "openat2"):
            made = ((res, row[at["name_abs"]] or row[at["name"]], row[at["flags"]] & O_CLOEXEC),)
        elif name == "creat":
            made = ((res, row[at["name_abs"]] or row[at["name"]], False),)
        elif name == "memfd_create":
            made = ((res, b"memfd:" + (row[at["name"]] or b""), row[at["flags"]] & MFD_CLOEXEC),)
        elif name == "close":
            fds.pop(row[at["fd"]], None)
            cloexec.discard(row[at["fd"]])
        elif name in ("dup", "dup2", "dup3"):
            oldfd = row[at["oldfd"]]
            if oldfd != res:  # dup2(fd, fd) changes nothing, not even close-on-exec
                # An unknown oldfd still replaced whatever newfd was.
                made = ((res, fds.get(oldfd), name == "dup3" and row[at["flags"]] & O_CLOEXEC),)
        elif name in ("pipe", "pipe2"):
            on_exec = name == "pipe2" and row[at["flags"]] & O_CLOEXEC
            made = ((row[at["fd1"]], b"pipe:", on_exec), (row[at["fd2"]], b"pipe:", on_exec))
        elif name == "chdir":
            if row[at["path_abs"]]:
                self.cwd[pid] = row[at["path_abs"]]
        elif name == "fchdir":
            if row[at["fd"]] in fds:
                self.cwd[pid] = fds[row[at["fd"]]]
        for fd, path, on_exec in made:
            if path is None:
                fds.pop(fd, None)
            else:
                fds[fd] = path
            (cloexec.add if on_exec else cloexec.discard)(fd)


def _fd_flags(fd: int) -> int:
    """The open flags of one of this process's fds, O_CLOEXEC included (0 if gone)."""
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as f:
            for line in f:
                if line.startswith(b"flags:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0


def _normpath(path: bytes) -> bytes:
    """posixpath.normpath keeps a leading "//" (POSIX lets it mean something else);
    Linux reads it as "/", and so must we, or one file gets two names."""
    path = posixpath.normpath(path)
    return path[1:] if path.startswith(b"//") else path
