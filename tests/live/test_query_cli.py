"""`scapula query` on a real recording of a scripted workload: the process tree (parents,
argv, exit codes), the files it touched and the connection it made, as SQL sees them."""
import json
import sys

import pytest

from tests.conftest import scapula

NET = ("import socket; l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(); "
       "c = socket.create_connection(l.getsockname()); a, _ = l.accept(); "
       "a.close(); c.close(); l.close()")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    from tests.conftest import live_unavailable, skip_or_fail
    reason = live_unavailable()
    if reason:
        skip_or_fail(reason)
    tmp = tmp_path_factory.mktemp("querycli")
    cap = tmp / "run.scapula"
    script = (f"cd {tmp}; echo hi > a.txt; mv a.txt b.txt; rm b.txt; "
              f"/bin/sh -c 'exit 7'; {sys.executable} -c \"{NET}\"; exit 3")
    r = scapula("record", "-w", cap, "--follow", "--", "/bin/sh", "-c", script)
    assert r.returncode == 0, r.stderr
    return tmp, cap, script


def query(cap, sql, *extra):
    r = scapula("query", cap, sql, "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def root_pid(cap, script):
    (row,) = query(cap, "SELECT pid FROM processes WHERE argv = ['/bin/sh', '-c', $s]",
                   "-p", f"s={script}")
    return row["pid"]


def test_process_tree_of_the_workload(recorded):
    tmp, cap, script = recorded
    pid = root_pid(cap, script)
    r = scapula("query", cap, "--view", "process_tree", "--pid", pid, "--json")
    assert r.returncode == 0, r.stderr
    tree = json.loads(r.stdout)
    assert (tree[0]["level"], tree[0]["pid"], tree[0]["exit_code"]) == (0, pid, 3)
    children = [(t["cmdline"], t["exit_code"], t["ppid"]) for t in tree[1:]]
    assert children == [
        ("mv a.txt b.txt", 0, pid), ("rm b.txt", 0, pid), ("/bin/sh -c exit 7", 7, pid),
        (f"{sys.executable} -c {NET}", 0, pid)]
    # and up again: each child's ancestors start with the workload's shell
    (mv,) = [t["pid"] for t in tree if t["cmdline"] == "mv a.txt b.txt"]
    up = query(cap, "SELECT level, pid FROM process_ancestors($p)", "-p", f"p={mv}")
    assert [u["pid"] for u in up[:2]] == [mv, pid] and up[-1]["level"] == len(up) - 1


def test_file_activity_of_the_workload(recorded):
    tmp, cap, script = recorded
    got = query(cap, "SELECT comm, action, path, new_path FROM file_activity "
                     "WHERE path LIKE $dir || '/%' AND errno IS NULL", "-p", f"dir={tmp}")
    assert [(g["comm"], g["action"], g["path"], g["new_path"]) for g in got] == [
        ("sh", "write", f"{tmp}/a.txt", None),
        ("mv", "rename", f"{tmp}/a.txt", f"{tmp}/b.txt"),
        ("rm", "delete", f"{tmp}/b.txt", None)]


def test_network_activity_of_the_workload(recorded):
    tmp, cap, script = recorded
    got = query(cap, "SELECT type, proto, local_addr, local_port, remote_addr, remote_port "
                     "FROM network_activity WHERE family = 'AF_INET' "
                     "AND type IN ('bind', 'listen', 'connect', 'accept', 'accept4')")
    by_type = {g["type"]: g for g in got}
    # bind shows the address as passed (port 0: the kernel picks one)
    assert (by_type["bind"]["local_addr"], by_type["bind"]["local_port"]) == ("127.0.0.1", 0)
    port = by_type["connect"]["remote_port"]
    assert (by_type["connect"]["proto"], by_type["connect"]["remote_addr"]) == \
        ("tcp", "127.0.0.1") and port > 0
    accepted = by_type.get("accept4") or by_type["accept"]
    assert accepted["local_port"] == port
    assert accepted["remote_port"] == by_type["connect"]["local_port"]
    conns = query(cap, "SELECT direction, remote_port FROM connections ORDER BY direction")
    assert {(c["direction"], c["remote_port"]) for c in conns} >= {
        ("out", port), ("in", by_type["connect"]["local_port"])}


def test_exec_timeline_and_every_event_has_a_process(recorded):
    tmp, cap, script = recorded
    execs = query(cap, "SELECT cmdline FROM exec_timeline")
    assert "mv a.txt b.txt" in [e["cmdline"] for e in execs]
    (row,) = query(cap, "SELECT count(*) AS n, count(proc_id) AS with_proc, "
                        "count(exe) AS with_exe FROM events")
    assert row["n"] == row["with_proc"] > 0


def test_two_captures_two_hosts(recorded, tmp_path):
    """The same recording loaded twice is two captures; a database file keeps them."""
    tmp, cap, script = recorded
    db = tmp_path / "q.duckdb"
    other = tmp_path / "copy.scapula"
    other.write_bytes(cap.read_bytes())
    r = scapula("query", "--db", db, cap, other, "SELECT capture, count(*) AS n FROM events "
                "GROUP BY capture ORDER BY capture", "--json")
    assert r.returncode == 0, r.stderr
    a, b = json.loads(r.stdout)
    assert (a["capture"], b["capture"]) == (1, 2) and a["n"] == b["n"]
    r = scapula("query", "--db", db, "SELECT count(*) AS n FROM captures", "--json")
    assert json.loads(r.stdout) == [{"n": 2}]


def test_typed_args_of_the_workload(recorded):
    """The workload's forks and execs through typed.<type>: args typed, as recorded."""
    tmp, cap, script = recorded
    pid = root_pid(cap, script)
    forks = query(cap, "SELECT args.child_pid AS child, args.cwd AS cwd, "
                       "typeof(args.child_pid) AS t FROM typed.procfork WHERE pid = $p "
                       "ORDER BY seq", "-p", f"p={pid}")
    assert len(forks) == 4 and {f["t"] for f in forks} == {"BIGINT"}
    assert {f["cwd"] for f in forks} == {str(tmp)}
    children = query(cap, "SELECT pid, cmdline FROM processes WHERE ppid = $p ORDER BY start",
                     "-p", f"p={pid}")
    assert [f["child"] for f in forks] == [c["pid"] for c in children]
    execs = query(cap, "SELECT pid, args.filename AS filename, args.argv AS argv, args.cwd "
                       "AS cwd FROM typed.procexec WHERE pid IN (SELECT pid FROM processes "
                       "WHERE ppid = $p) ORDER BY seq", "-p", f"p={pid}")
    assert [(e["argv"], e["cwd"]) for e in execs][:3] == [
        (["mv", "a.txt", "b.txt"], str(tmp)), (["rm", "b.txt"], str(tmp)),
        (["/bin/sh", "-c", "exit 7"], str(tmp))]
    assert execs[0]["filename"].endswith("/mv") and execs[3]["argv"][0] == sys.executable
