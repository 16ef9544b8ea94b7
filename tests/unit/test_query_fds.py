"""The `fds` table without a kernel: fd lifetimes from a synthetic capture's snapshot and
events (open, dup2, pipe2, fork, exec, exit, socket, connect, accept, close); the opens
paired with their closes without the replay against the replay of every event."""
import json
import random

import pytest

from scapula.query import fd_pairs, fds, loader
from tests.unit.test_query import ev, rows, write

O_CLOEXEC = 0o2000000
INET_80 = b"\x02\x00\x00\x50\x7f\x00\x00\x01" + bytes(8)        # 127.0.0.1:80
INET_40000 = b"\x02\x00\x9c\x40\x7f\x00\x00\x01" + bytes(8)     # 127.0.0.1:40000


def workload():
    """sh (100, fd 0 from the snapshot) opens a log, dup2s it over fd 1, makes a
    close-on-exec pipe, forks 200, which execs (the pipe goes) and exits; then sh
    connects out on a socket and closes it, and accepts a connection on another."""
    return [
        ev("openat", 100, 100, res=3, dirfd=-100, name=b"log", flags=0o1101,
           name_abs=b"/root/log"),
        ev("dup2", 110, 100, res=1, oldfd=3, newfd=1),
        ev("close", 120, 100, res=0, fd=3),
        ev("pipe2", 130, 100, res=0, fd1=5, fd2=6, flags=O_CLOEXEC),
        ev("procfork", 1000, 100, child_pid=200, child_tid=200, exe=b"/bin/sh", cwd=b"/root"),
        ev("procexec", 1100, 200, comm=b"cat", filename=b"cat", argv=[b"cat"],
           exe=b"/usr/bin/cat", cwd=b"/root"),
        ev("procexit", 1300, 200, comm=b"cat", status=0),
        ev("socket", 1400, 100, res=4, domain=2, socktype=1 | O_CLOEXEC, protocol=0),
        ev("connect", 1410, 100, fd=4, addr=INET_80, local=INET_40000),
        ev("close", 1420, 100, res=0, fd=4),
        ev("close", 1430, 100, res=-9, fd=77),
        ev("accept4", 1500, 100, res=7, fd=8, addr=INET_40000, local=INET_80),
    ]


@pytest.fixture
def con(tmp_path):
    c = loader.connect()
    loader.load(c, [write(tmp_path / "f.scapula", workload())])
    yield c
    c.close()


def lives(con, where="TRUE"):
    return rows(con, f"SELECT pid, fd, type, name, how, cloexec, opened_ns, closed_ns, "
                     f"closed_by FROM fds WHERE {where} ORDER BY fd_id")


def test_open_dup2_close_and_the_snapshot(con):
    assert lives(con, "pid = 100 AND fd IN (0, 1, 3)") == [
        (100, 0, "file", "/dev/pts/0", "snapshot", None, None, None, None),
        (100, 3, "file", "/root/log", "openat", False, 100, 120, "close"),
        (100, 1, "file", "/root/log", "dup2", False, 110, None, None),
    ]
    (flags,) = rows(con, "SELECT flags FROM fds WHERE how = 'openat'")
    assert flags == (0o1101,)


def test_fork_copies_the_table_exec_closes_cloexec_exit_closes_the_rest(con):
    assert lives(con, "pid = 200") == [
        (200, 0, "file", "/dev/pts/0", "fork", None, 1000, 1300, "exit"),
        (200, 1, "file", "/root/log", "fork", False, 1000, 1300, "exit"),
        (200, 5, "pipe", "pipe", "fork", True, 1000, 1100, "exec"),
        (200, 6, "pipe", "pipe", "fork", True, 1000, 1100, "exec"),
    ]
    # each copy names the parent's fd it came from
    got = rows(con, "SELECT c.fd, p.pid, p.fd FROM fds c JOIN fds p ON p.fd_id = c.from_id "
                    "WHERE c.how = 'fork' ORDER BY c.fd")
    assert got == [(0, 100, 0), (1, 100, 1), (5, 100, 5), (6, 100, 6)]
    # the parent's own pipe is still open at the end
    assert lives(con, "pid = 100 AND type = 'pipe'") == [
        (100, 5, "pipe", "pipe", "pipe2", True, 130, None, None),
        (100, 6, "pipe", "pipe", "pipe2", True, 130, None, None),
    ]


def test_sockets_get_their_ends_and_connections_their_close(con):
    got = rows(con, "SELECT fd, type, proto, name, how, closed_ns FROM fds "
                    "WHERE family = 'AF_INET' ORDER BY fd_id")
    assert got == [
        (4, "ipv4", "tcp", "127.0.0.1:40000->127.0.0.1:80", "socket", 1420),
        (7, "ipv4", None, "127.0.0.1:80->127.0.0.1:40000", "accept4", None),
    ]
    got = rows(con, "SELECT direction, fd, remote_port, closed_by, "
                    "epoch_ns(closed) FROM connections ORDER BY ts")
    assert got == [("out", 4, 80, "close", 1420), ("in", 7, 40000, None, None)]


def test_a_failed_close_ends_nothing_and_a_reload_replaces_the_rows(con, tmp_path):
    assert rows(con, "SELECT count(*) FROM fds WHERE fd = 77") == [(0,)]
    n = rows(con, "SELECT count(*) FROM fds")[0][0]
    path = tmp_path / "f.scapula"
    write(path, workload()[:3])
    import os
    os.utime(path, ns=(1, 1))
    loader.load(con, [path])
    assert rows(con, "SELECT count(*) FROM fds")[0][0] < n


def test_a_number_reused_without_a_close_ends_the_old_fd_there(tmp_path):
    con = loader.connect()
    loader.load(con, [write(tmp_path / "r.scapula", [
        ev("openat", 100, 100, res=3, dirfd=-100, name=b"a", name_abs=b"/a"),
        ev("openat", 200, 100, res=3, dirfd=-100, name=b"b", name_abs=b"/b")])])
    assert rows(con, "SELECT name, opened_ns, closed_ns, closed_by FROM fds WHERE fd = 3 "
                     "ORDER BY fd_id") == [("/a", 100, 200, "unseen"), ("/b", 200, None, None)]


def test_fds_are_built_when_a_query_needs_them(tmp_path):
    """Building fds takes about as long as loading the events: `query` builds them
    only for SQL that names fds or connections, and a database kept with --db gets
    them the first time a query does."""
    from scapula.query.commands import uses_fds
    from tests.conftest import scapula
    assert uses_fds("SELECT * FROM FDS") and uses_fds("select * from connections")
    assert not uses_fds("SELECT fd, count(*) FROM events GROUP BY fd")
    cap, db = write(tmp_path / "f.scapula", workload()), tmp_path / "case.duckdb"

    def fd_rows():
        c = loader.connect(str(db))
        try:
            return c.execute("SELECT count(*) FROM fds").fetchone()[0]
        finally:
            c.close()

    r = scapula("query", "--db", db, cap, "SELECT count(*) AS n FROM events", "--json")
    assert r.returncode == 0, r.stderr
    assert fd_rows() == 0
    r = scapula("query", "--db", db, "SELECT count(*) AS n FROM fds", "--json")
    assert r.returncode == 0, r.stderr
    (n,) = [row["n"] for row in json.loads(r.stdout)]
    assert n > 0 and fd_rows() == n
    r = scapula("query", "--db", db, "SELECT count(*) AS n FROM connections", "--json")
    assert r.returncode == 0 and fd_rows() == n      # built once


def test_reading_the_events_a_few_at_a_time_gives_the_same_fds(tmp_path, monkeypatch):
    path = write(tmp_path / "f.scapula", workload())
    every = "SELECT * EXCLUDE (host) FROM fds ORDER BY fd_id"
    c = loader.connect()
    loader.load(c, [path])
    whole = rows(c, every)
    monkeypatch.setattr(fds, "BATCH", 2)   # ended fds go in between batches
    monkeypatch.setattr(fd_pairs, "PLAN_ROWS", 3)   # and lifetimes are paired a few at a time
    c = loader.connect()
    loader.load(c, [path])
    assert rows(c, every) == whole and len(whole) >= 8


def churn(seed: int, n: int = 600):
    """Random fd calls by sh (100, in the snapshot) and the children it forks, on a few
    numbers so that they collide: opens (some failing, some close-on-exec or of a
    directory), closes (some of numbers not open, some EBADF), dup2, pipe2, socket and
    connect, fork (some children acting before the fork event), exec, exit."""
    rnd = random.Random(seed)
    live, born, out, pid = [100], 200, [], 100
    for i in range(n):
        if pid not in live or rnd.random() < 0.2:   # mostly a while in one process
            pid = rnd.choice(live)
        ts, num = 100 + 10 * i, rnd.randrange(7)
        pick = rnd.random()
        if pick < 0.46:
            flags = rnd.choice([0, 0, O_CLOEXEC, 0o200000])
            res = num if rnd.random() < 0.9 else -2
            out.append(ev("openat", ts, pid, res=res, dirfd=-100, name=b"f%d" % i, flags=flags,
                          name_abs=b"/f%d" % i))
        elif pick < 0.92:
            out.append(ev("close", ts, pid, res=0 if rnd.random() < 0.9 else -9, fd=num))
        elif pick < 0.935:
            out.append(ev("dup2", ts, pid, res=num, oldfd=rnd.randrange(7), newfd=num))
        elif pick < 0.95:
            out.append(ev("pipe2", ts, pid, fd1=num, fd2=(num + 1) % 7,
                          flags=rnd.choice([0, O_CLOEXEC])))
        elif pick < 0.96:
            out.append(ev("socket", ts, pid, res=num, domain=2, socktype=1, protocol=0))
            out.append(ev("connect", ts + 1, pid, fd=num, addr=INET_80, local=INET_40000))
        elif pick < 0.98:
            child, born = born, born + 1
            fork = ev("procfork", ts, pid, child_pid=child, child_tid=child, exe=b"/bin/sh",
                      cwd=b"/root")
            if rnd.random() < 0.2:   # the child's first event recorded before the fork
                out.append(ev("openat", ts, child, res=num, dirfd=-100, name=b"early",
                              name_abs=b"/early"))
            out.append(fork)
            live.append(child)
        elif pick < 0.99 and pid != 100:
            out.append(ev("procexec", ts, pid, comm=b"cat", filename=b"cat", argv=[b"cat"],
                          exe=b"/usr/bin/cat", cwd=b"/root"))
        elif pid != 100:
            out.append(ev("procexit", ts, pid, status=0))
            live.remove(pid)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_pairing_opens_with_their_closes_gives_what_the_replay_of_every_event_gives(
        tmp_path, monkeypatch, seed):
    """fd_pairs leaves the state machine only the events it must see; built with every
    event replayed instead, the table is the same, fd ids included."""
    monkeypatch.setattr(fd_pairs, "PART_EVENTS", 200)   # lifetimes sorted in parts,
    monkeypatch.setattr(fd_pairs, "PLAN_ROWS", 50)   # split across reads,
    monkeypatch.setattr(fds, "PAIRED_ROWS", 4)   # the pairs' rows made a few at a time
    monkeypatch.setattr(fds, "BATCH", 64)
    c = loader.connect()
    loader.load(c, [write(tmp_path / "c.scapula", churn(seed))], fd_lifetimes=False)
    every = "SELECT * FROM fds ORDER BY fd_id"
    got = {}
    for pair in (False, True):
        c.execute("DELETE FROM fds")
        fds.load(c, 1, "h1", loader._insert, pair=pair)
        got[pair] = rows(c, every)
    assert got[True] == got[False]
    pairs = fd_pairs.plan(c, 1, fds.MAKERS + fds.OTHERS)
    assert len(pairs.opens) >= 10 and len(pairs.replay) >= 100   # both ways were taken
    assert len({r[2] for r in got[True]}) == len(got[True])   # fd ids unique


def test_an_open_still_open_at_the_end_is_paired_and_one_before_a_fork_is_not(tmp_path):
    c = loader.connect()
    loader.load(c, [write(tmp_path / "e.scapula", [
        ev("close", 100, 100, fd=3),
        ev("openat", 110, 100, res=3, dirfd=-100, name=b"a", name_abs=b"/a"),
        ev("close", 120, 100, fd=3),
        ev("openat", 130, 100, res=3, dirfd=-100, name=b"b", name_abs=b"/b"),
        ev("procfork", 140, 100, child_pid=200, child_tid=200, exe=b"/bin/sh", cwd=b"/"),
        ev("close", 150, 100, fd=3),
        ev("openat", 160, 100, res=3, dirfd=-100, name=b"c", name_abs=b"/c")])])
    pairs = fd_pairs.plan(c, 1, fds.MAKERS + fds.OTHERS)
    assert list(pairs.opens) == [1, 6] and list(pairs.ends) == [2, -1]   # /a and /c (seqs)
    assert lives(c, "fd = 3") == [
        (100, 3, "file", "/a", "openat", False, 110, 120, "close"),
        (100, 3, "file", "/b", "openat", False, 130, 150, "close"),
        (200, 3, "file", "/b", "fork", False, 140, None, None),
        (100, 3, "file", "/c", "openat", False, 160, None, None),
    ]


def test_a_fork_cuts_its_childs_runs_even_where_the_child_acts_before_it(tmp_path):
    """The loader gives a child's events recorded before its fork no lifetime (they key
    on -pid); were they the child's, the fork, which fills the child's table, must still
    end what the child opened before it: the pairing cuts the child's runs there."""
    c = loader.connect()
    loader.load(c, [write(tmp_path / "k.scapula", [
        ev("close", 1000, 200, fd=0),
        ev("openat", 1000, 200, res=0, dirfd=-100, name=b"early", name_abs=b"/early"),
        ev("procfork", 1000, 100, child_pid=200, child_tid=200, exe=b"/bin/sh", cwd=b"/"),
        ev("close", 1010, 200, fd=0)])], fd_lifetimes=False)
    c.execute("UPDATE events SET proc_id = (SELECT proc_id FROM processes WHERE pid = 200) "
              "WHERE pid = 200")
    got = {}
    for pair in (False, True):
        c.execute("DELETE FROM fds")
        fds.load(c, 1, "h1", loader._insert, pair=pair)
        got[pair] = rows(c, "SELECT * FROM fds ORDER BY fd_id")
    assert got[True] == got[False]
    assert lives(c, "pid = 200") == [
        (200, 0, "file", "/early", "openat", False, 1000, 1000, "unseen"),
        (200, 0, "file", "/dev/pts/0", "fork", None, 1000, 1010, "close"),
    ]
