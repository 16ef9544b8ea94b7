"""The filter parser against libsinsp's own parser tests (../shared/corpus/conformance/
filter_parser_cases.json, 567 cases) and escaping tests (the 19 'unescape' cases of
filter_eval_cases.json). Every case must match the real parser's verdict, canonical
as_string(), AST with positions, and error text and position; a case that cannot is
listed in KNOWN_FAILURES with the reason, so a new failure and a newly passing known
failure both fail the run. test_pass_rate prints the score."""
import json
import re

import pytest

from scapula.replay.filter import FilterSyntaxError, ast, unescape
from scapula.replay.filter.parser import Parser
from scapula.replay.filter.printer import as_string
from tests.conftest import SHARED

PARSER_CASES = SHARED / "corpus" / "conformance" / "filter_parser_cases.json"
EVAL_CASES = SHARED / "corpus" / "conformance" / "filter_eval_cases.json"

# expr -> why we cannot match libsinsp there. Empty: every case passes.
KNOWN_FAILURES: dict[str, str] = {}


def _load(path, kind=None) -> list[dict]:
    if not path.is_file():
        return []
    cases = json.loads(path.read_text())["cases"]
    return [c for c in cases if kind is None or c.get("kind") == kind]


PARSER = _load(PARSER_CASES)
UNESCAPE = _load(EVAL_CASES, "unescape")


def _ids(cases, key):
    # Without the corpus one placeholder case remains, and shared_dir skips it.
    if not cases:
        return {"argvalues": [None], "ids": ["corpus-absent"]}
    return {"argvalues": cases, "ids": [f"{i}:{c[key][:60]}" for i, c in enumerate(cases)]}


def expression(case: dict) -> str:
    """The case's input; the one too long to store is stored as its generator."""
    if "expr_generator" in case:
        char, count = re.fullmatch(r"'(.)' \* (\d+)", case["expr_generator"]).groups()
        return char * int(count)
    return case["expr"]


# --- the oracle's JSON shape ------------------------------------------------------

def as_json(node: ast.Node) -> dict:
    """A node in the corpus's AST shape (see its meta.ast_node_types)."""
    kind, fields = _JSON[type(node)]
    out = {"type": kind, "pos": pos_json(node.pos)}
    for key, attr in fields.items():
        value = getattr(node, attr)
        if isinstance(value, ast.Node):
            value = as_json(value)
        elif isinstance(value, tuple):
            value = [as_json(v) if isinstance(v, ast.Node) else v for v in value]
        elif value is None:        # an absent [..] argument is left out
            continue
        out[key] = value
    return out


def pos_json(pos: ast.Pos) -> dict:
    return {"idx": pos.idx, "line": pos.line, "col": pos.col}


_JSON = {
    ast.And: ("and", {"children": "children"}),
    ast.Or: ("or", {"children": "children"}),
    ast.Not: ("not", {"child": "child"}),
    ast.Identifier: ("identifier", {"identifier": "name"}),
    ast.UnaryCheck: ("unary_check", {"op": "op", "left": "left"}),
    ast.BinaryCheck: ("binary_check", {"op": "op", "left": "left", "right": "right"}),
    ast.Field: ("field", {"field": "name", "arg": "arg"}),
    ast.Transformer: ("transformer", {"transformer": "name", "values": "values",
                                      "arg": "arg"}),
    ast.TransformerList: ("transformer_list", {"children": "children"}),
    ast.Value: ("value", {"value": "value"}),
    ast.ListValue: ("list", {"values": "values"}),
}


# --- one case ---------------------------------------------------------------------

def parser_problems(case: dict) -> list[str]:
    """What differs from the oracle in one parser case (nothing: it passes)."""
    text, oracle = expression(case), case["oracle"]
    parser = Parser(text)
    try:
        node = parser.parse()
    except FilterSyntaxError as e:
        if oracle["parses"]:
            return [f"rejected ({e.message} at {e.pos}), libsinsp accepts it"]
        problems = []
        if e.message != oracle["error"]:
            problems.append(f"error {e.message!r}, libsinsp says {oracle['error']!r}")
        if pos_json(e.pos) != oracle["error_pos"]:
            problems.append(f"error at {pos_json(e.pos)}, libsinsp at {oracle['error_pos']}")
        return problems
    if not oracle["parses"]:
        return [f"accepted as {as_string(node)!r}, libsinsp says {oracle['error']!r}"]
    problems = []
    if as_string(node) != oracle["as_string"]:
        problems.append(f"as_string {as_string(node)!r}, libsinsp {oracle['as_string']!r}")
    if as_json(node) != oracle["ast"]:
        problems.append(f"AST {json.dumps(as_json(node))}\n  libsinsp {json.dumps(oracle['ast'])}")
    if pos_json(parser.pos()) != oracle["end_pos"]:
        problems.append(f"ends at {pos_json(parser.pos())}, libsinsp at {oracle['end_pos']}")
    return problems + whitespace_problems(case, text)


def whitespace_problems(case: dict, text: str) -> list[str]:
    """test_accept() also parses the expression padded with blanks, then with every
    space turned into a newline, then into a tab: all must parse."""
    if not case.get("whitespace_variants_tested"):
        return []
    padded = f" {text} "
    problems = []
    for variant in (padded, padded.replace(" ", "\n"), padded.replace(" ", "\t")):
        try:
            Parser(variant).parse()
        except FilterSyntaxError as e:
            problems.append(f"variant {variant!r} rejected: {e.message}")
    return problems


def unescape_problems(case: dict) -> list[str]:
    literal = case["quoted_literal"]
    try:
        value = unescape(literal[1:-1], literal[0])
    except FilterSyntaxError as e:
        if case["oracle_ok"]:
            return [f"rejected ({e.message}), libsinsp gives {case['oracle_value']!r}"]
        if e.message != case["oracle_error"]:
            return [f"error {e.message!r}, libsinsp says {case['oracle_error']!r}"]
        return []
    if not case["oracle_ok"]:
        return [f"gave {value!r}, libsinsp says {case['oracle_error']!r}"]
    # The oracle writes bytes as Latin-1 code points; we decode bytes as UTF-8 with
    # surrogateescape, so compare the bytes both stand for.
    if value.encode("utf-8", "surrogateescape") != case["oracle_value"].encode("latin-1"):
        return [f"gave {value!r}, libsinsp {case['oracle_value']!r}"]
    return []


def check_known(key: str, problems: list[str]) -> None:
    if key in KNOWN_FAILURES:
        if not problems:
            pytest.fail(f"known failure now passes, remove it from KNOWN_FAILURES: {key!r}")
        pytest.xfail(KNOWN_FAILURES[key])
    assert not problems, "\n".join(problems)


# --- the tests --------------------------------------------------------------------

@pytest.mark.parametrize("case", **_ids(PARSER, "expr"))
def test_parser_case(shared_dir, case):
    check_known(case["expr"], parser_problems(case))


@pytest.mark.parametrize("case", **_ids(UNESCAPE, "quoted_literal"))
def test_unescape_case(shared_dir, case):
    check_known(case["quoted_literal"], unescape_problems(case))


def test_pass_rate(shared_dir, capsys):
    """The score, printed; fails if the set of failing cases is not KNOWN_FAILURES."""
    failing = {c["expr"] for c in PARSER if parser_problems(c)}
    failing |= {c["quoted_literal"] for c in UNESCAPE if unescape_problems(c)}
    parsed = sum(1 for c in PARSER if c["expr"] not in failing)
    unescaped = sum(1 for c in UNESCAPE if c["quoted_literal"] not in failing)
    with capsys.disabled():
        print(f"\nfilter conformance: {parsed} of {len(PARSER)} parser cases, "
              f"{unescaped} of {len(UNESCAPE)} unescape cases pass")
    assert len(PARSER) == 567 and len(UNESCAPE) == 19, "the corpus changed size"
    assert failing == set(KNOWN_FAILURES)
