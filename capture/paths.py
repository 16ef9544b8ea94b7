"""Resolving the paths processes pass (relative, dirfd-based) to absolute ones.

Keeps what that needs and nothing more: each process's cwd and a map of its fds to
paths, seeded from the snapshot and kept up to date by the events themselves, in
time order. A path that cannot be resolved (its dirfd is unknown) stays None.
"""
import os
import posixpath

from scapula.capture.containers import container_id
from scapula.capture.decoder import PID, RES, TID, TYPE, row_columns
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
        # Per event type: (source, dirfd) column pairs to resolve, and the handler
        # that keeps state for it (None for types that change no state).
        self._derived = {}
        self._handlers = {}
        for e in schema.EVENTS:
            at = {name: i for i, name in enumerate(row_columns(e))}
            # (source, dirfd, None) for a path to resolve; (source, None, parse) else
            self._derived[e.id] = tuple(
                (at[p.source], at[p.dirfd] if p.dirfd else None, _PARSERS.get(p.kind))
                for p in e.derived)
            self._handlers[e.id] = self._handler(e.name, at)
        self._norm: dict = {}  # (base, path) -> absolute path: processes repeat themselves
        # The recorder (this process) is never recorded, so its snapshot goes stale.
        self._me = os.getpid()

    def base(self, pid: int, dirfd: int | None) -> bytes | None:
        if dirfd is None or dirfd == AT_FDCWD:
            return self.cwd.get(pid)
        return self.fds.get(pid, {}).get(dirfd)

    def absolute(self, pid: int, path: bytes | None, dirfd: int | None) -> bytes | None:
        if path is None:
            return None
        if path[:1] == b"/":
            base = None
        else:
            base = self.base(pid, dirfd)
            if base is None or base[:1] != b"/":
                return None
            if not path:
                return base
        key = (base, path)
        found = self._norm.get(key)
        if found is None:
            found = normpath(path if base is None else posixpath.join(base, path))
            if len(self._norm) >= _NORM_CACHE:
                self._norm.clear()
            self._norm[key] = found
        return found

    def apply(self, rows: list[tuple]) -> list[tuple]:
        """Rows with their derived paths appended, updating state as it goes."""
        out = []
        append = out.append
        derived_of, handlers, absolute = self._derived, self._handlers, self.absolute
        closing, exec_ids = self._closing, self._exec_ids
        for row in rows:
            t, pid = row[TYPE], row[PID]
            if closing and pid in closing and t not in exec_ids:
                self._closed_on_exec(pid)
            derived = derived_of[t]
            if derived:
                row += tuple([absolute(pid, row[src], None if dfd is None else row[dfd])
                              if parse is None else parse(row[src])
                              for src, dfd, parse in derived])
            handler = handlers[t]
            if handler is not None:
                handler(row, pid)
            append(row)
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

    def _handler(self, name: str, at: dict):
        """The state change an event of type `name` makes, as a function of (row, pid),
        with its column positions bound once; None when it changes nothing."""
        if name == "procfork":
            child_at, cwd_at = at["child_pid"], at["cwd"]
            return lambda row, pid: self._forked(pid, row[child_at], row[cwd_at])
        if name == "procexit":
            return lambda row, pid: self._exited(pid) if row[TID] == pid else None
        if name == "procexec":
            cwd_at = at["cwd"]

            def execed(row, pid):
                self._closing[pid] = self.cloexec.pop(pid, ())
                self._kernel_cwd(pid, row[cwd_at])
            return execed
        if name in ("execve", "execveat"):
            # procexec comes before the execve/execveat event, whose dirfd the kernel
            # resolved before closing anything: close-on-exec fds go after that event
            # is resolved (or, in apply, before whatever that process does next is).
            return lambda row, pid: self._closed_on_exec(pid) if pid in self._closing else None
        if name in ("open", "openat", "openat2", "creat"):
            # the commonest fd maker by far, so handled without the general machinery
            name_at, abs_at, flags_at = at["name"], at["name_abs"], at.get("flags")
            return lambda row, pid: self._opened(
                pid, row[RES], row[abs_at] or row[name_at],
                flags_at is not None and row[flags_at] & O_CLOEXEC) if row[RES] >= 0 else None
        made = _FD_MAKERS.get(name)
        if made is not None:
            made = made(at)
            return lambda row, pid: self._made(pid, made(row, self.fds.get(pid, {}))) \
                if row[RES] >= 0 else None
        if name == "close":
            fd_at = at["fd"]
            return lambda row, pid: self._closed(pid, row[fd_at]) if row[RES] >= 0 else None
        if name == "chdir":
            path_at = at["path_abs"]
            return lambda row, pid: self.cwd.__setitem__(pid, row[path_at]) \
                if row[RES] >= 0 and row[path_at] else None
        if name == "fchdir":
            fd_at = at["fd"]
            return lambda row, pid: self._fchdir(pid, row[fd_at]) if row[RES] >= 0 else None
        return None

    def _forked(self, pid: int, child: int, cwd: bytes | None) -> None:
        if child == pid:
            return  # a thread: it shares its process's state
        if pid == self._me:
            self._refresh_me()
        if pid in self.cwd:
            self.cwd[child] = self.cwd[pid]
        self._kernel_cwd(child, cwd)
        self.fds[child] = dict(self.fds.get(pid, {}))
        self.cloexec[child] = set(self.cloexec.get(pid, ()))

    def _kernel_cwd(self, pid: int, cwd: bytes | None) -> None:
        """The cwd the kernel reported, when whole (a walk cut short is relative)."""
        if cwd and cwd[:1] == b"/":
            self.cwd[pid] = cwd

    def _exited(self, pid: int) -> None:
        """The leader ended: the process is gone."""
        self.cwd.pop(pid, None)
        self.fds.pop(pid, None)
        self.cloexec.pop(pid, None)

    def _made(self, pid: int, made) -> None:
        """Record fds a call made: (fd, path or None when unknown, closes on exec)."""
        fds = self.fds.setdefault(pid, {})
        cloexec = self.cloexec.setdefault(pid, set())
        for fd, path, on_exec in made:
            if path is None:
                fds.pop(fd, None)
            else:
                fds[fd] = path
            (cloexec.add if on_exec else cloexec.discard)(fd)

    def _opened(self, pid: int, fd: int, path: bytes, on_exec) -> None:
        fds = self.fds.get(pid)
        if fds is None:
            fds = self.fds[pid] = {}
        fds[fd] = path
        cloexec = self.cloexec.get(pid)
        if on_exec:
            if cloexec is None:
                cloexec = self.cloexec[pid] = set()
            cloexec.add(fd)
        elif cloexec:
            cloexec.discard(fd)

    def _closed(self, pid: int, fd: int) -> None:
        fds = self.fds.get(pid)
        if fds:
            fds.pop(fd, None)
        cloexec = self.cloexec.get(pid)
        if cloexec:
            cloexec.discard(fd)

    def _fchdir(self, pid: int, fd: int) -> None:
        path = self.fds.get(pid, {}).get(fd)
        if path is not None:
            self.cwd[pid] = path


def _memfd(at):
    name_at, flags_at = at["name"], at["flags"]
    return lambda row, fds: ((row[RES], b"memfd:" + (row[name_at] or b""),
                              row[flags_at] & MFD_CLOEXEC),)


def _duped(at):
    old_at, flags_at = at["oldfd"], at.get("flags")

    def made(row, fds):
        oldfd, res = row[old_at], row[RES]
        if oldfd == res:
            return ()  # dup2(fd, fd) changes nothing, not even close-on-exec
        # An unknown oldfd still replaced whatever newfd was.
        return ((res, fds.get(oldfd), flags_at is not None and row[flags_at] & O_CLOEXEC),)
    return made


def _piped(at):
    fd1_at, fd2_at, flags_at = at["fd1"], at["fd2"], at.get("flags")

    def made(row, fds):
        on_exec = flags_at is not None and row[flags_at] & O_CLOEXEC
        return ((row[fd1_at], b"pipe:", on_exec), (row[fd2_at], b"pipe:", on_exec))
    return made


def _socket(at):
    # SOCK_CLOEXEC is O_CLOEXEC's value; socket passes it in its type, accept4 in its flags
    fd1_at, fd2_at, flags_at = at.get("fd1"), at.get("fd2"), at.get("socktype", at.get("flags"))

    def made(row, fds):
        on_exec = flags_at is not None and row[flags_at] & O_CLOEXEC
        if fd1_at is None:
            return ((row[RES], b"socket:", on_exec),)
        return ((row[fd1_at], b"socket:", on_exec), (row[fd2_at], b"socket:", on_exec))
    return made


# Event types other than opens that make fds, and how to read what they made from a row.
_FD_MAKERS = {"memfd_create": _memfd, "dup": _duped, "dup2": _duped, "dup3": _duped,
              "pipe": _piped, "pipe2": _piped,
              "socket": _socket, "socketpair": _socket, "accept": _socket, "accept4": _socket}
_NORM_CACHE = 1 << 16
# Derived kinds other than abspath: how each is computed from its source column.
_PARSERS = {"container": container_id}


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


def normpath(path: bytes) -> bytes:
    """posixpath.normpath keeps a leading "//" (POSIX lets it mean something else);
    Linux reads it as "/", and so must we, or one file gets two names."""
    path = posixpath.normpath(path)
    return path[1:] if path.startswith(b"//") else path
