"""Resolving the paths processes pass (relative, dirfd-based) to absolute ones.

Keeps what that needs and nothing more: each process's cwd and a map of its fds to
paths, seeded from the snapshot and kept up to date by the events themselves, in
time order. A path that cannot be resolved (its dirfd is unknown) stays None.
"""
import posixpath

from scapula.capture.decoder import row_columns
from scapula.schemas import events as schema

AT_FDCWD = -100


class PathResolver:
    def __init__(self, processes: list[dict], fds: list[list]):
        self.cwd: dict[int, bytes] = {p["pid"]: p["cwd"] for p in processes if p.get("cwd")}
        self.fds: dict[int, dict[int, bytes]] = {}
        for pid, fd, target in fds:
            self.fds.setdefault(pid, {})[fd] = target
        self._plans = {e.id: self._plan(e) for e in schema.EVENTS}

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
            return posixpath.normpath(path)
        base = self.base(pid, dirfd)
        if base is None or not base.startswith(b"/"):
            return None
        return posixpath.normpath(posixpath.join(base, path)) if path else base

    def apply(self, rows: list[tuple]) -> list[tuple]:
        """Rows with their derived paths appended, updating state as it goes."""
        out = []
        plans = self._plans
        for row in rows:
            t, pid = row[8], row[4]
            derived, at = plans[t]
            if derived:
                row = row + tuple(
                    self.absolute(pid, row[src], row[dfd] if dfd is not None else None)
                    for src, dfd in derived)
            self._track(schema.BY_ID[t].name, row, at, pid)
            out.append(row)
        return out

    def _track(self, name: str, row: tuple, at: dict, pid: int) -> None:
        res = row[2]
        if name == "procfork":
            child = row[at["child_pid"]]
            if child != pid:
                if pid in self.cwd:
                    self.cwd[child] = self.cwd[pid]
                self.fds[child] = dict(self.fds.get(pid, {}))
            return
        if name == "procexit":
            if row[3] == pid:  # the leader: the process is gone
                self.cwd.pop(pid, None)
                self.fds.pop(pid, None)
            return
        if res < 0:
            return
        fds = self.fds.setdefault(pid, {})
        if name in ("open", "openat", "openat2", "creat"):
            fds[res] = row[at["name_abs"]] or row[at["name"]]
        elif name == "memfd_create":
            fds[res] = b"memfd:" + (row[at["name"]] or b"")
        elif name == "close":
            fds.pop(row[at["fd"]], None)
        elif name in ("dup", "dup2", "dup3"):
            if row[at["oldfd"]] in fds:
                fds[res] = fds[row[at["oldfd"]]]
        elif name in ("pipe", "pipe2"):
            fds[row[at["fd1"]]] = b"pipe:"
            fds[row[at["fd2"]]] = b"pipe:"
        elif name == "chdir":
            if row[at["path_abs"]]:
                self.cwd[pid] = row[at["path_abs"]]
        elif name == "fchdir":
            if row[at["fd"]] in fds:
                self.cwd[pid] = fds[row[at["fd"]]]
