"""`scapula replay`, `print --filter` and `rules test` on a real recording, with
rules written here, as a detection engineer uses them."""
import json

import pytest

from tests.conftest import require_live, scapula

RULES = """
- list: readers
  items: [cat, head]
- macro: reads_secret
  condition: evt.type in (open, openat) and fd.name = /etc/shadow
- rule: Secret read
  desc: a reader opened the shadow file
  condition: reads_secret and proc.name in (readers)
  output: secret read by %proc.name (parent=%proc.pname file=%fd.name user=%user.name)
  priority: WARNING
  tags: [test]
- rule: Never fires
  desc: nothing does this
  condition: evt.type = openat and fd.name = /nonexistent/at/all
  output: impossible %proc.name
  priority: CRITICAL
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    require_live()
    tmp = tmp_path_factory.mktemp("replaycli")
    cap = tmp / "run.scapula"
    r = scapula("record", "-w", cap, "--follow", "--", "/bin/sh", "-c",
                "cat /etc/shadow > /dev/null; head -c1 /etc/hostname > /dev/null")
    assert r.returncode == 0, r.stderr
    rules = tmp / "rules.yaml"
    rules.write_text(RULES)
    return tmp, cap, rules


def test_replay_prints_alerts_as_falco_does(recorded):
    tmp, cap, rules = recorded
    r = scapula("replay", cap, "-r", rules)
    assert r.returncode == 0, r.stderr
    (line,) = r.stdout.splitlines()
    when, rest = line.split(": ", 1)
    assert when.endswith("Z") and rest == \
        "Warning secret read by cat (parent=sh file=/etc/shadow user=root)"
    assert "1 alerts" in r.stderr and "Secret read" in r.stderr


def test_replay_json_and_fail_on(recorded):
    tmp, cap, rules = recorded
    r = scapula("replay", cap, "-r", rules, "--json", "--fail-on", "warning")
    assert r.returncode == 1, r.stderr
    alert = json.loads(r.stdout)
    assert (alert["rule"], alert["priority"], alert["tags"]) == ("Secret read", "Warning", ["test"])
    assert alert["output_fields"] == {"proc.name": "cat", "proc.pname": "sh",
                                      "fd.name": "/etc/shadow", "user.name": "root"}
    # a threshold above the alert's priority does not fail
    assert scapula("replay", cap, "-r", rules, "--fail-on", "error").returncode == 0
    # --filter narrows what is judged: no openat of head's, so no alert
    r = scapula("replay", cap, "-r", rules, "--filter", "proc.name = head")
    assert r.returncode == 0 and r.stdout == ""


def test_replay_without_rules_uses_scapulas_own(recorded):
    tmp, cap, rules = recorded
    r = scapula("replay", cap)
    assert r.returncode == 0, r.stderr
    assert "Warning credential file /etc/shadow read by cat" in r.stdout


def test_print_filter(recorded):
    tmp, cap, rules = recorded
    r = scapula("print", cap, "--filter", "evt.type = openat and fd.name pmatch (/etc)",
                "--json")
    assert r.returncode == 0, r.stderr
    names = [json.loads(line)["name"] for line in r.stdout.splitlines()]
    assert "/etc/shadow" in names and "/etc/hostname" in names
    assert all(n.startswith("/etc/") for n in names)


def test_rules_test_spec(recorded):
    tmp, cap, rules = recorded
    spec = tmp / "spec.yaml"
    spec.write_text(f"""
captures: [{cap.name}]
rules: [{rules.name}]
expect:
  - rule: Secret read
    count: 1
    output_fields: {{proc.name: cat, fd.name: /etc/shadow}}
  - rule: Never fires
    never: true
""")
    r = scapula("rules", "test", spec)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "2 passed, 0 failed"
    spec.write_text(spec.read_text().replace("count: 1", "count: 2")
                    .replace("never: true", "at_least: 1"))
    r = scapula("rules", "test", spec)
    assert r.returncode == 1
    assert "FAIL  Secret read: fired 1 times, expected 2" in r.stdout
    assert "FAIL  Never fires: fired 0 times, expected at least 1" in r.stdout


@pytest.mark.parametrize("args, code, message", [
    (["replay", "missing.scapula", "-r", "RULES"], 3, "missing.scapula: cannot open"),
    (["replay", "RUN", "-r", "RULES", "--filter", "proc.name ="], 2, "--filter: expected"),
    (["replay", "RUN", "-r", "BAD"], 3, "bad.yaml:2:14: error"),
    (["replay", "RUN", "-r", "RULES", "--since", "yesterday"], 2, "--since yesterday: not a time"),
    (["rules", "validate", "BAD"], 3, "Undefined macro 'no_such_macro' used in filter"),
    (["rules", "validate", "TYPED"], 3, "typed.yaml:1:3: error: rule 'r': operator 'contains' "
     "does not apply to a PORT field"),
    (["replay", "RUN", "-r", "TYPED"], 3, "operator 'contains' does not apply to a PORT field"),
])
def test_errors(recorded, args, code, message):
    tmp, cap, rules = recorded
    bad = tmp / "bad.yaml"
    bad.write_text("- rule: r\n  condition: no_such_macro and proc.name=x\n  desc: d\n"
                   "  output: o\n  priority: INFO\n")
    typed = tmp / "typed.yaml"
    typed.write_text("- rule: r\n  condition: evt.type=connect and fd.sport contains 22\n"
                     "  desc: d\n  output: o\n  priority: INFO\n")
    args = [{"RUN": cap, "RULES": rules, "BAD": bad, "TYPED": typed}.get(a, a) for a in args]
    r = scapula(*args)
    assert r.returncode == code, r.stdout + r.stderr
    assert message in r.stderr + r.stdout and "Traceback" not in r.stderr


def test_record_with_rules_alerts_live_and_records_what_they_need(recorded):
    from tests.conftest import scapula_info
    tmp, _cap, rules = recorded
    cap = tmp / "live.scapula"
    r = scapula("record", "-w", cap, "--rules", rules, "--follow", "--", "/bin/sh", "-c",
                "cat /etc/shadow > /dev/null")
    assert r.returncode == 0, r.stderr
    (live_line,) = r.stdout.splitlines()
    assert live_line.endswith("Warning secret read by cat (parent=sh file=/etc/shadow user=root)")
    assert "1 alerts" in r.stderr
    # replaying the file gives the same alert, to the nanosecond
    assert scapula("replay", cap, "-r", rules).stdout.splitlines() == [live_line]
    # the rules' event types plus what the process/fd state follows, not the default set
    recorded_syscalls = set(scapula_info(cap)["config"]["syscalls"])
    assert {"open", "openat", "execve", "close", "connect"} <= recorded_syscalls
    assert not {"mount", "ptrace", "kill", "sendto"} & recorded_syscalls


def test_replay_merges_files_and_keeps_to_the_time_window(recorded):
    tmp, cap, rules = recorded
    r = scapula("print", cap, "--json", "--filter", "evt.type = openat and fd.name = /etc/shadow")
    assert r.returncode == 0, r.stderr
    ts = json.loads(r.stdout.splitlines()[0])["ts"]

    def alerts(*args, key="rule"):
        out = scapula("replay", *args, "-r", rules, "--json")
        assert out.returncode == 0, out.stderr
        return [json.loads(line)[key] for line in out.stdout.splitlines()]

    # the same file twice: each copy has its own state, both judged
    assert alerts(cap, cap) == ["Secret read", "Secret read"]
    assert alerts(cap, "--since", str(ts), "--until", str(ts)) == ["Secret read"]
    assert alerts(cap, "--since", str(ts + 1)) == []
    assert alerts(cap, "--until", str(ts - 1)) == []
    assert alerts(cap, cap, "--since", str(ts - 1), "--until", str(ts + 1)) == ["Secret read"] * 2
    # events before the window are not judged but build the state: cat's parent, the
    # shell the recording started, is known though its fork and exec came earlier
    (fields,) = alerts(cap, "--since", str(ts), key="output_fields")
    assert fields["proc.pname"] == "sh"
