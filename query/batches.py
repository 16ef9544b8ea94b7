"""A capture's chunks as Arrow record batches, column by column: packed integer columns
are wrapped without copying, only variable-length values are touched one by one.

Rows of one event type are gathered over several chunks before their batch is built,
so the per-batch costs (a null column per absent field, DuckDB's per-batch work on
every column) are paid per thousands of rows, not per few hundred."""
from array import array
import importlib.util
from itertools import chain
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scapula.capture.decoder import split_argv
from scapula.replay.event import Packed, decode_column
from scapula.query import args_json
from scapula.query import schema as qs
from scapula.schemas import format as fmt
from scapula.schemas import sockaddr
from scapula.schemas.flags import VALUE_TABLES, errno_name

# pyarrow, converting Python values (a list, a scalar argument), tries to import dateutil
# every time; where it is not installed each failed import searched sys.path, which was
# a third of the Arrow building. A None entry makes the failure immediate; the import
# would fail anyway.
if importlib.util.find_spec("dateutil") is None:
    sys.modules.setdefault("dateutil", None)

_ARRAY_TYPES = {"Q": pa.uint64(), "q": pa.int64(), "I": pa.uint32(), "H": pa.uint16(),
                "i": pa.int32(), "l": pa.int64(), "L": pa.uint64()}
_PACKED_TYPES = {"u64": pa.uint64(), "i64": pa.int64(), "u32": pa.uint32(), "u16": pa.uint16()}
LIFECYCLE = ("procfork", "procexec", "procexit")


def column(values, n: int, typ: pa.DataType) -> pa.Array:
    """One chunk column (packed bytes, an array, or a list of ints, bytes or None) as
    `typ`."""
    if isinstance(values, Packed) and values.dtype in _PACKED_TYPES:
        arr = pa.Array.from_buffers(_PACKED_TYPES[values.dtype], n,
                                    [None, pa.py_buffer(values.data)])
        return arr if arr.type == typ else pc.cast(arr, typ)
    if isinstance(values, array) and values.typecode in _ARRAY_TYPES:
        arr = pa.Array.from_buffers(_ARRAY_TYPES[values.typecode], n,
                                    [None, pa.py_buffer(values)])
        return arr if arr.type == typ else pc.cast(arr, typ)
    if pa.types.is_string(typ):
        return text_column(values)
    if pa.types.is_list(typ):
        return pa.array([_argv_text(v) for v in values], typ)
    return pa.array(values, typ)


def same_bytes(values, n: int, typ: pa.DataType) -> pa.Array:
    """A packed header column read as `typ` of its width, without a copy or a check: for
    values known to fit (ns times below 2^63, until 2262, as int64 or a timestamp).
    Anything else goes through column()."""
    if isinstance(values, Packed) and values.dtype in _PACKED_TYPES \
            and _PACKED_TYPES[values.dtype].bit_width == typ.bit_width:
        return pa.Array.from_buffers(typ, n, [None, pa.py_buffer(values.data)])
    return column(values, n, typ)


def from_numpy(values: np.ndarray, typ: pa.DataType, mask: np.ndarray | None = None) -> pa.Array:
    """A numpy array as the Arrow type of its width, without a copy; `mask` true where
    null. (pa.array() of a numpy array imports numpy.ma and tries pandas the first
    time: 25 ms of a load.)"""
    values = np.ascontiguousarray(values)
    valid = None if mask is None else pa.py_buffer(np.packbits(~mask, bitorder="little"))
    return pa.Array.from_buffers(typ, len(values), [valid, pa.py_buffer(values)])


def to_numpy(arr: pa.Array) -> np.ndarray:
    """An integer array as numpy, without a copy; nulls read as 0. (Array.to_numpy()
    looks for pandas the first time, and would import it where it is installed.)"""
    if arr.null_count:
        arr = pc.fill_null(arr, 0)
    dtype = _NUMPY_TYPES[arr.type]
    return np.frombuffer(arr.buffers()[1], dtype, len(arr), arr.offset * dtype.itemsize)


_NUMPY_TYPES = {pa.int64(): np.dtype(np.int64), pa.uint64(): np.dtype(np.uint64),
                pa.int32(): np.dtype(np.int32), pa.uint32(): np.dtype(np.uint32)}


def text_column(values) -> pa.Array:
    """Bytes to text. Valid UTF-8 goes through as is (Arrow checks it in C); a column with
    other bytes falls back to Python, escaping them (\\xNN) rather than failing."""
    arr = pa.array(values, pa.binary())
    try:
        return pc.cast(arr, pa.string())
    except pa.ArrowInvalid:
        return pa.array([text(v) for v in arr.to_pylist()], pa.string())


def comm_column(values, n: int) -> pa.Array:
    """The comm column, dictionary-encoded: packed 16-byte NUL-padded fields
    (Capture.chunks(raw=True)), each distinct one cut at its first NUL, or already a
    list of bytes. A few names repeat over thousands of rows."""
    fixed = comm_fields(values, n)
    if fixed is None:
        return pc.dictionary_encode(text_column(values))
    d = pc.dictionary_encode(fixed)
    return pa.DictionaryArray.from_arrays(d.indices, _comm_text(d.dictionary))


def comm_fields(values, n: int) -> pa.Array | None:
    """Packed comm fields (a Packed, or its bytes) as Arrow's 16-byte binary, no copy;
    None for a list of values."""
    if isinstance(values, Packed):
        values = values.data
    if not isinstance(values, bytes):
        return None
    return pa.Array.from_buffers(pa.binary(fmt.COMM_SIZE), n, [None, pa.py_buffer(values)])


def _comm_text(fixed: pa.Array) -> pa.Array:
    try:   # the kernel pads a comm with NULs after its end: trimming them is the cut
        cut = pc.utf8_rtrim(pc.cast(pc.cast(fixed, pa.binary()), pa.string()), "\0")
        if not pc.any(pc.match_substring(cut, "\0")).as_py():
            return cut
    except pa.ArrowInvalid:
        pass
    cut = pc.list_element(pc.split_pattern(pc.cast(fixed, pa.binary()), b"\0", max_splits=1), 0)
    try:
        return pc.cast(cut, pa.string())
    except pa.ArrowInvalid:
        return text_column(cut.to_pylist())


def text(b) -> str | None:
    """Bytes from a capture as text, bytes that are not UTF-8 escaped (\\xNN); text
    and None as they are."""
    if b is None or isinstance(b, str):
        return b
    return b.decode("utf-8", "backslashreplace")


def _argv_text(block):
    parts = split_argv(block) if isinstance(block, bytes) else block
    return None if parts is None else [text(p) for p in parts]


class Endpoints:
    """Raw sockaddrs to (family, address, port), remembered: the same few repeat."""

    def __init__(self):
        self._seen: dict = {}

    def __call__(self, raw):
        if raw is None:
            return (None, None, None)
        got = self._seen.get(raw)
        if got is None:
            d = sockaddr.decode(raw) or {}
            addr = d.get("addr")
            if "path" in d:
                addr = ("@" if d.get("abstract") else "") + d["path"]
            got = self._seen[raw] = (d.get("family"), addr, d.get("port"))
        return got


def nulls(n: int, typ: pa.DataType) -> pa.Array:
    """n nulls of `typ`: a slice of one cached array per type, not a new allocation."""
    have = _NULLS.get(typ)
    if have is None or len(have) < n:
        have = _NULLS[typ] = pa.nulls(max(n, 2 * (len(have) if have else 0)), typ)
    return have.slice(0, n)


_NULLS: dict = {}


def _lookup(values, n: int, fn, typ: pa.DataType) -> pa.Array:
    """fn(value) for a column of few distinct values: called once per distinct value."""
    if isinstance(values, pa.Array):
        arr = values
    elif isinstance(values, Packed):
        arr = column(values, n, _PACKED_TYPES.get(values.dtype, pa.int64()))
    elif isinstance(values, array):
        arr = column(values, n, _ARRAY_TYPES.get(values.typecode, pa.int64()))
    else:
        arr = pa.array(values)
    if pa.types.is_null(arr.type):
        arr = pa.nulls(n, pa.binary())
    uniq = pc.unique(arr)
    if pa.types.is_dictionary(typ):   # the values as they are: no copy per row
        mapped = pa.array([fn(v) for v in uniq.to_pylist()], typ.value_type)
        return pa.DictionaryArray.from_arrays(pc.index_in(arr, uniq, skip_nulls=False),
                                              mapped)
    mapped = pa.array([fn(v) for v in uniq.to_pylist()], typ)
    return pc.take(mapped, pc.index_in(arr, uniq, skip_nulls=False))


def repeat_text(text: str, n: int) -> pa.DictionaryArray:
    """`text` n times: one dictionary entry, and a slice of one cached zeros array."""
    global _ZEROS
    if len(_ZEROS) < n:
        size = max(n, 2 * len(_ZEROS))
        _ZEROS = pa.Array.from_buffers(pa.int32(), size, [None, pa.py_buffer(bytes(4 * size))])
    return pa.DictionaryArray.from_arrays(_ZEROS.slice(0, n), pa.array([text], pa.string()))


_ZEROS = pa.array([], pa.int32())


def _errnos(res: pa.Array) -> pa.DictionaryArray:
    """The error's name of each failed call (result -1 .. -4095), else null; the
    dictionary holds the names used only (each batch's dictionary is written out
    whole: all 4095 took 29 ns an event of the Parquet writing)."""
    r = to_numpy(res)
    failed = (r < 0) & (r >= -_ERRNO_MAX)
    if not failed.any():   # half the batches
        return nulls(len(r), qs.TEXT_DICT)
    code = np.where(failed, -r, 0)
    return compact(code, ~failed, _ERRNO_NAMES)


def compact(indices: np.ndarray, null: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    """values[indices] as a dictionary of the values used only; null where `null`."""
    used = np.flatnonzero(np.bincount(indices[~null], minlength=1))
    remap = np.zeros(len(values), np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    return pa.DictionaryArray.from_arrays(
        from_numpy(remap[indices], pa.int32(), null if null.any() else None),
        values.take(from_numpy(used.astype(np.int64), pa.int64())))


_ERRNO_MAX = 4095
_ERRNO_NAMES = pa.array([None] + [errno_name(-c) for c in range(1, _ERRNO_MAX + 1)],
                        pa.string())


def group_batch(g, seq: pa.Array, endpoints: Endpoints) -> pa.RecordBatch:
    """One event type's rows (of one chunk, or gathered), in STAGE_ARROW's layout."""
    n, cols, params, etype = g.n, g.cols, g.params, g.etype
    res = column(cols["res"], n, pa.int64())
    out = {
        "seq": seq, "ts": same_bytes(cols["ts"], n, pa.timestamp("ns")),
        "ts_ns": same_bytes(cols["ts"], n, pa.int64()),
        "cpu": column(cols["cpu"], n, pa.uint16()),
        "tid": column(cols["tid"], n, pa.int64()), "pid": column(cols["pid"], n, pa.int64()),
        "ppid": column(cols["ppid"], n, pa.int64()),
        "uid": column(cols["uid"], n, pa.uint32()), "gid": column(cols["gid"], n, pa.uint32()),
        "comm": comm_column(cols["comm"], n),
        "cgroup": column(cols["cgroup"], n, pa.uint64()), "result": res,
        "type": repeat_text(etype.name, n),
    }
    if etype.returns:
        out["errno"] = _errnos(res)
    fam = qs.family_params(etype)
    for col in ("fd", "path", "path_raw", "path2", "path2_raw", "flags", "mode", "data"):
        name = fam.get(col)
        if name is not None and name in params:
            out[col] = column(params[name], n, qs.STAGE_ARROW.field(col).type)
    if "fd" not in out and etype.res == "fd":
        out["fd"] = pc.if_else(pc.greater_equal(res, 0), res, None)
    _endpoint_columns(out, fam, params, n, endpoints)
    if "family" not in out and "domain" in params:
        names = VALUE_TABLES["domain"]
        out["family"] = _lookup(params["domain"], n, lambda v: names.get(v, str(v)),
                                qs.TEXT_DICT)
    out["args"] = pa.ExtensionArray.from_storage(
        pa.json_(), args_json.objects(etype, params, n, column, _lookup))
    arrays = [out[f.name] if f.name in out else nulls(n, f.type) for f in qs.STAGE_ARROW]
    return pa.RecordBatch.from_arrays(arrays, schema=qs.STAGE_ARROW)


def _decoded(arr: pa.Array) -> pa.Array:
    return arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr


def _endpoint_columns(out, fam, params, n, endpoints) -> None:
    for end in ("local", "remote"):
        name = fam.get(end)
        if name is None or name not in params:
            continue
        raw = pa.array(params[name], pa.binary())
        for i, col in ((1, f"{end}_addr"), (2, f"{end}_port")):
            typ = qs.STAGE_ARROW.field(col).type
            out[col] = _lookup(raw, n, lambda v, i=i: endpoints(v)[i], typ)
        # (a null family is a null in the dictionary, which null_count does not count:
        # a unix connect's unread local address hid its peer's AF_UNIX)
        have = _decoded(out["family"]) if "family" in out else None
        if have is None or have.null_count:
            fams = _lookup(raw, n, lambda v: endpoints(v)[0], qs.TEXT_DICT)
            out["family"] = fams if have is None else pc.dictionary_encode(
                pc.coalesce(have, fams.dictionary_decode()))


class Gathered:
    """Several chunks' groups of one event type as one (the shape of a ChunkGroup)."""

    __slots__ = ("etype", "n", "cols", "params")

    def __init__(self, groups: list):
        first = groups[0]
        self.etype = first.etype
        self.n = sum(g.n for g in groups)
        self.cols = _joined([g.cols for g in groups], [g.n for g in groups])
        self.params = _joined([g.params for g in groups], [g.n for g in groups])


def _joined(maps: list[dict], sizes: list[int]) -> dict:
    """Columns of several groups end to end; a column some group lacks is nulls there
    (as that group's own batch would have it)."""
    out = {}
    for name in dict.fromkeys(chain.from_iterable(maps)):
        parts = [m[name] if name in m else [None] * n for m, n in zip(maps, sizes)]
        dtypes = {p.dtype if isinstance(p, Packed) else None for p in parts}
        if len(dtypes) == 1 and None not in dtypes:   # packed alike: the bytes end to end
            out[name] = Packed(dtypes.pop(), b"".join(p.data for p in parts))
            continue
        parts = [p.decoded() if isinstance(p, Packed) else p for p in parts]
        kinds = {p.typecode if isinstance(p, array) else type(p) for p in parts}
        if len(kinds) == 1 and isinstance(parts[0], array):   # a big-endian host's arrays
            joined = array(parts[0].typecode)
            for p in parts:
                joined.extend(p)
            out[name] = joined
        else:
            out[name] = list(chain.from_iterable(parts))
    return out


class Gatherer:
    """Chunks in, flush windows out: each event type's rows wait until `rows` rows of
    all types are waiting (then every type's rows are passed on as one part), which
    bounds the memory held to about that many decoded events."""

    def __init__(self, rows: int = 1 << 18):
        self.rows = rows
        self.endpoints = Endpoints()
        self._waiting: dict = {}   # type id -> ([group], [seq array])
        self._count = 0

    def add(self, groups: dict, order, base: int):
        """One chunk, taken at once; `base` is the seq of its first event. Returns the
        window's (type id, group, seq) parts to pass on: none until enough rows wait."""
        for tid, g, seq in chunk_groups(groups, order, base):
            got = self._waiting.setdefault(tid, ([], []))
            got[0].append(g)
            got[1].append(seq)
            self._count += g.n
        return self.flush() if self._count >= self.rows else []

    def flush(self) -> list:
        """Every waiting row, as (type id, group, seq) parts, one per type."""
        waiting, self._waiting, self._count = self._waiting, {}, 0
        return [(tid, *merged(gs, seqs)) for tid, (gs, seqs) in waiting.items()]


def merged(groups: list, seqs: list) -> tuple:
    """Groups of one type (and their seq arrays) as one."""
    if len(groups) == 1:
        return groups[0], seqs[0]
    return Gathered(groups), pa.concat_arrays(seqs)


def header_batch(g, seq: pa.Array) -> pa.RecordBatch:
    """Only the columns that tell whose a row is (seq, ts_ns, pid, ppid, comm, uid,
    gid), typed as group_batch types them but comm: a fraction of a whole batch's work.
    comm stays the packed 16-byte fields (comm_bytes() reads one): only a new pid's
    first row is ever read."""
    n, cols = g.n, g.cols
    comm = comm_fields(cols["comm"], n)
    return pa.RecordBatch.from_pydict({
        "seq": seq, "ts_ns": same_bytes(cols["ts"], n, pa.int64()),
        "pid": column(cols["pid"], n, pa.int64()),
        "ppid": column(cols["ppid"], n, pa.int64()),
        "comm": comm if comm is not None else comm_column(cols["comm"], n),
        "uid": column(cols["uid"], n, pa.uint32()), "gid": column(cols["gid"], n, pa.uint32())})


def comm_bytes(value) -> bytes | None:
    """A comm as header_batch or group_batch holds it (the packed field, or text), as
    the bytes it stands for; empty is None."""
    if isinstance(value, bytes):
        value = value.split(b"\0", 1)[0]
    elif value is not None:
        value = value.encode()
    return value or None


def chunk_groups(groups: dict, order, base: int):
    """(type id, group, seq) of one chunk's groups: each row's seq is its place in the
    chunk's time order, plus `base`. One stable sort of the order array by type gives
    every group's places at once, each group's in time order."""
    order_arr = pa.Array.from_buffers(pa.uint16(), len(order), [None, pa.py_buffer(order)])
    places = pc.cast(pc.add(pc.sort_indices(order_arr), pa.scalar(base, pa.uint64())),
                     pa.int64())
    counts = {tid: g.n for tid, g in groups.items()}
    if sum(counts.values()) != len(order):   # types the reader left out hold places too
        vc = pc.value_counts(order_arr)
        counts = dict(zip(vc.field(0).to_pylist(), vc.field(1).to_pylist()))
    at = 0
    for tid in sorted(counts):
        if tid in groups:
            yield tid, groups[tid], places.slice(at, counts[tid])
        at += counts[tid]


def lifecycle_rows(g, seq: pa.Array) -> list[dict]:
    """procfork/procexec/procexit rows as small dicts (they are few), for the process
    table. Each keeps the header fields and the parameters the table needs."""
    keys = ("child_pid", "child_tid", "exe", "cwd", "argv", "filename", "loginuid",
            "sessionid", "sid", "pgid", "tty", "container_id", "status", "sig", "core")
    cols, params, name = g.cols, g.params, g.etype.name
    present = [k for k in keys if k in params]
    rows = []
    seqs = seq.to_pylist()
    cols = {k: _plain(v) for k, v in cols.items()}
    params = {k: _plain(params[k]) for k in present}
    for i in range(g.n):
        row = {"seq": seqs[i], "type": name, "ts": cols["ts"][i], "tid": cols["tid"][i],
               "pid": cols["pid"][i], "ppid": cols["ppid"][i], "uid": cols["uid"][i],
               "gid": cols["gid"][i], "comm": cols["comm"][i]}
        for k in present:
            row[k] = params[k][i]
        rows.append(row)
    return rows


def _plain(values):
    """A column as values one can index (a packed one decoded)."""
    if isinstance(values, Packed):
        return values.decoded()
    if isinstance(values, bytes):   # comm as packed fields without their Packed
        return decode_column("bytes16", values)
    return values
