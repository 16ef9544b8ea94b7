"""The investigation views and the process table on the cases a live audit found them
wrong on: synthetic captures written by the real writer, each row asserted."""
import pytest

from scapula.query import loader
from tests.unit.test_query import ev, rows, write

UNIX = b"\x01\x00/run/app.sock\x00"


def inet(port: int, ip=b"\x7f\x00\x00\x01") -> bytes:
    return b"\x02\x00" + port.to_bytes(2, "big") + ip + bytes(8)


def load(tmp_path, events, build_fds=False):
    con = loader.connect()
    loader.load(con, [write(tmp_path / "c.scapula", events)], fd_lifetimes=build_fds)
    return con


@pytest.fixture
def view(tmp_path):
    made = []

    def run(events, sql, build_fds=False):
        con = load(tmp_path, events, build_fds)
        made.append(con)
        return rows(con, sql)
    yield run
    for con in made:
        con.close()


def test_a_process_ends_with_its_last_thread(view):
    # the main thread calls pthread_exit (status 0); a worker runs on and exits 5
    got = view([
        ev("procfork", 1000, 100, child_pid=200, child_tid=200, exe=b"/bin/sh"),
        ev("procfork", 1100, 200, child_pid=200, child_tid=201, exe=b"/bin/sh"),
        ev("procexit", 1200, 200, exit_code=0, status=0),
        ev("openat", 1300, 200, tid=201, res=3, dirfd=-100, name=b"/etc/x", flags=0,
           name_abs=b"/etc/x"),
        ev("procexit", 1400, 200, tid=201, exit_code=5 << 8, status=5),
        # a thread that ends while its main thread lives does not end the process
        ev("procfork", 1500, 100, child_pid=300, child_tid=300, exe=b"/bin/sh"),
        ev("procfork", 1600, 300, child_pid=300, child_tid=301, exe=b"/bin/sh"),
        ev("procexit", 1700, 300, tid=301, exit_code=0, status=0),
    ], "SELECT pid, end_ns, exit_code, exit_signal FROM processes WHERE origin = 'fork' "
       "ORDER BY pid")
    assert got == [(200, 1400, 5, 0), (300, None, None, None)]


def test_a_process_a_signal_killed_has_no_exit_code(view):
    got = view([
        ev("procfork", 1000, 100, child_pid=200, child_tid=200, exe=b"/bin/sh"),
        ev("procexit", 1100, 200, exit_code=9, status=0, sig=9),
        ev("procfork", 1200, 100, child_pid=201, child_tid=201, exe=b"/bin/sh"),
        ev("procexit", 1300, 201, exit_code=139 - 128 + 128, status=0, sig=11, core=1),
    ], "SELECT pid, exit_code, exit_signal, core_dumped FROM processes "
       "WHERE origin = 'fork' ORDER BY pid")
    assert got == [(200, None, 9, False), (201, None, 11, True)]


def test_parent_exe_is_what_the_parent_ran_at_the_exec(view):
    # sh forks 200 (which execs true), then execs sleep itself, then forks 201 (ls)
    got = view([
        ev("procfork", 1000, 100, child_pid=200, child_tid=200, exe=b"/bin/sh"),
        ev("procexec", 1100, 200, filename=b"/bin/true", argv=[b"true"], exe=b"/bin/true",
           cwd=b"/"),
        ev("procexec", 1200, 100, filename=b"/bin/sleep", argv=[b"sleep", b"1"],
           exe=b"/bin/sleep", cwd=b"/"),
        ev("procfork", 1300, 100, child_pid=201, child_tid=201, exe=b"/bin/sleep"),
        ev("procexec", 1400, 201, filename=b"/bin/ls", argv=[b"ls"], exe=b"/bin/ls",
           cwd=b"/"),
    ], "SELECT pid, ppid, parent_exe, exe FROM exec_timeline ORDER BY ts")
    assert got == [(200, 100, "/bin/sh", "/bin/true"),
                   (100, 1, "/sbin/init", "/bin/sleep"),   # init never exec'd: its exe
                   (201, 100, "/bin/sleep", "/bin/ls")]


def test_unix_sockets_have_a_family_and_no_ip_proto(view):
    events = [
        ev("socket", 1000, 100, res=3, domain=1, socktype=1),
        ev("bind", 1100, 100, fd=3, addr=UNIX),
        ev("listen", 1200, 100, fd=3, backlog=5),
        ev("socket", 1300, 100, res=4, domain=1, socktype=1),
        # the kernel gives no local address of a unix socket
        ev("connect", 1400, 100, fd=4, addr=UNIX),
        ev("accept4", 1500, 100, res=5, fd=3, addr=b"\x01\x00"),
        ev("socket", 1600, 100, res=6, domain=2, socktype=1),
        ev("connect", 1700, 100, fd=6, addr=inet(80), local=inet(40000)),
    ]
    got = view(events, "SELECT type, fd, family, proto, local_addr, remote_addr, new_fd "
                       "FROM network_activity ORDER BY seq")
    assert got == [
        ("bind", 3, "AF_UNIX", None, "/run/app.sock", None, None),
        ("listen", 3, "AF_UNIX", None, "/run/app.sock", None, None),
        ("connect", 4, "AF_UNIX", None, None, "/run/app.sock", None),
        # an accepted connection's own end is the listening socket's path
        ("accept4", 3, "AF_UNIX", None, "/run/app.sock", "", 5),
        ("connect", 6, "AF_INET", "tcp", "127.0.0.1", "127.0.0.1", None),
    ]
    got = view(events, "SELECT fd, type, family, proto FROM fds WHERE how IN "
                       "('socket', 'accept4') ORDER BY fd", build_fds=True)
    assert got == [(3, "unix", "AF_UNIX", None), (4, "unix", "AF_UNIX", None),
                   (5, "unix", "AF_UNIX", None), (6, "ipv4", "AF_INET", "tcp")]


def test_an_fd_number_used_again_is_not_taken_for_the_old_socket(view):
    got = view([
        # fd 4 a UDP socket, closed; then an accepted TCP connection on fd 4
        ev("socket", 1000, 100, res=3, domain=2, socktype=1),
        ev("bind", 1010, 100, fd=3, addr=inet(80)),
        ev("listen", 1020, 100, fd=3, backlog=5),
        ev("socket", 1100, 100, res=4, domain=2, socktype=2),
        ev("close", 1200, 100, fd=4),
        ev("accept4", 1300, 100, res=4, fd=3, addr=inet(5555), local=inet(80)),
        ev("shutdown", 1400, 100, fd=4, how=2),
        # fd 7 bound to 127.0.0.2, closed; a new socket on fd 7 listens unbound
        ev("socket", 1500, 100, res=7, domain=2, socktype=1),
        ev("bind", 1510, 100, fd=7, addr=inet(9000, b"\x7f\x00\x00\x02")),
        ev("close", 1520, 100, fd=7),
        ev("socket", 1530, 100, res=7, domain=2, socktype=1),
        ev("listen", 1540, 100, fd=7, backlog=5),
        # pid 200's first lifetime made a UDP socket on fd 5; its second (the pid used
        # again) connects a socket it inherited: not known, so no proto
        ev("procfork", 1600, 100, child_pid=200, child_tid=200, exe=b"/bin/sh"),
        ev("socket", 1610, 200, ppid=100, res=5, domain=2, socktype=2),
        ev("procexit", 1620, 200, ppid=100),
        ev("procfork", 1700, 100, child_pid=200, child_tid=200, exe=b"/bin/sh"),
        ev("connect", 1710, 200, ppid=100, fd=5, addr=inet(80), local=inet(41000)),
    ], "SELECT pid, type, fd, proto, local_addr, local_port FROM network_activity "
       "WHERE epoch_ns(ts) >= 1300 ORDER BY seq")
    assert got == [
        (100, "accept4", 3, "tcp", "127.0.0.1", 80),
        (100, "shutdown", 4, "tcp", None, None),
        (100, "bind", 7, "tcp", "127.0.0.2", 9000),
        (100, "listen", 7, "tcp", None, None),
        (200, "connect", 5, None, "127.0.0.1", 41000),
    ]


def test_fchmod_and_fchown_name_the_file_of_their_fd_and_symlinks_their_target(view):
    got = view([
        ev("openat", 1000, 100, res=4, dirfd=-100, name=b"drop.sh", flags=0o1101,
           name_abs=b"/tmp/drop.sh"),
        ev("fchmod", 1100, 100, fd=4, mode=0o755),
        ev("fchown", 1200, 100, fd=4, owner=0, group=0),
        ev("fchmod", 1300, 100, fd=9, mode=0o600),   # an fd the capture never saw made
        ev("symlink", 1400, 100, target=b"/etc/shadow", linkpath=b"s",
           linkpath_abs=b"/tmp/s"),
    ], "SELECT action, path, new_path, fd, mode FROM file_activity ORDER BY ts")
    assert got == [("write", "/tmp/drop.sh", None, 4, 0),
                   ("chmod", "/tmp/drop.sh", None, 4, 0o755),
                   ("chown", "/tmp/drop.sh", None, 4, None),
                   ("chmod", None, None, 9, 0o600),
                   ("symlink", "/tmp/s", "/etc/shadow", None, None)]


def test_suspicious_sees_scripts_relative_runs_and_what_ran_before(tmp_path, monkeypatch):
    from tests.unit import test_query
    snapshot = test_query.SNAPSHOT + [
        {"pid": 50, "ppid": 1, "comm": b"x", "exe": b"/memfd:x (deleted)", "args": [b"x"],
         "cwd": b"/", "uid": 0, "start_ns": 5}]
    events = [
        ev("procfork", 1000, 100, child_pid=200, child_tid=200, exe=b"/bin/sh"),
        # a script from /tmp: the exe is its interpreter
        ev("procexec", 1100, 200, filename=b"/tmp/drop.sh", argv=[b"/tmp/drop.sh"],
           exe=b"/bin/sh", cwd=b"/root"),
        ev("procfork", 1200, 100, child_pid=201, child_tid=201, exe=b"/bin/sh"),
        ev("procexec", 1300, 201, filename=b"./run", argv=[b"./run"], exe=b"/bin/sh",
           cwd=b"/dev/shm"),
        ev("procfork", 1400, 100, child_pid=202, child_tid=202, exe=b"/bin/sh"),
        ev("procexec", 1500, 202, filename=b"/bin/ls", argv=[b"ls"], exe=b"/bin/ls",
           cwd=b"/tmp"),   # run in /tmp, not from it
        ev("procfork", 1600, 100, child_pid=203, child_tid=203, exe=b"/bin/sh"),
        ev("procexec", 1700, 203, filename=b"../../../bin/true", argv=[b"true"],
           exe=b"/bin/true", cwd=b"/tmp/d1"),   # from /tmp/d1, but out of it
    ]
    monkeypatch.setattr(test_query, "SNAPSHOT", snapshot)   # a fileless process before
    con = load(tmp_path, events)
    got = rows(con, "SELECT pid, reason, exe, filename FROM suspicious ORDER BY ts")
    con.close()
    assert got == [(50, "memfd exec", "/memfd:x (deleted)", None),
                   (200, "exec from /tmp", "/bin/sh", "/tmp/drop.sh"),
                   (201, "exec from /dev/shm", "/bin/sh", "/dev/shm/run")]


def test_an_o_tmpfile_fd_is_a_file_not_its_directory(view):
    got = view([
        ev("openat", 1000, 100, res=3, dirfd=-100, name=b"/tmp", flags=0o20200002,
           name_abs=b"/tmp"),                                       # O_TMPFILE | O_RDWR
        ev("openat", 1100, 100, res=4, dirfd=-100, name=b"/etc", flags=0o200000,
           name_abs=b"/etc"),                                       # O_DIRECTORY
    ], "SELECT fd, type, path FROM fds WHERE how = 'openat' ORDER BY fd", build_fds=True)
    assert got == [(3, "file", "/tmp"), (4, "directory", "/etc")]
