"""Rules compiled to Python source: one function per event type that tests every rule
of that type and returns the rules that matched.

condition.py's closures cost a Python call for every node of every rule on every
event; an openat meets 21 of Falco's rules, most of them built from the same macros.
Here the rules of one event type become one function in which
- `evt.type` checks are settled when the function is made (it only sees its type);
- each field is read at most once per event, into a local variable;
- a sub-condition shared by several rules (a macro, mostly) is evaluated at most once;
- the common checks (=, !=, <, in, startswith, contains, exists...) on a field whose
  value is never a list are written out inline.
Everything else (transformers, val(), networks, bytes, fields that may hold a list)
calls condition.py's closure for that check, so both give the same answers (the
filter_eval conformance tests run both).
"""
from collections import Counter

from scapula.replay import fields as F
from scapula.replay.condition import (NUMERIC, STRINGS, CompileError, check_operator,
                                      Compiler, converter, OPS)
from scapula.replay.filter import ast
from scapula.replay.filter.printer import as_string
from scapula.replay.rules.analysis import evt_num_constant, evt_type_check

_UNSET = object()   # a local not read yet this event
_INLINE_TYPES = NUMERIC | STRINGS | {F.BOOL, F.IPADDR}
_STRING_OPS = {"contains", "icontains", "startswith", "endswith", "glob", "iglob", "regex",
               "pmatch"}
# Python refuses source nested deeper than this; such a rule is run as closures.
_MAX_NESTING = 150


def _pmatch(value, prefixes) -> bool:
    for p in prefixes:
        if value == p or value.startswith(p + "/"):
            return True
    return False


class _Source:
    """The source of one function: its constants, its locals, its expressions."""

    def __init__(self, known, etype: str | None):
        self.known, self.etype = known, etype
        self.closures = Compiler(known)
        self.ns = {"_U": _UNSET, "_pmatch": _pmatch}
        self.consts: dict = {}      # key -> name in ns
        self.fields: dict = {}      # (field name, arg) -> local name
        self.seen = Counter()       # sub-condition -> times met
        self.shared: dict = {}      # sub-condition -> local name (met twice or more)
        self.keys: dict = {}        # id(node) -> canonical text
        self.sharing = False

    # --- names -------------------------------------------------------------------
    def const(self, key, value) -> str:
        name = self.consts.get(key)
        if name is None:
            name = self.consts[key] = f"k{len(self.consts)}"
            self.ns[name] = value
        return name

    def fetch(self, field: F.FieldDef, arg) -> tuple[str, str]:
        """(expression reading the field once per event, the local holding it)."""
        key = (field.name, arg)
        local = self.fields.get(key)
        if local is None:
            local = self.fields[key] = f"v{len(self.fields)}"
        x = self.const(("x", field.name, field.extract), field.extract)
        return f"({local} if {local} is not _U else ({local} := {x}(ctx, {arg!r})))", local

    # --- conditions --------------------------------------------------------------
    def expr(self, node):
        """Source text of a boolean expression, or True/False when it is settled."""
        kind = type(node)
        if kind is ast.And or kind is ast.Or:
            return self.junction(node, kind is ast.And)
        if kind is ast.Not:
            inner = self.expr(node.child)
            if isinstance(inner, bool):
                return not inner
            return self.share(node, f"(not {inner})")
        if kind is ast.UnaryCheck:
            if type(node.left) is ast.Field and self.field(node.left) is not None:
                field, arg = self.field(node.left)
                return f"({self.fetch(field, arg)[0]} is not None)"
            return self.fallback(node)
        if kind is ast.BinaryCheck:
            return self.check(node)
        raise CompileError(f"undefined macro '{node.name}'" if kind is ast.Identifier else
                           f"unexpected {kind.__name__} where a check belongs", node)

    def junction(self, node, is_and: bool):
        parts = []
        children = node.children if is_and else self.merged(node.children)
        for child in children:
            part = child if isinstance(child, str) else self.expr(child)
            if isinstance(part, bool):
                if part != is_and:      # False in an and, True in an or: settled
                    return part
                continue                # True in an and, False in an or: drop
            parts.append(part)
        if not parts:
            return is_and
        if len(parts) == 1:
            return parts[0]
        return self.share(node, "(" + (" and " if is_and else " or ").join(parts) + ")")

    def merged(self, children) -> list:
        """An or's children, with its checks of one field by one kind of test folded
        into one: `f startswith a or f startswith b` is f.startswith((a, b)), `f = a or
        f in (b, c)` is f in {a, b, c}. Folded ones come back as source text."""
        keys = [self.mergeable(child) for child in children]
        groups: dict = {}
        for child, key in zip(children, keys):
            if key is not None:
                groups.setdefault(key, []).append(child)
        out, done = [], set()
        for child, key in zip(children, keys):
            if key is None or len(groups[key]) < 2:
                out.append(child)
            elif key not in done:
                done.add(key)
                out.append(self.fold(key, groups[key]))
        return out

    def mergeable(self, node):
        if type(node) is not ast.BinaryCheck or type(node.left) is not ast.Field or \
                node.op not in ("startswith", "endswith", "=", "==", "in") or \
                type(node.right) not in (ast.Value, ast.ListValue) or \
                self.settled(node) is not None:
            return None
        got = self.field(node.left)
        if got is None:
            return None
        field, arg = got
        if F.may_be_list(field, arg) or field.type not in (
                STRINGS if node.op.endswith("with") else _INLINE_TYPES - {F.IPADDR}):
            return None
        return field.name, arg, "in" if node.op in ("=", "==", "in") else node.op

    def fold(self, key, checks) -> str:
        for check in checks:          # each as it would be alone: the same errors
            self.check(check)
        _name, arg, op = key
        field = self.field(checks[0].left)[0]
        convert = converter(field.type, checks[0].op, checks[0])
        wanted = []
        for check in checks:
            right = check.right
            wanted += [convert(v) for v in (right.values if type(right) is ast.ListValue
                                            else [right.value])]
        read, v = self.fetch(field, arg)
        if op == "in":
            values = frozenset(wanted)
            return f"({read} in {self.const(('set', repr(sorted(map(repr, values)))), values)})"
        values = tuple(dict.fromkeys(wanted))
        return f"({read} is not None and {v}.{op}({self.const(('t', repr(values)), values)}))"

    def share(self, node, source: str) -> str:
        """A sub-condition met by several rules is kept in a local after its first use.
        Sub-conditions are told apart by their canonical text (the same macro expands
        to equal trees, not to the same tree)."""
        key = self.keys.get(id(node))
        if key is None:
            key = self.keys[id(node)] = as_string(node)
        if not self.sharing:
            self.seen[key] += 1
            return source
        if self.seen[key] < 2:
            return source
        local = self.shared.get(key)
        if local is None:
            local = self.shared[key] = f"m{len(self.shared)}"
        return f"({local} if {local} is not _U else ({local} := {source}))"

    def field(self, node: ast.Field):
        found = self.known(node.name)
        if found is None:
            return None
        field, dotted = found
        arg = node.arg if node.arg is not None else dotted
        if field.arg == "required" and arg is None:
            return None
        return field, arg

    def fallback(self, node) -> str:
        """condition.py's closure for a check not written out here (it also raises
        the CompileError a bad check deserves)."""
        key = ("closure", as_string(node))
        name = self.consts.get(key)        # met again: the second pass, or another rule
        if name is None:
            name = self.const(key, self.closures.expr(node))
        return f"{name}(ctx)"

    def check(self, node):
        settled = self.settled(node)
        if settled is not None:
            return settled
        left, right, op = node.left, node.right, node.op
        if " " in op or type(left) is not ast.Field or type(right) not in (ast.Value,
                                                                            ast.ListValue):
            return self.fallback(node)
        got = self.field(left)
        if got is None:
            return self.fallback(node)
        field, arg = got
        if field.type not in _INLINE_TYPES or F.may_be_list(field, arg) or (
                field.type == F.IPADDR and op not in ("=", "==", "!=", "in")):
            return self.fallback(node)
        check_operator(field.type, op, node)
        convert = converter(field.type, op, node)
        values = right.values if type(right) is ast.ListValue else [right.value]
        wanted = [convert(v) for v in values]
        read, v = self.fetch(field, arg)
        if op in ("in", "intersects"):
            return f"({read} in {self.const(('set', repr(sorted(map(repr, wanted)))), frozenset(wanted))})"
        if op == "pmatch":
            prefixes = tuple(w.rstrip("/") for w in wanted)
            return f"({read} is not None and _pmatch({v}, {self.const(('p', repr(prefixes)), prefixes)}))"
        if len(wanted) != 1:
            raise CompileError(f"operator '{op}' takes one value", node)
        w = self.const(("v", type(wanted[0]).__name__, repr(wanted[0])), wanted[0])
        if op in ("=", "=="):
            return f"({read} == {w})"
        if op in ("!=", "<", "<=", ">", ">="):
            return f"({read} is not None and {v} {op} {w})"
        if op == "contains":
            return f"({read} is not None and {w} in {v})"
        if op == "icontains":
            low = self.const(("v", "lower", repr(wanted[0].lower())), wanted[0].lower())
            return f"({read} is not None and {low} in {v}.lower())"
        if op in ("startswith", "endswith"):
            return f"({read} is not None and {v}.{op}({w}))"
        if op in _STRING_OPS:
            test = self.const(("op", op), OPS[op])
            return f"({read} is not None and {test}({v}, {w}))"
        return self.fallback(node)

    def settled(self, node) -> bool | None:
        """True/False for a check whose answer is known before any event: the event
        type (this function sees one), evt.dir (always <), evt.num's impossible values."""
        if self.etype is not None:
            types = evt_type_check(node)
            if types is not None:
                return (self.etype in types.names) != types.negated
        left, right = node.left, node.right
        if type(left) is ast.Field and left.name == "evt.dir" and left.arg is None and \
                node.op in ("=", "==", "!=", "in") and type(right) in (ast.Value, ast.ListValue):
            values = right.values if type(right) is ast.ListValue else [right.value]
            return ("<" in values) != (node.op == "!=")
        return evt_num_constant(node)


def _nesting(source: str) -> int:
    depth = deepest = 0
    for ch in source:
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    return deepest


def compile_rules(rules, etype: str | None, known=F.lookup, profile: bool = False):
    """A function ctx -> list of the `rules` that match. `rules` are objects with
    `.condition` (a resolved AST); with `profile`, each rule's `.seconds` and
    `.evaluations` are kept up to date."""
    src = _Source(known, etype)
    for r in rules:                 # first pass: count the shared sub-conditions
        src.expr(r.condition)
    src.sharing = True
    lines, names = [], []
    for i, r in enumerate(rules):
        test = src.expr(r.condition)
        if isinstance(test, str) and _nesting(test) > _MAX_NESTING:
            test = f"{src.const(('rule', i), src.closures.expr(r.condition))}(ctx)"
        if test is False:
            continue
        rule = src.const(("rule object", i), r)
        names.append(rule)
        if profile:
            lines += [f"    t = _clock()",
                      f"    hit = {test}",
                      f"    {rule}.seconds += _clock() - t",
                      f"    {rule}.evaluations += 1",
                      f"    if hit:", f"        hits.append({rule})"]
        else:
            lines += [f"    if {test}:", f"        hits.append({rule})"]
    locals_ = list(src.fields.values()) + list(src.shared.values())
    head = ["def judge(ctx):"]
    if locals_:
        head.append("    " + " = ".join(locals_) + " = _U")
    head.append("    hits = []")
    source = "\n".join(head + lines + ["    return hits", ""])
    if profile:
        import time
        src.ns["_clock"] = time.perf_counter
    code = compile(source, f"<rules for {etype or 'any event type'}>", "exec")
    exec(code, src.ns)
    judge = src.ns["judge"]
    judge.source = source
    return judge


class _One:
    __slots__ = ("condition",)

    def __init__(self, condition):
        self.condition = condition


def compile_predicate(node, known=F.lookup):
    """One condition as a generated predicate ctx -> bool (for tests that hold it to
    the same answers as condition.compile_condition)."""
    judge = compile_rules([_One(node)], None, known)
    return lambda ctx: bool(judge(ctx))
