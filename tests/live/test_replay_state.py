"""Replay state rebuilt from a real recording: the process tree and fd tables as the
kernel had them, event by event."""
import os

from scapula.replay.reader import Capture
from scapula.replay.state import State
from tests.conftest import scapula

WORKLOAD = ("cd /tmp && exec 3>{out} && cat /etc/hostname > /dev/null && "
            "python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); "
            "s.listen(); c = socket.create_connection(s.getsockname()); a, _ = s.accept()'; "
            "exit 3")


def test_process_tree_fds_and_exit_codes_from_a_recording(live, tmp_path):
    out = tmp_path / "x.txt"
    cap_path = tmp_path / "state.scapula"
    r = scapula("record", "-w", cap_path, "--follow", "--", "/bin/sh", "-c",
                WORKLOAD.format(out=out))
    assert r.returncode == 0, r.stderr
    seen = {}
    with Capture(str(cap_path)) as cap:
        state = State(cap.processes, cap.fds)
        for ev in cap.events():
            state.update(ev)
            proc = state.process(ev.pid)
            if ev.name == "procexec":
                seen.setdefault(proc.comm, (proc.pid, proc.ppid, list(proc.args), proc.cwd,
                                            proc.exe, dict(proc.fds)))
            elif ev.name == "accept4" or ev.name == "accept":
                seen["accepted"] = state.fd(ev.pid, ev.res)
                seen["connected"] = next(fd for fd in proc.fds.values()
                                         if fd.connected and fd.num != ev.res)
            elif ev.name == "procexit" and ev.tid == ev.pid:
                seen[("exit", proc.comm)] = proc.exit_code
    sh_pid, _, sh_args, _, sh_exe, _ = seen[b"sh"]
    assert sh_args[:2] == [b"/bin/sh", b"-c"] and sh_exe == b"/usr/bin/dash"
    cat_pid, cat_ppid, cat_args, cat_cwd, cat_exe, cat_fds = seen[b"cat"]
    assert (cat_ppid, cat_args, cat_cwd, cat_exe) == \
        (sh_pid, [b"cat", b"/etc/hostname"], b"/tmp", b"/usr/bin/cat")
    # fd 3, opened by the shell's exec redirection, is inherited; stdout went to /dev/null
    assert cat_fds[3].name == bytes(out) and cat_fds[1].name == b"/dev/null"
    acc, con = seen["accepted"], seen["connected"]
    assert (acc.typechar, acc.l4proto, con.typechar) == ("4", "tcp", "4")
    assert acc.local == con.remote and acc.remote == con.local
    assert acc.name.decode().startswith("127.0.0.1:")
    assert seen[("exit", b"cat")] == 0
    assert os.WEXITSTATUS(seen[("exit", b"sh")]) == 3
