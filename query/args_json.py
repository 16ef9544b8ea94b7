"""The `args` column: an event type's parameters that have no column of their own, as
one JSON object per row, written column by column in Arrow.

Why JSON and not a typed STRUCT: a STRUCT has one field per parameter name of every
event type (75), and DuckDB stores and copies every field of every row, set or not:
inserting it cost 1.2-1.3 µs per event (more than the whole loading budget) and 755 of
the 1,006 MB that 1.2M events took in memory. The JSON text of only the fields a type
has costs ~80 ns per event to insert. It also keeps `events` the same shape whatever
parameters a later event table adds, so databases and Parquet exports of different
scapula versions still line up. JSON keeps numbers apart from text, and DuckDB casts
them back: CAST(args->>'uid' AS BIGINT); `query.schema.arg()` writes that for a key;
the typed.<type> views (query/typed_views.py) give each type's args as a typed STRUCT."""
import pyarrow as pa
import pyarrow.compute as pc

from scapula.query import schema as qs
from scapula.schemas import sockaddr

_NUMBER_KINDS = {"fd", "int", "pid", "uid", "gid", "uint", "mode", "flags", "tty"}
_TEXT_KINDS = {"path", "str", "abspath", "container"}
# JSON forbids these raw in a string; any other character may stand as it is.
_CONTROL = [chr(c) for c in range(0x20)]
_CONTROL_RE = "[\x00-\x1f]"
_SPECIAL_RE = '[\\\\"\x00-\x1f]'   # what escaped() changes


def objects(etype, params: dict, n: int, column, lookup) -> pa.Array:
    """The JSON text of each of `n` rows of one event type. `params` are its parameter
    columns; `column(values, n, type)` and `lookup(values, n, fn, type)` are the batch
    builder's converters (batches.column, batches._lookup). The text is valid JSON by
    construction: the loader hands it to DuckDB as Arrow's JSON type, which DuckDB
    takes without parsing it again (35 ns a row against 64)."""
    pieces = []   # each a field's '"name":value' text, its separator in front
    for p in _fields(etype):
        if p.name not in params:
            continue
        key = ("{" if not pieces else ",") + f'"{p.name}":'
        values = params[p.name]
        if p.kind in _NUMBER_KINDS:
            pieces.append(_numbers(column(values, n, qs.SQL_ARROW[qs.KIND_SQL[p.kind]]), key))
            continue
        if p.kind in _TEXT_KINDS:
            text = _quoted(column(values, n, pa.string()))
        elif p.kind == "sockaddr":
            text = _quoted(lookup(values, n, lambda v: None if v is None else sockaddr.text(v),
                                  pa.string()))
        elif p.kind == "argv":
            text = _array(values, column)
        else:
            continue
        pieces.append(pc.binary_join_element_wise(key, pc.fill_null(text, "null"), ""))
    if not pieces:
        return pa.repeat(pa.scalar("{}", pa.string()), n)
    if len(pieces) == 1 and isinstance(pieces[0], pa.DictionaryArray):
        one = pieces[0]   # the generic event's lone `nr`: the closing brace goes in too
        return pc.take(pc.binary_join_element_wise(one.dictionary, "}", ""), one.indices)
    plain = [x.dictionary_decode() if isinstance(x, pa.DictionaryArray) else x
             for x in pieces]
    return pc.binary_join_element_wise(*plain, "}", "")


def _numbers(values: pa.Array, key: str) -> pa.DictionaryArray:
    """key + each number as text. Numbers repeat (a syscall number, flags, an fd), so
    each distinct one is written once: ~12 ns a row against ~60 written one by one."""
    d = pc.dictionary_encode(values, null_encoding="encode")
    text = pc.fill_null(pc.binary_join_element_wise(key, pc.cast(d.dictionary, pa.string()), ""),
                        key + "null")
    return pa.DictionaryArray.from_arrays(d.indices, text)


def _fields(etype) -> list:
    got = _FIELDS.get(etype.id)
    if got is None or got[0] is not etype:
        got = _FIELDS[etype.id] = (etype, qs.args_params(etype))
    return got[1]


_FIELDS: dict = {}


def escaped(text: pa.Array, nul: str | None = None) -> pa.Array:
    """Text made safe inside a JSON string: backslash, quote and control characters.
    `nul`: what a NUL becomes instead (the separator of an argv block's arguments).
    Text that has none of them (most paths) is returned as it is after one pass."""
    if nul is None and not pc.any(pc.match_substring_regex(text, _SPECIAL_RE)).as_py():
        return text
    text = pc.replace_substring(text, "\\", "\\\\")
    text = pc.replace_substring(text, '"', '\\"')
    if nul is not None:
        text = pc.replace_substring(text, "\0", nul)
    if pc.any(pc.match_substring_regex(text, _CONTROL_RE)).as_py():
        for ch in _CONTROL:
            text = pc.replace_substring(text, ch, "\\u%04x" % ord(ch))
    return text


def _quoted(text: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise('"', escaped(text), '"', "")


def _array(blocks, column) -> pa.Array:
    """argv/envp blocks (each argument followed by a NUL) as JSON arrays of strings,
    without splitting them: the NULs become the '","' between the arguments. Each
    distinct block is written once: the same environment comes exec after exec."""
    raw = blocks if isinstance(blocks, pa.Array) else pa.array(blocks, pa.binary())
    d = pc.dictionary_encode(raw)
    raw = d.dictionary
    # A last NUL ends the last argument; a block without one was cut short, its last
    # argument partial (split_argv's rule).
    ended = pc.ends_with(raw, b"\0")
    body = pc.binary_slice(raw, 0, -1)
    if not pc.all(ended).as_py():
        body = pc.if_else(ended, body, raw)
    utf8 = column(body, len(body), pa.string())   # bytes not UTF-8: \xNN, not lost
    joined = pc.binary_join_element_wise('["', escaped(utf8, nul='","'), '"]', "")
    return pc.take(pc.if_else(pc.equal(pc.binary_length(raw), 0), "[]", joined), d.indices)

