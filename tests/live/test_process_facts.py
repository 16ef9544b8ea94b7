"""Process facts on procfork and procexec, each checked against /proc of the same
process: the exec'd image reports its own /proc before it exits."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from scapula.capture.snapshot import cgroup_path
from scapula.schemas.flags import EXE_FLAGS

EXE = dict(EXE_FLAGS)
TIOCSCTTY = 0x540E
# Run by the exec'd image: its own facts as /proc shows them, into argv[1].
REPORT = """
import json, os, sys
def proc(name):
    with open(f"/proc/self/{name}") as f:
        return f.read()
stat = proc("stat")
fields = stat[stat.rindex(")") + 2:].split()
caps = {line.split(":")[0]: int(line.split()[1], 16)
        for line in proc("status").splitlines() if line.startswith("Cap")}
with open(sys.argv[1], "w") as out:
    json.dump({"pid": os.getpid(), "pgid": int(fields[2]), "sid": int(fields[3]),
               "tty": int(fields[4]), "loginuid": int(proc("loginuid")),
               "sessionid": int(proc("sessionid")), "cap_effective": caps["CapEff"],
               "cap_permitted": caps["CapPrm"], "cgroup": proc("cgroup"),
               "exe": os.readlink("/proc/self/exe"), "cwd": os.getcwd()}, out)
"""


def report_self(out):
    """In a forked child: exec a Python that writes its /proc facts to `out`."""
    os.execv(sys.executable, [sys.executable, "-c", REPORT, str(out)])


def as_event_loginuid(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def assert_facts_match(e, seen: dict):
    """Every fact of event `e` against the /proc report `seen` of the same process."""
    assert e.param("loginuid") == as_event_loginuid(seen["loginuid"])
    assert e.param("sessionid") == seen["sessionid"]
    assert (e.param("sid"), e.param("pgid"), e.param("tty")) == \
        (seen["sid"], seen["pgid"], seen["tty"])
    assert e.param("cap_effective") == seen["cap_effective"]
    assert e.param("cap_permitted") == seen["cap_permitted"]
    assert e.param("exe") == seen["exe"].encode()
    assert e.param("cwd") == seen["cwd"].encode()
    assert e.param("cgroup_path") == cgroup_path(seen["cgroup"].encode().strip())
    assert e.param("container_id") is None
    assert e.param("exe_flags") == 0


def test_exec_facts_match_proc(run_child, tmp_path):
    out = tmp_path / "facts.json"

    def child():
        os.chdir(tmp_path)
        report_self(out)

    run = run_child(child)
    assert run.status == 0
    seen = json.loads(out.read_text())
    e = run.one("procexec")
    assert e.pid == seen["pid"] == run.pid
    assert_facts_match(e, seen)
    assert e.param("cwd") == str(tmp_path).encode()
    assert e.param("argv") == [sys.executable.encode(), b"-c", REPORT.encode(), bytes(out)]
    assert e.param("filename") == sys.executable.encode()
    env = e.param("envp")
    assert env and all(b"=" in kv for kv in env)
    assert sum(len(kv) + 1 for kv in env) <= 4096  # cut at 4096 bytes


def test_fork_facts_are_the_childs(run_child, tmp_path):
    """procfork is written in the parent, but tells of the child."""
    out = tmp_path / "facts.json"

    def child():
        os.setpgid(0, 0)   # the child's own group: facts the parent does not share
        with open(out, "w") as f:
            json.dump({"pid": os.getpid(), "pgid": os.getpgid(0)}, f)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)

    run = run_child(child)
    seen = json.loads(out.read_text())
    (fork,) = [e for e in run.of("procfork") if e.param("child_pid") != run.pid]
    assert fork.pid == run.pid
    assert fork.param("pgid") == seen["pgid"] == run.pid
    me = open("/proc/self/stat").read()
    assert fork.param("sid") == int(me[me.rindex(")") + 2:].split()[3])
    assert fork.param("exe") == os.readlink("/proc/self/exe").encode()
    assert fork.param("cwd") == os.getcwd().encode()


def test_tty_session_and_loginuid(run_child, tmp_path):
    out = tmp_path / "facts.json"
    master, slave = os.openpty()

    def child():
        os.setsid()
        import fcntl
        fcntl.ioctl(slave, TIOCSCTTY, 0)
        with open("/proc/self/loginuid", "w") as f:  # root may set it once
            f.write("4242")
        report_self(out)

    run = run_child(child)
    name = os.ttyname(slave)
    os.close(master)
    os.close(slave)
    seen = json.loads(out.read_text())
    e = run.one("procexec")
    assert_facts_match(e, seen)
    assert e.param("loginuid") == 4242
    assert e.param("sid") == run.pid == e.param("pgid")
    assert e.param("tty") != 0
    assert "/dev/" + e.render("tty") == name


def test_capabilities_after_dropping_root(run_child):
    # nobody cannot reach this venv's Python: a shell reports instead, while alive
    with tempfile.TemporaryDirectory() as shared:
        os.chmod(shared, 0o777)
        out = os.path.join(shared, "caps")

        def child():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)   # leaves root: the capability sets empty
            os.execv("/bin/sh", ["sh", "-c", f"grep ^Cap /proc/$$/status > {out}"])

        run = run_child(child)
        assert run.status == 0
        caps = {line.split(":")[0]: int(line.split()[1], 16)
                for line in open(out).read().splitlines()}
    e = run.one("procexec", filename=b"/bin/sh")
    assert e.param("cap_effective") == caps["CapEff"] == 0
    assert e.param("cap_permitted") == caps["CapPrm"] == 0
    assert (e.uid, e.gid) == (65534, 65534)


def test_capabilities_of_root_minus_one(run_child, tmp_path):
    out = tmp_path / "facts.json"

    def child():
        import ctypes
        PR_CAPBSET_DROP, CAP_NET_RAW = 24, 13
        assert ctypes.CDLL(None).prctl(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0) == 0
        report_self(out)   # exec as root: bounded by the set without CAP_NET_RAW

    run = run_child(child)
    seen = json.loads(out.read_text())
    e = run.one("procexec")
    assert_facts_match(e, seen)
    assert not e.param("cap_effective") & (1 << 13)
    assert "-CAP_NET_RAW" in e.render("cap_effective")


def test_fileless_exec_from_memfd_is_flagged(run_child):
    def child():
        fd = os.memfd_create("payload")
        with open("/bin/true", "rb") as f:
            os.write(fd, f.read())
        os.execve(fd, [b"payload"], {})

    run = run_child(child)
    assert run.status == 0
    e = run.one("procexec")
    assert e.param("exe_flags") == EXE["EXE_FROM_MEMFD"] | EXE["EXE_DELETED"]
    assert e.render("exe_flags") == "EXE_FROM_MEMFD|EXE_DELETED"
    assert e.param("exe") == b"/memfd:payload"


def test_a_file_merely_named_memfd_is_not(run_child, tmp_path):
    fake = tmp_path / "memfd:payload"
    shutil.copy("/bin/true", fake)
    run = run_child(lambda: os.execv(fake, [b"x"]))
    e = run.one("procexec")
    assert e.param("exe_flags") == 0 and e.param("exe") == bytes(fake)


def test_a_deleted_executable_is_flagged_on_its_forks(run_child, tmp_path):
    sh = tmp_path / "mysh"
    shutil.copy("/bin/dash", sh)
    run = run_child(lambda: os.execv(sh, [b"mysh", b"-c", f"rm {sh}; /bin/true; exit 3"]))
    assert run.status == 3
    assert run.one("procexec", filename=bytes(sh)).param("exe_flags") == 0
    fork = run.one("procfork", child_pid=next(e.pid for e in run.of("procexec")
                                               if e.param("filename") == b"/bin/true"))
    assert fork.param("exe") == bytes(sh)
    assert fork.param("exe_flags") == EXE["EXE_DELETED"]


@pytest.fixture
def overlay(tmp_path):
    """An overlay mount on a fresh tmpfs: a binary in the lower layer, and the
    merged directory to add another (which lands in the upper layer)."""
    base = tmp_path / "ovl"
    base.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(base)], check=True)
    try:
        for d in ("lower", "upper", "work", "merged"):
            (base / d).mkdir()
        shutil.copy("/bin/true", base / "lower" / "lowertrue")
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={base}/lower,upperdir={base}/upper,workdir={base}/work",
                        str(base / "merged")], check=True)
        try:
            shutil.copy("/bin/true", base / "merged" / "uppertrue")
            yield base / "merged"
        finally:
            subprocess.run(["umount", str(base / "merged")], check=True)
    finally:
        subprocess.run(["umount", str(base)], check=True)


def test_overlay_upper_layer_is_flagged(run_child, overlay):
    lower = run_child(lambda: os.execv(overlay / "lowertrue", [b"t"])).one("procexec")
    upper = run_child(lambda: os.execv(overlay / "uppertrue", [b"t"])).one("procexec")
    assert lower.param("exe_flags") == 0
    assert upper.param("exe_flags") == EXE["EXE_UPPER_LAYER"]
    # the path crosses the overlay's and the tmpfs's mount points
    assert lower.param("exe") == bytes(overlay / "lowertrue")
    assert upper.param("exe") == bytes(overlay / "uppertrue")


CONTAINER = "5c0ffee0" * 8


@pytest.fixture
def docker_like_cgroup():
    """A cgroup named as docker's systemd driver names a container's."""
    unified = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") \
        else "/sys/fs/cgroup"
    if not os.path.exists(f"{unified}/cgroup.procs"):
        pytest.skip("no writable cgroup v2 hierarchy")
    parent = f"{unified}/scapula-test-{os.getpid()}"
    leaf = f"{parent}/docker-{CONTAINER}.scope"
    os.makedirs(leaf)
    try:
        yield leaf, leaf[len(unified):]
    finally:
        os.rmdir(leaf)
        os.rmdir(parent)


def test_container_id_from_the_cgroup(run_child, tmp_path, docker_like_cgroup):
    leaf, path = docker_like_cgroup
    out = tmp_path / "facts.json"

    def child():
        with open(f"{leaf}/cgroup.procs", "w") as f:
            f.write(str(os.getpid()))
        report_self(out)

    run = run_child(child)
    assert run.status == 0
    seen = json.loads(out.read_text())
    e = run.one("procexec")
    assert e.param("cgroup_path") == path.encode() == cgroup_path(seen["cgroup"].encode().strip())
    assert e.param("container_id") == CONTAINER.encode()


def test_a_cwd_deeper_than_the_walk_keeps_its_end(run_child, tmp_path):
    deep = tmp_path
    for i in range(40):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)

    def child():
        os.chdir(deep)
        os.execv("/bin/true", [b"true"])

    e = run_child(child).one("procexec")
    cwd = e.param("cwd")
    # 32 components kept, from the deepest; no leading '/': not a whole path
    assert cwd == b"/".join(f"d{i}".encode() for i in range(8, 40))
