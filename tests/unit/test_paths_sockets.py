"""Socket fds are tracked like pipes: made by socket, socketpair, accept and accept4."""
from scapula.capture.decoder import row_columns
from scapula.capture.paths import O_CLOEXEC, PathResolver
from scapula.schemas import events as schema

PID = 4000


def row(name: str, res: int, **params) -> tuple:
    evt = schema.BY_NAME[name]
    values = {"ts": 0, "cgroup": 0, "res": res, "tid": PID, "pid": PID, "ppid": 1, "uid": 0,
              "gid": 0, "type": evt.id, "cpu": 0, "comm": b"t"}
    values.update(params)
    return tuple(values[c] for c in row_columns(evt) if c in values)


def test_socket_fds_are_made_and_close_on_exec_follows_the_flags():
    r = PathResolver([{"pid": PID, "cwd": b"/"}], [[PID, 3, b"/old"], [PID, 5, b"/old5"]])
    r.apply([
        row("socket", 3, domain=2, socktype=1 | O_CLOEXEC, protocol=0),
        row("socketpair", 0, domain=1, socktype=1, protocol=0, fd1=5, fd2=6),
        row("accept", 7, fd=3, addr=None, local=None),
        row("accept4", 8, fd=3, addr=None, flags=O_CLOEXEC, local=None),
        row("socket", -22, domain=2, socktype=99, protocol=0),
    ])
    assert r.fds[PID] == {3: b"socket:", 5: b"socket:", 6: b"socket:", 7: b"socket:",
                          8: b"socket:"}
    assert r.cloexec[PID] == {3, 8}
    # a relative path against a socket fd cannot resolve
    assert r.absolute(PID, b"x", 3) is None
