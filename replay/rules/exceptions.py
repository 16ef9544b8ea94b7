"""Rule exceptions: checked when collected, then written into the condition.

Falco turns each exception into condition text, `(<condition>) and not <exc>`,
and parses the whole; so do we, with the same quoting, so that the compiled
condition (and any surprise in it) is Falco's. For one exception with fields
[f1, f2], comps [c1, c2] and values [[a, b], [c, d]] the text is
`((f1 c1 a and f2 c2 b) or (f1 c1 c and f2 c2 d))`; with a single field f and
comp c (in, pmatch or intersects) and values [a, b], it is `(f c (a, b))`.
"""
from __future__ import annotations

from scapula.replay.rules.model import Entry, ExceptionInfo
from scapula.replay.rules.problems import ERR_VALIDATE, LoadFailed
from scapula.replay.rules.sourcetext import SourcedText

# libsinsp's comparison operators, and the ones whose right side is a list
OPERATORS = frozenset({"=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains",
                       "bcontains", "startswith", "bstartswith", "endswith", "glob", "iglob",
                       "regex", "pmatch", "in", "intersects", "exists"})
LIST_OPERATORS = frozenset({"in", "intersects", "pmatch"})
# string operators that take a oneof/anyof/allof modifier and then a list
MODIFIABLE_OPERATORS = frozenset({"=", "==", "!=", "contains", "icontains", "bcontains",
                                  "startswith", "bstartswith", "endswith", "glob", "iglob",
                                  "regex"})
MODIFIERS = frozenset({"oneof", "anyof", "allof"})


def normalize_comp(comp: str) -> str:
    """"  startswith   oneof " is "startswith oneof"."""
    return " ".join(comp.split())


def is_supported(comp: str) -> bool:
    words = comp.split(" ")
    if len(words) == 1:
        return comp in OPERATORS
    return len(words) == 2 and words[0] in MODIFIABLE_OPERATORS and words[1] in MODIFIERS


def takes_list(comp: str) -> bool:
    return comp in LIST_OPERATORS or " " in comp


def validate(ex: ExceptionInfo) -> None:
    """Fill in default comps and check their shape; raises LoadFailed."""
    def fail(message):
        raise LoadFailed(message, ex.location, ERR_VALIDATE)

    if not ex.fields.is_valid:
        fail("Rule exception item must have fields property with a list of fields")
    if ex.fields.is_list:
        if not ex.comps.is_valid:
            ex.comps = Entry(is_list=True, items=[Entry("=") for _ in ex.fields.items])
        if not ex.comps.is_list or len(ex.comps.items) != len(ex.fields.items):
            fail("Fields and comps lists must have equal length")
        for comp in ex.comps.items:
            if comp.is_list:
                fail("Exception comps must be strings")
            comp.item = normalize_comp(comp.item)
            if not is_supported(comp.item):
                fail(f"'{comp.item}' is not a supported comparison operator")
    else:
        if not ex.comps.is_valid:
            ex.comps = Entry("in")
        if ex.comps.is_list:
            fail("Fields and comps must both be strings")
        ex.comps.item = normalize_comp(ex.comps.item)
        if ex.comps.item not in LIST_OPERATORS:
            fail("When fields is a single value, comps must be one of (in, pmatch, intersects)")


def quoted(value: str) -> str:
    """Falco's quoting of a list item or value: only strings with a space, and
    without escaping what is inside (a value holding a double quote and a
    space comes out broken, as it does in Falco)."""
    if " " in value and value[:1] not in ('"', "'"):
        return f'"{value}"'
    return value


def parenthesized(value: str) -> str:
    return value if value.startswith("(") else f"({value})"


def render(ex: ExceptionInfo) -> SourcedText | None:
    """The condition text excluding one exception, or None when it has no values.
    Each value's text is blamed on the value, the glue on the exception."""
    def glue(text):
        return SourcedText.generated(text, ex.location)

    if not ex.fields.is_list:
        if any(value.is_list for value in ex.values):
            raise LoadFailed("Expected values array to contain a list of strings",
                             ex.location, ERR_VALIDATE)
        if not ex.values:
            return None
        out = glue(f"({ex.fields.item} {ex.comps.item} (")
        for i, value in enumerate(ex.values):
            out = out + glue(", " if i else "") + _piece(quoted(value.item), value)
        return out + glue("))")
    out = None
    for value in ex.values:
        if len(value.items) != len(ex.fields.items):
            raise LoadFailed("Fields and values lists must have equal length",
                             ex.location, ERR_VALIDATE)
        alternative = glue(" or (" if out else "((")
        for i, (f, c, v) in enumerate(zip(ex.fields.items, ex.comps.items, value.items)):
            alternative = alternative + glue(f"{' and ' if i else ''}{f.item} {c.item} ") + \
                _piece(_right_side(c.item, v), v)
        out = (out + alternative if out else alternative) + glue(")")
    return out + glue(")") if out else None


def _piece(text: str, value: Entry) -> SourcedText:
    return SourcedText.generated(text, value.location)


def _right_side(comp: str, value: Entry) -> str:
    if value.is_list:
        return "(" + ", ".join(quoted(v.item or "") for v in value.items) + ")"
    return parenthesized(value.item) if takes_list(comp) else quoted(value.item)


def with_exceptions(condition: SourcedText, exceptions: list[ExceptionInfo]) -> SourcedText:
    """`(condition) and not <exception>...`."""
    text = SourcedText.generated("(", condition.location(0)) + condition
    text = text + SourcedText.generated(")", condition.location(len(condition.text)))
    for ex in exceptions:
        excluded = render(ex)
        if excluded is not None:
            text = text + SourcedText.generated(" and not ", ex.location) + excluded
    return text
