"""The filter parser by hand: the errors a rule writer meets, the depth limit, the AST's
equality, unescape()'s bytes. libsinsp's own cases are in test_filter_parser_conformance."""
import time

import pytest

from scapula.errors import ScapulaError
from scapula.replay.filter import FilterSyntaxError, as_string, ast, parse, unescape


def error(text: str, **kw) -> FilterSyntaxError:
    with pytest.raises(FilterSyntaxError) as e:
        parse(text, **kw)
    return e.value


@pytest.mark.parametrize("text, message, line, col", [
    # a group or list left open
    ("proc.name = cat and (fd.name = x", "expected a ')' token", 1, 33),
    ("proc.name in (cat, nginx", "expected a ')' token", 1, 25),
    # a trailing 'and', or one glued to the next word
    ("evt.type = open and", "expected blank or '(' after 'and'", 1, 20),
    ("evt.type = open andfd.num > 0", "expected blank or '(' after 'and'", 1, 20),
    # word operators need a blank after them
    ("fd.name startswith/etc", "expected a valid check operator: one of 'exists', '<=', "
     "'<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', "
     "'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', "
     "'pmatch'", 1, 9),
    # nothing after an operator, or a quote never closed
    ("proc.name = ", "expected a string value or a field with a valid transformer: 'val', "
     "'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'", 1, 13),
    ("proc.name = 'cat", "expected a string value or a field with a valid transformer: "
     "'val', 'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'",
     1, 13),
    # a number operator with a word after it
    ("proc.pid > one", "expected a number value or a field with a valid transformer: "
     "'val', 'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'",
     1, 12),
    # a Windows path's backslash; the error points after the literal
    ('fd.name = "C:\\dir"', "unsupported string escape sequence: \\d", 1, 19),
    # two values, or a modifier glued to its list
    ("proc.name = cat nginx", "unexpected token after 'cat', expecting 'or', 'and'", 1, 17),
    ("proc.name == oneof(cat, nginx)",
     "unexpected token after 'oneof', expecting 'or', 'and'", 1, 19),
    # a macro's name used as a field
    ("my_macro = 1", "unexpected token after 'my_macro', expecting 'or', 'and'", 1, 10),
    # lines count from 1, so do columns on every line
    ("proc.name = cat\n  and (fd.name = x\n  or", "expected blank or '(' after 'or'", 3, 5),
    ("", "filter input string is empty", 1, 1),
])
def test_error_messages(text, message, line, col):
    e = error(text)
    assert (e.message, e.pos.line, e.pos.col) == (message, line, col)
    assert str(e) == f"{message} (line {line}, column {col})"
    assert isinstance(e, ScapulaError)


def test_excerpt_puts_a_caret_under_the_column():
    text = "proc.name = cat and\n\t(fd.name = x"
    assert error(text).excerpt(text) == "\t(fd.name = x\n\t            ^"


@pytest.mark.parametrize("max_depth, idx", [(100, 20), (1000, 200)])
def test_the_depth_limit_stops_deep_nesting_quickly(max_depth, idx):
    start = time.perf_counter()
    e = error("(" * 100000, max_depth=max_depth)
    assert time.perf_counter() - start < 1.0
    assert (e.message, e.pos.idx) == (f"exceeded max depth limit of {max_depth}", idx)


def test_a_limit_beyond_pythons_recursion_still_fails_as_a_syntax_error():
    e = error("(" * 100000, max_depth=10**6)
    assert e.message == "exceeded max depth limit of 1000000"


def test_nesting_within_falcos_limit_parses():
    # 190 groups and 300 transformers deep, under max_depth=1000 (what Falco sets):
    # libsinsp accepts them, and Python's recursion limit must not get there first.
    groups = "(" * 190 + "a" + ")" * 190
    assert parse(groups, max_depth=1000) == ast.Identifier("a")
    nested = "b64(" * 300 + "fd.name" + ")" * 300 + " exists"
    assert as_string(parse(nested, max_depth=1000)) == nested


def test_trees_compare_by_structure_not_position():
    a = parse("proc.name in (cat, nginx) and not fd.name exists")
    b = parse("\n  proc.name in (cat,nginx)\n  and not  fd.name   exists")
    assert a == b and hash(a) == hash(b) and a.pos != b.children[0].pos
    assert a == ast.And([
        ast.BinaryCheck(ast.Field("proc.name"), "in", ast.ListValue(["cat", "nginx"])),
        ast.Not(ast.UnaryCheck(ast.Field("fd.name"), "exists")),
    ])
    assert "pos" not in repr(a)


def test_not_cancels_in_pairs_and_or_binds_loosest():
    assert parse("not not a") == ast.Identifier("a")
    assert as_string(parse("a or b and not c or d")) == "(a or (b and not c) or d)"


def test_as_string_quotes_what_a_bare_string_cannot_hold():
    assert as_string(parse('fd.name = "/tmp/a b"')) == 'fd.name = "/tmp/a b"'
    assert as_string(parse("proc.env[\"HOME\"] = ''")) == "proc.env[HOME] = "
    assert as_string(parse('proc.env[""] exists')) == 'proc.env[""] exists'
    assert as_string(parse(r"fd.name = 'it\'s'")) == "fd.name = \"it's\""


def test_unescape_turns_hex_escapes_into_bytes_as_event_strings_hold_them():
    assert unescape(r"\x41\tb\/") == "A\tb/"
    assert unescape(r"\xc3\xa9") == "é"                  # UTF-8 bytes: one character
    assert unescape(r"a\xffb") == "a\udcffb"             # not UTF-8: surrogateescape
    assert unescape(r"it\'s", "'") == "it's"
    assert unescape(r"a\ b") == "a\\b"                   # libsinsp's wrongly escaped space
    with pytest.raises(FilterSyntaxError, match=r"invalid \\' escape in \"-quoted string"):
        unescape(r"it\'s")
    with pytest.raises(FilterSyntaxError, match="invalid hex char escape sequence: zz"):
        unescape(r"\xzz")
