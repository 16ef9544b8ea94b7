"""Falco's upstream stable rules judging real recordings: one scripted attack that a
dozen rules must catch, each with Falco's output fields, and a benign workload that
none of them catches. The rules file is used where it lies, never copied."""
from dataclasses import dataclass
import json
import os
from pathlib import Path
import shutil
import socket
import subprocess
import sys

import pytest

from tests.conftest import SHARED, require_live, scapula

RULES = SHARED / "corpus" / "rules" / "falco_rules.yaml"
PY = sys.executable
PY_NAME = os.path.basename(PY)[:15]      # the comm of a process exec'd through PY
# Outside 127.0.0.0/8 and RFC 1918, which the rules' `outbound` macro leaves out:
# TEST-NET-2, put on lo for the length of the recording.
REMOTE = "198.51.100.77"
# From the rule's ssh_non_standard_ports list; the first one free is used.
SSH_PORTS = (4444, 8080, 8443, 88)

SPAWN_SHELL = """
import subprocess
subprocess.run(["/bin/sh", "-c", "echo spawned"], check=True)
"""
# memfd_create + fexecve: os.execve on an fd is execveat(fd, "", AT_EMPTY_PATH).
MEMFD_EXEC = """
import os, sys
fd = os.memfd_create("payload")
with open(sys.argv[1], "rb") as f:
    os.write(fd, f.read())
os.execve(fd, ["payload"], {})
"""
PTRACE_CHILD = """
import ctypes, os, signal, time
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
libc = ctypes.CDLL(None, use_errno=True)
pid = os.fork()
if pid == 0:
    time.sleep(10)
    os._exit(0)
assert libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0, ctypes.get_errno()
os.waitpid(pid, 0)
libc.ptrace(PTRACE_DETACH, pid, None, None)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
"""
CONNECT = """
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
"""

ATTACK = """
rm -f "{w}/shadow-symlink"; echo data to shred > "{w}/scratch"
cat /etc/shadow > /dev/null
"{w}/nginx" "{w}/spawn_shell.py"
find "{w}" -name id_rsa
: > "{log}"
shred -u "{w}/scratch"
ln -s /etc/shadow "{w}/shadow-symlink"
ln /etc/shadow "{w}/shadow-hardlink"; rm -f "{w}/shadow-hardlink"
"{shm}"
"{py}" "{w}/memfd_exec.py" "{true}"
"{py}" "{w}/ptrace_child.py"
"{w}/ssh" "{w}/connect.py" {remote} {port}
find "{w}" -path '*/.aws/credentials'
"""


@dataclass
class Replayed:
    """A recording judged by the upstream rules: the alerts, as `replay --json` gives
    them, and what the workload was made of."""
    alerts: list
    w: Path
    log: str = ""
    shm: str = ""
    port: int = 0
    stdout: str = ""

    def fired(self, rule: str) -> list:
        return [a for a in self.alerts if a["rule"] == rule]


def _runnable():
    require_live()
    if not RULES.is_file():
        pytest.skip(f"{RULES} is absent (the shared corpus sits beside the checkout)")


def _record_and_replay(script: Path, cap: Path) -> tuple[list, str]:
    r = scapula("record", "-w", cap, "--follow", "--", "/bin/sh", script)
    assert r.returncode == 0, r.stderr
    out = scapula("replay", cap, "-r", RULES, "--json")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()], r.stdout


def _listen_on_an_ssh_port(addr: str) -> socket.socket:
    for port in SSH_PORTS:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
        except OSError:
            s.close()
            continue
        s.listen()
        return s
    pytest.fail(f"none of the ports {SSH_PORTS} is free on {addr}")


def _ip(*args) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    assert r.returncode == 0, f"ip {' '.join(args)}: {r.stderr}"


@pytest.fixture(scope="module")
def attack(tmp_path_factory):
    _runnable()
    w = tmp_path_factory.mktemp("attack")
    real_py = os.path.realpath(PY)
    shutil.copy(real_py, w / "nginx")        # a web server's name: a protected shell spawner
    shutil.copy(real_py, w / "ssh")          # an exe ending with ssh
    for name, text in (("spawn_shell.py", SPAWN_SHELL), ("memfd_exec.py", MEMFD_EXEC),
                       ("ptrace_child.py", PTRACE_CHILD), ("connect.py", CONNECT)):
        (w / name).write_text(text)
    (w / "scratch").write_text("data to shred\n")
    log = f"/var/log/scapula-test-{os.getpid()}.log"
    shm = f"/dev/shm/scapula-test-{os.getpid()}"
    true = shutil.which("true")
    if shutil.which("ip") is None:
        pytest.fail("`ip` (iproute2) is needed to put a non-private address on lo")
    added = REMOTE not in subprocess.run(["ip", "-4", "addr", "show", "dev", "lo"],
                                         capture_output=True, text=True).stdout
    listener = None
    try:
        Path(log).write_text("a log line\n")
        shutil.copy(true, shm)
        if added:
            _ip("addr", "add", f"{REMOTE}/32", "dev", "lo")
        listener = _listen_on_an_ssh_port(REMOTE)
        port = listener.getsockname()[1]
        script = w / "attack.sh"
        script.write_text(ATTACK.format(w=w, log=log, shm=shm, py=PY, true=true, remote=REMOTE,
                                        port=port))
        alerts, stdout = _record_and_replay(script, w / "attack.scapula")
        # again with every syscall, for the replay equivalence test below
        r = scapula("record", "--all", "-w", w / "attack_all.scapula", "--follow", "--",
                    "/bin/sh", script)
        assert r.returncode == 0, r.stderr
    finally:
        if listener is not None:
            listener.close()
        if added:
            subprocess.run(["ip", "addr", "del", f"{REMOTE}/32", "dev", "lo"],
                           capture_output=True)
        for path in (log, shm, w / "shadow-hardlink"):
            Path(path).unlink(missing_ok=True)
    return Replayed(alerts, w, log, shm, port, stdout)


def _loginuid() -> int:
    """The test's audit login uid, which the recorded processes inherit (-1: unset)."""
    value = int(Path("/proc/self/loginuid").read_text())
    return -1 if value == 0xFFFFFFFF else value


def expected(a: Replayed) -> dict:
    """Each rule the attack must trip, with the output fields its alert must carry."""
    w = str(a.w)
    root = {"user.name": "root", "user.uid": 0, "user.loginuid": _loginuid()}
    return {
        "Read sensitive file untrusted": {
            "evt.type": "openat", "fd.name": "/etc/shadow", "proc.name": "cat",
            "proc.exepath": os.path.realpath(shutil.which("cat")),
            "proc.cmdline": "cat /etc/shadow", "proc.pname": "sh", "proc.aname[2]": "scapula",
            **root},
        "Run shell untrusted": {
            "evt.type": "execve", "proc.name": "sh", "proc.cmdline": "sh -c echo spawned",
            "proc.pname": "nginx", "proc.pexe": f"{w}/nginx", "proc.pexepath": f"{w}/nginx",
            "proc.pcmdline": f"nginx {w}/spawn_shell.py", "proc.aname[2]": "sh", **root},
        "Search Private Keys or Passwords": {
            "evt.type": "execve", "proc.name": "find", "proc.cmdline": f"find {w} -name id_rsa",
            "proc.pname": "sh", **root},
        "Clear Log Activities": {
            "evt.type": "openat", "fd.name": a.log, "proc.name": "sh", "proc.pname": "scapula",
            **root},
        "Remove Bulk Data from Disk": {
            "evt.type": "execve", "proc.name": "shred", "proc.cmdline": f"shred -u {w}/scratch",
            "proc.pname": "sh", **root},
        "Create Symlink Over Sensitive Files": {
            "evt.type": "symlinkat", "evt.arg.target": "/etc/shadow",
            "evt.arg.linkpath": f"{w}/shadow-symlink", "proc.name": "ln",
            "proc.cmdline": f"ln -s /etc/shadow {w}/shadow-symlink", **root},
        "Create Hardlink Over Sensitive Files": {
            "evt.type": "linkat", "evt.arg.oldpath": "/etc/shadow",
            "evt.arg.newpath": f"{w}/shadow-hardlink", "proc.name": "ln",
            "proc.cmdline": f"ln /etc/shadow {w}/shadow-hardlink", **root},
        "Execution from /dev/shm": {
            "evt.type": "execve", "evt.res": "SUCCESS", "proc.exepath": a.shm,
            "proc.name": os.path.basename(a.shm)[:15], "proc.pname": "sh", **root},
        "Fileless execution via memfd_create": {
            "evt.type": "execveat", "evt.res": "SUCCESS", "proc.pname": "sh", **root},
        "PTRACE attached to process": {
            "evt.type": "ptrace", "proc.name": PY_NAME,
            "proc.cmdline": f"{PY_NAME} {w}/ptrace_child.py", "proc.pname": "sh", **root},
        "Disallowed SSH Connection Non Standard Port": {
            "evt.type": "connect", "fd.rport": a.port, "fd.type": "ipv4", "fd.l4proto": "tcp",
            "proc.name": "ssh", "proc.exepath": f"{w}/ssh",
            "proc.cmdline": f"ssh {w}/connect.py {REMOTE} {a.port}", **root},
        "Find AWS Credentials": {
            "evt.type": "execve", "proc.name": "find", "proc.cwd": os.getcwd(),
            "proc.cmdline": f"find {w} -path */.aws/credentials", "group.gid": 0, **root},
    }


RULES_FIRED = [
    "Read sensitive file untrusted", "Run shell untrusted", "Search Private Keys or Passwords",
    "Clear Log Activities", "Remove Bulk Data from Disk", "Create Symlink Over Sensitive Files",
    "Create Hardlink Over Sensitive Files", "Execution from /dev/shm",
    "Fileless execution via memfd_create", "PTRACE attached to process",
    "Disallowed SSH Connection Non Standard Port", "Find AWS Credentials"]


def the_alert(a: Replayed, rule: str) -> dict:
    """The output fields of the alert `rule` raised with the expected values; the
    assertion shows every alert of that rule when none has them."""
    want = expected(a)[rule]
    alerts = a.fired(rule)
    assert alerts, f"'{rule}' did not fire; alerts: {sorted({x['rule'] for x in a.alerts})}"
    for alert in alerts:
        fields = alert["output_fields"]
        if all(fields.get(k) == v for k, v in want.items()):
            return fields
    got = [{k: x["output_fields"].get(k) for k in want} for x in alerts]
    assert got[0] == want, f"no '{rule}' alert with {want}; got {got}"


@pytest.mark.parametrize("rule", RULES_FIRED)
def test_the_attack_trips_the_rule_with_its_output_fields(attack, rule):
    fields = the_alert(attack, rule)
    # every parameter the output names is known (exe_flags=%evt.arg.flags on execs)
    assert [k for k, v in fields.items() if k.startswith("evt.arg") and v is None] == []


def test_exec_alerts_carry_the_new_images_exe_flags(attack):
    """exe_flags=%evt.arg.flags: Falco's exit event gives the exe flags there."""
    memfd = the_alert(attack, "Fileless execution via memfd_create")
    assert "EXE_FROM_MEMFD" in memfd["evt.arg.flags"]
    assert "memfd:payload" in memfd["proc.exepath"]
    shm = the_alert(attack, "Execution from /dev/shm")
    assert "EXE_FROM_MEMFD" not in shm["evt.arg.flags"]


def test_the_attack_ran_to_the_end(attack):
    """The shell spawned by "nginx" ran (its output reached the recorder's stdout)."""
    assert "spawned" in attack.stdout


BENIGN = """
ls -la "{w}" > /dev/null
cat "{w}/notes.txt" > /dev/null
grep -c hello "{w}/notes.txt"
find "{w}" -name '*.txt' > /dev/null
{compile}
"{py}" "{w}/http_roundtrip.py"
"""
# A loopback HTTP server and one request to it, in one process.
HTTP_ROUNDTRIP = """
import http.server, threading, urllib.request
srv = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
with urllib.request.urlopen(f"http://127.0.0.1:{srv.server_port}/notes.txt") as r:
    print("fetched", r.read().decode().strip())
srv.shutdown()
"""


@pytest.fixture(scope="module")
def benign(tmp_path_factory):
    _runnable()
    w = tmp_path_factory.mktemp("benign")
    (w / "notes.txt").write_text("hello\n")
    (w / "hello.c").write_text('#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n')
    (w / "http_roundtrip.py").write_text(HTTP_ROUNDTRIP)
    compile_ = f'cc -o "{w}/hello" "{w}/hello.c" && "{w}/hello"' if shutil.which("cc") else ""
    script = w / "benign.sh"
    script.write_text(f'cd "{w}"\n' + BENIGN.format(w=w, py=PY, compile=compile_))
    alerts, stdout = _record_and_replay(script, w / "benign.scapula")
    return Replayed(alerts, w, stdout=stdout)


def test_benign_work_trips_none_of_the_rules(benign):
    assert "fetched hello" in benign.stdout
    assert shutil.which("cc") is None or "hi" in benign.stdout.split()
    assert [a["output"] for a in benign.alerts if a["rule"] in RULES_FIRED] == []


# scapula's own rules (replay/default_rules.yaml) cover the same ground.
OWN_RULES_FIRED = [
    "Credential file read by an unexpected program", "Search for private keys or passwords",
    "Search for cloud credentials", "Symlink to a credential file",
    "Hard link to a credential file", "Shell started by a network service",
    "Program run from shared memory", "Fileless execution",
    "Log file truncated", "Data wiping tool run", "Process attached with ptrace",
    "SSH client on a non-standard port",
]


def _own_alerts(cap: Path) -> list:
    out = scapula("replay", cap, "--json")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_scapulas_own_rules_cover_the_attack(attack):
    alerts = _own_alerts(attack.w / "attack.scapula")
    fired = {a["rule"] for a in alerts}
    assert set(OWN_RULES_FIRED) <= fired, set(OWN_RULES_FIRED) - fired
    by_rule = {a["rule"]: a["output_fields"] for a in alerts}
    assert by_rule["Credential file read by an unexpected program"]["fd.name"] == "/etc/shadow"
    assert by_rule["Shell started by a network service"]["proc.pname"] == "nginx"
    assert by_rule["SSH client on a non-standard port"]["fd.sport"] == attack.port
    assert by_rule["Log file truncated"]["fd.name"] == attack.log
    assert by_rule["Fileless execution"]["proc.exepath"] == "/memfd:payload"


def test_scapulas_own_rules_are_quiet_on_benign_work(benign):
    assert [a["output"] for a in _own_alerts(benign.w / "benign.scapula")] == []


# The engine runs each event type's rules as one generated function (codegen.py), and
# replay passes over the events no rule or state needs (run.py); condition.py's
# closures on every event are the reference. On both recordings, with all three
# upstream files and scapula's own rules, they must agree on every rule for every
# event, and replay must raise the same alerts with the same outputs.
ALL_UPSTREAM = [RULES.parent / f for f in ("falco_rules.yaml", "falco-incubating_rules.yaml",
                                           "falco-sandbox_rules.yaml")]


@pytest.mark.parametrize("recording", ["attack", "attack_all", "benign"])
def test_generated_rules_agree_with_closures(recording, request):
    from scapula.replay.condition import compile_condition
    from scapula.replay.engine import Engine
    from scapula.replay.fields import Context, lookup
    from scapula.replay.reader import Capture
    from scapula.replay.replay_command import default_rules_path
    from scapula.replay.rules.loader import load_files
    from scapula.replay.run import replay
    from scapula.replay.state import State

    replayed = request.getfixturevalue(recording.split("_")[0])
    ruleset = load_files([str(p) for p in ALL_UPSTREAM + [default_rules_path()]],
                         known_field=lambda name: lookup(name) is not None)
    assert ruleset.ok, ruleset.errors
    engine = Engine(ruleset.enabled_rules())
    closures = {id(c): compile_condition(c.condition) for c in engine.compiled}
    checked = matched = with_rules = 0
    judges, reference = {}, []
    with Capture(str(replayed.w / f"{recording}.scapula")) as cap:
        state = State(cap.processes, cap.fds)
        for num, ev in enumerate(cap.events(), 1):
            state.update(ev)
            name = ev.name if ev.name != "syscall" else ev.syscall_name
            rules = engine._for.get(name, engine.any_type)
            with_rules += bool(rules)
            if name not in judges:
                judges[name] = engine._judge_for(name)
            generated = {id(c) for c in judges[name](Context(ev, state, cap.header, num))}
            for c in rules:
                ctx = Context(ev, state, cap.header, num)
                want = closures[id(c)](ctx)
                assert (id(c) in generated) == want, (c.rule.name, num, name)
                checked += 1
                matched += want
                if want:
                    reference.append((num, c.rule.name, c.render(ctx)[0]))
    assert checked > 1000
    assert matched > 0 or recording == "benign"
    if recording == "attack_all":   # most of its events are of types replay passes over
        assert with_rules < num / 2
    replayed_alerts = []
    replay([str(replayed.w / f"{recording}.scapula")], Engine(ruleset.enabled_rules()),
           lambda alert, ctx: replayed_alerts.append((ctx.num, alert.rule, alert.output)))
    assert sorted(replayed_alerts) == sorted(reference)
