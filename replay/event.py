"""Events as replay and printing see them: light views onto a chunk's columns."""
import struct

from scapula.capture.decoder import split_argv
from scapula.schemas import events as schema
from scapula.schemas import format as fmt
from scapula.schemas import sockaddr
from scapula.schemas import syscalls
from scapula.schemas.flags import errno_name, flags_text, mode_text, tty_text

AT_FDCWD = -100


class ChunkGroup:
    """The columns of one event type in one chunk: header fields and parameters."""

    __slots__ = ("etype", "n", "cols", "params")

    def __init__(self, etype: schema.EventType, data: dict, raw: bool = False):
        self.etype = etype
        self.n = data["n"]
        self.cols = _decode_columns(data["cols"], data.get("dtypes", {}), raw)
        if "params" in data:
            self.params = _decode_columns(data["params"], data.get("param_dtypes", {}), raw)
        else:
            # the first 1.0 writer kept params beside the header columns
            header = set(fmt.HEADER_DTYPES)
            self.params = {k: v for k, v in self.cols.items() if k not in header}


def _decode_columns(cols: dict, dtypes: dict, raw: bool = False) -> dict:
    out = {}
    for name, col in cols.items():
        dtype = dtypes.get(name)
        if dtype is None:
            out[name] = col
        elif dtype in KNOWN_DTYPES:
            out[name] = Packed(dtype, col) if raw else decode_column(dtype, col)
        # a dtype from a later minor version: the column is left out, not misread
    return out


KNOWN_DTYPES = set(fmt.DTYPES) | {"bytes16"}
_SIZES = {"u64": 8, "i64": 8, "u32": 4, "u16": 2, "bytes16": fmt.COMM_SIZE}


class Packed:
    """A packed column kept as the file's bytes (Capture.chunks(raw=True)), for a
    reader that wraps them whole, as the SQL loader does in Arrow, rather than make a
    Python value of each. `decoded()` gives what ChunkGroup would have held."""

    __slots__ = ("dtype", "data", "n")

    def __init__(self, dtype: str, data: bytes):
        size = _SIZES[dtype]
        if not isinstance(data, bytes) or len(data) % size:
            raise ValueError(f"{dtype} column of {len(data)} bytes")
        self.dtype, self.data, self.n = dtype, data, len(data) // size

    def __len__(self) -> int:
        return self.n

    def decoded(self):
        return decode_column(self.dtype, self.data)


_COMM = struct.Struct(f"{fmt.COMM_SIZE}s")


class _Comms(dict):
    def __missing__(self, field: bytes) -> bytes:
        value = self[field] = field.split(b"\0", 1)[0]
        return value


def decode_column(dtype: str, data: bytes):
    if dtype == "bytes16":
        size = fmt.COMM_SIZE
        if len(data) % size:
            raise ValueError(f"bytes16 column of {len(data)} bytes")
        # the same few names repeat: each is cut at its NUL once, and shared
        return list(map(_Comms().__getitem__, (f for f, in _COMM.iter_unpack(data))))
    return fmt.unpack_array(dtype, data)


class Event:
    """One event. Header fields are attributes; parameters come from `params`."""

    __slots__ = ("etype", "name", "ts", "cpu", "tid", "pid", "ppid", "uid", "gid", "comm",
                 "cgroup", "res", "_g", "_i")

    def __init__(self, group: ChunkGroup, i: int):
        c = group.cols
        self.etype = etype = group.etype
        self.name = etype.name
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
    def errno(self) -> str | None:
        return errno_name(self.res) if self.etype.returns else None

    @property
    def syscall_name(self) -> str | None:
        """The generic event's syscall, by name (None for a number the table lacks)."""
        if self.etype.category != "generic":
            return None
        return syscalls.name(self.param("nr"))

    def param(self, name: str):
        """A parameter's value: int, bytes, list of bytes (argv) or None."""
        col = self._g.params.get(name)
        if col is None:
            self._kind(name)  # a name the event type lacks is an error, not None
            return None
        value = col[self._i]
        if value.__class__ is bytes and self.etype.kinds[name] == "argv":
            return split_argv(value)
        return value

    def _kind(self, name: str) -> str:
        return self.etype.kinds[name]    # KeyError: a name the event type lacks

    @property
    def params(self) -> dict:
        return {p.name: self.param(p.name) for p in self.etype.params if p.name in self._g.params}

    def render(self, name: str) -> str:
        """A parameter as text: flags and modes by name, bytes as surrogate-escaped str."""
        return render_value(self.etype.by_name[name], self.param(name))

    def as_dict(self) -> dict:
        d = {"ts": self.ts, "cpu": self.cpu, "type": self.name, "tid": self.tid, "pid": self.pid,
             "ppid": self.ppid, "uid": self.uid, "gid": self.gid, "comm": text(self.comm),
             "cgroup": self.cgroup, "res": self.res}
        if self.errno:
            d["errno"] = self.errno
        for p in self.etype.params:
            if p.name not in self._g.params:
                continue
            value = self.param(p.name)
            # raw sockaddr bytes mean nothing as text: JSON gets the decoded fields
            d[p.name] = sockaddr.decode(value) if p.kind == "sockaddr" else _jsonable(value)
            if p.kind == "flags" and value is not None:
                d[f"{p.name}_names"] = flags_text(p.table, value)
        if self.etype.category == "generic":
            d["syscall"] = self.syscall_name
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
        # a process may pass any 64-bit register as a mode; the stat helpers take 32 bits
        return mode_text(value) if value <= 0xFFFFFFFF else f"0{value:o}"
    if p.kind == "fd" and value == AT_FDCWD:
        return "AT_FDCWD"
    if p.kind == "argv":
        return " ".join(text(v) for v in value)
    if p.kind == "sockaddr":
        return sockaddr.text(value)
    if p.kind == "tty":
        return tty_text(value)
    if p.kind == "buf":
        return escaped(value)
    if isinstance(value, bytes):
        return text(value)
    return str(value)


# Bytes of a data buffer that print as themselves; the rest are escaped.
_BYTE_TEXT = {c: chr(c) for c in range(0x20, 0x7F)} | {
    ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def escaped(data: bytes) -> str:
    """A data buffer as one quoted line: printable ASCII as is, \\n \\r \\t, the rest \\xNN."""
    return '"' + "".join(_BYTE_TEXT.get(c) or f"\\x{c:02x}" for c in data) + '"'
