"""Falco's own rule-loader tests, run against our loader.

shared/corpus/conformance/rule_loader_cases.json holds the cases of Falco's
unit_tests/engine (test_rule_loader.cpp and friends): rules YAML, whether it
loads, the compiled condition (as_string() after lists, macros and exceptions),
and substrings of the warnings and errors. Every case runs; the ones we do not
pass are listed in KNOWN_FAILURES with the reason, so a new failure and a known
failure that starts passing both show up.
"""
import json
from pathlib import Path
import re

import pytest

from scapula.replay.rules import ExtraField, ExtraOutput, Loader

CASES = "corpus/conformance/rule_loader_cases.json"
SHARED = Path(__file__).resolve().parents[2].parent / "shared"  # as the shared_dir fixture

KNOWN_FAILURES: dict[str, str] = {
}

# What the upstream test configures on the engine before loading, which the case
# file does not record (from Falco's unit_tests/engine/test_extra_output.cpp).
ENGINE_SETUP = {
    "test_falco_engine.extra_format_all": {
        "extra_outputs": [ExtraOutput("evt.type=%evt.type")]},
    "test_falco_engine.extra_format_by_rule": {
        "extra_outputs": [ExtraOutput("evt.type=%evt.type", rule="legit_rule")]},
    "test_falco_engine.extra_format_by_tag_rule": {
        "extra_outputs": [ExtraOutput("extra 1", tags=frozenset({"tag1"})),
                          ExtraOutput("extra 2", rule="another_rule"),
                          ExtraOutput("extra 3", tags=frozenset({"tag1", "tag2"}))]},
    "test_falco_engine.extra_fields_all": {
        "extra_fields": [ExtraField("hello %evt.num", key="my_field")]},
}
EXTRA_FORMATTED_FIELDS = {"my_field": "hello %evt.num"}

# The field classes of Falco's syscall source: a stand-in for the field table
# (which comes later), enough to tell `proc.pname` (a field) from `ci.internal`.
FIELD_CLASSES = {"evt", "proc", "thread", "user", "group", "fd", "fdlist", "fs", "syscall",
                 "container", "k8s"}


def known_field(name: str) -> bool:
    return name.split(".", 1)[0] in FIELD_CLASSES


def load_cases(shared_dir) -> list[dict]:
    return json.loads((shared_dir / CASES).read_text())["cases"]


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        path = SHARED / CASES
        cases = json.loads(path.read_text())["cases"] if path.exists() else []
        metafunc.parametrize("case", cases, ids=[c["test"].split(".")[-1] for c in cases])


def run_case(case: dict) -> list[str]:
    """Every way our result differs from the case's expectations (empty: it passes).
    The steps of a case share one loader, as they share one engine upstream."""
    failures = []
    loader = Loader(known_field=known_field, **ENGINE_SETUP.get(case["test"], {}))
    for step in case["steps"]:
        loader.add_text(step["rules_yaml"], "rules.yaml")
        failures += check_step(step, loader.result())
    return failures


def check_step(step: dict, result) -> list[str]:
    failures = []
    errors = [p.message for p in result.errors]
    warnings = [p.message for p in result.warnings]
    codes = {p.code for p in result.warnings}

    def has(messages, expected):
        # null stands for the one warning the upstream test checks by code
        return "LOAD_NO_EVTTYPE" in codes if expected is None else \
            any(expected in m for m in messages)

    if step.get("expect_load_ok") is not None and result.ok != step["expect_load_ok"]:
        failures.append(f"loaded ok={result.ok}, expected {step['expect_load_ok']}: {errors}")
    for kind, expected in (("condition", step.get("expected_compiled_conditions") or {}),
                           ("output", step.get("expected_compiled_outputs") or {})):
        for name, want in expected.items():
            rule = result.rules.get(name)
            got = None if rule is None else getattr(rule, f"{kind}_compiled")
            if got != want:
                failures.append(f"{name}: compiled {kind} {got!r}, expected {want!r}")
    for want in step.get("warnings_present") or ():
        if not has(warnings, want):
            failures.append(f"no warning {want!r} among {warnings}")
    for want in step.get("warnings_absent") or ():
        if has(warnings, want):
            failures.append(f"unexpected warning {want!r} among {warnings}")
    for want in step.get("errors_present") or ():
        if not has(errors, want):
            failures.append(f"no error {want!r} among {errors}")
    if step.get("has_warnings") is not None and bool(warnings) != step["has_warnings"]:
        failures.append(f"has_warnings={bool(warnings)}, expected {step['has_warnings']}: "
                        f"{warnings}")
    for assertion in step.get("other_assertions") or ():
        if not evaluate(assertion, result):
            failures.append(f"failed: {assertion}")
    return failures


# --- the C++ assertions, read as Python --------------------------------------

_CPP_TO_PY = [
    (re.compile(r"\s*\.template get<[^>]*>\(\)"), ""),
    (re.compile(r"std::string::npos|\boutput\.npos"), "-1"),
    (re.compile(r"std::string\("), "str("),
    (re.compile(r"\.size\(\)"), ".__len__()"),
    (re.compile(r"->"), "."),
    (re.compile(r"\b(\d+)u\b"), r"\1"),
    (re.compile(r"\btrue\b"), "True"),
    (re.compile(r"\bfalse\b"), "False"),
]
_ASSERT = re.compile(r"(?:ASSERT|EXPECT)_(EQ|NE|TRUE)\((.*)\)\s*;?\s*$", re.S)


def evaluate(assertion: str, result) -> bool:
    """Evaluates one of the corpus's gtest assertions against our result; the names
    it uses (rule_description, num_rules_for_ruleset, ...) are the upstream test's."""
    m = _ASSERT.match(assertion.strip())
    if not m:
        raise AssertionError(f"cannot read assertion {assertion!r}")
    kind, body = m.groups()
    for pattern, replacement in _CPP_TO_PY:
        body = pattern.sub(replacement, body)
    if kind == "TRUE":
        expression = body
    else:
        left, right = _split_arguments(body)
        expression = f"({left}) {'==' if kind == 'EQ' else '!='} ({right})"
    return bool(eval(expression, {}, _assertion_names(result)))  # noqa: S307 (our corpus)


def _split_arguments(body: str) -> tuple[str, str]:
    depth, quote = 0, None
    for i, ch in enumerate(body):
        if quote:
            quote = None if ch == quote and body[i - 1] != "\\" else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            return body[:i], body[i + 1:]
    raise AssertionError(f"two arguments expected in {body!r}")


class _LoadResult:
    def __init__(self, result):
        self._result = result

    def successful(self):
        return self._result.ok

    def has_warnings(self):
        return bool(self._result.warnings)


def _assertion_names(result) -> dict:
    dir_warnings = [p for p in result.warnings if "evt.dir" in p.message]
    first_rule = next(iter(result.rules.values()), None)
    return {
        "rule_description": result.describe(),
        "m_load_result": _LoadResult(result),
        "m_load_result_json": {"errors": [{"context": {"snippet": p.snippet}}
                                          for p in result.errors]},
        "num_rules_for_ruleset": lambda: len(result.enabled_rules()),
        "snippet": dir_warnings[0].snippet if dir_warnings else "",
        "output": first_rule.output_compiled if first_rule else "",
        "get_compiled_rule_formatted_fields": lambda name: result.rules[name].extra_fields,
        "extra_formatted_fields": EXTRA_FORMATTED_FIELDS,
    }


# --- the tests ---------------------------------------------------------------

def test_rule_loader_case(case, shared_dir):
    failures = run_case(case)
    name = case["test"]
    if name in KNOWN_FAILURES:
        assert failures, f"{name} passes now: remove it from KNOWN_FAILURES"
        pytest.xfail(KNOWN_FAILURES[name])
    assert not failures, f"{name} ({case['source']}):\n  " + "\n  ".join(failures)


def test_rule_loader_pass_rate(shared_dir):
    cases = load_cases(shared_dir)
    failing = {c["test"] for c in cases if run_case(c)}
    passed = len(cases) - len(failing)
    print(f"\nrule loader conformance: {passed} of {len(cases)} Falco cases pass")
    assert failing == set(KNOWN_FAILURES), (
        f"{passed} of {len(cases)} pass; new failures: {sorted(failing - set(KNOWN_FAILURES))}, "
        f"now passing: {sorted(set(KNOWN_FAILURES) - failing)}")
    assert set(KNOWN_FAILURES) <= {c["test"] for c in cases}
