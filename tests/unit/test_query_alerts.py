"""The `alerts` table without a kernel: synthetic captures replayed through small rules
files; alerts join to the events that fired them; --db keeps them until other rules
replace them; rules files a user gets wrong are one-line errors."""
import json

import pytest

from scapula.query import alerts, loader
from tests.conftest import scapula
from tests.unit.test_format import chunked, write as write_chunks
from tests.unit.test_query import rows, workload, write

CAT_OPENS = """
- rule: Cat opens a file
  desc: cat opened something
  condition: evt.type = openat and proc.name = cat
  output: "%proc.name opened %fd.name (fd=%fd.num)"
  priority: WARNING
  tags: [filesystem, test]
"""
SH_CONNECTS = """
- rule: Shell connects
  desc: a shell made a connection
  condition: evt.type = connect and proc.name = sh
  output: "sh connected (fd=%fd.num)"
  priority: CRITICAL
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "cat.yaml").write_text(CAT_OPENS)
    (tmp_path / "sh.yaml").write_text(SH_CONNECTS)
    return tmp_path, write(tmp_path / "a.scapula", workload())


def test_one_row_per_alert_joined_to_its_event(files):
    tmp, cap = files
    con = loader.connect()
    alerts.judge(con, loader.load(con, [cap]), alerts.compile_rules([tmp / "cat.yaml"]))
    got = rows(con, "SELECT a.rule, a.priority, a.severity, a.tags, a.pid, e.type, e.path, "
                    "a.output, a.output_fields->>'fd.name', p.exe FROM alerts a "
                    "JOIN events e USING (capture, seq) JOIN processes p ON p.proc_id = a.proc_id "
                    "ORDER BY a.seq")
    assert got == [
        ("Cat opens a file", "Warning", 4, ["filesystem", "test"], 200, "openat", "/root/x y",
         "cat opened /root/x y (fd=3)", "/root/x y", "/usr/bin/cat"),
        ("Cat opens a file", "Warning", 4, ["filesystem", "test"], 200, "openat", "/root/nope",
         "cat opened <NA> (fd=<NA>)", None, "/usr/bin/cat")]
    assert rows(con, "SELECT events, alerts FROM alert_runs") == [(6, 2)]


def test_seq_is_the_event_across_chunks(tmp_path):
    """Every event of a four-chunk capture fires; each alert's seq is its own event."""
    path = tmp_path / "c.scapula"
    write_chunks(path, chunked())
    (tmp_path / "all.yaml").write_text("""
- rule: Anything
  desc: every event
  condition: evt.type in (openat, close, execve, procexit)
  output: "%evt.num"
  priority: DEBUG
""")
    con = loader.connect()
    alerts.judge(con, loader.load(con, [path]), alerts.compile_rules([tmp_path / "all.yaml"]))
    assert rows(con, "SELECT count(*), count(e.seq), count_if(a.ts_ns = e.ts_ns AND "
                     "a.tid = e.tid AND a.output = (e.seq + 1)::VARCHAR) FROM alerts a "
                     "LEFT JOIN events e USING (capture, seq)") == [(100, 100, 100)]


def test_a_database_keeps_alerts_until_other_rules_replace_them(files, monkeypatch):
    tmp, cap = files
    db = str(tmp / "case.duckdb")
    con = loader.connect(db)
    ids = loader.load(con, [cap])
    cat = alerts.compile_rules([tmp / "cat.yaml"])
    alerts.judge(con, ids, cat)
    # the same rules again, from another path: nothing to replay, the path is the new one
    monkeypatch.setattr(alerts, "_replay", lambda *a: pytest.fail("replayed again"))
    (tmp / "moved.yaml").write_text(CAT_OPENS)
    alerts.judge(con, ids, alerts.compile_rules([tmp / "moved.yaml"]))
    assert rows(con, "SELECT rules FROM alert_runs") == [([str(tmp / "moved.yaml")],)]
    monkeypatch.undo()
    alerts.judge(con, ids, alerts.compile_rules([tmp / "sh.yaml"]))
    assert rows(con, "SELECT rule, output FROM alerts") == [("Shell connects", "sh connected (fd=4)")]
    assert rows(con, "SELECT rules FROM alert_runs") == [([str(tmp / "sh.yaml")],)]
    con.close()
    # the command: without --rules the alerts stay; --rules with no file judges them all
    r = scapula("query", "--db", db, "SELECT rule FROM alerts", "--json")
    assert json.loads(r.stdout) == [{"rule": "Shell connects"}]
    r = scapula("query", "--db", db, "-r", tmp / "cat.yaml", "-r", tmp / "sh.yaml",
                "SELECT rule, count(*) AS n FROM alerts GROUP BY rule ORDER BY rule", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"rule": "Cat opens a file", "n": 2},
                                    {"rule": "Shell connects", "n": 1}]


def test_the_default_rules_load(files):
    tmp, cap = files
    r = scapula("query", cap, "--default-rules", "SELECT count(*) AS n FROM alert_runs",
                "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"n": 1}]


def test_rules_files_a_user_gets_wrong(files):
    tmp, cap = files
    r = scapula("query", cap, "-r", tmp / "missing.yaml", "SELECT 1")
    assert r.returncode == 3 and "missing.yaml" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.splitlines()) == 1
    (tmp / "bad.yaml").write_text("- rule: broken\n  condition: evt.type = \n")
    r = scapula("query", cap, "-r", tmp / "bad.yaml", "SELECT 1")
    assert r.returncode == 3 and "bad.yaml" in r.stderr and "Traceback" not in r.stderr
    r = scapula("shell", cap, "-r", tmp / "bad.yaml", input="")
    assert r.returncode == 3 and "Traceback" not in r.stderr
    (tmp / "badtype.yaml").write_text(CAT_OPENS.replace("proc.name = cat", "fd.num = cat"))
    r = scapula("query", cap, "-r", tmp / "badtype.yaml", "SELECT 1")
    assert r.returncode == 3 and "Traceback" not in r.stderr
    # a directory is bad input as a missing file is, for every command taking rules
    (tmp / "adir").mkdir()
    for args in (["query", cap, "-r", tmp / "adir", "SELECT 1"],
                 ["shell", cap, "-r", tmp / "adir"], ["replay", cap, "-r", tmp / "adir"],
                 ["export", cap, "-r", tmp / "adir", "--out", tmp / "o"]):
        r = scapula(*args, input="")
        assert r.returncode == 3 and len(r.stderr.splitlines()) == 1, (args, r.stderr)
        assert "adir" in r.stderr and "Is a directory" in r.stderr
    # a rule loaded disabled is a warning said once, with its place
    (tmp / "k8s.yaml").write_text(CAT_OPENS.replace("proc.name = cat", "k8s.ns.name = x"))
    r = scapula("query", cap, "-r", tmp / "k8s.yaml", "SELECT 1")
    assert r.returncode == 0 and r.stderr.startswith(f"scapula: {tmp / 'k8s.yaml'}:")
    assert r.stderr.count("warning") == 1, r.stderr


def test_an_alert_that_does_not_match_its_event_is_said(files, monkeypatch):
    tmp, cap = files
    con = loader.connect()
    ids = loader.load(con, [cap])
    real = alerts._replay

    def off_by_one(path, engine, progress=None):
        got, events = real(path, engine, progress)
        return [(r[0] + 1,) + r[1:] for r in got], events
    monkeypatch.setattr(alerts, "_replay", off_by_one)
    said = []
    alerts.judge(con, ids, alerts.compile_rules([tmp / "cat.yaml"]), said.append)
    assert len(said) == 1 and "2 alerts do not match" in said[0]


def test_a_capture_whose_file_is_gone_is_not_judged_and_the_others_are(files):
    tmp, cap = files
    gone = write(tmp / "gone.scapula", workload(), host="h2")
    db = str(tmp / "case.duckdb")
    r = scapula("query", "--db", db, cap, gone, "-r", tmp / "sh.yaml", "SELECT 1")
    assert r.returncode == 0, r.stderr
    gone.unlink()
    # other rules, every capture in the database: the one still there is judged
    r = scapula("query", "--db", db, "-r", tmp / "cat.yaml",
                "SELECT host, rule, count(*) AS n FROM alerts GROUP BY ALL ORDER BY ALL",
                "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"host": "h1", "rule": "Cat opens a file", "n": 2},
                                    {"host": "h2", "rule": "Shell connects", "n": 1}]
    assert r.stderr == (f"scapula: warning: {gone}: cannot open to replay it: No such file "
                        f"or directory; not judged: capture 2 keeps the alerts of "
                        f"{tmp / 'sh.yaml'} (see alert_runs)\n")
