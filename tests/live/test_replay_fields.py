"""Falco's fields read from a real recording through the replay state."""
import os
import sys

from scapula.replay.fields import Context, lookup
from scapula.replay.reader import Capture
from scapula.replay.state import State
from tests.conftest import scapula

SCRIPT = """
import os, socket
fd = os.open("/etc/hostname", os.O_RDONLY | os.O_CLOEXEC); os.close(fd)
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
cli = socket.create_connection(srv.getsockname()); conn, _ = srv.accept()
"""


def value(ctx, name):
    field, arg = lookup(name.split("[")[0])
    if "[" in name:
        arg = name[name.index("[") + 1:-1]
    return field.extract(ctx, arg)


def test_fields_of_a_recorded_workload(live, tmp_path):
    cap_path = tmp_path / "fields.scapula"
    r = scapula("record", "-w", cap_path, "--follow", "--", "/bin/sh", "-c",
                f"cd /tmp && {sys.executable} -c '{SCRIPT}' arg1")
    assert r.returncode == 0, r.stderr
    got = {}
    with Capture(str(cap_path)) as cap:
        state = State(cap.processes, cap.fds)
        for num, ev in enumerate(cap.events(), 1):
            state.update(ev)
            ctx = Context(ev, state, cap.header, num)
            if ev.name == "openat" and ev.param("name") == b"/etc/hostname":
                got["open"] = {n: value(ctx, n) for n in (
                    "evt.type", "evt.res", "evt.rawres", "evt.num", "fd.name", "fd.typechar",
                    "fd.type", "fd.directory", "fd.filename", "evt.arg.flags", "evt.arg[name]",
                    "evt.is_open_read", "evt.is_open_write", "proc.name", "proc.pname",
                    "proc.aname[2]", "proc.cwd", "proc.args", "user.name", "user.uid",
                    "container.id", "evt.hostname", "thread.cap_effective", "proc.tty")}
            elif ev.name == "connect":
                got["connect"] = {n: value(ctx, n) for n in (
                    "fd.l4proto", "fd.lip", "fd.rip", "fd.sip", "fd.cip", "fd.rport", "fd.sport",
                    "fd.typechar", "fd.connected", "fd.name_changed", "fd.net")}
                got["cport"] = value(ctx, "fd.cport")
            elif ev.name in ("accept", "accept4"):
                got["accept"] = {n: value(ctx, n) for n in (
                    "fd.sip", "fd.cip", "fd.sport", "fd.cport", "fd.lport", "fd.num")}
                got["accept_res"] = ev.res
    o = got["open"]
    assert (o["evt.type"], o["evt.res"], o["fd.name"], o["fd.typechar"], o["fd.type"]) == \
        ("openat", "SUCCESS", "/etc/hostname", "f", "file")
    assert o["evt.rawres"] >= 3 and o["evt.num"] >= 1
    assert (o["fd.directory"], o["fd.filename"]) == ("/etc", "hostname")
    assert o["evt.arg.flags"] == "O_RDONLY|O_CLOEXEC" and o["evt.arg[name]"] == "/etc/hostname"
    assert (o["evt.is_open_read"], o["evt.is_open_write"]) == (True, False)
    assert (o["proc.name"], o["proc.pname"], o["proc.cwd"]) == \
        (os.path.basename(sys.executable)[:15], "sh", "/tmp")
    assert o["proc.args"].startswith("-c ") and o["proc.args"].endswith(" arg1")
    assert o["proc.aname[2]"] == "scapula"     # the recorder forked the shell
    assert (o["user.name"], o["user.uid"], o["container.id"]) == ("root", 0, "host")
    assert o["evt.hostname"] == os.uname().nodename
    assert o["thread.cap_effective"].startswith("ALL") and o["proc.tty"] == 0
    c = got["connect"]
    assert (c["fd.l4proto"], c["fd.typechar"], c["fd.connected"], c["fd.name_changed"]) == \
        ("tcp", "4", True, True)
    assert c["fd.rip"] == c["fd.sip"] == "127.0.0.1" and c["fd.rport"] == c["fd.sport"]
    assert c["fd.lip"] == c["fd.cip"] == "127.0.0.1"
    a = got["accept"]
    # the same connection seen from the server: the ends swap roles, not values
    assert (a["fd.sport"], a["fd.cport"]) == (c["fd.sport"], got["cport"])
    assert a["fd.lport"] == a["fd.sport"] and a["fd.num"] == got["accept_res"]
