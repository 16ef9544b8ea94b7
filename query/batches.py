"""A capture's chunks as Arrow record batches, column by column: packed integer columns
are wrapped without copying, only variable-length values are touched one by one."""
from array import array

import pyarrow as pa
import pyarrow.compute as pc

from scapula.capture.decoder import split_argv
from scapula.query import schema as qs
from scapula.schemas import sockaddr
from scapula.schemas.flags import VALUE_TABLES

_ARRAY_TYPES = {"Q": pa.uint64(), "q": pa.int64(), "I": pa.uint32(), "H": pa.uint16(),
                "i": pa.int32(), "l": pa.int64(), "L": pa.uint64()}
LIFECYCLE = ("procfork", "procexec", "procexit")


def column(values, n: int, typ: pa.DataType) -> pa.Array:
    """One chunk column (a packed array, or a list of ints, bytes or None) as `typ`."""
    if isinstance(values, array) and values.typecode in _ARRAY_TYPES:
        arr = pa.Array.from_buffers(_ARRAY_TYPES[values.typecode], n,
                                    [None, pa.py_buffer(values)])
        return arr if arr.type == typ else arr.cast(typ)
    if pa.types.is_string(typ):
        return text_column(values)
    if pa.types.is_list(typ):
        return pa.array([_argv_text(v) for v in values], typ)
    return pa.array(values, typ)


def text_column(values) -> pa.Array:
    """Bytes to text. Valid UTF-8 goes through as is (Arrow checks it in C); a column with
    other bytes falls back to Python, escaping them (\\xNN) rather than failing."""
    arr = pa.array(values, pa.binary())
    try:
        return arr.cast(pa.string())
    except pa.ArrowInvalid:
        return pa.array([None if v is None else v.decode("utf-8", "backslashreplace")
                         for v in values], pa.string())


def _text(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "backslashreplace")


def _argv_text(block):
    parts = split_argv(block) if isinstance(block, bytes) else block
    return None if parts is None else [_text(p) for p in parts]


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


def group_batch(g, seq: pa.Array, endpoints: Endpoints) -> pa.RecordBatch:
    """One event type's rows of one chunk, in the stage table's layout."""
    n, cols, params, etype = g.n, g.cols, g.params, g.etype
    res = column(cols["res"], n, pa.int64())
    ts = column(cols["ts"], n, pa.uint64()).cast(pa.int64())
    out = {
        "seq": seq, "ts": ts.cast(pa.timestamp("ns")), "ts_ns": ts,
        "cpu": column(cols["cpu"], n, pa.uint16()),
        "tid": column(cols["tid"], n, pa.int64()), "pid": column(cols["pid"], n, pa.int64()),
        "ppid": column(cols["ppid"], n, pa.int64()), "uid": column(cols["uid"], n, pa.int64()),
        "gid": column(cols["gid"], n, pa.int64()), "comm": text_column(cols["comm"]),
        "cgroup": column(cols["cgroup"], n, pa.uint64()), "result": res,
        "type_id": column(array("H", [etype.id]) * n, n, pa.uint16()),
    }
    fam = qs.family_params(etype)
    for col in ("fd", "path", "path_raw", "path2", "path2_raw", "flags", "mode"):
        name = fam.get(col)
        if name is not None and name in params:
            out[col] = column(params[name], n, qs.STAGE_ARROW.field(col).type)
    if "fd" not in out and etype.res == "fd":
        out["fd"] = pc.if_else(pc.greater_equal(res, 0), res, None)
    _endpoint_columns(out, fam, params, n, endpoints)
    if "family" not in out and "domain" in params:
        names = VALUE_TABLES["domain"]
        out["family"] = pa.array([names.get(v, str(v)) for v in params["domain"]], pa.string())
    out["args"] = _args(etype, params, n)
    arrays = [out.get(f.name) if f.name in out else pa.nulls(n, f.type)
              for f in qs.STAGE_ARROW]
    return pa.RecordBatch.from_arrays(arrays, schema=qs.STAGE_ARROW)


def _endpoint_columns(out, fam, params, n, endpoints) -> None:
    for end in ("local", "remote"):
        name = fam.get(end)
        if name is None or name not in params:
            continue
        decoded = [endpoints(raw) for raw in params[name]]
        out[f"{end}_addr"] = pa.array([d[1] for d in decoded], pa.string())
        out[f"{end}_port"] = pa.array([d[2] for d in decoded], pa.int32())
        if "family" not in out or out["family"].null_count:
            fams = pa.array([d[0] for d in decoded], pa.string())
            out["family"] = fams if "family" not in out else pc.coalesce(out["family"], fams)


def _args(etype, params, n) -> pa.StructArray:
    fields = {}
    for p in qs.args_params(etype):
        key = qs.arg_key(p)
        if key is None or p.name not in params:
            continue
        typ = qs.ARGS_ARROW.field(key).type
        values = params[p.name]
        if p.kind == "sockaddr":
            values = [None if v is None else sockaddr.text(v) for v in values]
            fields[key] = pa.array(values, pa.string())
        else:
            fields[key] = column(values, n, typ)
    arrays = [fields.get(f.name) if f.name in fields else pa.nulls(n, f.type)
              for f in qs.ARGS_ARROW]
    return pa.StructArray.from_arrays(arrays, fields=list(qs.ARGS_ARROW))


def chunk_batches(groups: dict, order, base: int, endpoints: Endpoints):
    """The record batches of one chunk (one per event type); `base` is the seq of its
    first event. Each row's seq is its place in the chunk's time order."""
    order_arr = pa.Array.from_buffers(pa.uint16(), len(order), [None, pa.py_buffer(order)])
    for tid, g in groups.items():
        where = pc.indices_nonzero(pc.equal(order_arr, tid)).cast(pa.int64())
        yield g, group_batch(g, pc.add(where, base), endpoints)


def lifecycle_rows(g, seq: pa.Array) -> list[dict]:
    """procfork/procexec/procexit rows as small dicts (they are few), for the process
    table. Each keeps the header fields and the parameters the table needs."""
    keys = ("child_pid", "child_tid", "exe", "cwd", "argv", "filename", "loginuid",
            "sessionid", "sid", "pgid", "tty", "container_id", "status", "sig", "core")
    cols, params, name = g.cols, g.params, g.etype.name
    present = [k for k in keys if k in params]
    rows = []
    seqs = seq.to_pylist()
    for i in range(g.n):
        row = {"seq": seqs[i], "type": name, "ts": cols["ts"][i], "tid": cols["tid"][i],
               "pid": cols["pid"][i], "ppid": cols["ppid"][i], "uid": cols["uid"][i],
               "gid": cols["gid"][i], "comm": cols["comm"][i]}
        for k in present:
            row[k] = params[k][i]
        rows.append(row)
    return rows
