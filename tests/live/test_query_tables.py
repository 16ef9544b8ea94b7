"""The query tables beside `events` on a real recording: the recording host's user names
(in the capture and in `processes`), `alerts` from --rules joined to their events, fd
lifetimes, and a capture cut inside a chunk."""
import json
import os
import sys

import pytest

from scapula.replay.reader import Capture
from tests.conftest import require_live, scapula

FDS = ("import os; f = os.open('out.txt', os.O_WRONLY | os.O_CREAT, 0o600); "
       "os.dup2(f, 9); os.close(f); r, w = os.pipe(); os.write(9, b'x'); os.close(9)")
RULES = """
- rule: Host name read
  desc: something read /etc/hostname
  condition: evt.type in (open, openat) and fd.name = /etc/hostname
  output: "%proc.cmdline read %fd.name as %user.name (login %user.loginname)"
  priority: NOTICE
  tags: [test]
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    require_live()
    tmp = tmp_path_factory.mktemp("qtables")
    cap = tmp / "run.scapula"
    script = f"cd {tmp}; cat /etc/hostname > /dev/null; {sys.executable} -c \"{FDS}\""
    r = scapula("record", "-w", cap, "--follow", "--", "/bin/sh", "-c", script)
    assert r.returncode == 0, r.stderr
    (tmp / "rules.yaml").write_text(RULES)
    return tmp, cap


def query(*args):
    r = scapula("query", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_capture_names_the_recording_hosts_users(recorded):
    tmp, cap = recorded
    with Capture(str(cap)) as c:
        users, groups = c.header["users"], c.header["groups"]
    assert users[0] == "root" and users[65534] == "nobody" and groups[0] == "root"
    got = query(cap, "SELECT DISTINCT \"user\" FROM processes WHERE origin = 'fork'")
    assert got == [{"user": "root"}]
    got = query(cap, "SELECT name FROM users WHERE uid IN (0, 65534) ORDER BY uid")
    assert got == [{"name": "root"}, {"name": "nobody"}]


def test_alerts_join_their_events_and_processes(recorded):
    tmp, cap = recorded
    got = query(cap, "--rules", tmp / "rules.yaml", """
        SELECT a.rule, a.priority, e.type, e.path, p.cmdline, p."user",
               a.output_fields->>'user.name' AS user_name, a.ts = e.ts AS same_ts
        FROM alerts a JOIN events e USING (capture, seq)
        JOIN processes p ON p.proc_id = a.proc_id""")
    assert len(got) == 1, got
    (a,) = got
    assert (a["rule"], a["priority"], a["path"], a["cmdline"], a["user"], a["user_name"],
            a["same_ts"]) == ("Host name read", "Notice", "/etc/hostname",
                              "cat /etc/hostname", "root", "root", True)
    assert a["type"] in ("open", "openat")


def test_fd_lifetimes_of_the_workload(recorded):
    tmp, cap = recorded
    (pid,) = {r["pid"] for r in query(
        cap, "SELECT pid FROM processes WHERE exe = $e AND origin = 'fork'",
        "-p", f"e={os.path.realpath(sys.executable)}")}
    # what the workload made (its inherited stdio is there too, how = 'fork')
    got = query(cap, "SELECT fd, type, name, how, closed_by FROM fds WHERE pid = $p "
                     "AND (name = $f OR how = 'pipe2') ORDER BY fd_id",
                "-p", f"p={pid}", "-p", f"f={tmp}/out.txt")
    f = got[0]["fd"]
    assert got[:2] == [
        {"fd": f, "type": "file", "name": f"{tmp}/out.txt", "how": "openat", "closed_by": "close"},
        {"fd": 9, "type": "file", "name": f"{tmp}/out.txt", "how": "dup2", "closed_by": "close"}]
    pipes = [(g["type"], g["how"], g["closed_by"]) for g in got[2:]]
    assert pipes == [("pipe", "pipe2", "exit")] * 2


def test_a_capture_cut_inside_a_chunk_loads_up_to_the_cut(recorded, tmp_path):
    """Enough events for several chunks; the file is cut inside its third chunk: the
    first two load, and the user is told why the rest is missing."""
    loop = ("import os\nfor i in range(20000):\n os.close(os.open('/dev/null', os.O_RDONLY))")
    full = tmp_path / "many.scapula"
    r = scapula("record", "-w", full, "--follow", "--", sys.executable, "-c", loop)
    assert r.returncode == 0, r.stderr
    with Capture(str(full)) as c:
        chunks = c.footer["chunks"]
    assert len(chunks) >= 3
    cut = tmp_path / "cut.scapula"
    data = full.read_bytes()
    cut.write_bytes(data[:chunks[2][0] + 200])   # a chunk takes far more than 200 bytes
    r = scapula("query", cut, "SELECT count(*) AS n FROM events", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"n": chunks[0][3] + chunks[1][3]}]
    assert "warning" in r.stderr and "truncated" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_bounded_load_gives_the_same_tables(recorded):
    # --memory-limit: the events in Parquet files behind a view, the rest in a DuckDB
    # file under the limit; every table as the default load (events held in memory as
    # Arrow) and --in-memory (every table DuckDB's own) have it
    _tmp, cap = recorded
    for table, order in (("events", "seq"), ("processes", "proc_id"), ("fds", "fd_id")):
        sql = f"SELECT * FROM {table} ORDER BY {order}"
        bounded = query(cap, "--memory-limit", "300MB", sql)
        assert bounded == query(cap, sql) == query(cap, "--in-memory", sql), table
        assert bounded, table
    kind = "SELECT table_type FROM information_schema.tables WHERE table_name = 'events'"
    assert query(cap, "--memory-limit", "300MB", kind) == [{"table_type": "VIEW"}]
