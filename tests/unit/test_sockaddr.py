"""Raw socket addresses decode to fields and print as text, for every family scapula names."""
import socket
import struct

import pytest

from scapula.schemas.flags import flags_text
from scapula.schemas.sockaddr import decode, text


def inet(addr: str, port: int) -> bytes:
    return struct.pack("<H", socket.AF_INET) + struct.pack(">H", port) \
        + socket.inet_aton(addr) + bytes(8)


def inet6(addr: str, port: int, flowinfo: int = 0, scope: int = 0) -> bytes:
    return struct.pack("<H", socket.AF_INET6) + struct.pack(">HI", port, flowinfo) \
        + socket.inet_pton(socket.AF_INET6, addr) + struct.pack("<I", scope)


def unix(path: bytes) -> bytes:
    return struct.pack("<H", socket.AF_UNIX) + path


def test_inet():
    raw = inet("127.0.0.1", 8080)
    assert len(raw) == 16
    assert decode(raw) == {"family": "AF_INET", "addr": "127.0.0.1", "port": 8080}
    assert text(raw) == "127.0.0.1:8080"


def test_inet6():
    raw = inet6("::1", 443)
    assert len(raw) == 28
    assert decode(raw) == {"family": "AF_INET6", "addr": "::1", "port": 443, "flowinfo": 0,
                           "scope_id": 0}
    assert text(raw) == "[::1]:443"
    scoped = inet6("fe80::1", 22, flowinfo=5, scope=2)
    assert decode(scoped)["flowinfo"] == 5
    assert text(scoped) == "[fe80::1%2]:22"
    # the 24-byte RFC 2133 form has no scope id
    assert decode(scoped[:24])["scope_id"] == 0
    # an IPv4-mapped address as inet_ntop writes it (Python's str gives ::ffff:7f00:1)
    assert decode(inet6("::ffff:127.0.0.1", 80))["addr"] == "::ffff:127.0.0.1"
    assert text(inet6("::ffff:127.0.0.1", 80)) == "[::ffff:127.0.0.1]:80"


def test_unix_path_ends_at_its_nul():
    raw = unix(b"/run/x.sock\0garbage")
    assert decode(raw) == {"family": "AF_UNIX", "abstract": False, "path": "/run/x.sock"}
    assert text(raw) == "unix:/run/x.sock"


def test_unix_abstract_keeps_every_byte():
    raw = unix(b"\0name\0more")
    assert decode(raw) == {"family": "AF_UNIX", "abstract": True, "path": "name\0more"}
    assert text(raw) == "unix:@name\0more"


def test_unix_unnamed():
    assert decode(unix(b"")) == {"family": "AF_UNIX", "abstract": False, "path": ""}
    assert text(unix(b"")) == "unix:"


def test_unix_non_utf8_path_round_trips():
    raw = unix(b"/tmp/\xff.sock")
    assert decode(raw)["path"].encode("utf-8", "surrogateescape") == b"/tmp/\xff.sock"


def test_other_and_short():
    raw = struct.pack("<H", 16) + b"\x00\x00\x01\x02"
    assert decode(raw) == {"family": "AF_NETLINK", "data": "00000102"}
    assert text(raw) == "AF_NETLINK:00000102"
    assert decode(struct.pack("<H", 200) + b"\x01")["family"] == "200"
    # an inet family with too few bytes for an address is kept raw, not misread
    assert decode(inet("1.2.3.4", 1)[:6]) == {"family": "AF_INET", "data": "00010102"}
    assert decode(b"") == {"family": None, "data": ""}
    assert text(b"") == "(none)"
    assert decode(None) is None and text(None) == "<NA>"


@pytest.mark.parametrize("table,value,expected", [
    ("domain", socket.AF_INET6, "AF_INET6"),
    ("domain", 99, "99"),
    ("socktype", socket.SOCK_STREAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK,
     "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC"),
    ("socktype", socket.SOCK_CLOEXEC, "SOCK_CLOEXEC"),
    ("socktype", 0xF, "15"),
    ("msg", socket.MSG_PEEK | socket.MSG_DONTWAIT, "MSG_PEEK|MSG_DONTWAIT"),
    ("msg", 0, "0"),
    ("shutdown", socket.SHUT_RDWR, "SHUT_RDWR"),
])
def test_net_flags(table, value, expected):
    assert flags_text(table, value) == expected
