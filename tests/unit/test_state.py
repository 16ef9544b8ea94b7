"""Replay state: the process and fd tables kept by events, one transition at a time."""
import socket
import struct

from scapula.replay.state import State

ROOT = 0


class Ev:
    """An event as the state reads it (the shape of replay.event.Event)."""

    def __init__(self, event_name, pid=100, tid=None, res=0, ts=1, comm=b"sh", ppid=1, **params):
        name = event_name
        self.name, self.pid, self.tid, self.res, self.ts = name, pid, tid or pid, res, ts
        self.comm, self.ppid, self.uid, self.gid = comm, ppid, ROOT, ROOT
        self._p = params

    def param(self, name):
        return self._p.get(name)


def inet(addr, port):
    return struct.pack("<H", socket.AF_INET) + struct.pack(">H", port) \
        + socket.inet_aton(addr) + bytes(8)


SNAPSHOT = [{"pid": 1, "ppid": 0, "comm": b"init", "exe": b"/sbin/init", "args": [b"init"],
             "cwd": b"/", "uid": 0, "sid": 1, "pgid": 1},
            {"pid": 100, "ppid": 1, "comm": b"sh", "exe": b"/bin/sh", "args": [b"sh"],
             "cwd": b"/root", "uid": 0, "sid": 100, "pgid": 100}]
FDS = [[100, 0, b"/dev/pts/0"], [100, 3, b"socket:[123]"], [100, 4, b"pipe:[9]"],
       [100, 5, b"anon_inode:[eventpoll]"], [100, 6, b"/memfd:x (deleted)"]]


def state():
    return State(SNAPSHOT, FDS)


def test_the_snapshot_seeds_processes_fds_and_lineage():
    s = state()
    sh = s.process(100)
    assert (sh.exe, sh.cwd, s.parent(sh).comm) == (b"/bin/sh", b"/root", b"init")
    assert [s.fd(100, n).typechar for n in (0, 3, 4, 5, 6)] == ["f", "o", "p", "l", "m"]
    assert [p.pid for p in s.ancestors(100)] == [1]
    assert s.session_leader(100) is sh


def test_fork_copies_the_parent_and_takes_the_childs_facts():
    s = state()
    s.update(Ev("procfork", child_tid=200, child_pid=200, cwd=b"/tmp", exe=b"/bin/sh",
                loginuid=1000, sid=100, pgid=200, container_id=None))
    child = s.process(200)
    assert (child.ppid, child.cwd, child.loginuid, child.pgid) == (100, b"/tmp", 1000, 200)
    assert child.fds.keys() == s.process(100).fds.keys()
    assert child.fds[0] is not s.process(100).fds[0]        # a copy, not shared
    assert [p.pid for p in s.ancestors(200)] == [100, 1]
    # a thread joins its process instead
    s.update(Ev("procfork", child_tid=101, child_pid=100))
    assert 101 in s.process(100).threads and s.tid_pid[101] == 100


def test_exec_replaces_the_image_and_closes_cloexec_fds():
    s = state()
    s.update(Ev("openat", res=7, name=b"/etc/passwd", flags=0o2000000, name_abs=b"/etc/passwd"))
    s.update(Ev("openat", res=8, name=b"x", flags=0, name_abs=b"/root/x"))
    assert s.fd(100, 7).cloexec and s.fd(100, 8).name == b"/root/x"
    s.update(Ev("procexec", comm=b"cat", argv=[b"cat", b"/etc/shadow"], envp=[b"A=1"],
                exe=b"/usr/bin/cat", cwd=b"/root", exe_flags=4))
    p = s.process(100)
    assert (p.comm, p.exe, p.args, p.env, p.exe_flags) == \
        (b"cat", b"/usr/bin/cat", [b"cat", b"/etc/shadow"], [b"A=1"], 4)
    assert s.fd(100, 7) is None and s.fd(100, 8) is not None


def test_close_and_exit_are_seen_by_their_own_event_then_applied():
    s = state()
    s.update(Ev("close", fd=4))
    assert s.fd(100, 4) is not None           # the close event itself still sees the fd
    s.update(Ev("procexit", exit_code=256))
    assert s.fd(100, 4) is None
    assert s.process(100).exit_code == 256    # the exit event sees its process
    s.update(Ev("close", pid=1, fd=0))
    assert s.process(100) is None


def test_dup_pipe_memfd_and_cwd():
    s = state()
    s.update(Ev("dup2", res=9, oldfd=0, newfd=9))
    s.update(Ev("pipe2", fd1=10, fd2=11, flags=0o2000000))
    s.update(Ev("memfd_create", res=12, name=b"payload", flags=0))
    s.update(Ev("chdir", path=b"/var/log", path_abs=b"/var/log"))
    assert s.fd(100, 9).name == b"/dev/pts/0"
    assert (s.fd(100, 10).typechar, s.fd(100, 11).cloexec) == ("p", True)
    assert (s.fd(100, 12).typechar, s.fd(100, 12).name) == ("m", b"memfd:payload")
    assert s.process(100).cwd == b"/var/log"
    s.update(Ev("openat", res=13, name=b"/var/log", flags=0o200000, name_abs=b"/var/log"))
    s.update(Ev("fchdir", fd=13))
    assert s.fd(100, 13).typechar == "d" and s.process(100).cwd == b"/var/log"
    s.update(Ev("openat", res=-2, name=b"/nope", flags=0))
    assert s.fd(100, -2) is None


def test_sockets_get_their_tuples():
    s = state()
    s.update(Ev("socket", res=20, domain=2, socktype=1 | 0o2000000, protocol=0))
    s.update(Ev("connect", res=-115, fd=20, addr=inet("10.1.2.3", 443),
                local=inet("192.168.0.5", 40000)))
    fd = s.fd(100, 20)
    assert (fd.typechar, fd.l4proto, fd.cloexec, fd.connected) == ("4", "tcp", True, True)
    assert fd.name == b"192.168.0.5:40000->10.1.2.3:443"
    s.update(Ev("socket", res=21, domain=10, socktype=1, protocol=0))
    s.update(Ev("bind", fd=21, addr=struct.pack("<H", 10) + struct.pack(">H", 22) + bytes(24)))
    s.update(Ev("accept4", res=22, fd=21, flags=0, addr=inet("127.0.0.1", 5555),
                local=inet("127.0.0.1", 22)))
    acc = s.fd(100, 22)
    assert (acc.typechar, acc.l4proto, acc.remote, acc.local) == \
        ("6", "tcp", ("127.0.0.1", 5555), ("127.0.0.1", 22))
    # a snapshot socket of unknown family learns it from its first connect
    s.update(Ev("connect", fd=3, addr=inet("1.1.1.1", 53), local=inet("10.0.0.1", 999)))
    assert s.fd(100, 3).typechar == "4"


def test_identity_changes():
    s = state()
    s.update(Ev("setresuid", ruid=1000, euid=1000, suid=-1))
    assert (s.process(100).uid, s.process(100).euid) == (1000, 1000)
    s.update(Ev("setreuid", ruid=-1, euid=0, res=-1))   # failed: nothing changes
    assert s.process(100).euid == 1000


def test_an_unknown_process_is_made_up_from_its_first_event():
    s = State()
    s.update(Ev("openat", pid=555, ppid=1, res=3, name=b"/x", flags=0, name_abs=b"/x"))
    assert s.process(555).ppid == 1 and s.fd(555, 3).name == b"/x"
