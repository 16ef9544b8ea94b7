"""The rules-file loader: the messages a rule writer meets (with their place in the
file), merging across items and files, lists, macros, exceptions, the field hook,
and the upstream Falco rules files."""
import textwrap
import time

import pytest

from scapula.errors import InputError
from scapula.replay.rules import Loader, Priority, RulesError, load_files, load_text

RULE = """\
- rule: {name}
  desc: a test rule
  condition: {condition}
  output: "proc=%proc.name"
  priority: {priority}
"""


def rule(name="r", condition="evt.type = open", priority="INFO", more="") -> str:
    """A rule item; `more` (dedented) adds keys to it."""
    extra = textwrap.indent(textwrap.dedent(more), "  ")
    return RULE.format(name=name, condition=condition, priority=priority) + extra


def load(*parts: str, **options):
    """Loads the parts (each dedented on its own) as one file, rules.yaml."""
    return load_text("".join(textwrap.dedent(p) for p in parts), "rules.yaml", **options)


def only_error(result):
    assert len(result.errors) == 1, [str(p) for p in result.problems]
    return result.errors[0]


def where(problem) -> tuple[int, int]:
    return problem.location.line, problem.location.column


# --- what a rule writer meets -------------------------------------------------

def test_bad_yaml_names_line_and_column():
    result = load("""\
        - rule: r
          desc: [unclosed
          condition: evt.type = open
        """)
    error = only_error(result)
    assert error.code == "LOAD_ERR_YAML_PARSE"
    assert error.location.file == "rules.yaml"
    assert where(error) == (3, 12)
    assert "expected ',' or ']'" in error.message


def test_bad_indentation_is_a_yaml_error_with_its_place():
    error = only_error(load("- rule: r\n  desc: d\n   condition: x\n"))
    assert error.code == "LOAD_ERR_YAML_PARSE"
    assert where(error) == (3, 13)


def test_undefined_macro_points_at_its_use():
    result = load(rule(condition="evt.type = open and not trusted_parent"))
    error = only_error(result)
    assert error.message == "Undefined macro 'trusted_parent' used in filter."
    assert error.item == "rule 'r'"
    assert where(error) == (3, 38)
    assert error.snippet.splitlines()[1].index("^") == 37


def test_undefined_macro_in_a_folded_condition_is_on_its_own_line():
    result = load("""\
        - rule: r
          desc: d
          condition: >
            evt.type = open
            and proc.name = cat
            and not missing_macro
          output: x
          priority: INFO
        """)
    assert where(only_error(result)) == (6, 13)


def test_unknown_priority():
    error = only_error(load(rule(priority="LOUD")))
    assert error.message.startswith("Invalid priority 'LOUD'")
    assert where(error) == (5, 13)


@pytest.mark.parametrize("text, expected", [
    ("info", Priority.INFORMATIONAL), ("Informational", Priority.INFORMATIONAL),
    ("CRITICAL", Priority.CRITICAL), ("warning", Priority.WARNING),
    ("Emergency", Priority.EMERGENCY), ("debug", Priority.DEBUG), ("Notice", Priority.NOTICE),
    ("ALERT", Priority.ALERT), ("error", Priority.ERROR)])
def test_priorities_are_case_insensitive(text, expected):
    result = load(rule(priority=text))
    assert result.ok and result.rules["r"].priority is expected


def test_condition_syntax_error_is_mapped_into_the_file():
    error = only_error(load(rule(condition="evt.type = open and and proc.name = cat")))
    assert error.code == "LOAD_ERR_COMPILE_CONDITION"
    assert error.message == "unexpected token after 'and', expecting 'or', 'and'"
    assert where(error) == (3, 38)  # libsinsp takes the second 'and' for a macro name
    assert error.item == "rule 'r'"


def test_syntax_error_after_an_expanded_list_still_points_into_the_file():
    result = load("""\
        - list: shells
          items: [bash, sh, zsh, "fish shell"]
        """, rule(condition="proc.name in (shells) and and evt.type = open"))
    assert where(only_error(result)) == (5, 44)


def test_syntax_error_in_an_appended_condition_points_into_the_second_file():
    loader = Loader()
    loader.add_text(rule(), "base.yaml")
    loader.add_text("- rule: r\n  condition: and proc.name =\n  override:\n    condition: append\n",
                    "local.yaml")
    error = only_error(loader.result())
    assert error.location.file == "local.yaml" and error.location.line == 2


def test_missing_required_key():
    error = only_error(load("- rule: r\n  desc: d\n  condition: evt.type = open\n"
                            "  priority: INFO\n"))
    assert error.message == "Item has no mapping for key 'output'"
    assert where(error) == (1, 3)


def test_unknown_key_is_a_warning_at_the_key():
    result = load(rule() + "  prority: INFO\n")
    assert result.ok
    [warning] = result.warnings
    assert warning.message == "Unknown key 'prority'" and where(warning) == (6, 3)


@pytest.mark.parametrize("extra, message", [
    ("  enabled: maybe\n", "Can't decode YAML scalar value"),
    ("  tags: network\n", "Value is not a sequence"),
    ("  capture_duration: soon\n", "Can't decode YAML scalar value"),
    ("  exceptions: {name: x}\n", "Rule exceptions must be a sequence"),
])
def test_wrong_types(extra, message):
    assert only_error(load(rule() + extra)).message == message


def test_reading_a_file_stops_at_its_first_error():
    result = load(rule(priority="LOUD") + rule(name="second", priority="LOUD"))
    assert len(result.errors) == 1 and not result.rules


def test_every_broken_rule_is_reported_at_compile_time():
    result = load(rule("a", "evt.type = open and not m1") + rule("b", "evt.type ="))
    assert [p.item for p in result.errors] == ["rule 'a'", "rule 'b'"]


def test_problem_text_and_snippet():
    error = only_error(load(rule(condition="evt.type = open and not m1")))
    assert str(error) == "rules.yaml:3:38: error: rule 'r': Undefined macro 'm1' used in filter."
    assert error.long().splitlines()[1:] == [
        "  condition: evt.type = open and not m1", " " * 37 + "^"]


def test_raise_for_errors_is_an_input_error():
    with pytest.raises(RulesError) as info:
        load(rule(priority="LOUD")).raise_for_errors()
    assert isinstance(info.value, InputError) and "Invalid priority" in str(info.value)


def test_result_can_be_taken_again_after_more_files():
    loader = Loader()
    loader.add_text(rule(condition="proc.name = cat"), "a.yaml")
    first = loader.result()
    loader.add_text("- rule: r\n  condition: and evt.type = open\n  override:\n"
                    "    condition: append\n", "b.yaml")
    second = loader.result()
    assert [p.code for p in first.warnings] == ["LOAD_NO_EVTTYPE"]
    assert second.ok and second.warnings == []
    assert second.rules["r"].condition_compiled == "(proc.name = cat and evt.type = open)"


def test_unreadable_file(tmp_path):
    result = load_files([tmp_path / "missing.yaml"])
    assert only_error(result).code == "LOAD_ERR_FILE_READ"


# --- merging ------------------------------------------------------------------

def test_later_files_override_earlier_ones_and_keep_the_order(tmp_path):
    (tmp_path / "a.yaml").write_text(rule("first") + rule("second"))
    (tmp_path / "b.yaml").write_text(
        rule("first", "evt.type = close", "ERROR")
        + "- rule: second\n  condition: and proc.name = cat\n  override:\n    condition: append\n"
        + "- rule: second\n  enabled: false\n  override:\n    enabled: replace\n")
    result = load_files([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert result.ok, result.problems
    assert list(result.rules) == ["first", "second"]
    assert result.rules["first"].condition_compiled == "evt.type = close"
    assert result.rules["first"].priority is Priority.ERROR
    assert result.rules["second"].condition == "evt.type = open and proc.name = cat"
    assert [r.name for r in result.enabled_rules()] == ["first"]


def test_override_replace_and_append_together():
    result = load(rule(priority="INFO"), """\
        - rule: r
          desc: more
          tags: [extra]
          priority: CRITICAL
          override:
            desc: append
            tags: append
            priority: replace
        """)
    r = result.rules["r"]
    assert (r.description, r.tags, r.priority) == ("a test rule more", ("extra",),
                                                   Priority.CRITICAL)


def test_macros_may_be_defined_after_the_rules_using_them():
    result = load(rule(condition="opened") + "- macro: opened\n  condition: evt.type = open\n")
    assert result.ok and result.rules["r"].condition_compiled == "evt.type = open"


def test_a_macro_sees_only_macros_defined_before_it():
    result = load("- macro: a\n  condition: b\n- macro: b\n  condition: evt.type = open\n"
                  + rule(condition="a"))
    error = result.errors[0]
    assert error.item == "macro 'a'" and error.message == "Undefined macro 'b' used in filter."


def test_macros_using_macros():
    result = load("""\
        - macro: opened
          condition: evt.type in (open, openat)
        - macro: opened_by_shell
          condition: opened and proc.name in (bash, sh)
        """, rule(condition="opened_by_shell and not proc.pname = init"))
    assert result.rules["r"].condition_compiled == (
        "((evt.type in (open, openat) and proc.name in (bash, sh)) and not proc.pname = init)")
    assert result.rules["r"].macros == ("opened_by_shell", "opened")


# --- lists --------------------------------------------------------------------

def test_lists_referencing_lists_and_list_operators():
    result = load("""\
        - list: shells
          items: [bash, sh]
        - list: interpreters
          items: [shells, python, "my tool"]
        - list: bin_dirs
          items: [/bin/, /usr/bin/]
        """, rule(condition="proc.name in (interpreters, perl) and proc.exepath pmatch (bin_dirs)"
                   " and proc.aname intersects (shells)"))
    r = result.rules["r"]
    assert r.condition_compiled == (
        '(proc.name in (bash, sh, python, "my tool", perl) and proc.exepath pmatch '
        "(/bin/, /usr/bin/) and proc.aname intersects (bash, sh))")
    assert result.lists["interpreters"].lists == ("shells",)
    assert set(r.lists) == {"interpreters", "bin_dirs", "shells"}


def test_an_empty_list_leaves_a_valid_condition():
    result = load("- list: nothing\n  items: []\n"
                  + rule(condition="proc.name in (cat, nothing) and proc.pname in (nothing)"))
    assert result.rules["r"].condition_compiled == "(proc.name in (cat) and proc.pname in ())"


def test_unused_lists_and_macros_are_warned():
    result = load("- list: l\n  items: [a]\n- macro: m\n  condition: evt.type = open\n" + rule())
    assert {(p.code, p.item) for p in result.warnings} == {
        ("LOAD_UNUSED_LIST", "list 'l'"), ("LOAD_UNUSED_MACRO", "macro 'm'")}


# --- exceptions ---------------------------------------------------------------

def test_exceptions_become_part_of_the_condition():
    result = load(rule(condition="evt.type = execve", more="""\
        exceptions:
          - name: known_tools
            fields: [proc.name, proc.pname]
            comps: [=, in]
            values:
              - [curl, [bash, sh]]
              - ["my tool", systemd]
          - name: known_dirs
            fields: fd.directory
            values: [/tmp, /var/tmp]
        """))
    assert result.rules["r"].condition_compiled == (
        "(evt.type = execve and not ((proc.name = curl and proc.pname in (bash, sh)) or "
        '(proc.name = "my tool" and proc.pname in (systemd))) '
        "and not fd.directory in (/tmp, /var/tmp))")


def test_exception_values_appended_later():
    result = load(rule(more="""\
        exceptions:
          - name: tools
            fields: [proc.name]
            values: [[curl]]
        """), """\
        - rule: r
          exceptions:
            - name: tools
              values: [[wget]]
          override:
            exceptions: append
        """)
    assert result.rules["r"].condition_compiled == (
        "(evt.type = open and not (proc.name = curl or proc.name = wget))")


def test_bad_exception_comp():
    result = load(rule(more="""\
        exceptions:
          - name: e
            fields: [proc.name, fd.name]
            comps: [=]
            values: [[a, b]]
        """))
    assert only_error(result).message == "Fields and comps lists must have equal length"


# --- analysis and the field hook ---------------------------------------------

@pytest.mark.parametrize("condition, names, is_all", [
    ("evt.type = open and not proc.name = cat", {"open"}, False),
    ("evt.type in (open, openat) or evt.type = close", {"open", "openat", "close"}, False),
    ("(evt.type = open or proc.name = cat) and evt.type in (open, close)", {"open", "close"},
     False),
    ("not evt.type in (open, close)", {"open", "close"}, True),
    ("evt.type = open and evt.type = close", set(), False),
    ("evt.num = 0", set(), False),
    # libsinsp's evt.num invariants: event numbers start at 1
    ("evt.type = open and evt.num < 1", set(), False), ("not evt.num != 0", set(), False),
    ("evt.type = open or evt.num in ()", {"open"}, False), ("evt.num = 0x0", set(), True),
    ("evt.type = open and evt.num > 0", {"open"}, False), ("not evt.type exists", set(), False),
])
def test_event_types(condition, names, is_all):
    types = load(rule(condition=condition)).rules["r"].event_types
    assert (set(types.names), types.is_all) == (names, is_all)


def test_a_rule_without_event_type_is_warned():
    result = load(rule(condition="proc.name = cat"))
    assert [p.code for p in result.warnings] == ["LOAD_NO_EVTTYPE"]


def test_a_falco_field_scapula_lacks_loads_the_rule_disabled():
    result = load(rule(condition="evt.type = open and k8s.ns.name = default"),
                  known_field=lambda name: name != "k8s.ns.name")
    [warning] = result.warnings
    assert warning.message == ("field 'k8s.ns.name' needs data scapula does not have: "
                               "the rule is loaded disabled")
    assert where(warning) == (3, 34)
    assert "r" in result.rules and not result.rules["r"].enabled


@pytest.mark.parametrize("condition, output, name, place, code", [
    ("evt.type = open and proc.nmae = cat", "proc=%proc.name", "proc.nmae", (3, 34),
     "LOAD_ERR_COMPILE_CONDITION"),
    ("evt.type = open and foo.bar = 1", "proc=%proc.name", "foo.bar", (3, 34),
     "LOAD_ERR_COMPILE_CONDITION"),
    ("evt.type = open and k8s.pod.labl = x", "proc=%proc.name", "k8s.pod.labl", (3, 34),
     "LOAD_ERR_COMPILE_CONDITION"),
    ("evt.type = open", "%nonexist.field", "nonexist.field", (4, 13),
     "LOAD_ERR_COMPILE_OUTPUT"),
])
def test_a_field_no_falco_defines_is_an_error(condition, output, name, place, code):
    """Falco rejects a name no filtercheck has; a typo must not pass as missing data."""
    text = rule(condition=condition).replace('"proc=%proc.name"', f'"{output}"')
    result = load(text, known_field=lambda field: field in ("evt.type", "proc.name"))
    error = only_error(result)
    assert error.message == f"filter_check called with nonexistent field {name}"
    assert (error.code, where(error)) == (code, place) and "r" not in result.rules


@pytest.mark.parametrize("name", ["k8s.pod.label.app", "container.label.maintainer",
                                  "evt.arg.mode", "proc.env.HOME", "k8smeta.pod.name",
                                  "container.image.repository", "proc.stdin.name"])
def test_falco_fields_include_plugins_and_dotted_arguments(name):
    from scapula.replay.rules.falco_fields import is_falco_field
    assert is_falco_field(name)
    assert not is_falco_field(name.replace(".", "_", 1))


@pytest.mark.parametrize("field", ["proc.nmae", "k8s.ns.name"])
def test_unknown_field_with_skip_if_unknown_filter_leaves_the_rule_out(field):
    result = load(rule(condition=f"evt.type = open and {field} = cat")
                  + "  skip-if-unknown-filter: true\n",
                  known_field=lambda name: name != field)
    assert result.ok and "r" not in result.rules
    assert [p.code for p in result.warnings] == ["LOAD_UNKNOWN_FILTER"]


def test_versions_are_reported_not_fatal():
    result = load("""\
        - required_engine_version: 9.0.0
        - required_plugin_versions:
            - name: container
              version: 0.4.0
              alternatives:
                - name: other
                  version: 1.0.0
        """, rule())
    assert result.ok
    assert result.required_engine_version == "9.0.0"
    assert [[(p.name, p.version) for p in alts] for alts in result.required_plugin_versions] == \
        [[("container", "0.4.0"), ("other", "1.0.0")]]
    assert [p.code for p in result.warnings] == ["LOAD_ENGINE_VERSION"]


# --- the upstream rules --------------------------------------------------------

UPSTREAM = ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")


def test_upstream_rules_load_together(shared_dir):
    paths = [shared_dir / "corpus" / "rules" / name for name in UPSTREAM]
    started = time.perf_counter()
    result = load_files(paths)
    elapsed = time.perf_counter() - started
    print(f"\nupstream rules: {len(result.rules)} rules, {len(result.macros)} macros, "
          f"{len(result.lists)} lists, {len(result.warnings)} warnings in {elapsed * 1000:.0f} ms")
    assert result.errors == []
    assert (len(result.rules), len(result.macros), len(result.lists)) == (93, 315, 118)
    assert result.warnings == []
    assert len(result.enabled_rules()) == 81
    assert result.required_engine_version == "0.57.0"
    assert all(not r.event_types.is_all for r in result.rules.values())
    assert elapsed < 2.0


def test_upstream_rules_with_scapulas_fields_only_warn_of_missing_data(shared_dir):
    """Every field of the upstream rules is one Falco defines: none is an error, and
    the rules that read Kubernetes metadata load disabled with a warning each."""
    from scapula.replay.fields import lookup
    paths = [shared_dir / "corpus" / "rules" / name for name in UPSTREAM]
    result = load_files(paths, known_field=lambda name: lookup(name) is not None)
    assert result.errors == []
    assert {p.code for p in result.warnings} == {"LOAD_UNKNOWN_FILTER"}
    assert {p.message.split("'")[1] for p in result.warnings} == {"k8s.ns.name", "k8s.pod.name"}
    assert len(result.warnings) == 6 and len(result.rules) == 93
