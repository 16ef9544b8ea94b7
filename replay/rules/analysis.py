"""What a condition tree tells before any event is seen: the event types it can
match, the fields it reads, and the values that look like mistakes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import re

from scapula.replay.filter import ast
from scapula.replay.filter.parser import TRANSFORMERS

# Falco's deprecated fields: enter events are gone, so these are meaningless now.
DEPRECATED_FIELDS = ("evt.dir", "evt.latency", "evt.latency.s", "evt.latency.ns",
                     "evt.latency.human", "evt.wait_latency")
_FIELD_LIKE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z][a-zA-Z0-9_]*)+(?:\[[^\]]*\])?")
_TRANSFORMER_LIKE = re.compile(r"(?:%s)\(.*\)" % "|".join(("val",) + TRANSFORMERS))


# --- event types --------------------------------------------------------------

@dataclass(frozen=True)
class EventTypes:
    """A set of event-type names, or (negated) every type but those names."""
    names: frozenset[str] = frozenset()
    negated: bool = False

    def __and__(self, other: EventTypes) -> EventTypes:
        if self.negated and other.negated:
            return EventTypes(self.names | other.names, True)
        if self.negated:
            return EventTypes(other.names - self.names)
        if other.negated:
            return EventTypes(self.names - other.names)
        return EventTypes(self.names & other.names)

    def __or__(self, other: EventTypes) -> EventTypes:
        return ~(~self & ~other)

    def __invert__(self) -> EventTypes:
        return EventTypes(self.names, not self.negated)

    @property
    def is_all(self) -> bool:
        """Too many to index by: every type but a few."""
        return self.negated


ALL = EventTypes(negated=True)
NONE = EventTypes()


def event_types(node: ast.Node) -> EventTypes:
    """The event types for which the condition can be true."""
    return _may(node)[0]


def _may(node) -> tuple[EventTypes, EventTypes]:
    """(types where it may be true, types where it may be false): tracking both is
    what makes `not proc.name = x` match every type rather than none."""
    kind = type(node)
    if kind is ast.And or kind is ast.Or:
        pairs = [_may(c) for c in node.children]
        true, false = pairs[0]
        for t, f in pairs[1:]:
            true, false = (true & t, false | f) if kind is ast.And else (true | t, false & f)
        return true, false
    if kind is ast.Not:
        true, false = _may(node.child)
        return false, true
    if kind is ast.BinaryCheck:
        exact = evt_type_check(node)
        if exact is not None:
            return exact, ~exact
        constant = evt_num_constant(node)
        if constant is not None:
            return (ALL, NONE) if constant else (NONE, ALL)
    if kind is ast.UnaryCheck and _is_evt_type(node.left):
        # every event has a type: `evt.type exists` is always true, so under a
        # `not` it matches no event (libsinsp's ppm_codes treats it so)
        return ALL, NONE
    return ALL, ALL


def _is_evt_type(operand) -> bool:
    return type(operand) is ast.Field and operand.name == "evt.type" and operand.arg is None


def evt_type_check(node: ast.BinaryCheck) -> EventTypes | None:
    left, right = node.left, node.right
    if not _is_evt_type(left):
        return None
    if node.op in ("=", "==") and type(right) is ast.Value:
        return EventTypes(frozenset((right.value,)))
    if node.op == "!=" and type(right) is ast.Value:
        return EventTypes(frozenset((right.value,)), True)
    if node.op == "in" and type(right) is ast.ListValue:
        return EventTypes(frozenset(right.values))
    return None


def evt_num_constant(node: ast.BinaryCheck) -> bool | None:
    """True or False for an `evt.num` check that is so for every event (event numbers
    start at 1: `evt.num = 0`, `< 1`, `in ()` never hold, `!= 0`, `>= 1` always do),
    None for any other check. As libsinsp, only plain decimal values count: `evt.num =
    0x0`, `= -1` or `= 1.5` are ordinary checks."""
    left, right, op = node.left, node.right, node.op
    if type(left) is not ast.Field or left.name != "evt.num" or left.arg is not None:
        return None
    values = (right.value,) if type(right) is ast.Value else \
        right.values if type(right) is ast.ListValue else None
    if values is None or not all(v.isascii() and v.isdigit() for v in values):
        return None
    numbers = [int(v) for v in values]
    if op in ("=", "==", "in") and (op == "in" or type(right) is ast.Value):
        return False if all(n == 0 for n in numbers) else None
    if len(numbers) != 1 or type(right) is not ast.Value:
        return None
    n = numbers[0]
    never = {"<": n <= 1, "<=": n == 0}
    always = {"!=": n == 0, ">": n == 0, ">=": n <= 1}
    if never.get(op):
        return False
    if always.get(op):
        return True
    return None


# --- fields and suspicious values ----------------------------------------------

@dataclass
class Finding:
    message: str
    node: ast.Node


@dataclass
class Uses:
    """What a tree reads: field names (each with the first node reading it), and
    warnings about its checks (each with the node it is about, for a position)."""
    fields: dict[str, ast.Node] = field(default_factory=dict)
    deprecated: list[Finding] = field(default_factory=list)
    values: list[Finding] = field(default_factory=list)


def uses(node: ast.Node, known_field=None, into: Uses | None = None, macro_uses=None) -> Uses:
    """Walks a tree; bare names are looked up in `macro_uses` (name -> Uses) when given."""
    out = into if into is not None else Uses()
    kind = type(node)
    if kind is ast.And or kind is ast.Or:
        for child in node.children:
            uses(child, known_field, out, macro_uses)
    elif kind is ast.Not:
        uses(node.child, known_field, out, macro_uses)
    elif kind is ast.Identifier:
        if macro_uses and node.name in macro_uses:
            inner = macro_uses[node.name]
            for name in inner.fields:
                out.fields.setdefault(name, node)
            # a problem inside a macro is shown where the macro is used
            out.deprecated += [Finding(f.message + f" (in macro '{node.name}')", node)
                               for f in inner.deprecated]
            out.values += [Finding(f.message, node) for f in inner.values]
    elif kind is ast.UnaryCheck or kind is ast.BinaryCheck:
        _operand_fields(node.left, node, out)
        if kind is ast.BinaryCheck:
            _operand_fields(node.right, node, out)
            _check_values(node, known_field, out)
    return out


def _operand_fields(operand, check, out: Uses) -> None:
    kind = type(operand)
    if kind is ast.Field:
        out.fields.setdefault(operand.name, operand)
        if operand.name in DEPRECATED_FIELDS:
            out.deprecated.append(Finding(
                f"usage of deprecated field '{operand.name}' has been detected in the rule "
                "condition", check))
    elif kind is ast.Transformer:
        for value in operand.values:
            _operand_fields(value, check, out)
    elif kind is ast.TransformerList:
        for child in operand.children:
            _operand_fields(child, check, out)


def _check_values(node: ast.BinaryCheck, known_field, out: Uses) -> None:
    """libsinsp warns of a string value that is really a field name or a transformer
    call (a quoted "toupper( x)", or a field written where `val(x)` was meant)."""
    right = node.right
    values = (right.value,) if type(right) is ast.Value else \
        right.values if type(right) is ast.ListValue else ()
    for value in values:
        compact = "".join(value.split())
        if known_field is not None and _FIELD_LIKE.fullmatch(compact) and \
                known_field(compact.split("[", 1)[0]):
            out.values.append(Finding(
                f"'{value}' may be a valid field misused as a const string value", right))
        if _TRANSFORMER_LIKE.fullmatch(compact):
            out.values.append(Finding(
                f"'{value}' may be a valid field transformer misused as a const string value",
                right))
