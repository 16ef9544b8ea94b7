"""`users`, `groups`, the processes' user names and replay's user.name come from the
capture's HEADER (the recording host), never from the host that loads it."""
from scapula.capture.writer import CaptureWriter, open_output
from scapula.query import loader
from tests.unit.test_query import SNAPSHOT, rows, workload


def write(path, header):
    """A capture with this HEADER and the usual workload."""
    w = CaptureWriter(open_output(str(path)), str(path))
    w.header(header, SNAPSHOT, [])
    w.chunk(workload())
    w.close({})
    return path


def test_user_names_are_the_recording_hosts(tmp_path):
    snapshot_loginuid = dict(SNAPSHOT[1], loginuid=1000)
    path = tmp_path / "u.scapula"
    w = CaptureWriter(open_output(str(path)), str(path))
    w.header({"host": "h", "users": {0: "toor", 1000: "alice"}, "groups": {0: "wheel"}},
             [SNAPSHOT[0], snapshot_loginuid], [])
    w.chunk(workload())
    w.close({})
    con = loader.connect()
    loader.load(con, [path])
    assert rows(con, "SELECT pid, uid, \"user\", loginuser FROM processes ORDER BY pid") == [
        (1, 0, "toor", None), (100, 0, "toor", "alice"), (200, 0, "toor", "toor")]
    assert rows(con, "SELECT uid, name FROM users ORDER BY uid") == [(0, "toor"), (1000, "alice")]
    assert rows(con, "SELECT gid, name FROM groups") == [(0, "wheel")]


def test_a_capture_without_names_leaves_them_null(tmp_path):
    con = loader.connect()
    loader.load(con, [write(tmp_path / "old.scapula", {"host": "h"})])
    assert rows(con, "SELECT count(*), count(\"user\") FROM processes") == [(3, 0)]
    assert rows(con, "SELECT count(*) FROM users") == [(0,)]


def test_replay_names_users_as_the_capture_does(tmp_path):
    """`scapula replay` and the alerts table read user.name and group.name from the
    capture (uid 0 is "toor" there), through the generated rules as well."""
    import json
    from tests.conftest import scapula
    cap = write(tmp_path / "u.scapula", {"host": "h", "users": {0: "toor"},
                                         "groups": {0: "wheel"}})
    rules = tmp_path / "r.yaml"
    rules.write_text("""
- rule: Root opens
  desc: root opened a file
  condition: evt.type = openat and user.name = toor and group.name = wheel
  output: "%user.name %group.name opened %fd.name"
  priority: NOTICE
""")
    r = scapula("replay", "-r", rules, "--json", cap)
    assert r.returncode == 0, r.stderr
    got = [json.loads(line)["output_fields"] for line in r.stdout.splitlines()]
    assert [(g["user.name"], g["group.name"]) for g in got] == [("toor", "wheel")] * 2
    r = scapula("query", cap, "-r", rules, "SELECT DISTINCT output_fields->>'user.name' AS u "
                "FROM alerts", "--json")
    assert json.loads(r.stdout) == [{"u": "toor"}]


def test_a_database_from_before_the_user_columns_is_a_usage_error(tmp_path):
    import pytest
    from scapula.errors import UsageError
    db = str(tmp_path / "old.duckdb")
    con = loader.connect(db)
    con.execute('ALTER TABLE processes DROP COLUMN loginuser').fetchall()
    con.close()
    with pytest.raises(UsageError, match="processes table lacks loginuser: made by another"):
        loader.connect(db)
