"""Conditions compiled once to Python closures, evaluated per event. (Which event types a
condition can match is rules/analysis.py's job.)

The input is the parser's AST (scapula.replay.filter.ast) after macros and lists are
resolved; the output is a function of a fields.Context returning True or False.
Values are compared by the field's type: numbers as numbers, addresses as addresses,
networks by containment, booleans from true/false. A field whose value is unknown
(None) makes every comparison false, `exists` included, as in Falco. Which operators
each type takes, and which types each transformer takes, are libsinsp's rules
(tests/unit/test_filter_eval_conformance.py holds scapula to its tests).
"""
import base64
import binascii
import fnmatch
import ipaddress
import posixpath
import re

from scapula.replay import fields as F
from scapula.replay import multivalue
from scapula.replay.filter import ast

NUMERIC = {F.INT64, F.UINT64, F.UINT32, F.PORT, F.RELTIME, F.ABSTIME}
STRINGS = {F.CHARBUF, F.FSPATH, F.L4PROTO}

# libsinsp's flt_is_comparable: the operators each type takes (`exists` goes with all).
_NUMBER_OPS = frozenset(("=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects"))
_EQUALITY_OPS = frozenset(("=", "==", "!=", "in", "intersects"))
_OPERATORS = {
    **dict.fromkeys(NUMERIC, _NUMBER_OPS),
    F.BOOL: _EQUALITY_OPS, F.IPADDR: _EQUALITY_OPS, F.IPNET: _EQUALITY_OPS,
    **dict.fromkeys(STRINGS, _NUMBER_OPS | {"contains", "icontains", "startswith", "endswith",
                                            "glob", "iglob", "pmatch", "regex"}),
    F.BYTEBUF: _EQUALITY_OPS | {"contains", "startswith", "endswith", "bcontains",
                                "bstartswith"},
    F.LIST: frozenset(("in", "intersects")),
}
# libsinsp's transform_type: the field types each transformer takes (a LIST's items
# are CHARBUF); the result has the input's type, but len's is a number.
_TRANSFORMER_INPUTS = {
    "tolower": STRINGS, "toupper": STRINGS, "basename": STRINGS,
    "b64": {F.CHARBUF, F.BYTEBUF}, "len": STRINGS | {F.BYTEBUF},
}


class CompileError(Exception):
    """A condition that parses but cannot run: an unknown field, an operator the
    field's type does not take, a value that does not fit the type."""

    def __init__(self, message: str, node=None):
        super().__init__(message)
        self.message, self.node = message, node


def compile_condition(node, known=F.lookup):
    """A predicate ctx -> bool for an AST without macro references left."""
    return Compiler(known).expr(node)


def _memoized(extract, key, arg):
    """A field getter that reads each field once per event: the rules of one event
    type mostly test the same few fields (proc.name, fd.name, evt.type...)."""
    def get(ctx):
        values = ctx.values
        if key in values:
            return values[key]
        value = values[key] = extract(ctx, arg)
        return value
    return get


# and/or as plain loops (a generator per evaluation costs more than the tests it
# runs), with the common two-part case unrolled
def _all(parts):
    if len(parts) == 2:
        a, b = parts
        return lambda ctx: a(ctx) and b(ctx)

    def every(ctx):
        for p in parts:
            if not p(ctx):
                return False
        return True
    return every


def _any_of(parts):
    if len(parts) == 2:
        a, b = parts
        return lambda ctx: bool(a(ctx) or b(ctx))

    def some(ctx):
        for p in parts:
            if p(ctx):
                return True
        return False
    return some


class Compiler:
    def __init__(self, known):
        self.known = known

    def expr(self, node):
        if isinstance(node, ast.And):
            return _all([self.expr(c) for c in node.children])
        if isinstance(node, ast.Or):
            return _any_of([self.expr(c) for c in node.children])
        if isinstance(node, ast.Not):
            inner = self.expr(node.child)
            return lambda ctx: not inner(ctx)
        if isinstance(node, ast.UnaryCheck):
            get, _type = self.operand(node.left)
            return lambda ctx: get(ctx) is not None
        if isinstance(node, ast.BinaryCheck):
            return self.check(node)
        if isinstance(node, ast.Identifier):
            raise CompileError(f"undefined macro '{node.name}'", node)
        raise CompileError(f"unexpected {type(node).__name__} where a check belongs", node)

    # --- the left side: a field, or a transformer over one ------------------------------
    def operand(self, node):
        """(getter ctx -> value, field type)."""
        if isinstance(node, ast.Field):
            found = self.known(node.name)
            if found is None:
                raise CompileError(f"filter_check called with nonexistent field {node.name}",
                                   node)
            field, dotted = found
            arg = node.arg if node.arg is not None else dotted
            if field.arg == "required" and arg is None:
                raise CompileError(f"field {node.name} requires an argument", node)
            return _memoized(field.extract, (field.name, arg), arg), field.type
        if isinstance(node, ast.Transformer):
            return self.transformer(node)
        raise CompileError(f"a field was expected, not {type(node).__name__}", node)

    def transformer(self, node):
        if node.arg is not None and node.name != "getopt":
            raise CompileError(f"transformer '{node.name}' does not support field arguments",
                               node)
        if node.name == "val":
            return self.operand(node.values[0])
        if node.name in multivalue.NAMES:
            return multivalue.compile_transformer(node, self.operand)
        if len(node.values) != 1:
            raise CompileError(f"transformer '{node.name}' takes one argument", node)
        inner, type_ = multivalue.argument(node.values[0], self.operand)
        fn = _TRANSFORMERS.get(node.name)
        if fn is None:
            raise CompileError(f"transformer '{node.name}' is not supported", node)
        out_type = _transformed_type(node, type_)
        if node.name == "len" and type_ == F.LIST:
            return (lambda ctx: _count(inner(ctx))), out_type

        def get(ctx):
            v = inner(ctx)
            if v is None:
                return None
            return [fn(x) for x in v] if isinstance(v, list) else fn(v)
        return get, out_type

    # --- comparisons ---------------------------------------------------------------
    def check(self, node):
        if " " in node.op:
            return self.modified(node)
        get, type_ = self.operand(node.left)
        op = node.op
        right = node.right
        check_operator(type_, op, node)
        ops = _BYTE_OPS if type_ == F.BYTEBUF else OPS
        if type_ == F.BYTEBUF:
            get = _as_bytes(get)
        if isinstance(right, (ast.Field, ast.Transformer)):
            other, other_type = self.operand(right.values[0] if isinstance(right, ast.Transformer)
                                             and right.name == "val" else right)
            _check_comparable(type_, other_type, node)
            test = ops.get(op)
            if test is None:
                raise CompileError(f"operator '{op}' cannot compare two fields", node)
            return lambda ctx: _both(get(ctx), other(ctx), test)
        values = right.values if isinstance(right, ast.ListValue) else [right.value]
        convert = converter(type_, op, node)
        wanted = [convert(v) for v in values]
        if type_ == F.IPNET:
            return _in_networks(get, op, wanted, node)
        if op in ("in", "intersects"):
            wanted_set = set(wanted)
            if op == "in":
                return lambda ctx: _any(get(ctx), wanted_set.__contains__)
            return lambda ctx: _intersects(get(ctx), wanted_set)
        if op == "pmatch":
            prefixes = [w.rstrip("/") for w in wanted]
            return lambda ctx: _any(get(ctx), lambda v: any(
                v == p or v.startswith(p + "/") for p in prefixes))
        test = ops.get(op)
        if test is None:
            raise CompileError(f"operator '{op}' is not supported", node)
        if len(wanted) != 1:
            raise CompileError(f"operator '{op}' takes one value", node)
        w = wanted[0]
        if op == "!=":
            return lambda ctx: _defined_not(get(ctx), lambda v: v == w)
        return lambda ctx: _any(get(ctx), lambda v: test(v, w))

    def modified(self, node):
        """`f op anyof (a, b)` / `oneof` / `allof`: libsinsp's operator modifiers, sugar
        for `f op a or f op b` (anyof; no case in libsinsp's tests tells oneof from it,
        so it is read the same) and `f op a and f op b` (allof). An empty list matches
        nothing, allof's included."""
        op, modifier = node.op.split(" ", 1)
        check_operator(self.operand(node.left)[1], op, node)
        right = node.right
        values = right.values if isinstance(right, ast.ListValue) else [right.value]
        parts = [self.check(ast.BinaryCheck(node.left, op, ast.Value(v), pos=node.pos))
                 for v in values]
        if not parts:
            return lambda ctx: False
        if modifier == "allof":
            return lambda ctx: all(p(ctx) for p in parts)
        return lambda ctx: any(p(ctx) for p in parts)


def check_operator(type_, op, node) -> None:
    allowed = _OPERATORS.get(type_)
    if allowed is not None and op not in allowed:
        raise CompileError(f"operator '{op}' does not apply to a {type_} field", node)


_FAMILIES = {**dict.fromkeys(NUMERIC, "number"), **dict.fromkeys(STRINGS, "string"),
             F.BYTEBUF: "string", F.IPADDR: "ip", F.IPNET: "ip"}


def _check_comparable(type_, other_type, node) -> None:
    """A field compared with another (val()) must hold the same kind of value."""
    if _FAMILIES.get(type_, type_) != _FAMILIES.get(other_type, other_type):
        raise CompileError(f"cannot compare a {type_} field with a {other_type} one", node)


def _transformed_type(node, type_):
    inputs = _TRANSFORMER_INPUTS.get(node.name, ())
    if (F.CHARBUF if type_ == F.LIST else type_) not in inputs:
        raise CompileError(f"field type '{type_}' is not supported by '{node.name}' "
                           "transformer", node)
    return F.UINT64 if node.name == "len" else type_


def _count(value):
    return None if value is None else len(value)


def _in_networks(get, op, wanted, node):
    """An IPNET field against CIDRs: `=`, `in` and `intersects` test containment in any."""
    try:
        nets = [ipaddress.ip_network(w, strict=False) for w in wanted]
    except ValueError as e:
        raise CompileError(f"not a network: {e}", node) from None
    hit = lambda v: any(v in n for n in nets)  # noqa: E731
    if op == "!=":
        return lambda ctx: _defined_not(get(ctx), hit)
    return lambda ctx: _any(get(ctx), hit)


def converter(type_, op, node):
    if type_ == F.BYTEBUF:
        return _bytes_converter(op, node)
    if type_ in STRINGS or type_ == F.LIST:
        return _text_converter(op, node)
    if op in ("contains", "icontains", "startswith", "endswith", "glob", "iglob", "regex",
              "bcontains", "bstartswith"):
        return str
    if type_ in NUMERIC:
        def number(v):
            try:
                return int(v, 0)
            except ValueError:
                raise CompileError(f"'{v}' is not a number", node) from None
        return number
    if type_ == F.BOOL:
        def boolean(v):
            if v.lower() not in ("true", "false"):
                raise CompileError(f"'{v}' is not true or false", node)
            return v.lower() == "true"
        return boolean
    if type_ == F.IPADDR:
        def address(v):
            try:
                return str(ipaddress.ip_address(v))
            except ValueError:
                return v   # a CIDR or a name: compares false
        return address
    return str


_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def _bytes_converter(op, node):
    """A BYTEBUF's values are bytes: hex digits for bcontains and bstartswith, else the
    text's own bytes (NUL included)."""
    if op in ("bcontains", "bstartswith"):
        def hex_bytes(v):
            if not _HEX.fullmatch(v):
                raise CompileError(f"'{v}' is not an even number of hex digits", node)
            return bytes.fromhex(v)
        return hex_bytes
    return lambda v: v.encode("utf-8", "surrogateescape")


def _text_converter(op, node):
    """A string field's values: text without NUL (libsinsp's strings end at one), and a
    regex that compiles."""
    def text(v):
        if "\0" in v:
            raise CompileError(f"a string value cannot hold a NUL byte: {v!r}", node)
        if op == "regex":
            try:
                re.compile(v)
            except re.error as e:
                raise CompileError(f"invalid regex '{v}': {e}", node) from None
        return v
    return text


def _as_bytes(get):
    def extract(ctx):
        v = get(ctx)
        if v is None:
            return None
        return [_raw(x) for x in v] if isinstance(v, list) else _raw(v)
    return extract


def _any(value, test) -> bool:
    if value is None:
        return False
    if isinstance(value, list):
        return any(test(v) for v in value if v is not None)
    return bool(test(value))


def _defined_not(value, hit) -> bool:
    """`!=`: an unknown value is not unequal either (it compares false)."""
    if value is None:
        return False
    if isinstance(value, list):
        return not any(hit(v) for v in value)
    return not hit(value)


def _intersects(value, wanted: set) -> bool:
    if value is None:
        return False
    return bool(wanted.intersection(value if isinstance(value, list) else [value]))


def _both(a, b, test) -> bool:
    if a is None or b is None:
        return False
    return bool(test(a, b))


def _glob(v, w):
    return fnmatch.fnmatchcase(str(v), w)


def _regex(v, w, _cache={}):
    pattern = _cache.get(w)
    if pattern is None:
        pattern = _cache[w] = re.compile(w)
    return pattern.search(str(v)) is not None


OPS = {
    "=": lambda v, w: v == w, "==": lambda v, w: v == w, "!=": lambda v, w: v != w,
    "<": lambda v, w: v < w, "<=": lambda v, w: v <= w,
    ">": lambda v, w: v > w, ">=": lambda v, w: v >= w,
    "contains": lambda v, w: w in str(v), "icontains": lambda v, w: w.lower() in str(v).lower(),
    "startswith": lambda v, w: str(v).startswith(w), "endswith": lambda v, w: str(v).endswith(w),
    "glob": _glob, "iglob": lambda v, w: fnmatch.fnmatchcase(str(v).lower(), w.lower()),
    "regex": _regex,
}


# BYTEBUF: both sides bytes (the values converted, the field's through _as_bytes).
_BYTE_OPS = {
    "=": lambda v, w: v == w, "==": lambda v, w: v == w, "!=": lambda v, w: v != w,
    "contains": lambda v, w: w in v, "bcontains": lambda v, w: w in v,
    "startswith": lambda v, w: v.startswith(w), "bstartswith": lambda v, w: v.startswith(w),
    "endswith": lambda v, w: v.endswith(w),
}


def _raw(v) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode("utf-8", "surrogateescape")


def _b64(v):
    """libsinsp decodes base64 with or without its '=' padding; what is not base64 has
    no value."""
    data = _raw(v).rstrip(b"=")
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True) \
            .decode("utf-8", "surrogateescape")
    except (binascii.Error, ValueError):
        return None


_TRANSFORMERS = {
    "tolower": lambda v: str(v).lower(),
    "toupper": lambda v: str(v).upper(),
    "b64": _b64,
    "basename": lambda v: posixpath.basename(str(v)),
    "len": lambda v: len(_raw(v)),   # bytes, as libsinsp counts
}
