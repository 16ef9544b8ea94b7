"""`users`, `groups` and the processes' user names come from the capture's HEADER (the
recording host), never from the host that loads it."""
from scapula.capture.writer import CaptureWriter, open_output
from scapula.query import loader
from tests.unit.test_query import SNAPSHOT, rows, workload


def write(path, header):  # a capture with this HEADER and the usual workload
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
