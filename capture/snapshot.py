"""The /proc snapshot taken when recording starts: every process and its open fds.

Processes older than the capture then have names, parents, cwds and open files.
Paths stay bytes (a name need not be UTF-8). A process that exits while being read
is simply left out.
"""
import functools
import os

from scapula.capture.containers import container_id

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _link(path: str) -> bytes | None:
    try:
        return os.readlink(path.encode())
    except OSError:
        return None


def _status_words(status: bytes, key: bytes) -> list[bytes]:
    """The words after `key` on its line of /proc/PID/status (empty when absent)."""
    for line in status.splitlines():
        if line.startswith(key):
            return line.split()[1:]
    return []


def _status_ids(status: bytes, key: bytes) -> list[int]:
    return [int(x) for x in _status_words(status, key)]


def read_process(pid: int, boot_ns: int) -> dict | None:
    base = f"/proc/{pid}"
    stat = _read(f"{base}/stat")
    status = _read(f"{base}/status")
    if stat is None or status is None:
        return None
    # comm may hold spaces and parentheses: the fields start after the last ')'
    rparen = stat.rindex(b")")
    comm = stat[stat.index(b"(") + 1:rparen]
    fields = stat[rparen + 2:].split()
    uids, gids = _status_ids(status, b"Uid:"), _status_ids(status, b"Gid:")
    cmdline = _read(f"{base}/cmdline") or b""
    args = cmdline.split(b"\0")
    if args and args[-1] == b"":
        args.pop()
    loginuid = _read(f"{base}/loginuid")
    sessionid = _read(f"{base}/sessionid")
    cgroup = (_read(f"{base}/cgroup") or b"").strip()
    return {
        "pid": pid,
        "ppid": int(fields[1]),
        "comm": comm,
        "exe": _link(f"{base}/exe"),
        "args": args,
        "cwd": _link(f"{base}/cwd"),
        "uid": uids[0] if uids else None,
        "euid": uids[1] if len(uids) > 1 else None,
        "gid": gids[0] if gids else None,
        "egid": gids[1] if len(gids) > 1 else None,
        "loginuid": _loginuid(loginuid),
        "sessionid": int(sessionid) if sessionid and sessionid.strip().isdigit() else None,
        "pgid": int(fields[2]),
        "sid": int(fields[3]),
        "tty": int(fields[4]),
        "cap_effective": _status_hex(status, b"CapEff:"),
        "cap_permitted": _status_hex(status, b"CapPrm:"),
        "start_ns": boot_ns + int(fields[19]) * 1_000_000_000 // CLK_TCK,
        "cgroup": cgroup,
        "cgroup_path": cgroup_path(cgroup),
        "container_id": container_id(cgroup_path(cgroup)),
    }


def _loginuid(raw: bytes | None) -> int | None:
    """As the events carry it: -1 when never set (/proc shows 4294967295)."""
    if not raw or not raw.strip().isdigit():
        return None
    value = int(raw)
    return value - (1 << 32) if value >= 1 << 31 else value


def _status_hex(status: bytes, key: bytes) -> int | None:
    words = _status_words(status, key)
    return int(words[0], 16) if words else None


def cgroup_path(proc_cgroup: bytes) -> bytes | None:
    """The path procfork/procexec would record, from /proc/<pid>/cgroup's lines
    ("hierarchy:controllers:path"): the unified hierarchy's (0::) unless it is the
    root, then the first v1 controller's, in the kernel's controller order, that is
    below its root."""
    unified, v1 = None, {}
    for line in proc_cgroup.splitlines():
        hier, controllers, path = line.split(b":", 2)
        if hier == b"0":
            unified = path
        else:
            for c in controllers.split(b","):
                v1[c] = path
    if unified is not None and unified != b"/":
        return unified
    for c in _controllers():
        if v1.get(c, b"/") != b"/":
            return v1[c]
    return unified


@functools.cache
def _controllers() -> list[bytes]:
    """Controller names in the kernel's order (/proc/cgroups lists them so)."""
    text = _read("/proc/cgroups") or b""
    return [line.split()[0] for line in text.splitlines()[1:] if line.strip()]


def read_fds(pid: int) -> list[list]:
    """[pid, fd, target] for each open fd of `pid` (target as readlink shows it)."""
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return []
    out = []
    for name in names:
        target = _link(f"{base}/{name}")
        if target is not None:
            out.append([pid, int(name), target])
    return out


def take(boot_ns: int) -> tuple[list[dict], list[list]]:
    """(processes, fds) of every process on the host right now."""
    processes, fds = [], []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        proc = read_process(pid, boot_ns)
        if proc is None:
            continue
        processes.append(proc)
        fds.extend(read_fds(pid))
    processes.sort(key=lambda p: p["pid"])
    return processes, fds
