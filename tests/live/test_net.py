"""Live per-syscall tests of the socket syscalls, on loopback and unix sockets only: every field."""
import ctypes
import errno
import fcntl
import mmap
import os
import socket
import struct

from scapula.replay.commands import event_line
from tests.conftest import raw_syscall
from tests.live.test_file_open import BAD_FD, BAD_PTR, check, record

# x86_64 numbers, written out rather than taken from the event table so the table is checked too.
NR = {"socket": 41, "connect": 42, "accept": 43, "sendto": 44, "recvfrom": 45, "sendmsg": 46,
      "recvmsg": 47, "shutdown": 48, "bind": 49, "listen": 50, "getsockname": 51,
      "socketpair": 53, "close": 3, "accept4": 288}
STREAM, DGRAM = socket.SOCK_STREAM, socket.SOCK_DGRAM
CLOEXEC, NONBLOCK = socket.SOCK_CLOEXEC, socket.SOCK_NONBLOCK


def sys(name: str, *args) -> int:
    return raw_syscall(NR[name], *args)


def inet(addr: str, port: int) -> bytes:
    return struct.pack("<H", socket.AF_INET) + struct.pack(">H", port) \
        + socket.inet_aton(addr) + bytes(8)


def inet6(addr: str, port: int) -> bytes:
    return struct.pack("<H", socket.AF_INET6) + struct.pack(">HI", port, 0) \
        + socket.inet_pton(socket.AF_INET6, addr) + bytes(4)


def unix(path: bytes, nul: bool = True) -> bytes:
    return struct.pack("<H", socket.AF_UNIX) + path + (b"\0" if nul else b"")


class Shared:
    """Memory a child's syscalls read and write and the test reads back after it ends
    (ctypes buffers made before the fork would be the child's private copies)."""

    def __init__(self, size: int = 1 << 16):
        self.map = mmap.mmap(-1, size)
        self.used = 0

    def buf(self, data: bytes | int) -> ctypes.Array:
        size = data if isinstance(data, int) else len(data)
        arr = (ctypes.c_char * size).from_buffer(self.map, self.used)
        self.used += (size + 15) & ~15
        if not isinstance(data, int):
            arr[:] = data
        return arr

    def int(self, value: int = 0) -> ctypes.c_int:
        v = ctypes.c_int.from_buffer(self.map, self.used)
        self.used += 16
        v.value = value
        return v


def addr_of(buf: ctypes.Array, length: ctypes.c_int) -> bytes:
    return bytes(buf[:length.value])


def local_port(fd: int) -> int:
    """The port a bound socket got, through getsockname (raw, so recorded nothing)."""
    buf, n = ctypes.create_string_buffer(128), ctypes.c_int(128)
    assert sys("getsockname", fd, buf, ctypes.byref(n)) == 0
    return struct.unpack_from(">H", buf.raw, 2)[0]


def sockname(fd: int) -> bytes:
    buf, n = ctypes.create_string_buffer(128), ctypes.c_int(128)
    assert sys("getsockname", fd, buf, ctypes.byref(n)) == 0
    return buf.raw[:n.value]


def test_socket(run_child):
    def child(out):
        out[0] = sys("socket", socket.AF_INET, STREAM | CLOEXEC, 0)
        out[1] = sys("socket", socket.AF_INET6, DGRAM | NONBLOCK, socket.IPPROTO_UDP)
        out[2] = sys("socket", socket.AF_INET, 0xF, 0)
        out[3] = sys("socket", 4242, STREAM, 0)
        out[4] = sys("socket", socket.AF_INET, STREAM, -1)

    run, out = record(run_child, child)
    assert 3 <= out[0] < out[1]
    check(run, run.one("socket", socktype=STREAM | CLOEXEC), out[0],
          domain=socket.AF_INET, socktype=STREAM | CLOEXEC, protocol=0)
    e = run.one("socket", domain=socket.AF_INET6)
    check(run, e, out[1], domain=socket.AF_INET6, socktype=DGRAM | NONBLOCK,
          protocol=socket.IPPROTO_UDP)
    assert (e.render("domain"), e.render("socktype")) == ("AF_INET6", "SOCK_DGRAM|SOCK_NONBLOCK")
    assert e.as_dict()["socktype_names"] == "SOCK_DGRAM|SOCK_NONBLOCK"
    check(run, run.one("socket", socktype=0xF), -errno.EINVAL,
          domain=socket.AF_INET, socktype=0xF, protocol=0)
    check(run, run.one("socket", domain=4242), -errno.EAFNOSUPPORT,
          domain=4242, socktype=STREAM, protocol=0)
    check(run, run.one("socket", protocol=-1), -errno.EINVAL,
          domain=socket.AF_INET, socktype=STREAM, protocol=-1)


def test_socketpair(run_child):
    mem = Shared()
    fds = mem.buf(8)

    def child(out):
        out[0] = sys("socketpair", socket.AF_UNIX, STREAM | CLOEXEC, 0, fds)
        out[1], out[2] = struct.unpack("<ii", fds.raw)
        out[3] = sys("socketpair", socket.AF_INET, STREAM, 0, fds)
        out[4] = sys("socketpair", socket.AF_UNIX, DGRAM, 0, BAD_PTR)

    run, out = record(run_child, child)
    assert out[0] == 0 and 3 <= out[1] < out[2]
    check(run, run.one("socketpair", fd1=out[1]), 0, domain=socket.AF_UNIX,
          socktype=STREAM | CLOEXEC, protocol=0, fd1=out[1], fd2=out[2])
    check(run, run.one("socketpair", domain=socket.AF_INET), -errno.EOPNOTSUPP,
          domain=socket.AF_INET, socktype=STREAM, protocol=0, fd1=-1, fd2=-1)
    check(run, run.one("socketpair", socktype=DGRAM), -errno.EFAULT,
          domain=socket.AF_UNIX, socktype=DGRAM, protocol=0, fd1=-1, fd2=-1)


def test_tcp_ipv4(run_child):
    """bind, listen, connect (refused and accepted), accept, accept4, shutdown."""
    mem = Shared()
    any_port = mem.buf(inet("127.0.0.1", 0))
    target = mem.buf(16)        # the listener's address, once the child knows its port
    refused = mem.buf(16)       # a socket bound but not listening
    peer, peer_len = mem.buf(128), mem.int()
    peer4, peer4_len = mem.buf(128), mem.int()
    short = mem.buf(inet("127.0.0.1", 0)[:3])
    refused_local = mem.buf(16)

    def child(out):
        out[0] = s = sys("socket", socket.AF_INET, STREAM, 0)
        out[1] = sys("bind", s, any_port, 16)
        out[2] = port = local_port(s)
        target[:] = inet("127.0.0.1", port)
        out[3] = sys("listen", s, 7)
        out[4] = sys("listen", BAD_FD, 1)
        out[5] = c = sys("socket", socket.AF_INET, STREAM, 0)
        out[6] = sys("connect", c, target, 16)
        out[7] = local_port(c)
        peer_len.value = 128
        out[8] = sys("accept", s, peer, ctypes.byref(peer_len))
        out[9] = c2 = sys("socket", socket.AF_INET, STREAM, 0)
        sys("connect", c2, target, 16)
        out[10] = local_port(c2)
        peer4_len.value = 128
        out[11] = sys("accept4", s, peer4, ctypes.byref(peer4_len), CLOEXEC | NONBLOCK)
        out[12] = sys("accept4", s, None, None, 0x1)  # not an accept4 flag
        # Nothing is pending: non-blocking (fcntl is not recorded), accept fails at once.
        fcntl.fcntl(s, fcntl.F_SETFL, os.O_NONBLOCK)
        out[13] = sys("accept", s, None, None)
        out[14] = sys("connect", BAD_FD, target, 16)
        # ECONNREFUSED: a port bound (so nobody else takes it) but not listening.
        out[15] = r = sys("socket", socket.AF_INET, STREAM, 0)
        sys("bind", r, any_port, 16)
        out[16] = local_port(r)
        refused[:] = inet("127.0.0.1", out[16])
        out[17] = r2 = sys("socket", socket.AF_INET, STREAM, 0)
        out[18] = sys("connect", r2, refused, 16)
        refused_local[:] = sockname(r2)
        out[19] = sys("bind", r2, short, 3)
        out[20] = sys("shutdown", c, socket.SHUT_WR)
        out[21] = sys("shutdown", c, 7)
        out[22] = sys("shutdown", BAD_FD, socket.SHUT_RD)

    run, out = record(run_child, child)
    s, port, c, cport, c2port, r2 = out[0], out[2], out[5], out[7], out[10], out[17]
    assert out[1] == out[3] == out[6] == out[20] == 0 and out[8] > 0 and out[11] > 0
    assert (bytes(peer[:peer_len.value]), bytes(peer4[:peer4_len.value])) == \
        (inet("127.0.0.1", cport), inet("127.0.0.1", c2port))

    sockets = run.of("socket")
    assert [e.res for e in sockets] == [s, c, out[9], out[15], r2]
    for e in sockets:
        check(run, e, e.res, domain=socket.AF_INET, socktype=STREAM, protocol=0)
    binds = run.of("bind")
    assert [e.param("fd") for e in binds] == [s, out[15], r2]
    check(run, binds[0], 0, fd=s, addr=inet("127.0.0.1", 0))
    assert binds[0].render("addr") == "127.0.0.1:0"
    check(run, binds[2], -errno.EINVAL, fd=r2, addr=inet("127.0.0.1", 0)[:3])
    assert binds[2].as_dict()["addr"] == {"family": "AF_INET", "data": "00"}
    check(run, run.one("listen", fd=s), 0, fd=s, backlog=7)
    check(run, run.one("listen", fd=BAD_FD), -errno.EBADF, fd=BAD_FD, backlog=1)

    e = run.one("connect", fd=c)
    check(run, e, 0, fd=c, addr=inet("127.0.0.1", port), local=inet("127.0.0.1", cport))
    assert (e.render("addr"), e.render("local")) == (f"127.0.0.1:{port}", f"127.0.0.1:{cport}")
    assert e.as_dict()["addr"] == {"family": "AF_INET", "addr": "127.0.0.1", "port": port}
    assert e.as_dict()["local"] == {"family": "AF_INET", "addr": "127.0.0.1", "port": cport}
    assert f" connect res=0 fd={c} addr=127.0.0.1:{port} local=127.0.0.1:{cport}" \
        in event_line(1, e)
    check(run, run.one("connect", fd=out[9]), 0, fd=out[9], addr=inet("127.0.0.1", port),
          local=inet("127.0.0.1", c2port))
    check(run, run.one("connect", fd=BAD_FD), -errno.EBADF,
          fd=BAD_FD, addr=inet("127.0.0.1", port), local=None)
    # The refused connect released the port it picked: the kernel's local port (what is
    # recorded) is 0 again, where getsockname still shows the stale source port.
    assert bytes(refused_local)[2:4] != b"\0\0"
    check(run, run.one("connect", fd=r2), -errno.ECONNREFUSED,
          fd=r2, addr=inet("127.0.0.1", out[16]), local=inet("0.0.0.0", 0))

    e = run.one("accept", fd=s, addr=inet("127.0.0.1", cport))
    check(run, e, out[8], fd=s, addr=inet("127.0.0.1", cport), local=inet("127.0.0.1", port))
    assert e.render("addr") == f"127.0.0.1:{cport}"
    check(run, run.one("accept4", flags=CLOEXEC | NONBLOCK), out[11],
          fd=s, addr=inet("127.0.0.1", c2port), flags=CLOEXEC | NONBLOCK,
          local=inet("127.0.0.1", port))
    check(run, run.one("accept4", flags=0x1), -errno.EINVAL, fd=s, addr=None, flags=0x1,
          local=None)
    e = run.one("accept", addr=None)
    check(run, e, -errno.EAGAIN, fd=s, addr=None, local=None)
    assert e.render("addr") == "<NA>" and e.as_dict()["addr"] is None

    e = run.one("shutdown", how=socket.SHUT_WR)
    check(run, e, 0, fd=c, how=socket.SHUT_WR)
    assert e.render("how") == "SHUT_WR"
    check(run, run.one("shutdown", how=7), -errno.EINVAL, fd=c, how=7)
    check(run, run.one("shutdown", fd=BAD_FD), -errno.EBADF, fd=BAD_FD, how=socket.SHUT_RD)


def test_udp_sendto_recvfrom(run_child):
    mem = Shared()
    any4 = mem.buf(inet("127.0.0.1", 0))
    dest = mem.buf(16)
    data = mem.buf(b"hello")
    got, src, src_len = mem.buf(64), mem.buf(128), mem.int()
    tcp_src, tcp_src_len = mem.buf(128), mem.int()

    def child(out):
        out[0] = a = sys("socket", socket.AF_INET, DGRAM, 0)
        out[1] = b_ = sys("socket", socket.AF_INET, DGRAM, 0)
        sys("bind", a, any4, 16)
        sys("bind", b_, any4, 16)
        out[2], out[3] = local_port(a), local_port(b_)
        dest[:] = inet("127.0.0.1", out[2])
        out[4] = sys("sendto", b_, data, 5, socket.MSG_DONTWAIT, dest, 16)
        src_len.value = 128
        out[5] = sys("recvfrom", a, got, 64, socket.MSG_PEEK, src, ctypes.byref(src_len))
        out[6] = sys("recvfrom", a, got, 64, 0, None, None)
        out[7] = sys("recvfrom", a, got, 64, socket.MSG_DONTWAIT, src, ctypes.byref(src_len))
        out[8] = sys("sendto", b_, data, 5, 0, None, 0)  # unconnected, no destination
        out[9] = sys("sendto", BAD_FD, data, 3, 0, dest, 16)
        out[10] = sys("recvfrom", BAD_FD, got, 64, 0, src, ctypes.byref(src_len))
        # TCP: a connected socket asked for the source gets a length of 0 back
        out[11] = s = sys("socket", socket.AF_INET, STREAM, 0)
        sys("bind", s, any4, 16)
        sys("listen", s, 1)
        dest[:] = inet("127.0.0.1", local_port(s))
        out[12] = c = sys("socket", socket.AF_INET, STREAM, 0)
        sys("connect", c, dest, 16)
        out[13] = conn = sys("accept", s, None, None)
        sys("sendto", c, data, 5, 0, None, 0)
        tcp_src_len.value = 128
        out[14] = sys("recvfrom", conn, got, 64, 0, tcp_src, ctypes.byref(tcp_src_len))

    run, out = record(run_child, child)
    a, b_, aport, bport = out[:4]
    assert out[4] == out[5] == out[6] == 5 and out[14] == 5 and tcp_src_len.value == 0
    e = run.one("sendto", fd=b_, flags=socket.MSG_DONTWAIT)
    check(run, e, 5, fd=b_, size=5, flags=socket.MSG_DONTWAIT, addr=inet("127.0.0.1", aport))
    assert f"flags=MSG_DONTWAIT addr=127.0.0.1:{aport}" in event_line(1, e)
    e = run.one("recvfrom", flags=socket.MSG_PEEK)
    check(run, e, 5, fd=a, size=64, flags=socket.MSG_PEEK, addr=inet("127.0.0.1", bport))
    assert e.as_dict()["addr"] == {"family": "AF_INET", "addr": "127.0.0.1", "port": bport}
    assert e.as_dict()["flags_names"] == "MSG_PEEK"
    check(run, run.one("recvfrom", fd=a, flags=0), 5, fd=a, size=64, flags=0, addr=None)
    check(run, run.one("recvfrom", flags=socket.MSG_DONTWAIT), -errno.EAGAIN,
          fd=a, size=64, flags=socket.MSG_DONTWAIT, addr=None)
    check(run, run.one("sendto", fd=b_, flags=0), -errno.EDESTADDRREQ,
          fd=b_, size=5, flags=0, addr=None)
    check(run, run.one("sendto", fd=BAD_FD), -errno.EBADF,
          fd=BAD_FD, size=3, flags=0, addr=inet("127.0.0.1", aport))
    check(run, run.one("recvfrom", fd=BAD_FD), -errno.EBADF, fd=BAD_FD, size=64, flags=0,
          addr=None)
    e = run.one("recvfrom", fd=out[13])
    check(run, e, 5, fd=out[13], size=64, flags=0, addr=b"")
    assert e.render("addr") == "(none)"


class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_int),
                ("iov", ctypes.c_void_p), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


def msghdr(mem: Shared, name, namelen: int, data: ctypes.Array) -> Msghdr:
    iov = Iovec.from_buffer(mem.buf(ctypes.sizeof(Iovec)))
    iov.base, iov.len = ctypes.addressof(data), len(data)
    msg = Msghdr.from_buffer(mem.buf(ctypes.sizeof(Msghdr)))
    msg.name = None if name is None else ctypes.addressof(name)
    msg.namelen, msg.iov, msg.iovlen = namelen, ctypes.addressof(iov), 1
    return msg


def test_udp6_sendmsg_recvmsg(run_child):
    mem = Shared()
    any6 = mem.buf(inet6("::1", 0))
    dest = mem.buf(28)
    data, got = mem.buf(b"ping!!"), mem.buf(64)
    send = msghdr(mem, dest, 28, data)
    send_unnamed = msghdr(mem, None, 0, data)
    src = mem.buf(128)
    recv = msghdr(mem, src, 128, got)
    recv_unnamed = msghdr(mem, None, 0, got)

    def child(out):
        out[0] = a = sys("socket", socket.AF_INET6, DGRAM, 0)
        out[1] = b_ = sys("socket", socket.AF_INET6, DGRAM, 0)
        sys("bind", a, any6, 28)
        sys("bind", b_, any6, 28)
        out[2], out[3] = local_port(a), local_port(b_)
        dest[:] = inet6("::1", out[2])
        out[4] = sys("sendmsg", b_, ctypes.byref(send), socket.MSG_DONTWAIT)
        out[5] = sys("sendmsg", b_, ctypes.byref(send), 0)
        out[6] = sys("recvmsg", a, ctypes.byref(recv), socket.MSG_PEEK)
        out[7] = recv.namelen
        out[8] = sys("recvmsg", a, ctypes.byref(recv_unnamed), 0)
        out[9] = sys("sendmsg", b_, ctypes.byref(send_unnamed), 0)
        out[10] = sys("sendmsg", BAD_FD, ctypes.byref(send), 0)
        out[11] = sys("recvmsg", a, ctypes.byref(recv), socket.MSG_DONTWAIT)  # 1 left
        out[12] = sys("recvmsg", a, ctypes.byref(recv), socket.MSG_DONTWAIT)  # none left
        out[13] = sys("recvmsg", a, BAD_PTR, 0)

    run, out = record(run_child, child)
    a, b_, aport, bport = out[:4]
    assert out[4] == out[5] == out[6] == out[8] == 6 and out[7] == 28
    e = run.one("sendmsg", flags=socket.MSG_DONTWAIT)
    check(run, e, 6, fd=b_, flags=socket.MSG_DONTWAIT, addr=inet6("::1", aport))
    assert e.render("addr") == f"[::1]:{aport}"
    assert e.as_dict()["addr"] == {"family": "AF_INET6", "addr": "::1", "port": aport,
                                   "flowinfo": 0, "scope_id": 0}
    check(run, run.one("sendmsg", fd=b_, flags=0, addr=inet6("::1", aport)), 6,
          fd=b_, flags=0, addr=inet6("::1", aport))
    check(run, run.one("sendmsg", fd=b_, addr=None), -errno.EDESTADDRREQ,
          fd=b_, flags=0, addr=None)
    check(run, run.one("sendmsg", fd=BAD_FD), -errno.EBADF,
          fd=BAD_FD, flags=0, addr=inet6("::1", aport))
    check(run, run.one("recvmsg", flags=socket.MSG_PEEK), 6,
          fd=a, flags=socket.MSG_PEEK, addr=inet6("::1", bport))
    recvs = run.of("recvmsg")
    assert len(recvs) == 5
    check(run, recvs[1], 6, fd=a, flags=0, addr=None)
    check(run, recvs[2], 6, fd=a, flags=socket.MSG_DONTWAIT, addr=inet6("::1", bport))
    check(run, recvs[3], -errno.EAGAIN, fd=a, flags=socket.MSG_DONTWAIT, addr=None)
    check(run, recvs[4], -errno.EFAULT, fd=a, flags=0, addr=None)


def test_unix(run_child, tmp_path):
    mem = Shared()
    path = os.fsencode(tmp_path / "s.sock")
    named = mem.buf(unix(path))
    missing = mem.buf(unix(os.fsencode(tmp_path / "missing.sock")))
    abstract_name = b"\0scapula-test-%d" % os.getpid()
    abstract = mem.buf(unix(abstract_name, nul=False))
    peer, peer_len = mem.buf(128), mem.int()

    def child(out):
        out[0] = s = sys("socket", socket.AF_UNIX, STREAM, 0)
        out[1] = sys("bind", s, named, len(named))
        sys("listen", s, 1)
        out[2] = c = sys("socket", socket.AF_UNIX, STREAM | CLOEXEC, 0)
        out[3] = sys("connect", c, named, len(named))
        peer_len.value = 128
        out[4] = sys("accept4", s, peer, ctypes.byref(peer_len), CLOEXEC)
        out[5] = sys("connect", c, missing, len(missing))
        out[6] = a = sys("socket", socket.AF_UNIX, DGRAM, 0)
        out[7] = sys("bind", a, abstract, len(abstract))
        out[8] = d = sys("socket", socket.AF_UNIX, DGRAM, 0)
        out[9] = sys("sendto", d, named, 1, 0, abstract, len(abstract))
        out[10] = sys("bind", d, named, len(named))  # the path exists

    run, out = record(run_child, child)
    s, c, a, d = out[0], out[2], out[6], out[8]
    assert out[1] == out[3] == out[7] == 0 and out[9] == 1 and peer_len.value == 2
    e = run.one("bind", fd=s)
    check(run, e, 0, fd=s, addr=unix(path))
    assert e.render("addr") == f"unix:{tmp_path / 's.sock'}"
    assert e.as_dict()["addr"] == {"family": "AF_UNIX", "abstract": False,
                                   "path": str(tmp_path / "s.sock")}
    connects = run.of("connect")
    assert len(connects) == 2
    check(run, connects[0], 0, fd=c, addr=unix(path), local=None)  # inet and inet6 only
    e = run.one("accept4", fd=s)
    check(run, e, out[4], fd=s, addr=unix(b"", nul=False), flags=CLOEXEC, local=None)
    assert e.render("addr") == "unix:"
    check(run, connects[1], -errno.ENOENT,
          fd=c, addr=unix(os.fsencode(tmp_path / "missing.sock")), local=None)
    e = run.one("bind", fd=a, addr=unix(abstract_name, nul=False))
    check(run, e, 0, fd=a, addr=unix(abstract_name, nul=False))
    assert e.render("addr") == "unix:@" + abstract_name[1:].decode()
    assert e.as_dict()["addr"]["abstract"] is True
    check(run, run.one("sendto", fd=d), 1, fd=d, size=1, flags=0,
          addr=unix(abstract_name, nul=False))
    check(run, run.one("bind", fd=d), -errno.EADDRINUSE, fd=d, addr=unix(path))


def test_tcp_ipv6_tuple(run_child):
    """connect and accept on ::1: the peer from user memory, the local end from the kernel."""
    mem = Shared()
    any6, target = mem.buf(inet6("::1", 0)), mem.buf(28)
    peer, peer_len = mem.buf(128), mem.int()

    def child(out):
        out[0] = s = sys("socket", socket.AF_INET6, STREAM, 0)
        sys("bind", s, any6, 28)
        sys("listen", s, 1)
        out[1] = port = local_port(s)
        target[:] = inet6("::1", port)
        out[2] = c = sys("socket", socket.AF_INET6, STREAM, 0)
        out[3] = sys("connect", c, target, 28)
        out[4] = local_port(c)
        peer_len.value = 128
        out[5] = sys("accept", s, peer, ctypes.byref(peer_len))

    run, out = record(run_child, child)
    s, port, c, cport = out[0], out[1], out[2], out[4]
    assert out[3] == 0 and out[5] > c and peer_len.value == 28
    e = run.one("connect", fd=c)
    check(run, e, 0, fd=c, addr=inet6("::1", port), local=inet6("::1", cport))
    assert f"addr=[::1]:{port} local=[::1]:{cport}" in event_line(1, e)
    e = run.one("accept", fd=s)
    check(run, e, out[5], fd=s, addr=inet6("::1", cport), local=inet6("::1", port))
    assert e.as_dict()["local"] == {"family": "AF_INET6", "addr": "::1", "port": port,
                                    "flowinfo": 0, "scope_id": 0}


# Run by `scapula record`'s command: a TCP exchange over a connected socket (send
# and recv, no addresses), then a UDP datagram to an address and one read with the
# sender's address asked for.
NET_DATA_SCRIPT = """
import socket
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
cli = socket.create_connection(srv.getsockname()); conn, _ = srv.accept()
cli.send(b"tcp-data"); conn.recv(100)
u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u1.bind(("127.0.0.1", 0))
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u2.sendto(b"udp-data", u1.getsockname()); u1.recvfrom(100)
"""


def _net_data_events(tmp_path, *options) -> dict:
    import sys
    from tests.conftest import scapula
    from scapula.replay.reader import Capture
    out = tmp_path / f"net{len(options)}.scapula"
    r = scapula("record", "-w", out, *options, "--follow", "--", sys.executable, "-c",
                NET_DATA_SCRIPT)
    assert r.returncode == 0, r.stderr
    with Capture(str(out)) as cap:
        events = [e for e in cap.events() if e.name in ("sendto", "recvfrom")]
        config = cap.header["config"]
    return {"events": [(e.name, e.param("size"), e.param("addr") is not None) for e in events],
            "config": config}


def test_default_set_keeps_addressed_datagrams_not_the_connected_data_path(live, tmp_path):
    got = _net_data_events(tmp_path)
    # glibc's send/recv are sendto/recvfrom with no address: left out by default
    assert got["events"] == [("sendto", 8, True), ("recvfrom", 100, True)]
    assert got["config"]["net_data"] is False


def test_io_brings_in_the_connected_data_path(live, tmp_path):
    got = _net_data_events(tmp_path, "--io")
    assert got["events"] == [("sendto", 8, False), ("recvfrom", 100, False),
                             ("sendto", 8, True), ("recvfrom", 100, True)]
    assert got["config"]["net_data"] is True
