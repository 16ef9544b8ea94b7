"""Live per-syscall tests of read, write, pread64, pwrite64, readv and writev (record --io):
every recorded field, the data cut at the snaplen, and the I/O set off by default."""
import ctypes
import errno
import json
import os
import resource
import signal
import sys as _sys

import pytest

from scapula.capture.commands import choose_syscalls
from tests.conftest import child_runner, live_probe, raw_syscall, scapula, scapula_info
from tests.live.test_file_open import BAD_FD, BAD_PTR, check, record

# x86_64 numbers, written out rather than taken from the event table so the table is checked too.
NR = {"read": 0, "write": 1, "pread64": 17, "pwrite64": 18, "readv": 19, "writev": 20,
      "getppid": 110}
CONTENT = bytes(range(32, 127)) * 3  # 285 bytes, longer than the default snaplen of 80
SNAPLEN = 80


def sys(name: str, *args) -> int:
    """The raw syscall with every integer passed as a full 64-bit register."""
    return raw_syscall(NR[name], *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def by_res(run, name: str, res: int):
    """The single `name` event with result `res` (for calls whose parameters are alike)."""
    found = [e for e in run.of(name) if e.res == res]
    assert len(found) == 1, f"expected one {name} with res {res}, got {len(found)}"
    return found[0]


def iovecs(*buffers) -> ctypes.Array:
    """An iovec array over ctypes buffers (bytes are copied into new ones)."""
    bufs = [ctypes.create_string_buffer(b, len(b)) if isinstance(b, bytes) else b
            for b in buffers]
    arr = (IoVec * len(bufs))()
    for v, b in zip(arr, bufs):
        v.base, v.len = ctypes.addressof(b), ctypes.sizeof(b)
    arr.keep = bufs  # the buffers live as long as the array
    return arr


@pytest.fixture(scope="module")
def io_probe():
    """What `record --io` records: the default set and the six I/O syscalls."""
    with live_probe(choose_syscalls(None, False, io=True)) as p:
        yield p


@pytest.fixture
def run_io(io_probe, tmp_path):
    return child_runner(io_probe, tmp_path)


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(CONTENT)
    return path


def test_read(run_io, data_file):
    def child(out):
        out[0] = fd = os.open(data_file, os.O_RDONLY)
        buf = ctypes.create_string_buffer(400)
        out[1] = sys("read", fd, buf, 150)
        out[2] = sys("read", fd, buf, 7)
        out[3] = sys("read", fd, buf, 400)   # the rest: 128 bytes
        out[4] = sys("read", fd, buf, 400)   # end of file
        out[5] = sys("read", BAD_FD, buf, 10)
        out[6] = sys("read", fd, None, 0)    # nothing asked, nothing read: not a failure
        os.lseek(fd, 0, os.SEEK_SET)
        out[7] = sys("read", fd, BAD_PTR, 10)

    run, out = record(run_io, child)
    fd = out[0]
    assert out[1:5] == [150, 7, 128, 0]
    check(run, run.one("read", size=150), 150, fd=fd, size=150, data=CONTENT[:SNAPLEN])
    check(run, run.one("read", size=7), 7, fd=fd, size=7, data=CONTENT[150:157])
    assert [(e.res, e.param("data")) for e in run.of("read") if e.param("size") == 400] == \
        [(128, CONTENT[157:157 + SNAPLEN]), (0, b"")]
    check(run, run.one("read", fd=BAD_FD), -errno.EBADF, fd=BAD_FD, size=10, data=None)
    check(run, run.one("read", size=0), 0, fd=fd, size=0, data=b"")
    check(run, by_res(run, "read", -errno.EFAULT), -errno.EFAULT, fd=fd, size=10, data=None)


def test_write(run_io, tmp_path):
    path = tmp_path / "out"
    short = bytes(range(256))  # every byte value, NUL and high bytes included

    def child(out):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        out[0] = fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        out[1] = sys("write", fd, CONTENT, len(CONTENT))
        out[2] = sys("write", fd, short, 20)
        out[5] = sys("write", BAD_FD, short, 3)
        out[6] = sys("write", fd, BAD_PTR, 4)
        out[7] = rd = os.open(path, os.O_RDONLY)
        sys("write", rd, short, 6)
        # A file size limit makes the kernel write part of a buffer (and refuse the next).
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(CONTENT) + 25, resource.RLIM_INFINITY))
        out[3] = sys("write", fd, short[100:], 50)
        out[4] = sys("write", fd, short, 30)

    run, out = record(run_io, child)
    fd = out[0]
    assert out[1:5] == [len(CONTENT), 20, 5, -errno.EFBIG]
    assert path.read_bytes() == CONTENT + short[:20] + short[100:105]
    check(run, run.one("write", size=len(CONTENT)), len(CONTENT), fd=fd, size=len(CONTENT),
          data=CONTENT[:SNAPLEN])
    check(run, run.one("write", size=20), 20, fd=fd, size=20, data=short[:20])
    check(run, run.one("write", size=50), 5, fd=fd, size=50, data=short[100:105])
    check(run, run.one("write", size=30), -errno.EFBIG, fd=fd, size=30, data=None)
    check(run, run.one("write", fd=BAD_FD), -errno.EBADF, fd=BAD_FD, size=3, data=None)
    check(run, run.one("write", size=4), -errno.EFAULT, fd=fd, size=4, data=None)
    check(run, run.one("write", size=6), -errno.EBADF, fd=out[7], size=6, data=None)


def test_pread64(run_io, data_file):
    def child(out):
        out[0] = fd = os.open(data_file, os.O_RDONLY)
        buf = ctypes.create_string_buffer(300)
        out[1] = sys("pread64", fd, buf, 20, 100)
        out[2] = sys("pread64", fd, buf, 300, 1)
        out[3] = sys("pread64", fd, buf, 10, 280)   # 5 bytes left at 280
        out[4] = sys("pread64", fd, buf, 10, 5000)  # past the end
        out[5] = sys("pread64", fd, buf, 10, -1)
        r, w = os.pipe()
        out[6] = r
        out[7] = sys("pread64", r, buf, 10, 0)     # a pipe has no offsets

    run, out = record(run_io, child)
    fd = out[0]
    assert out[1:5] == [20, 284, 5, 0]
    check(run, run.one("pread64", pos=100), 20, fd=fd, size=20, pos=100, data=CONTENT[100:120])
    check(run, run.one("pread64", pos=1), 284, fd=fd, size=300, pos=1, data=CONTENT[1:1 + SNAPLEN])
    check(run, run.one("pread64", pos=280), 5, fd=fd, size=10, pos=280, data=CONTENT[280:])
    check(run, run.one("pread64", pos=5000), 0, fd=fd, size=10, pos=5000, data=b"")
    check(run, run.one("pread64", pos=-1), -errno.EINVAL, fd=fd, size=10, pos=-1, data=None)
    check(run, run.one("pread64", fd=out[6]), -errno.ESPIPE, fd=out[6], size=10, pos=0, data=None)


def test_pwrite64(run_io, tmp_path):
    path = tmp_path / "out"

    def child(out):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        out[0] = fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        out[1] = sys("pwrite64", fd, CONTENT, 200, 1000)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, resource.RLIM_INFINITY))
        out[2] = sys("pwrite64", fd, b"0123456789abcdef", 16, 1990)  # cut to 10 bytes
        out[3] = sys("pwrite64", fd, b"x", 1, 2000)
        out[4] = sys("pwrite64", fd, b"x", 1, -5)
        out[5] = sys("pwrite64", BAD_FD, b"x", 1, 0)

    run, out = record(run_io, child)
    fd = out[0]
    assert out[1:4] == [200, 10, -errno.EFBIG]
    assert path.read_bytes()[1000:1200] == CONTENT[:200]
    check(run, run.one("pwrite64", pos=1000), 200, fd=fd, size=200, pos=1000,
          data=CONTENT[:SNAPLEN])
    check(run, run.one("pwrite64", pos=1990), 10, fd=fd, size=16, pos=1990, data=b"0123456789")
    check(run, run.one("pwrite64", pos=2000), -errno.EFBIG, fd=fd, size=1, pos=2000, data=None)
    check(run, run.one("pwrite64", pos=-5), -errno.EINVAL, fd=fd, size=1, pos=-5, data=None)
    check(run, run.one("pwrite64", fd=BAD_FD), -errno.EBADF, fd=BAD_FD, size=1, pos=0, data=None)


def test_readv(run_io, data_file):
    def child(out):
        out[0] = fd = os.open(data_file, os.O_RDONLY)
        bufs = [ctypes.create_string_buffer(n) for n in (3, 0, 5, 200)]
        out[1] = sys("readv", fd, iovecs(*bufs), 4)                  # 208 bytes
        out[2] = sys("readv", fd, iovecs(*bufs[:3]), 3)              # 8 bytes
        one = [ctypes.create_string_buffer(1) for _ in range(20)]
        out[3] = sys("readv", fd, iovecs(*one), 20)                  # 20 one-byte iovecs
        out[4] = sys("readv", fd, iovecs(*bufs), 0)
        out[5] = sys("readv", fd, iovecs(*bufs), 1025)               # more than UIO_MAXIOV
        out[6] = sys("readv", BAD_FD, iovecs(*bufs), 4)
        out[7] = sys("readv", fd, BAD_PTR, 2)

    run, out = record(run_io, child)
    fd = out[0]
    assert out[1:5] == [208, 8, 20, 0]
    check(run, run.one("readv", iovcnt=4, fd=fd), 208, fd=fd, iovcnt=4, data=CONTENT[:SNAPLEN])
    check(run, run.one("readv", iovcnt=3), 8, fd=fd, iovcnt=3, data=CONTENT[208:216])
    # only the first 16 iovecs are gathered: 16 of the 20 bytes
    check(run, run.one("readv", iovcnt=20), 20, fd=fd, iovcnt=20, data=CONTENT[216:232])
    check(run, run.one("readv", iovcnt=0), 0, fd=fd, iovcnt=0, data=b"")
    check(run, run.one("readv", iovcnt=1025), -errno.EINVAL, fd=fd, iovcnt=1025, data=None)
    check(run, run.one("readv", fd=BAD_FD), -errno.EBADF, fd=BAD_FD, iovcnt=4, data=None)
    check(run, run.one("readv", iovcnt=2), -errno.EFAULT, fd=fd, iovcnt=2, data=None)


def test_writev(run_io, tmp_path):
    path = tmp_path / "out"

    def child(out):
        out[0] = fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        out[1] = sys("writev", fd, iovecs(b"abc", b"", b"defg"), 3)
        out[2] = sys("writev", fd, iovecs(b"x" * 50, b"", b"y" * 50), 3)
        out[3] = sys("writev", fd, iovecs(*(bytes([65 + i]) for i in range(20))), 20)
        out[4] = sys("writev", BAD_FD, iovecs(b"abc"), 1)
        out[5] = sys("writev", fd, iovecs(b"abc", ctypes.create_string_buffer(0)), 2)
        bad = iovecs(b"abc")
        bad[0].base = BAD_PTR.value
        out[6] = sys("writev", fd, bad, 1)

    run, out = record(run_io, child)
    fd = out[0]
    letters = bytes(range(65, 85))
    assert out[1:4] == [7, 100, 20] and out[5] == 3
    assert path.read_bytes() == b"abcdefg" + b"x" * 50 + b"y" * 50 + letters + b"abc"
    check(run, by_res(run, "writev", 7), 7, fd=fd, iovcnt=3, data=b"abcdefg")
    check(run, by_res(run, "writev", 100), 100, fd=fd, iovcnt=3,
          data=b"x" * 50 + b"y" * 30)  # cut at the snaplen inside the third iovec
    check(run, run.one("writev", iovcnt=20), 20, fd=fd, iovcnt=20, data=letters[:16])
    check(run, run.one("writev", fd=BAD_FD), -errno.EBADF, fd=BAD_FD, iovcnt=1, data=None)
    check(run, run.one("writev", iovcnt=2), 3, fd=fd, iovcnt=2, data=b"abc")
    check(run, by_res(run, "writev", -errno.EFAULT), -errno.EFAULT, fd=fd, iovcnt=1, data=None)


@pytest.mark.parametrize("snaplen", [5, 0])
def test_snaplen_cuts_the_data(tmp_path, data_file, snaplen):
    """A probe built with another snaplen keeps that many bytes, gathered or not."""
    def child(out):
        fd = os.open(data_file, os.O_RDONLY)
        buf = ctypes.create_string_buffer(100)
        out[0] = sys("read", fd, buf, 100)
        out[1] = sys("pread64", fd, buf, 3, 10)
        r, w = os.pipe()
        out[2] = sys("writev", w, iovecs(b"ab", b"", b"cdef", b"gh"), 4)
        out[3] = sys("readv", r, iovecs(*(ctypes.create_string_buffer(1) for _ in range(8))), 8)
        out[4] = sys("write", BAD_FD, b"abc", 3)

    with live_probe(choose_syscalls("read,pread64,write,writev,readv", False),
                    snaplen=snaplen) as probe:
        run, out = record(child_runner(probe, tmp_path), child)
    assert out[:4] == [100, 3, 8, 8]
    got = {e.name: e.param("data") for e in run.events if e.etype.category == "io" and e.res > 0}
    assert got == {"read": CONTENT[:snaplen], "pread64": CONTENT[10:10 + min(3, snaplen)],
                   "writev": b"abcdefgh"[:snaplen], "readv": b"abcdefgh"[:snaplen]}
    assert run.one("write", fd=BAD_FD).param("data") is None


def test_io_is_off_by_default(run_child, run_io):
    """The default set records no I/O; --io's does, from the same child."""
    def child(out):
        r, w = os.pipe()
        out[0] = sys("write", w, b"ping", 4)
        out[1] = sys("read", r, ctypes.create_string_buffer(4), 4)

    default, out = record(run_child, child)
    assert out[:2] == [4, 4]
    assert default.of("pipe2") and not [e for e in default.events if e.etype.category == "io"]
    with_io, _ = record(run_io, child)
    assert [(e.name, e.param("data")) for e in with_io.events if e.etype.category == "io"] == \
        [("write", b"ping"), ("read", b"ping")]


@pytest.mark.usefixtures("live")
def test_record_io_with_the_largest_snaplen(tmp_path):
    """`record --io --snaplen 4096` end to end: the header says so, and a 5000-byte write
    keeps exactly its first 4096 bytes (printed escaped, JSON surrogate-escaped)."""
    path = tmp_path / "io.scapula"
    payload = bytes(range(256)) * 20
    program = f"import os; os.write(1, {payload!r})"
    r = scapula("record", "-w", path, "--io", "--snaplen", "4096", "--follow", "--",
                _sys.executable, "-c", program)
    assert r.returncode == 0, r.stderr
    s = scapula_info(path)
    assert (s["config"]["snaplen"], s["config"]["all"]) == (4096, False)
    assert "I/O data up to 4096 bytes" in scapula("info", path).stdout
    lines = scapula("print", "--json", "--type", "write", path).stdout.splitlines()
    ours = [json.loads(line) for line in lines if json.loads(line)["size"] == len(payload)]
    assert len(ours) == 1 and ours[0]["res"] == len(payload) and ours[0]["fd"] == 1
    assert ours[0]["data"].encode("utf-8", "surrogateescape") == payload[:4096]
    text = scapula("print", "--type", "write", path).stdout
    assert ' data="\\x00\\x01\\x02' in text and "\\xfe\\xff\\x00\\x01" in text
