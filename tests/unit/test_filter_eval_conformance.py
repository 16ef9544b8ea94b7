"""Conditions against libsinsp's own compiler and evaluator tests (../shared/corpus/
conformance/filter_eval_cases.json, 853 cases; its 'unescape' ones are
test_filter_parser_conformance.py's).

Each case passes, fails, or cannot run here; the last two are listed in KNOWN_FAILURES
with the reason, so a new failure and a newly passing known failure both fail the run
(and a case that cannot run must say why with the reason the test finds itself).
test_pass_rate prints, per kind, how many pass and how many truly ran.

- run_mock: compiled against libsinsp's mock fields (c.true, c.false, ...) and run.
- compile: does the expression compile (field, operator for its type, transformer
  rules, values that fit the type)? Cases naming a field scapula lacks cannot run.
- eval_event: libsinsp evaluates these on synthetic events built in its C++ tests. Run
  here: the should_compile ones (a compile check), those reading no field at all, and
  those comparing a field with itself (`f = val(f)`: true whatever the value).
- evttype_set, evttype_equiv: rules/analysis.py's event_types against libsinsp's sets.
"""
from collections import Counter
from dataclasses import replace
import ipaddress
import json

import pytest

from scapula.replay import fields as F
from scapula.replay.codegen import compile_predicate
from scapula.replay.condition import CompileError, compile_condition
from scapula.replay.filter import FilterSyntaxError, ast, parse
from scapula.replay.rules.analysis import EventTypes, event_types, uses
from tests.conftest import SHARED

EVAL_CASES = SHARED / "corpus" / "conformance" / "filter_eval_cases.json"
KINDS = ("run_mock", "compile", "eval_event", "evttype_set", "evttype_equiv")
COUNTS = {"run_mock": 40, "compile": 353, "eval_event": 320, "evttype_set": 87,
          "evttype_equiv": 34}

FIELD = "field not in scapula"
EVENT = "needs libsinsp's synthetic event"


class _Ctx:
    """What compiled conditions need of a context when the fields are mocks."""
    def __init__(self):
        self.values = {}


class NotRunnable(Exception):
    """A case scapula cannot meaningfully run; the message is the reason."""


def _load() -> list[dict]:
    if not EVAL_CASES.is_file():
        return []
    return [c for c in json.loads(EVAL_CASES.read_text())["cases"] if c["kind"] in KINDS]


CASES = _load()


def key(case: dict) -> str:
    """A case's name in KNOWN_FAILURES: kind, libsinsp test, expression."""
    test = case["test"].rsplit(".", 1)[-1]
    expr = case["expr"]
    if "equivalent_to" in case:
        expr += f"  ≡  {case['equivalent_to']}"
    return f"{case['kind']} {test}: {expr}"


# --- fields: libsinsp's mock ones, and stand-ins for value-independent cases ------------

# filter_compiler.ut.cpp's mock filtercheck: c.true always compares true, c.false and
# c.buffer false, c.singlequote / c.doublequote true iff the value is the quoted text;
# it ignores the operator. Every run_mock case uses `=` (and c.true/c.false with `1`),
# so a field holding the value that compares as the mock does stands in for it.
MOCK_FIELDS = {"c.true": (F.CHARBUF, "1"), "c.false": (F.CHARBUF, "0"),
               "c.buffer": (F.BYTEBUF, b""), "c.singlequote": (F.CHARBUF, "hello 'quoted'"),
               "c.doublequote": (F.CHARBUF, 'hello "quoted"')}


def mock_lookup(name: str):
    """The mock fields, then the real ones ("filter factory: mock + real sinsp fields")."""
    if name in MOCK_FIELDS:
        type_, value = MOCK_FIELDS[name]
        return F.FieldDef(name, type_, "libsinsp's mock", lambda ctx, arg: value), None
    return F.lookup(name)


STAND_INS = {F.CHARBUF: "stand-in", F.FSPATH: "/stand/in", F.L4PROTO: "tcp",
             F.BYTEBUF: b"stand-in", F.LIST: ["stand-in"], F.BOOL: True,
             F.IPADDR: "10.0.0.1", F.IPNET: ipaddress.ip_address("10.0.0.1")}


def stand_in_lookup(name: str):
    """The real fields, each holding an arbitrary value of its type."""
    found = F.lookup(name)
    if found is None:
        return None
    field, dotted = found
    value = STAND_INS.get(field.type, 1)
    return replace(field, extract=lambda ctx, arg: value), dotted


def lookup_for(case: dict):
    return mock_lookup if "mock" in case.get("context", "") else F.lookup


# --- one case ---------------------------------------------------------------------------

def compile_verdict(expr: str, known) -> tuple[bool, str, object]:
    """(compiles, why not, node). A field `known` lacks makes the case not runnable."""
    try:
        node = parse(expr)
    except FilterSyntaxError as e:
        return False, f"parse error: {e.message}", None
    if any(known(n) is None for n in uses(node).fields):
        raise NotRunnable(FIELD)
    try:
        compile_condition(node, known)
    except CompileError as e:
        return False, e.message, node
    return True, "", node


def compile_problems(case: dict) -> list[str]:
    known = lookup_for(case)
    ok, why, node = compile_verdict(case["expr"], known)
    if ok != case["should_compile"]:
        return [f"does not compile ({why}), libsinsp compiles it" if not ok
                else "compiles, libsinsp rejects it"]
    warnings = case.get("expected_warnings")
    if ok and warnings is not None:
        found = uses(node, known_field=lambda n: known(n) is not None).values
        if len(found) != warnings:
            return [f"{len(found)} warnings ({[f.message for f in found]}), libsinsp {warnings}"]
    return []


def evaluate(node, known) -> bool:
    """The closures' answer, which the generated source (what the engine runs) must
    give too."""
    got = compile_condition(node, known)(_Ctx())
    generated = compile_predicate(node, known)(_Ctx())
    assert generated is got, f"generated source says {generated}, closures {got}"
    return got


def run_mock_problems(case: dict) -> list[str]:
    got = evaluate(parse(case["expr"]), mock_lookup)
    return [] if got is case["expected"] else [f"evaluates to {got}"]


def _self_comparison(node) -> bool:
    """`f = val(f)` or `t(f) = t(f)`: true whatever f holds (when it holds something)."""
    if type(node) is not ast.BinaryCheck or node.op not in ("=", "=="):
        return False
    right = node.right
    if type(right) is ast.Transformer and right.name == "val":
        right = right.values[0]
    return right == node.left


def _checks(node):
    if type(node) in (ast.And, ast.Or):
        for child in node.children:
            yield from _checks(child)
    elif type(node) is ast.Not:
        yield from _checks(node.child)
    else:
        yield node


def eval_problems(case: dict) -> list[str]:
    """A should_compile case is a compile check; one reading no field, or comparing
    fields only with themselves (then each holds a stand-in value), is evaluated; the
    rest needs the event libsinsp's test builds."""
    if "should_compile" in case:
        return compile_problems(case)
    node = parse(case["expr"])
    if not uses(node).fields:
        known = F.lookup                        # reads no field: the event plays no part
    elif all(_self_comparison(c) for c in _checks(node)):
        known = stand_in_lookup
        if any(F.lookup(n) is None for n in uses(node).fields):
            raise NotRunnable(FIELD)
    else:
        raise NotRunnable(EVENT)
    try:
        got = evaluate(node, known)
    except CompileError as e:
        return [f"does not compile: {e.message}"]
    return [] if got is case["expected"] else [f"evaluates to {got}"]


# libsinsp's sets, by the names the corpus gives them
EXPECTED_SETS = {
    "openat_only": EventTypes(frozenset({"openat"})),
    "not_openat": EventTypes(frozenset({"openat"}), negated=True),
    "openat_close_only": EventTypes(frozenset({"openat", "close"})),
    "not_openat_close": EventTypes(frozenset({"openat", "close"}), negated=True),
    "all_events": EventTypes(negated=True),
    "no_events": EventTypes(),
}


def evttype_problems(case: dict) -> list[str]:
    got = event_types(parse(case["expr"]))
    if case["kind"] == "evttype_set":
        want = EXPECTED_SETS[case["expected_set"]]
        return [] if got == want else [f"event types {got}, libsinsp {case['expected_set']}"]
    other = event_types(parse(case["equivalent_to"]))
    return [] if got == other else [f"event types {got} and {other} differ"]


PROBLEMS = {"run_mock": run_mock_problems, "compile": compile_problems,
            "eval_event": eval_problems, "evttype_set": evttype_problems,
            "evttype_equiv": evttype_problems}


def outcome(case: dict) -> tuple[str, str]:
    """('pass' | 'fail' | 'not run', detail)."""
    try:
        problems = PROBLEMS[case["kind"]](case)
    except NotRunnable as e:
        return "not run", str(e)
    return ("fail", "\n".join(problems)) if problems else ("pass", "")


# --- what scapula cannot match, and why --------------------------------------------------


# libsinsp fields scapula's table lacks: evt.source and evt.plugininfo (event sources and
# plugins), thread.cpu, fd.dev, proc.pid.ts, evt.count, evt.is_io, evt.is_wait,
# evt.buflen.in, evt.around, syscall.type
_FIELD = FIELD
# what libsinsp evaluates on an event its C++ test builds (an fd, a process, a buffer)
_EVENT = EVENT

KNOWN_FAILURES: dict[str, str] = {
    # 124
    **dict.fromkeys([
        'compile operators_field_types_compatibility: evt.is_io exists',
        'compile operators_field_types_compatibility: evt.is_io = true',
        'compile operators_field_types_compatibility: evt.is_io != true',
        'compile operators_field_types_compatibility: evt.is_io contains true',
        'compile operators_field_types_compatibility: evt.is_io in (true)',
        'compile operators_field_types_compatibility: evt.is_io intersects (true)',
        'compile operators_field_types_compatibility: evt.is_io icontains true',
        'compile operators_field_types_compatibility: evt.is_io startswith true',
        'compile operators_field_types_compatibility: evt.is_io glob true',
        'compile operators_field_types_compatibility: evt.is_io pmatch (true)',
        'compile operators_field_types_compatibility: evt.is_io endswith true',
        'compile operators_field_types_compatibility: evt.is_io bcontains 7472756500',
        'compile operators_field_types_compatibility: evt.is_io bstartswith 7472756500',
        'compile operators_field_types_compatibility: evt.is_io iglob true',
        "compile operators_field_types_compatibility: evt.is_io regex '1'",
        'compile operators_field_types_compatibility: thread.cpu exists',
        'compile operators_field_types_compatibility: thread.cpu = 1',
        'compile operators_field_types_compatibility: thread.cpu = 1.0',
        'compile operators_field_types_compatibility: thread.cpu != 1',
        'compile operators_field_types_compatibility: thread.cpu < 1',
        'compile operators_field_types_compatibility: thread.cpu <= 1',
        'compile operators_field_types_compatibility: thread.cpu > 1',
        'compile operators_field_types_compatibility: thread.cpu >= 1',
        'compile operators_field_types_compatibility: thread.cpu contains 1',
        'compile operators_field_types_compatibility: thread.cpu in (1)',
        'compile operators_field_types_compatibility: thread.cpu intersects (1)',
        'compile operators_field_types_compatibility: thread.cpu icontains 1',
        'compile operators_field_types_compatibility: thread.cpu startswith 1',
        'compile operators_field_types_compatibility: thread.cpu glob 1',
        'compile operators_field_types_compatibility: thread.cpu pmatch (1)',
        'compile operators_field_types_compatibility: thread.cpu endswith 1',
        'compile operators_field_types_compatibility: thread.cpu bcontains 303000',
        'compile operators_field_types_compatibility: thread.cpu bstartswith 303000',
        'compile operators_field_types_compatibility: thread.cpu iglob 1',
        "compile operators_field_types_compatibility: thread.cpu regex '1'",
        'compile operators_field_types_compatibility: fd.dev exists',
        'compile operators_field_types_compatibility: fd.dev = 1',
        'compile operators_field_types_compatibility: fd.dev != 1',
        'compile operators_field_types_compatibility: fd.dev < 1',
        'compile operators_field_types_compatibility: fd.dev <= 1',
        'compile operators_field_types_compatibility: fd.dev > 1',
        'compile operators_field_types_compatibility: fd.dev >= 1',
        'compile operators_field_types_compatibility: fd.dev contains 1',
        'compile operators_field_types_compatibility: fd.dev in (1)',
        'compile operators_field_types_compatibility: fd.dev intersects (1)',
        'compile operators_field_types_compatibility: fd.dev icontains 1',
        'compile operators_field_types_compatibility: fd.dev startswith 1',
        'compile operators_field_types_compatibility: fd.dev glob 1',
        'compile operators_field_types_compatibility: fd.dev pmatch (1)',
        'compile operators_field_types_compatibility: fd.dev endswith 1',
        'compile operators_field_types_compatibility: fd.dev bcontains 303000',
        'compile operators_field_types_compatibility: fd.dev bstartswith 303000',
        'compile operators_field_types_compatibility: fd.dev iglob 1',
        "compile operators_field_types_compatibility: fd.dev regex '1'",
        'compile operators_field_types_compatibility: proc.pid.ts exists',
        'compile operators_field_types_compatibility: proc.pid.ts = 1',
        'compile operators_field_types_compatibility: proc.pid.ts != 1',
        'compile operators_field_types_compatibility: proc.pid.ts < 1',
        'compile operators_field_types_compatibility: proc.pid.ts <= 1',
        'compile operators_field_types_compatibility: proc.pid.ts > 1',
        'compile operators_field_types_compatibility: proc.pid.ts >= 1',
        'compile operators_field_types_compatibility: proc.pid.ts contains 1',
        'compile operators_field_types_compatibility: proc.pid.ts in (1)',
        'compile operators_field_types_compatibility: proc.pid.ts intersects (1)',
        'compile operators_field_types_compatibility: proc.pid.ts icontains 1',
        'compile operators_field_types_compatibility: proc.pid.ts startswith 1',
        'compile operators_field_types_compatibility: proc.pid.ts glob 1',
        'compile operators_field_types_compatibility: proc.pid.ts pmatch (1)',
        'compile operators_field_types_compatibility: proc.pid.ts endswith 1',
        'compile operators_field_types_compatibility: proc.pid.ts bcontains 303000',
        'compile operators_field_types_compatibility: proc.pid.ts bstartswith 303000',
        'compile operators_field_types_compatibility: proc.pid.ts iglob 1',
        "compile operators_field_types_compatibility: proc.pid.ts regex '1'",
        'compile operators_field_types_compatibility: evt.count exists',
        'compile operators_field_types_compatibility: evt.count = 1',
        'compile operators_field_types_compatibility: evt.count != 1',
        'compile operators_field_types_compatibility: evt.count < 1',
        'compile operators_field_types_compatibility: evt.count <= 1',
        'compile operators_field_types_compatibility: evt.count > 1',
        'compile operators_field_types_compatibility: evt.count >= 1',
        'compile operators_field_types_compatibility: evt.count contains 1',
        'compile operators_field_types_compatibility: evt.count in (1)',
        'compile operators_field_types_compatibility: evt.count intersects (1)',
        'compile operators_field_types_compatibility: evt.count icontains 1',
        'compile operators_field_types_compatibility: evt.count startswith 1',
        'compile operators_field_types_compatibility: evt.count glob 1',
        'compile operators_field_types_compatibility: evt.count pmatch (1)',
        'compile operators_field_types_compatibility: evt.count endswith 1',
        'compile operators_field_types_compatibility: evt.count bcontains 303000',
        'compile operators_field_types_compatibility: evt.count bstartswith 303000',
        'compile operators_field_types_compatibility: evt.count iglob 1',
        "compile operators_field_types_compatibility: evt.count regex '1'",
        'compile compilation_warnings: evt.source = evt.plugininfo',
        "compile compilation_warnings: evt.source = 'tolower(evt.plugininfo)'",
        'compile compilation_warnings: evt.source regex syscall',
        'compile compilation_warnings: evt.source regex ^syscall$',
        'compile compilation_warnings: evt.source regex ^syscall',
        'compile compilation_warnings: evt.source regex syscall$',
        'compile compilation_warnings: evt.source regex .*syscall',
        'compile compilation_warnings: evt.source regex syscall.*',
        'compile compilation_warnings: evt.source regex .*syscall.*',
        'compile compilation_warnings: evt.source regex .+syscall',
        'compile compilation_warnings: evt.source regex syscall.+',
        'compile compilation_warnings: evt.source regex .+syscall.+',
        'compile compilation_warnings: evt.source regex .?syscall',
        'compile compilation_warnings: evt.source regex syscall.?',
        'compile compilation_warnings: evt.source regex .?syscall.?',
        'compile compilation_warnings: evt.source = unknown.field',
        'compile compilation_warnings: evt.source = tolower',
        'compile compilation_warnings: evt.source = tolower(evt.plugininfo)',
        "compile compilation_warnings: evt.source = 'tolow(evt.plugininfo)'",
        'compile compilation_warnings: evt.source regex syscall.{1}',
        'compile compilation_warnings: evt.source regex syscall\\.*',
        'compile compilation_warnings: evt.source regex s.*l',
        'compile compilation_warnings: evt.source regex syscal[l]?',
        'eval_event filter_transformers_combination: (tolower(syscall.type) = tolower(syscall.type))',
        'eval_event filter_transformers_combination: (toupper(syscall.type) = toupper(syscall.type))',
        'eval_event filter_transformers_combination: (tolower(toupper(syscall.type)) = tolower(toupper(syscall.type)))',
        'compile filter_different_types: syscall.type = val(evt.is_wait)',
        'compile filter_not_supported_rhs_field: evt.buflen.in = val(evt.around[1404996934793590564])',
        'compile filter_not_supported_rhs_field: evt.around[1404996934793590564] = val(evt.buflen.in)',
        'eval_event filter_cache_corner_cases: evt.source = val(evt.source)',
        'eval_event filter_regex_operator_evaluation: evt.plugininfo regex val(evt.source)',
        'eval_event filter_str_op_modifier_compilation: evt.type == oneof (getcwd, openat) and evt.source == oneof (syscall)',
    ], _FIELD),
    # 182
    **dict.fromkeys([
        'eval_event filter_simple_evaluation: (evt.type = getcwd)',
        'eval_event filter_val_transformer: (evt.args = evt.args)',
        'eval_event filter_transformers_combination: (tolower(syscall.type) = getcwd)',
        'eval_event filter_transformers_combination: (toupper(syscall.type) = GETCWD)',
        'eval_event filter_transformers_combination: (tolower(toupper(syscall.type)) = getcwd)',
        'eval_event filter_cache_disabled: evt.type = openat or evt.type = getcwd',
        'eval_event filter_cache_disabled: evt.type = getcwd',
        'eval_event filter_cache_enabled: evt.type = openat or evt.type = getcwd',
        'eval_event filter_cache_enabled: evt.type = getcwd',
        'eval_event filter_cache_corner_cases: sample.is_open exists and sample.is_open = 0',
        'eval_event filter_cache_corner_cases: sample.is_open = 0',
        'eval_event filter_cache_corner_cases: fd.ip = 127.0.0.1 or fd.ip = 10.0.0.1',
        'eval_event filter_cache_corner_cases: fd.ip = 10.0.0.1',
        'eval_event filter_cache_corner_cases: fd.net = 127.0.0.1/32 or fd.net = 10.0.0.1/32',
        'eval_event filter_cache_corner_cases: fd.net = 10.0.0.1/32',
        'eval_event filter_cache_corner_cases: evt.arg[1] startswith /etc or evt.arg[1] = /test/dir',
        'eval_event filter_cache_corner_cases: evt.arg[1] = /test/dir',
        'eval_event filter_cache_corner_cases: toupper(evt.source) = SYS or toupper(evt.source) = SYSCALL',
        'eval_event filter_cache_corner_cases: toupper(evt.source) = SYSCALL',
        'eval_event filter_cache_corner_cases: evt.source = val(evt.plugininfo) or evt.source = val(evt.source)',
        'eval_event filter_cache_pointer_instability: (evt.arg.ret = val(evt.arg.reaper_tid))',
        'eval_event filter_cache_unary_check_plugin_ptr_instability: sample.proc_name exists and sample.tick = "false" and sample.proc_name = "init"',
        "eval_event filter_regex_operator_evaluation: evt.source regex '^[s]{1}ysca[l]{2}$'",
        "eval_event filter_regex_operator_evaluation: evt.source regex 'yscal.*'",
        "eval_event filter_regex_operator_evaluation: evt.source regex '.*yscal'",
        "eval_event filter_regex_operator_evaluation: evt.source regex 'syscal.*'",
        "eval_event filter_regex_operator_evaluation: evt.source regex '^unknown$'",
        "eval_event filter_regex_operator_evaluation: toupper(evt.source) regex '^[A-Z]+$'",
        'eval_event filter_str_op_modifier_evaluation: evt.type == oneof (getcwd, openat)',
        'eval_event filter_str_op_modifier_evaluation: evt.type == oneof (getcwd)',
        'eval_event filter_str_op_modifier_evaluation: evt.type == oneof (openat, execve)',
        'eval_event filter_str_op_modifier_evaluation: evt.type == oneof ()',
        'eval_event filter_str_op_modifier_evaluation: evt.type == anyof (getcwd, openat)',
        'eval_event filter_str_op_modifier_evaluation: evt.type == anyof (getcwd)',
        'eval_event filter_str_op_modifier_evaluation: evt.type == anyof (openat, execve)',
        'eval_event filter_str_op_modifier_evaluation: evt.type == anyof ()',
        'eval_event filter_str_op_modifier_evaluation: evt.type == allof (getcwd)',
        'eval_event filter_str_op_modifier_evaluation: evt.type == allof (getcwd, openat)',
        'eval_event filter_str_op_modifier_evaluation: evt.type == allof (openat)',
        'eval_event filter_str_op_modifier_evaluation: evt.type == allof ()',
        'eval_event filter_str_op_modifier_evaluation: toupper(evt.source) == oneof (SYSCALL, NA)',
        'eval_event filter_str_op_modifier_evaluation: toupper(evt.source) == oneof (UNKNOWN, NA)',
        'eval_event filter_str_op_modifier_evaluation: evt.type == oneof (getcwd, openat) and evt.source == anyof (syscall)',
        'eval_event filter_str_op_modifier_evaluation: evt.type == oneof (openat, execve) and evt.source == anyof (syscall)',
        'eval_event bytebuf_bcontains_bstartswith: evt.buffer bcontains 68656c6c6f',
        'eval_event bytebuf_bcontains_bstartswith: evt.buffer bcontains 656c6C',
        'eval_event bytebuf_bcontains_bstartswith: evt.buffer bcontains 20',
        'eval_event bytebuf_bcontains_bstartswith: evt.buffer bcontains 656c6cAA',
        'eval_event bytebuf_bcontains_bstartswith: evt.buffer bstartswith 68',
        'eval_event bytebuf_bcontains_bstartswith: evt.buffer bstartswith 68656c6c6f',
        'eval_event bytebuf_bcontains_bstartswith: evt.buffer bstartswith 65',
        'eval_event bytebuf_bcontains_bstartswith: evt.buffer bstartswith 656c6C',
        'eval_event bytebuf_bcontains_bstartswith: evt.buffer bstartswith 20',
        'eval_event bytebuf_bcontains_bstartswith: evt.buffer bstartswith 656c6cAA',
        'eval_event bytebuf_matches_nul: evt.buffer = "a\\x00b"',
        'eval_event bytebuf_matches_nul: evt.buffer = "ab"',
        'eval_event bytebuf_matches_nul: evt.buffer bcontains 610062',
        'eval_event bytebuf_matches_nul: evt.buffer bcontains 610162',
        'eval_event bytebuf_matches_nul: evt.buffer bstartswith 6100',
        'eval_event bytebuf_matches_nul: evt.buffer bstartswith 6101',
        'eval_event contains_icontains: evt.arg.flags contains O_CREAT',
        'eval_event contains_icontains: evt.arg.flags contains O_TMPFILE',
        'eval_event contains_icontains: evt.arg.flags icontains O_CREAT',
        'eval_event contains_icontains: fd.name contains /dir',
        'eval_event contains_icontains: fd.name icontains /subdir',
        'eval_event contains_icontains: fd.name icontains notthis',
        'eval_event net_ipv4_compare: fd.ip == 142.251.111.147',
        'eval_event net_ipv4_compare: fd.sip == 142.251.111.147',
        'eval_event net_ipv4_compare: fd.lip == 142.251.111.147',
        'eval_event net_ipv4_compare: fd.rip == 172.40.111.222',
        'eval_event net_ipv4_compare: fd.cip == 172.40.111.222',
        'eval_event net_ipv4_compare: fd.ip != 142.251.111.147',
        'eval_event net_ipv4_compare: fd.sip != 0:0:0:0:0:0:0:1',
        "eval_event net_ipv4_compare: fd.sip == '0:0:0:0:0:0:0:1'",
        'eval_event net_ipv4_compare: fd.net == 142.0.0.0/4',
        'eval_event net_ipv4_compare: fd.net == 142.251.0.0/8',
        'eval_event net_ipv4_compare: fd.net == 142.251.111.0/16',
        'eval_event net_ipv4_compare: fd.net != 10.0.0.0/8',
        'eval_event net_ipv4_compare: fd.net != 2001:db8:abcd:0012::0/64',
        'eval_event net_ipv4_compare: fd.net == 10.0.0.0/8',
        'eval_event net_ipv4_compare: fd.net == 2001:db8:abcd:0012::0/64',
        'eval_event net_modifier_ip_compare: fd.sip == anyof (142.251.111.147)',
        'eval_event net_modifier_ip_compare: fd.sip == anyof (10.0.0.1, 142.251.111.147)',
        'eval_event net_modifier_ip_compare: fd.sip == anyof (10.0.0.1, 192.168.0.1)',
        'eval_event net_modifier_ip_compare: fd.sip == allof (142.251.111.147)',
        'eval_event net_modifier_ip_compare: fd.sip == allof (142.251.111.147, 10.0.0.1)',
        'eval_event net_modifier_ip_compare: fd.sip == oneof (142.251.111.147)',
        'eval_event net_modifier_ip_compare: fd.sip == oneof (10.0.0.1, 142.251.111.147)',
        'eval_event net_modifier_ip_compare: fd.sip == oneof (10.0.0.1, 192.168.0.1)',
        'eval_event net_modifier_ip_compare: fd.sip != anyof (10.0.0.1)',
        'eval_event net_modifier_ip_compare: fd.sip != anyof (142.251.111.147)',
        'eval_event net_modifier_ip_compare: fd.sip != allof (10.0.0.1, 192.168.0.1)',
        'eval_event net_ipv6_compare: fd.ip == 2001:4860:4860::8888',
        'eval_event net_ipv6_compare: fd.sip == 2001:4860:4860::8888',
        'eval_event net_ipv6_compare: fd.lip == 2001:4860:4860::8888',
        'eval_event net_ipv6_compare: fd.rip == ::1',
        'eval_event net_ipv6_compare: fd.cip == ::1',
        'eval_event net_ipv6_compare: fd.ip != 2001:4860:4860::8888',
        'eval_event net_ipv6_compare: fd.sip != 127.0.0.1',
        "eval_event net_ipv6_compare: fd.sip == '127.0.0.1'",
        'eval_event net_ipv6_compare: fd.net == 2001::0/16',
        'eval_event net_ipv6_compare: fd.net == 2001:4860::0/32',
        'eval_event net_ipv6_compare: fd.net == 2001:4860:4860::8888/48',
        'eval_event net_ipv6_compare: fd.net != 10::0/16',
        'eval_event net_ipv6_compare: fd.net != 10.0.0.0/8',
        'eval_event net_ipv6_compare: fd.net == 10.0.0.0/8',
        'eval_event net_ipv6_compare: fd.net == 2001:db8:abcd:0012::0/64',
        'eval_event signed_int_compare: evt.cpu < 300',
        'eval_event signed_int_compare: evt.cpu > 300',
        'eval_event signed_int_compare: evt.cpu < 2',
        'eval_event signed_int_compare: evt.cpu > -500',
        'eval_event signed_int_compare: evt.cpu < 500',
        'eval_event signed_int_compare: evt.cpu <= 500',
        'eval_event signed_int_compare: evt.cpu <= 1025',
        'eval_event signed_int_compare: evt.cpu >= 1025',
        'eval_event signed_int_compare: evt.rawarg.res > 0',
        'eval_event signed_int_compare: evt.rawarg.res < 0',
        'eval_event signed_int_compare: evt.rawarg.res > 4294967295',
        'eval_event signed_int_compare: evt.rawarg.res < -1',
        'eval_event signed_int_compare: evt.rawarg.res > -65535',
        'eval_event signed_int_compare: fd.num >= 0',
        'eval_event signed_int_compare: fd.num > 0',
        'eval_event signed_int_compare: fd.num < 0',
        'eval_event signed_int_compare: fd.num > 4294967295',
        'eval_event signed_int_compare: fd.num < -1',
        'eval_event signed_int_compare: fd.num > -65535',
        'eval_event pmatch: fd.name pmatch (/opt/dir)',
        'eval_event pmatch: fd.name pmatch (/opt/dir/subdir)',
        'eval_event pmatch: fd.name pmatch (/opt/dir2)',
        'eval_event pmatch: fd.name pmatch (/opt/dir, /opt/dir2)',
        'eval_event pmatch: fd.name pmatch (/opt/dir3, /opt/dir2)',
        'eval_event pmatch: fd.name pmatch (/opt/*)',
        'eval_event pmatch: fd.name pmatch (/opt/*/subdir)',
        'eval_event pmatch: fd.name pmatch (/opt/di?/subdir)',
        'eval_event pmatch: fd.name pmatch (/opt/dii?/subdir)',
        'eval_event pmatch: fd.name pmatch (/opt/di[r]/subdir)',
        'eval_event pmatch: fd.name pmatch (/opt/di[!r]/subdir)',
        'eval_event pmatch: fd.name pmatch (/opt/di[t]/subdir)',
        'eval_event pmatch: fd.name pmatch (/opt/di/subdir)',
        'eval_event pmatch: fd.name pmatch (/opt/*/subdir2)',
        'eval_event pmatch: fd.name pmatch (/opt/*/*)',
        'eval_event pmatch: fd.name pmatch (/opt/*/*/subsubdir)',
        'eval_event basename_transformer: basename(fd.name) = file_to_run',
        'eval_event basename_transformer: basename(fd.name) = /tmp/file_to_run',
        'eval_event len_transformer: len(fd.types) = 1',
        'eval_event len_transformer: len(fd.types) > 0',
        'eval_event len_transformer: len(fd.types) = 0',
        'eval_event len_transformer: len(fd.name) = 16',
        'eval_event len_transformer: len(fd.types) = 2',
        'eval_event len_transformer: len(evt.arg.data) == 6',
        'eval_event multivalue_transformer_join: join(fd.name, (fd.name,fd.directory)) = /tmp/file_to_run/tmp/file_to_run/tmp',
        'eval_event multivalue_transformer_join: join("-", (fd.name,fd.directory)) = /tmp/file_to_run-/tmp',
        'eval_event multivalue_transformer_join: join("->", (fd.name, "aaa")) = /tmp/file_to_run->aaa',
        'eval_event multivalue_transformer_join: join("->", (fd.name, "aaa", fd.directory)) = /tmp/file_to_run->aaa->/tmp',
        'eval_event multivalue_transformer_join: join("->", (toupper(fd.name), "aaa")) = /TMP/FILE_TO_RUN->aaa',
        'eval_event multivalue_transformer_join: join("->", ( "aaa", toupper(fd.name))) = aaa->/TMP/FILE_TO_RUN',
        'eval_event multivalue_transformer_join: join("-", (fd.directory, join("->", ( "aaa", toupper(fd.name))))) = /tmp-aaa->/TMP/FILE_TO_RUN',
        'eval_event multivalue_transformer_join: join(",", (evt.num, evt.num)) = "1,1"',
        'eval_event multivalue_transformer_concat: concat(fd.name, fd.directory) = /tmp/file_to_run/tmp',
        'eval_event multivalue_transformer_concat: concat(fd.name, "aaa") = /tmp/file_to_runaaa',
        'eval_event multivalue_transformer_concat: concat(fd.name, "aaa", fd.directory) = /tmp/file_to_runaaa/tmp',
        'eval_event multivalue_transformer_concat: concat(toupper(fd.name), "aaa") = /TMP/FILE_TO_RUNaaa',
        'eval_event multivalue_transformer_concat: concat("aaa", toupper(fd.name)) = aaa/TMP/FILE_TO_RUN',
        'eval_event multivalue_transformer_concat: concat(fd.directory, concat("aaa", toupper(fd.name))) = /tmpaaa/TMP/FILE_TO_RUN',
        'eval_event multivalue_transformer_with_outer_transformer: toupper(join("-", (fd.name, fd.directory))) = /TMP/FILE_TO_RUN-/TMP',
        'eval_event multivalue_transformer_with_outer_transformer: tolower(join("-", (fd.name, fd.directory))) = /tmp/file_to_run-/tmp',
        'eval_event multivalue_transformer_with_outer_transformer: len(join("-", (fd.name, fd.directory))) = 21',
        'eval_event multivalue_transformer_with_outer_transformer: toupper(tolower(join("-", (fd.name, fd.directory)))) = /TMP/FILE_TO_RUN-/TMP',
        'eval_event multivalue_transformer_with_outer_transformer: toupper(join("-", (fd.name, fd.directory))) contains /TMP',
        'eval_event multivalue_transformer_with_outer_transformer: toupper(join("-", (fd.name, fd.directory))) startswith /TMP',
        'eval_event multivalue_transformer_with_outer_transformer: len(join("-", (fd.name, fd.directory))) > 20',
        'eval_event multivalue_transformer_with_outer_transformer: len(join("-", (fd.name, fd.directory))) >= 21',
        'eval_event multivalue_transformer_with_outer_transformer: len(join("-", (fd.name, fd.directory))) < 22',
        'eval_event multivalue_transformer_with_outer_transformer: toupper(concat(fd.name, fd.directory)) = /TMP/FILE_TO_RUN/TMP',
        'eval_event multivalue_transformer_with_outer_transformer: tolower(concat(fd.name, fd.directory)) = /tmp/file_to_run/tmp',
        'eval_event multivalue_transformer_with_outer_transformer: len(concat(fd.name, fd.directory)) = 20',
        'eval_event multivalue_transformer_with_outer_transformer: toupper(tolower(concat(fd.name, fd.directory))) = /TMP/FILE_TO_RUN/TMP',
        'eval_event multivalue_transformer_with_outer_transformer: toupper(concat(fd.name, fd.directory)) contains /TMP',
        'eval_event multivalue_transformer_with_outer_transformer: toupper(concat(fd.name, fd.directory)) startswith /TMP',
        'eval_event multivalue_transformer_with_outer_transformer: len(concat(fd.name, fd.directory)) > 19',
        'eval_event multivalue_transformer_with_outer_transformer: len(concat(fd.name, fd.directory)) >= 20',
        'eval_event multivalue_transformer_with_outer_transformer: len(concat(fd.name, fd.directory)) < 21',
    ], _EVENT),
}


# --- the tests --------------------------------------------------------------------------

def _ids(cases):
    # Without the corpus one placeholder case remains, and shared_dir skips it.
    if not cases:
        return {"argvalues": [None], "ids": ["corpus-absent"]}
    return {"argvalues": cases, "ids": [f"{i}:{key(c)[:70]}" for i, c in enumerate(cases)]}


@pytest.mark.parametrize("case", **_ids(CASES))
def test_case(shared_dir, case):
    status, detail = outcome(case)
    name = key(case)
    if name in KNOWN_FAILURES:
        if status == "pass":
            pytest.fail(f"known failure now passes, remove it from KNOWN_FAILURES: {name!r}")
        if status == "not run" and detail != KNOWN_FAILURES[name]:
            pytest.fail(f"cannot run because {detail!r}, KNOWN_FAILURES says "
                        f"{KNOWN_FAILURES[name]!r}")
        pytest.xfail(KNOWN_FAILURES[name])
    assert status == "pass", f"{status}: {detail}"


def test_pass_rate(shared_dir, capsys):
    """The score per kind, printed; fails if the failing cases are not KNOWN_FAILURES."""
    results = [(c, *outcome(c)) for c in CASES]
    total, passed, ran = Counter(), Counter(), Counter()
    for case, status, _detail in results:
        total[case["kind"]] += 1
        passed[case["kind"]] += status == "pass"
        ran[case["kind"]] += status != "not run"
    with capsys.disabled():
        print("\nfilter eval conformance (pass of all; ran, the rest not runnable here):")
        for kind in KINDS:
            print(f"  {kind:14} {passed[kind]:3} of {total[kind]:3} pass; {ran[kind]:3} ran, "
                  f"{total[kind] - ran[kind]:3} not runnable")
    assert dict(total) == COUNTS, "the corpus changed size"
    failing = {key(c) for c, status, _d in results if status != "pass"}
    assert failing == set(KNOWN_FAILURES), \
        f"new failures: {sorted(failing - set(KNOWN_FAILURES))}\n" \
        f"now passing: {sorted(set(KNOWN_FAILURES) - failing)}"
