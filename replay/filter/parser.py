"""The condition parser: libsinsp's filter grammar (userspace/libsinsp/filter/parser.cpp),
its error messages and positions, and its depth limit.

    Expr            ::= Or
    Or              ::= And ('or' (Blank+ And | '(' Group))*
    And             ::= Not ('and' (Blank+ Not | '(' Group))*
    Not             ::= ('not' Space+)* ('not(' Group | Check)
    Group           ::= Expr ')'
    Check           ::= '(' Group | Field Condition | FieldTransformer Condition | Identifier
    Condition       ::= 'exists'
                      | NumOp (Transformer | HexNumber | Number)
                      | StrOp Blank+ Modifier Blank+ (List | ListName)
                      | StrOp (Transformer | QuotedStr | BareStr)
                      | ListOp (List | Transformer | Identifier)
    Modifier        ::= 'oneof' | 'anyof' | 'allof'
    ListName        ::= Identifier, but not 'and' or 'or'
    List            ::= '(' ((QuotedStr | BareStr) (',' (QuotedStr | BareStr))*)? ')'
    Field           ::= FieldName FieldArg?
    FieldArg        ::= '[' (QuotedStr | FieldArgBareStr) ']'
    Transformer     ::= 'val(' Field ')' | FieldTransformer
    FieldTransformer::= TransformerName '(' Arg (',' Arg)* ')' FieldArg?
    Arg             ::= Number | QuotedStr | '(' (ListArg (',' ListArg)*)? ')'
                      | FieldTransformer | Field
    ListArg         ::= Field | FieldTransformer | QuotedStr | Number

Number is HexNumber or a decimal one; the token shapes are in lexer.py.

Blanks may sit between most tokens; where libsinsp requires one (after 'and', 'or',
'not', the word operators and a modifier) the grammar says so. Every production takes
the nesting level libsinsp's depth guard would count at that point and fails past
max_depth with libsinsp's message, so the limit bites at the same place.
"""
import re

from .ast import (And, BinaryCheck, Field, Identifier, ListValue, Node, Not, Or,
                  Transformer, TransformerList, UnaryCheck, Value)
from .errors import FilterSyntaxError
from .lexer import (BARE_STRING, FIELD_ARG_BARE, FIELD_NAME, HEX_NUMBER, IDENTIFIER,
                    NOT_BLANK, NUMBER, Scanner)

UNARY_OPS = ("exists",)
NUM_OPS = ("<=", "<", ">=", ">")
# The word operators need a blank after them; the symbols do not.
STR_OPS = ("==", "=", "!=", "glob", "iglob", "contains", "icontains", "bcontains",
           "startswith", "bstartswith", "endswith", "regex")
LIST_OPS = ("intersects", "in", "pmatch")
MODIFIERS = ("oneof", "anyof", "allof")
TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt")

_BLANK = "[ \t\b\r\n]"
_NUM_OP = re.compile("|".join(map(re.escape, NUM_OPS)))
_STR_OP = re.compile("==|=|!=|(?:%s)(?=%s)" % ("|".join(STR_OPS[3:]), _BLANK))
_LIST_OP = re.compile("|".join(LIST_OPS))
_MODIFIER = re.compile("(%s)%s+" % ("|".join(MODIFIERS), _BLANK))
_TRANSFORMER = re.compile(r"(%s)\(" % "|".join(TRANSFORMERS))


def _quoted(names) -> str:
    return ", ".join(f"'{n}'" for n in names)


ALL_TRANSFORMERS = _quoted(("val",) + TRANSFORMERS)
E_OPERATOR = "expected a valid check operator: one of " + _quoted(
    UNARY_OPS + NUM_OPS + STR_OPS + LIST_OPS)
E_NUMBER = "expected a number value or a field with a valid transformer: " + ALL_TRANSFORMERS
E_STRING = "expected a string value or a field with a valid transformer: " + ALL_TRANSFORMERS
E_LIST = ("expected a list, an identifier, or a field with a valid transformer: "
          + ALL_TRANSFORMERS)
E_CHECK = "expected a '(' token, a field check, or an identifier"
E_CLOSE = "expected a ')' token"
E_CLOSE_TRANSFORMER = "expected a ')' token closing the transformer"
E_FIELD_ARG = "expected a valid field argument: a quoted string or a bare string"
E_TRANSFORMER_ARG = ("expected field transformer argument: "
                     "field, transformer, quoted string, number, or transformer list")
E_LIST_ARG = "expected transformer list argument: field, transformer, quoted string, or number"


def parse(text: str, max_depth: int = 100) -> Node:
    """The AST of a condition, or FilterSyntaxError as libsinsp's parser would raise it.
    libsinsp's default depth is 100; Falco's rule compiler uses 1000."""
    return Parser(text, max_depth).parse()


class Parser(Scanner):
    """One method per production (see the module docstring). The boolean levels keep
    to three Python frames per '(' (Group is written inline, Check inside Not), so
    Falco's max_depth of 1000 stays well inside Python's recursion limit."""

    def __init__(self, text: str, max_depth: int = 100):
        super().__init__(text)
        self.max_depth = max_depth

    def parse(self) -> Node:
        if not self.text:
            self.fail("filter input string is empty")
        try:
            node = self._junction(1, "or")
        except RecursionError:
            # Only with a max_depth far beyond Falco's: fail as the guard would have.
            raise FilterSyntaxError(f"exceeded max depth limit of {self.max_depth}",
                                    self.pos()) from None
        if self.idx != len(self.text):
            self.fail(f"unexpected token after '{self.last}', expecting 'or', 'and'")
        return node

    def _guard(self, level: int) -> None:
        if level >= self.max_depth:
            self.fail(f"exceeded max depth limit of {self.max_depth}")

    # --- boolean structure ----------------------------------------------------------

    def _junction(self, level: int, word: str) -> Node:
        """Or and And: terms joined by `word`, flattened into one n-ary node."""
        self._guard(level)
        start = self.idx
        deeper = word == "or"      # an Or's terms are Ands, an And's are Nots
        self.blank()
        children = [self._junction(level + 1, "and") if deeper else self._not(level + 1)]
        self.blank()
        while self.take(word):
            if self.blank():
                children.append(self._junction(level + 1, "and") if deeper
                                else self._not(level + 1))
            elif self.take("("):
                children.append(self._close(self._junction(self._open(level + 1), "or")))
            else:
                self.fail(f"expected blank or '(' after '{word}'")
            self.blank()
        if len(children) == 1:
            return children[0]
        return (Or if deeper else And)(tuple(children), pos=self.pos(start))

    def _open(self, level: int) -> int:
        """Group's start (after its '('): the level its Expr is parsed at."""
        self._guard(level)
        self.blank()
        return level + 1

    def _close(self, child: Node) -> Node:
        """Group's end: the ')' after its Expr."""
        self.blank()
        if not self.take(")"):
            self.fail(E_CLOSE)
        return child

    def _not(self, level: int) -> Node:
        """Not, with Check inline. An even number of 'not's cancels out."""
        self._guard(level)
        start = self.idx
        self.blank()
        negate = False
        while self.take_re(NOT_BLANK):
            negate = not negate
        if self.take("not("):
            negate = not negate
            child = self._close(self._junction(self._open(level + 1), "or"))
        else:
            # Check
            self._guard(level + 1)
            pos = self.pos()
            self.blank()
            if self.take("("):
                child = self._close(self._junction(self._open(level + 2), "or"))
            elif (child := self._field_check(level + 2, pos)) is None:
                if not self.take_re(IDENTIFIER):
                    self.fail(E_CHECK)
                child = Identifier(self.last, pos=pos)
        return Not(child, pos=self.pos(start)) if negate else child

    # --- checks ---------------------------------------------------------------------

    def _field_check(self, level: int, pos) -> Node | None:
        """Field Condition | FieldTransformer Condition, or None when neither starts here."""
        if self.take_re(FIELD_NAME):
            left = self._field(level, self.last, pos)
        elif name := self._transformer_name():
            self.blank()
            left = self._transformer(level, name, pos)
        else:
            return None
        return self._condition(level, left, pos)

    def _condition(self, level: int, left: Node, pos) -> Node:
        self._guard(level)
        self.blank()
        if self.take("exists"):
            return UnaryCheck(left, "exists", pos=pos)
        self.blank()
        if self.take_re(_NUM_OP):
            op, right = self.last, self._num_value(level + 1)
        elif self.take_re(_STR_OP):
            op = self.last
            if modified := self._modified_list(level + 1):
                modifier, right = modified
                op = f"{op} {modifier}"
            else:
                right = self._str_value(level + 1)
        elif self.take_re(_LIST_OP):
            op, right = self.last, self._list_value(level + 1)
        else:
            self.fail(E_OPERATOR)
        return BinaryCheck(left, op, right, pos=pos)

    def _modified_list(self, level: int) -> tuple[str, Node] | None:
        """After a string operator: 'oneof (a, b)' or 'anyof list_name' as (modifier,
        list); None, with the cursor back where it was, when no modifier is written.

        libsinsp's tests pin: blanks around the modifier are required ('==oneof' and
        'oneof(' are plain values), the words are lower case, and 'oneof and ...' or a
        modifier at the end is the plain value 'oneof'."""
        mark, last = self.idx, self.last
        if self.blank() and (m := _MODIFIER.match(self.text, self.idx)):
            self.idx, self.last = m.end(), m.group()
            name = IDENTIFIER.match(self.text, self.idx)
            if self.text.startswith("(", self.idx) or (
                    name and name.group() not in ("and", "or")):
                return m.group(1), self._list_value(level)
        self.idx, self.last = mark, last
        return None

    # --- right-hand values ------------------------------------------------------------

    def _num_value(self, level: int) -> Node:
        self._guard(level)
        self.blank()
        pos = self.pos()
        if (t := self._transformer_or_val(level + 1)) is not None:
            return t
        if self.take_re(HEX_NUMBER) or self.take_re(NUMBER):
            return Value(self.last, pos=pos)
        self.fail(E_NUMBER)

    def _str_value(self, level: int, transformers: bool = True) -> Node:
        self._guard(level)
        self.blank()
        pos = self.pos()
        if transformers and (t := self._transformer_or_val(level + 1)) is not None:
            return t
        if self.take_quoted() or self.take_re(BARE_STRING):
            return Value(self.last, pos=pos)
        self.fail(E_STRING if transformers else "expected a string value")

    def _list_value(self, level: int) -> Node:
        self._guard(level)
        self.blank()
        pos = self.pos()
        if self.take("("):
            return self._list(level + 1, pos)
        if (t := self._transformer_or_val(level + 1)) is not None:
            return t
        if self.take_re(IDENTIFIER):
            return Value(self.last, pos=pos)
        self.fail(E_LIST)

    def _list(self, level: int, pos) -> ListValue:
        """List, after its '('. libsinsp takes a list whose first item is bad for an
        empty one, so "(,)" fails at the comma wanting a ')'; later items must be good."""
        self.blank()
        values = []
        try:
            values.append(self._str_value(level, transformers=False).value)
        except FilterSyntaxError:
            pass
        if values:
            self.blank()
            while self.take(","):
                values.append(self._str_value(level, transformers=False).value)
                self.blank()
        if not self.take(")"):
            self.fail(E_CLOSE)
        return ListValue(tuple(values), pos=pos)

    # --- fields and transformers --------------------------------------------------------

    def _field(self, level: int, name: str, pos) -> Field:
        self._guard(level)
        return Field(name, self._field_arg(), pos=pos)

    def _field_arg(self) -> str | None:
        """The optional [..] after a field or a transformer."""
        if not self.take("["):
            return None
        if not (self.take_quoted() or self.take_re(FIELD_ARG_BARE)):
            self.fail(E_FIELD_ARG)
        arg = self.last
        if not self.take("]"):
            self.fail("expected a ']' token")
        return arg

    def _transformer_name(self) -> str | None:
        """A transformer's name and its '(' (no blank between them), or None."""
        if self.take_re(_TRANSFORMER):
            self.last = self.last[:-1]
            return self.last
        return None

    def _transformer_or_val(self, level: int) -> Node | None:
        """A transformer where a value may stand, val(field) included; None if none."""
        self._guard(level)
        self.blank()
        pos = self.pos()
        if self.take("val("):
            self.last = "val"
            self.blank()
            field_pos = self.pos()
            if not self.take_re(FIELD_NAME):
                self.fail("expected a field within 'val' transformer")
            field = self._field(level + 1, self.last, field_pos)
            self.blank()
            if not self.take(")"):
                self.fail(E_CLOSE_TRANSFORMER)
            return Transformer("val", (field,), pos=pos)
        if name := self._transformer_name():
            self.blank()
            return self._transformer(level + 1, name, pos)
        return None

    def _transformer(self, level: int, name: str, pos) -> Transformer:
        """FieldTransformer, after its name and '('."""
        self._guard(level)
        self.blank()
        values = [self._argument(level + 1, self.pos())]
        self.blank()
        while self.take(","):
            values.append(self._argument(level + 1, self.pos()))
            self.blank()
        self.blank()
        if not self.take(")"):
            self.fail(E_CLOSE_TRANSFORMER)
        return Transformer(name, tuple(values), self._field_arg(), pos=pos)

    def _argument(self, level: int, pos, in_list: bool = False) -> Node:
        """Arg of a transformer, or (in_list) ListArg of a transformer list: the same
        alternatives but for the nested list. Only Arg has a depth guard of its own
        (a ListArg's parts sit at the level given to its list). Both take `pos`, where
        the caller stood: every item of a list gets the list's position."""
        if not in_list:
            self._guard(level)
            level += 1
            self.blank()
            if self.take("("):
                return self._transformer_list(level, pos)
        if self.take_re(HEX_NUMBER) or self.take_re(NUMBER) or self.take_quoted():
            return Value(self.last, pos=pos)
        if name := self._transformer_name():
            self.blank()
            return self._transformer(level, name, pos)
        if self.take_re(FIELD_NAME):
            return self._field(level, self.last, pos)
        self.fail(E_LIST_ARG if in_list else E_TRANSFORMER_ARG)

    def _transformer_list(self, level: int, pos) -> TransformerList:
        """'(' ListArg, ... ')' inside a transformer: every item gets the list's position."""
        self.blank()
        children = []
        if not self.take(")"):
            children.append(self._argument(level, pos, in_list=True))
            self.blank()
            while self.take(","):
                self.blank()
                children.append(self._argument(level, pos, in_list=True))
                self.blank()
            if not self.take(")"):
                self.fail("expected ')'")
        return TransformerList(tuple(children), pos=pos)
