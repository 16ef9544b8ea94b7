"""Conditions compiled once to Python closures, evaluated per event. (Which event types a
condition can match is rules/analysis.py's job.)

The input is the parser's AST (scapula.replay.filter.ast) after macros and lists are
resolved; the output is a function of a fields.Context returning True or False.
Values are compared by the field's type: numbers as numbers, addresses as addresses,
networks by containment, booleans from true/false. A field whose value is unknown
(None) makes every comparison false, `exists` included, as in Falco.
"""
import base64
import fnmatch
import ipaddress
import posixpath
import re

from scapula.replay import fields as F
from scapula.replay.filter import ast

NUMERIC = {F.INT64, F.UINT64, F.UINT32, F.PORT, F.RELTIME, F.ABSTIME}


class CompileError(Exception):
    """A condition that parses but cannot run: an unknown field, an operator the
    field's type does not take, a value that does not fit the type."""

    def __init__(self, message: str, node=None):
        super().__init__(message)
        self.message, self.node = message, node


def compile_condition(node, known=F.lookup):
    """A predicate ctx -> bool for an AST without macro references left."""
    return _Compiler(known).expr(node)


class _Compiler:
    def __init__(self, known):
        self.known = known

    def expr(self, node):
        if isinstance(node, ast.And):
            parts = [self.expr(c) for c in node.children]
            return lambda ctx: all(p(ctx) for p in parts)
        if isinstance(node, ast.Or):
            parts = [self.expr(c) for c in node.children]
            return lambda ctx: any(p(ctx) for p in parts)
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
            extract = field.extract
            return (lambda ctx: extract(ctx, arg)), field.type
        if isinstance(node, ast.Transformer):
            return self.transformer(node)
        raise CompileError(f"a field was expected, not {type(node).__name__}", node)

    def transformer(self, node):
        if node.name == "val":
            return self.operand(node.values[0])
        inner, type_ = self.operand(node.values[0])
        fn = _TRANSFORMERS.get(node.name)
        if fn is None:
            raise CompileError(f"transformer '{node.name}' is not supported", node)
        out_type = F.UINT64 if node.name == "len" else F.CHARBUF

        def get(ctx):
            v = inner(ctx)
            if v is None:
                return None
            return [fn(x) for x in v] if isinstance(v, list) else fn(v)
        return get, out_type

    # --- comparisons ---------------------------------------------------------------
    def check(self, node):
        get, type_ = self.operand(node.left)
        op = node.op
        right = node.right
        if isinstance(right, (ast.Field, ast.Transformer)):
            other, _t = self.operand(right.values[0] if isinstance(right, ast.Transformer)
                                     and right.name == "val" else right)
            test = _OPS.get(op)
            if test is None:
                raise CompileError(f"operator '{op}' cannot compare two fields", node)
            return lambda ctx: _both(get(ctx), other(ctx), test)
        values = right.values if isinstance(right, ast.ListValue) else [right.value]
        convert = _converter(type_, op, node)
        wanted = [convert(v) for v in values]
        if op in ("in", "intersects"):
            wanted_set = set(wanted)
            if op == "in":
                return lambda ctx: _any(get(ctx), wanted_set.__contains__)
            return lambda ctx: _intersects(get(ctx), wanted_set)
        if op == "pmatch":
            prefixes = [w.rstrip("/") for w in wanted]
            return lambda ctx: _any(get(ctx), lambda v: any(
                v == p or v.startswith(p + "/") for p in prefixes))
        if type_ == F.IPNET and op in ("=", "==", "!="):
            nets = [ipaddress.ip_network(w, strict=False) for w in wanted]
            hit = lambda v: any(v in n for n in nets)  # noqa: E731
            if op == "!=":
                return lambda ctx: _defined_not(get(ctx), hit)
            return lambda ctx: _any(get(ctx), hit)
        test = _OPS.get(op)
        if test is None:
            raise CompileError(f"operator '{op}' is not supported", node)
        if len(wanted) != 1:
            raise CompileError(f"operator '{op}' takes one value", node)
        w = wanted[0]
        if op == "!=":
            return lambda ctx: _defined_not(get(ctx), lambda v: v == w)
        return lambda ctx: _any(get(ctx), lambda v: test(v, w))


def _converter(type_, op, node):
    if op in ("contains", "icontains", "startswith", "endswith", "glob", "iglob", "regex",
              "bcontains", "bstartswith"):
        if type_ in NUMERIC:
            raise CompileError(f"operator '{op}' does not apply to a {type_} field", node)
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


_OPS = {
    "=": lambda v, w: v == w, "==": lambda v, w: v == w, "!=": lambda v, w: v != w,
    "<": lambda v, w: v < w, "<=": lambda v, w: v <= w,
    ">": lambda v, w: v > w, ">=": lambda v, w: v >= w,
    "contains": lambda v, w: w in str(v), "icontains": lambda v, w: w.lower() in str(v).lower(),
    "startswith": lambda v, w: str(v).startswith(w), "endswith": lambda v, w: str(v).endswith(w),
    "bcontains": lambda v, w: bytes.fromhex(w) in _raw(v),
    "bstartswith": lambda v, w: _raw(v).startswith(bytes.fromhex(w)),
    "glob": _glob, "iglob": lambda v, w: fnmatch.fnmatchcase(str(v).lower(), w.lower()),
    "regex": _regex,
}


def _raw(v) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode("utf-8", "surrogateescape")


_TRANSFORMERS = {
    "tolower": lambda v: str(v).lower(),
    "toupper": lambda v: str(v).upper(),
    "b64": lambda v: base64.b64decode(_raw(v)).decode("utf-8", "surrogateescape"),
    "basename": lambda v: posixpath.basename(str(v)),
    "len": lambda v: len(v),
}
