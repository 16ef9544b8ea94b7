"""Rules files a user gets wrong, through the CLI: one clean line naming the file and
the place, exit code 3; and a chmod's mode shown by name, as Falco's rules expect."""
import json

import pytest

from scapula.schemas import events as schema
from tests.conftest import scapula
from tests.unit.test_format import expected, row, write

RULE = """\
- rule: x
  desc: d
  condition: {condition}
  output: "{output}"
  priority: INFO
"""


def rules_file(tmp_path, condition="evt.type = openat", output="o"):
    path = tmp_path / "rules.yaml"
    path.write_text(RULE.format(condition=condition, output=output))
    return path


def capture(tmp_path, event="fchmodat", mode=0o4755):
    """One successful `event` whose mode is `mode`."""
    evt = schema.BY_NAME[event]
    header, params = expected(evt, 1_000)
    header["res"] = 0
    params["mode"] = mode
    path = tmp_path / "cap.scapula"
    write(path, [[row(evt, (header, params))]])
    return path


def commands(tmp_path, rules):
    cap = capture(tmp_path)
    return {"validate": ["rules", "validate", rules], "replay": ["replay", cap, "-r", rules]}


def assert_one_line(r, text):
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr
    [line] = r.stderr.splitlines()
    assert text in line, line


@pytest.mark.parametrize("command", ["validate", "replay"])
@pytest.mark.parametrize("old, new, place", [
    (b"- rule: x", b"# r\xe9gle\n- rule: x", "1:4"),       # a Latin-1 byte in a comment
    (b"name = cafe", b"name = caf\xe9", "3:51"),             # ... in a condition
])
def test_a_rules_file_not_utf8_is_one_line_with_its_place(tmp_path, command, old, new, place):
    path = rules_file(tmp_path, "evt.type = openat and proc.name = cafe")
    path.write_bytes(path.read_bytes().replace(old, new))
    r = scapula(*commands(tmp_path, path)[command])
    assert_one_line(r, f"{path}:{place}: error: not valid UTF-8: byte 0xE9")


@pytest.mark.parametrize("command", ["validate", "replay"])
def test_a_rules_path_that_is_a_directory_is_bad_input(tmp_path, command):
    rules = tmp_path / "rules.d"
    rules.mkdir()
    r = scapula(*commands(tmp_path, rules)[command])
    assert_one_line(r, f"cannot read {rules}: Is a directory")


@pytest.mark.parametrize("command", ["validate", "replay"])
@pytest.mark.parametrize("condition, output, place, name", [
    ("evt.type = openat and proc.nmae = cat", "o", "3:36", "proc.nmae"),
    ("evt.type = openat and foo.bar = 1", "o", "3:36", "foo.bar"),
    ("evt.type = openat", "%nonexist.field", "4:13", "nonexist.field"),
])
def test_a_field_no_falco_defines_is_a_load_error(tmp_path, command, condition, output,
                                                   place, name):
    path = rules_file(tmp_path, condition, output)
    r = scapula(*commands(tmp_path, path)[command])
    assert_one_line(r, f"{path}:{place}: error: rule 'x': filter_check called with "
                       f"nonexistent field {name}")


def test_a_falco_field_scapula_lacks_still_only_disables_the_rule(tmp_path):
    path = rules_file(tmp_path, "evt.type = openat and k8s.ns.name = default")
    r = scapula("rules", "validate", path)
    assert r.returncode == 0, r.stderr
    assert "warning: rule 'x': field 'k8s.ns.name' needs data scapula does not have" \
        in r.stderr


def replayed(tmp_path, condition, output, event="fchmodat", mode=0o4755) -> list[dict]:
    rules = rules_file(tmp_path, condition, output)
    r = scapula("replay", capture(tmp_path, event, mode), "-r", rules, "--json")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


@pytest.mark.parametrize("event", ["chmod", "fchmod", "fchmodat"])
def test_a_chmod_mode_is_named_as_libsinsp_names_it(tmp_path, event):
    """The upstream "Set Setuid or Setgid bit" looks for S_ISUID in evt.arg.mode."""
    [alert] = replayed(tmp_path, f"evt.type = {event} and evt.arg.mode contains S_ISUID",
                       "mode=%evt.arg.mode raw=%evt.rawarg.mode", event)
    names = "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"
    assert alert["output"] == f"mode={names} raw={0o4755}"
    assert alert["output_fields"]["evt.arg.mode"] == names


@pytest.mark.parametrize("event, mode, text", [
    ("fchmodat", 0, "0"),              # no bit to name: the number, in octal
    ("openat", 0o644, "0644"),         # open's mode has no names in libsinsp: octal
    ("creat", 0o4755, "04755"),
    ("mkdirat", 0o755, "1ED"),         # mkdir's is printed in hex
])
def test_other_modes_are_numbers_as_in_libsinsp(tmp_path, event, mode, text):
    [alert] = replayed(tmp_path, f"evt.type = {event}", "mode=%evt.arg.mode", event, mode)
    assert alert["output"] == f"mode={text}"


def test_evt_args_names_a_chmod_mode(tmp_path):
    [alert] = replayed(tmp_path, "evt.type = fchmod", "%evt.args", "fchmod", 0o2750)
    assert "mode=S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISGID" in alert["output"]


def test_a_rules_test_naming_no_rule_is_a_bad_spec(tmp_path):
    rules = rules_file(tmp_path, "evt.type = fchmodat")
    capture(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text("captures: [cap.scapula]\nrules: [rules.yaml]\nexpect:\n"
                    "  - rule: x\n    count: 1\n  - rule: y\n    never: true\n")
    r = scapula("rules", "test", spec)
    # a misspelt name would otherwise pass as never firing
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"scapula: {spec}: expectation 2: no rule named 'y' in the rules files\n"
    spec.write_text(spec.read_text().replace("rule: y", "rule: x").replace("never", "count")
                    .replace("true", "1"))
    r = scapula("rules", "test", spec)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "2 passed, 0 failed", r.stdout
    # a rule loaded disabled cannot fire: its expectation fails, never included
    rules.write_text(rules.read_text() + "  enabled: false\n")
    spec.write_text("captures: [cap.scapula]\nrules: [rules.yaml]\nexpect:\n"
                    "  - rule: x\n    never: true\n")
    r = scapula("rules", "test", spec)
    assert r.returncode == 1
    assert "FAIL  x: the rule is loaded disabled: it cannot fire" in r.stdout
