"""Events as replay and printing see them: light views onto a chunk's columns."""
from array import array

from scapula.capture.decoder import split_argv
from scapula.schemas import events as schema
from scapula.schemas import format as fmt
from scapula.schemas.flags import errno_name, flags_text, mode_text


class ChunkGroup:
    """The columns of one event type in one chunk."""

    __slots__ = ("etype", "n", "cols")

    def __init__(self, etype: schema.EventType, data: dict):
        self.etype = etype
        self.n = data["n"]
        dtypes = data.get("dtypes", {})
        self.cols = {}
        for name, col in data["cols"].items():
            dtype = dtypes.get(name)
            self.cols[name] = decode_column(dtype, col) if dtype else col


def decode_column(dtype: str, data: bytes):
    if dtype == "bytes16":
        return [data[i:i + 16].split(b"\0", 1)[0] for i in range(0, len(data), 16)]
    arr = array(fmt.DTYPES[dtype])
    arr.frombytes(data)
    return arr


class Event:
    """One event. Header fields are attributes; parameters come from `params`."""

    __slots__ = ("etype", "ts", "cpu", "tid", "pid", "ppid", "uid", "gid", "comm", "cgroup",
                 "res", "_g", "_i")

    def __init__(self, group: ChunkGroup, i: int):
        c = group.cols
        self.etype = group.etype
        self.ts = c["ts"][i]
        self.cpu = c["cpu"][i]
        self.tid = c["tid"][i]
        self.pid = c["pid"][i]
        self.ppid = c["ppid"][i]
        self.uid = c["uid"][i]
        self.gid = c["gid"][i]
        self.comm = c["comm"][i]
        self.cgroup = c["cgroup"][i]
        self.res = c["res"][i]
        self._g = group
        self._i = i

    @property
    def name(self) -> str:
        return self.etype.name

    @property
    def errno(self) -> str | None:
        return errno_name(self.res) if self.etype.syscall is not None else None

    def param(self, name: str):
        """A parameter's value: int, bytes, list of bytes (argv) or None."""
        value = self._g.cols[name][self._i]
        if value is not None and self._kind(name) == "argv":
            return split_argv(value)
        return value

    def _kind(self, name: str) -> str:
        for p in self.etype.params:
            if p.name == name:
                return p.kind
        raise KeyError(name)

    @property
    def params(self) -> dict:
        return {p.name: self.param(p.name) for p in self.etype.params if p.name in self._g.cols}

    def render(self, name: str) -> str:
        """A parameter as text: flags and modes by name, bytes as surrogate-escaped str."""
        p = next(p for p in self.etype.params if p.name == name)
        return render_value(p, self.param(name))

    def as_dict(self) -> dict:
        d = {"ts": self.ts, "cpu": self.cpu, "type": self.name, "tid": self.tid, "pid": self.pid,
             "ppid": self.ppid, "uid": self.uid, "gid": self.gid, "comm": text(self.comm),
             "cgroup": self.cgroup, "res": self.res}
        if self.errno:
            d["errno"] = self.errno
        for p in self.etype.params:
            if p.name not in self._g.cols:
                continue
            value = self.param(p.name)
            d[p.name] = _jsonable(value)
            if p.kind == "flags" and value is not None:
                d[f"{p.name}_names"] = flags_text(p.table, value)
        return d


def text(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "surrogateescape")


def _jsonable(value):
    if isinstance(value, bytes):
        return text(value)
    if isinstance(value, list):
        return [text(v) for v in value]
    return value


def render_value(p: schema.Param, value) -> str:
    if value is None:
        return "<NA>"
    if p.kind == "flags":
        return f"{flags_text(p.table, value)}"
    if p.kind == "mode":
        return mode_text(value)
    if p.kind == "argv":
        return " ".join(text(v) for v in value)
    if isinstance(value, bytes):
        return text(value)
    return str(value)
