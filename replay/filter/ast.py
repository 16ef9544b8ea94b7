"""The condition AST: one frozen dataclass per libsinsp node kind; positions ride
along but take no part in equality, so two trees compare by structure."""
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Pos:
    """Where a node or an error sits, counted as libsinsp counts: idx from 0, line and
    col from 1; each '\\r' and each '\\n' starts a new line. (libsinsp counts bytes, we
    count characters: they differ only in text that is not ASCII.)"""
    idx: int
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Node:
    pos: Pos | None = field(default=None, compare=False, repr=False, kw_only=True)

    _sequences = ()     # the fields that hold several items

    def __post_init__(self):
        # Hand-built trees may pass lists; equality and hashing need tuples.
        for name in self._sequences:
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True, slots=True)
class _Children(Node):
    children: tuple[Node, ...]

    _sequences = ("children",)


# --- boolean structure ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class And(_Children):
    pass


@dataclass(frozen=True, slots=True)
class Or(_Children):
    pass


@dataclass(frozen=True, slots=True)
class Not(Node):
    child: Node


@dataclass(frozen=True, slots=True)
class Identifier(Node):
    """A bare word where a check was expected: a macro's name."""
    name: str


@dataclass(frozen=True, slots=True)
class UnaryCheck(Node):
    left: Node           # Field or Transformer
    op: str              # 'exists'


@dataclass(frozen=True, slots=True)
class BinaryCheck(Node):
    left: Node           # Field or Transformer
    op: str              # '=', 'in', ... or an operator with a modifier: '== oneof'
    right: Node          # Value, ListValue or Transformer


# --- operands -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Field(Node):
    name: str
    arg: str | None = None   # the [..] argument; '' when written as [""]


@dataclass(frozen=True, slots=True)
class Transformer(Node):
    """tolower(..), join(",", (..)), val(..), getopt(..)[t]: name, arguments, [arg]."""
    name: str
    values: tuple[Node, ...]
    arg: str | None = None

    _sequences = ("values",)


@dataclass(frozen=True, slots=True)
class TransformerList(_Children):
    """A parenthesised argument list inside a transformer: join("-", (a.b, c.d))."""


@dataclass(frozen=True, slots=True)
class Value(Node):
    value: str           # unescaped


@dataclass(frozen=True, slots=True)
class ListValue(Node):
    values: tuple[str, ...]

    _sequences = ("values",)
