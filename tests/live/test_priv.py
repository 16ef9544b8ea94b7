"""Live per-syscall tests of the privilege and kernel-facing syscalls: every recorded field."""
import ctypes
import errno
import os
import signal
import struct
import time

import pytest

from tests.conftest import raw_syscall
from tests.live.test_file_open import AT_FDCWD, BAD_FD, BAD_PTR, COMM, b
from tests.live.test_net import Shared

# x86_64 numbers, written out rather than taken from the event table so the table is checked too.
NR = {"kill": 62, "fchown": 93, "chown": 92, "lchown": 94, "ptrace": 101, "setreuid": 113,
      "setregid": 114, "setresuid": 117, "capget": 125, "capset": 126, "prctl": 157,
      "chroot": 161, "mount": 165, "umount2": 166, "init_module": 175, "delete_module": 176,
      "tkill": 200, "tgkill": 234, "fchownat": 260, "unshare": 272, "setns": 308,
      "finit_module": 313, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425}
BAD_PID = 999999999  # above any pid_max
SIGUSR1 = signal.SIGUSR1.value
PTRACE_PEEKDATA, PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 2, 16, 17, 0x4206
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWNET, CLONE_PTRACE = 0x20000, 0x4000000, 0x40000000, 0x2000
AT_SYMLINK_NOFOLLOW = 0x100
MS_NOSUID, MS_NODEV, MNT_DETACH = 2, 4, 2
O_NONBLOCK, O_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="the success cases need root")


def sys(name: str, *args) -> int:
    return raw_syscall(NR[name], *args)


def record(run_child, child):
    """Runs child(out, mem) in a recorded child; out and mem are shared with the test."""
    mem = Shared()
    out = (ctypes.c_int64 * 32).from_buffer(mem.map, mem.used)
    mem.used += 8 * 32
    run = run_child(lambda: child(out, mem))
    assert run.status == 0
    return run, list(out)


def check(run, event: str, res: int, ids=(0, 0), /, **params) -> None:
    """The one `event` with these parameters and result is exactly what the child
    did: errno, who did it (real uid/gid `ids`) and every parameter."""
    found = [e for e in run.of(event) if e.params == params and e.res == res]
    assert len(found) == 1, f"expected one {event} {params} -> {res}: " + \
        "; ".join(str(e.as_dict()) for e in run.of(event))
    e = found[0]
    assert (e.res, e.errno) == (res, errno.errorcode[-res] if res < 0 else None)
    assert (e.pid, e.tid, e.ppid, e.uid, e.gid, e.comm) == \
        (run.pid, run.pid, os.getpid(), *ids, COMM)
    assert e.params == params


def sleeper() -> int:
    """A grandchild that sleeps until killed (SIGUSR1 is ignored: the disposition is inherited)."""
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    return pid


def reap(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def drop_euid() -> None:
    """Effective uid 1000: no capabilities, until undo_euid takes them back from the saved uid.
    Paths looked up meanwhile must be world-searchable (tmp_path is not)."""
    assert sys("setresuid", -1, 1000, -1) == 0


def undo_euid() -> None:
    assert sys("setresuid", -1, 0, -1) == 0


def test_kill_tkill_tgkill(run_child):
    def child(out, mem):
        out[0] = gc = sleeper()
        out[1] = sys("kill", gc, 0)
        out[2] = sys("kill", gc, SIGUSR1)
        out[3] = sys("tkill", gc, 0)
        out[4] = sys("tgkill", gc, gc, SIGUSR1)
        out[5] = sys("kill", BAD_PID, 0)
        out[6] = sys("tkill", BAD_PID, SIGUSR1)
        out[7] = sys("tgkill", gc, BAD_PID, 0)
        out[8] = sys("tkill", gc, 999)
        reap(gc)
        # init shares no id with a fully unprivileged process
        assert sys("setresuid", 1000, 1000, 1000) == 0
        out[9] = sys("kill", 1, 0)

    run, out = record(run_child, child)
    gc = out[0]
    assert out[1:5] == [0] * 4
    check(run, "kill", 0, target=gc, sig=0)
    check(run, "kill", 0, target=gc, sig=SIGUSR1)
    check(run, "tkill", 0, target_tid=gc, sig=0)
    check(run, "tgkill", 0, tgid=gc, target_tid=gc, sig=SIGUSR1)
    check(run, "kill", -errno.ESRCH, target=BAD_PID, sig=0)
    check(run, "tkill", -errno.ESRCH, target_tid=BAD_PID, sig=SIGUSR1)
    check(run, "tgkill", -errno.ESRCH, tgid=gc, target_tid=BAD_PID, sig=0)
    check(run, "tkill", -errno.EINVAL, target_tid=gc, sig=999)
    check(run, "kill", -errno.EPERM, (1000, 0), target=1, sig=0)


def test_ptrace(run_child):
    def child(out, mem):
        word = mem.buf(struct.pack("<q", 0x1122334455667788))
        peeked = mem.buf(8)
        out[10], out[11] = ctypes.addressof(word), ctypes.addressof(peeked)
        out[0] = gc = sleeper()
        out[1] = sys("ptrace", PTRACE_ATTACH, gc, 0, 0)
        os.waitpid(gc, 0)  # the attach stop
        out[2] = sys("ptrace", PTRACE_PEEKDATA, gc, word, peeked)
        out[3] = sys("ptrace", PTRACE_DETACH, gc, 0, 0)
        out[4] = sys("ptrace", PTRACE_PEEKDATA, gc, word, None)  # no longer traced
        out[5] = sys("ptrace", PTRACE_ATTACH, BAD_PID, 0, 0)
        out[6] = sys("ptrace", PTRACE_SEIZE, gc, 0, 0)
        reap(gc)

    run, out = record(run_child, child)
    gc, word, peeked = out[0], out[10], out[11]
    check(run, "ptrace", 0, request=PTRACE_ATTACH, target=gc, addr=0, data=0)
    check(run, "ptrace", 0, request=PTRACE_PEEKDATA, target=gc, addr=word, data=peeked)
    check(run, "ptrace", 0, request=PTRACE_DETACH, target=gc, addr=0, data=0)
    check(run, "ptrace", -errno.ESRCH, request=PTRACE_PEEKDATA, target=gc, addr=word, data=0)
    check(run, "ptrace", -errno.ESRCH, request=PTRACE_ATTACH, target=BAD_PID, addr=0, data=0)
    check(run, "ptrace", 0, request=PTRACE_SEIZE, target=gc, addr=0, data=0)


def test_setreuid_setregid(run_child):
    def child(out, mem):
        out[0] = sys("setregid", 3000, 3001)
        out[1] = sys("setreuid", 1000, 1001)
        out[2] = sys("setreuid", 0, -1)
        out[3] = sys("setregid", -1, 0)

    run, out = record(run_child, child)
    # Taken at sys_exit: the header already carries the new real ids.
    check(run, "setregid", 0, (0, 3000), rgid=3000, egid=3001)
    check(run, "setreuid", 0, (1000, 3000), ruid=1000, euid=1001)
    check(run, "setreuid", -errno.EPERM, (1000, 3000), ruid=0, euid=-1)
    check(run, "setregid", -errno.EPERM, (1000, 3000), rgid=-1, egid=0)


def test_capset(run_child):
    def child(out, mem):
        hdr = mem.buf(struct.pack("<Ii", 0x20080522, 0))  # _LINUX_CAPABILITY_VERSION_3
        data = mem.buf(24)
        assert sys("capget", hdr, data) == 0
        words = struct.unpack_from("<6I", data.raw)   # capabilities 0-31, then 32-63
        out[0:3] = [low | high << 32 for low, high in zip(words[:3], words[3:])]
        out[3] = sys("capset", hdr, data)
        out[4] = sys("capset", hdr, BAD_PTR)
        out[5] = sys("capset", BAD_PTR, data)
        other = mem.buf(struct.pack("<Ii", 0x20080522, 1))
        out[6] = sys("capset", other, data)  # only one's own capabilities can be set
        # version 1 passes one struct, capabilities 0-31: the second is not read (last,
        # as it drops capabilities 32-63)
        v1 = mem.buf(struct.pack("<Ii", 0x19980330, 0))
        out[7] = sys("capset", v1, data)

    run, out = record(run_child, child)
    eff, perm, inh = out[0:3]
    assert out[3] == 0 and eff >> 32 != 0   # root holds CAP_PERFMON, CAP_BPF, ...
    check(run, "capset", 0, target=0, effective=eff, permitted=perm, inheritable=inh)
    check(run, "capset", -errno.EFAULT, target=0, effective=0, permitted=0, inheritable=0)
    check(run, "capset", -errno.EFAULT, target=0, effective=eff, permitted=perm, inheritable=inh)
    check(run, "capset", -errno.EPERM, target=1, effective=eff, permitted=perm, inheritable=inh)
    low = (1 << 32) - 1
    assert out[7] == 0
    check(run, "capset", 0, target=0, effective=eff & low, permitted=perm & low,
          inheritable=inh & low)


def test_prctl(run_child):
    PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4

    def child(out, mem):
        out[0] = sys("prctl", PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0)
        out[1] = sys("prctl", PR_SET_DUMPABLE, 1, 2, 3, 4)
        out[2] = sys("prctl", PR_SET_PDEATHSIG, 999, 0, 0, 0)
        out[3] = sys("prctl", 0x7FFF, 5, 6, 7, 8)

    run, out = record(run_child, child)
    check(run, "prctl", 0, option=PR_SET_PDEATHSIG, arg2=SIGUSR1, arg3=0, arg4=0, arg5=0)
    # PR_SET_DUMPABLE ignores arg3-5: recorded all the same.
    check(run, "prctl", 0, option=PR_SET_DUMPABLE, arg2=1, arg3=2, arg4=3, arg5=4)
    check(run, "prctl", -errno.EINVAL, option=PR_SET_PDEATHSIG, arg2=999, arg3=0, arg4=0, arg5=0)
    check(run, "prctl", -errno.EINVAL, option=0x7FFF, arg2=5, arg3=6, arg4=7, arg5=8)


def test_unshare_setns(run_child):
    def child(out, mem):
        out[0] = fd = os.open("/proc/self/ns/uts", os.O_RDONLY)
        out[1] = sys("unshare", CLONE_NEWUTS)  # the child's own: the host keeps its name
        out[2] = sys("unshare", CLONE_PTRACE)
        out[3] = sys("setns", fd, CLONE_NEWUTS)  # back to the original
        out[4] = sys("setns", fd, CLONE_NEWNET)
        out[5] = sys("setns", BAD_FD, 0)
        drop_euid()
        out[6] = sys("unshare", CLONE_NEWUTS)
        undo_euid()

    run, out = record(run_child, child)
    fd = out[0]
    check(run, "unshare", 0, flags=CLONE_NEWUTS)
    check(run, "unshare", -errno.EINVAL, flags=CLONE_PTRACE)
    check(run, "setns", 0, fd=fd, nstype=CLONE_NEWUTS)
    check(run, "setns", -errno.EINVAL, fd=fd, nstype=CLONE_NEWNET)
    check(run, "setns", -errno.EBADF, fd=BAD_FD, nstype=0)
    check(run, "unshare", -errno.EPERM, flags=CLONE_NEWUTS)


def test_chown_family(run_child, tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "l").symlink_to("f")

    def child(out, mem):
        os.chdir(tmp_path)
        out[0] = fd = os.open("f", os.O_RDONLY)
        out[1] = sys("chown", b"f", 1000, 2000)
        out[2] = sys("lchown", b"l", 1001, -1)
        out[3] = sys("fchown", fd, -1, 3000)
        out[4] = sys("fchownat", AT_FDCWD, b"l", 1002, 1003, AT_SYMLINK_NOFOLLOW)
        out[5] = sys("chown", b"missing", 0, 0)
        out[6] = sys("lchown", BAD_PTR, 0, 0)
        out[7] = sys("fchown", BAD_FD, 0, 0)
        out[8] = sys("fchownat", BAD_FD, b"f", 0, 0, 0)
        drop_euid()
        out[9] = sys("fchown", fd, 0, 0)
        undo_euid()

    run, out = record(run_child, child)
    fd, f, link = out[0], tmp_path / "f", tmp_path / "l"
    assert (f.stat().st_uid, f.stat().st_gid) == (1000, 3000)
    assert (link.lstat().st_uid, link.lstat().st_gid) == (1002, 1003)
    check(run, "chown", 0, path=b"f", owner=1000, group=2000, path_abs=b(f))
    check(run, "lchown", 0, path=b"l", owner=1001, group=-1, path_abs=b(link))
    check(run, "fchown", 0, fd=fd, owner=-1, group=3000)
    check(run, "fchownat", 0, dirfd=AT_FDCWD, path=b"l", owner=1002, group=1003,
          flags=AT_SYMLINK_NOFOLLOW, path_abs=b(link))
    check(run, "chown", -errno.ENOENT, path=b"missing", owner=0, group=0,
          path_abs=b(tmp_path / "missing"))
    check(run, "lchown", -errno.EFAULT, path=None, owner=0, group=0, path_abs=None)
    check(run, "fchown", -errno.EBADF, fd=BAD_FD, owner=0, group=0)
    check(run, "fchownat", -errno.EBADF, dirfd=BAD_FD, path=b"f", owner=0, group=0, flags=0,
          path_abs=None)
    check(run, "fchown", -errno.EPERM, fd=fd, owner=0, group=0)


def test_chroot(run_child, tmp_path):
    (tmp_path / "jail").mkdir()

    def child(out, mem):
        os.chdir(tmp_path)
        out[0] = sys("chroot", b"missing")
        out[1] = sys("chroot", BAD_PTR)
        drop_euid()
        out[2] = sys("chroot", b"/")
        undo_euid()
        out[3] = sys("chroot", b"jail")  # the child's own root; last, paths change after it

    run, out = record(run_child, child)
    check(run, "chroot", -errno.ENOENT, path=b"missing", path_abs=b(tmp_path / "missing"))
    check(run, "chroot", -errno.EFAULT, path=None, path_abs=None)
    check(run, "chroot", -errno.EPERM, path=b"/", path_abs=b"/")
    check(run, "chroot", 0, path=b"jail", path_abs=b(tmp_path / "jail"))


def test_mount_umount2(run_child, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    flags = MS_NOSUID | MS_NODEV

    def child(out, mem):
        try:
            out[0] = sys("mount", b"scapula-test", b(mnt), b"tmpfs", flags, b"size=1m")
            out[1] = sys("umount2", b(mnt), 0)
        finally:
            if out[0] == 0 and out[1] != 0:
                sys("umount2", b(mnt), MNT_DETACH)
        out[2] = sys("umount2", b(mnt), 0)  # no longer a mount point
        out[3] = sys("mount", b"none", b(tmp_path / "missing"), b"tmpfs", 0, None)
        out[4] = sys("mount", b"none", b(mnt), b"scapula-nofs", 0, None)
        out[5] = sys("mount", b"none", b(mnt), BAD_PTR, 0, None)
        out[6] = sys("umount2", b(mnt), 0x100)
        drop_euid()
        # "/" only because it is searchable; with no such fs it could never mount anyway
        out[7] = sys("mount", b"none", b"/", b"scapula-nofs", flags, None)
        undo_euid()

    run, out = record(run_child, child)
    assert out[0:2] == [0, 0]
    check(run, "mount", 0, source=b"scapula-test", target=b(mnt), fstype=b"tmpfs", flags=flags,
          target_abs=b(mnt))
    check(run, "umount2", 0, target=b(mnt), flags=0, target_abs=b(mnt))
    check(run, "umount2", -errno.EINVAL, target=b(mnt), flags=0, target_abs=b(mnt))
    check(run, "mount", -errno.ENOENT, source=b"none", target=b(tmp_path / "missing"),
          fstype=b"tmpfs", flags=0, target_abs=b(tmp_path / "missing"))
    check(run, "mount", -errno.ENODEV, source=b"none", target=b(mnt), fstype=b"scapula-nofs",
          flags=0, target_abs=b(mnt))
    check(run, "mount", -errno.EFAULT, source=b"none", target=b(mnt), fstype=None, flags=0,
          target_abs=b(mnt))
    check(run, "umount2", -errno.EINVAL, target=b(mnt), flags=0x100, target_abs=b(mnt))
    check(run, "mount", -errno.EPERM, source=b"none", target=b"/", fstype=b"scapula-nofs",
          flags=flags, target_abs=b"/")


def test_modules(run_child, tmp_path):
    garbage = b"scapula: not an ELF module\0" * 4
    (tmp_path / "mod.ko").write_bytes(garbage)

    def child(out, mem):
        image = mem.buf(garbage)
        out[0] = fd = os.open(tmp_path / "mod.ko", os.O_RDONLY)
        out[1] = sys("init_module", image, len(garbage), b"debug=1")
        out[2] = sys("init_module", BAD_PTR, 64, b"")
        out[3] = sys("finit_module", fd, b"x=1", 0)
        out[4] = sys("finit_module", BAD_FD, b"", 0)
        out[5] = sys("finit_module", fd, b"", 0x80)
        out[6] = sys("delete_module", b"scapula_no_such_module", O_NONBLOCK)
        out[7] = sys("delete_module", BAD_PTR, 0)
        drop_euid()
        out[8] = sys("delete_module", b"scapula_no_such_module", 0)
        undo_euid()

    run, out = record(run_child, child)
    fd = out[0]
    # A kernel built without modules answers ENOSYS to all of them, recorded the same way.
    modules = os.path.exists("/proc/modules")

    def err(code: int) -> int:
        return -code if modules else -errno.ENOSYS

    check(run, "init_module", err(errno.ENOEXEC), len=len(garbage), params=b"debug=1")
    check(run, "init_module", err(errno.EFAULT), len=64, params=b"")
    check(run, "finit_module", err(errno.ENOEXEC), fd=fd, params=b"x=1", flags=0)
    check(run, "finit_module", err(errno.EBADF), fd=BAD_FD, params=b"", flags=0)
    check(run, "finit_module", err(errno.EINVAL), fd=fd, params=b"", flags=0x80)
    check(run, "delete_module", err(errno.ENOENT), name=b"scapula_no_such_module",
          flags=O_NONBLOCK)
    check(run, "delete_module", err(errno.EFAULT), name=None, flags=0)
    check(run, "delete_module", err(errno.EPERM), name=b"scapula_no_such_module", flags=0)


def test_bpf_userfaultfd_io_uring(run_child):
    BPF_MAP_CREATE, BPF_MAP_TYPE_ARRAY = 0, 2
    IORING_SETUP_CLAMP = 1 << 4
    attr = struct.pack("<IIII", BPF_MAP_TYPE_ARRAY, 4, 4, 1)

    def child(out, mem):
        out[0] = sys("bpf", BPF_MAP_CREATE, mem.buf(attr), len(attr))
        out[1] = sys("bpf", 9999, None, 0)
        params = mem.buf(struct.pack("<III", 0, 0, IORING_SETUP_CLAMP) + bytes(108))
        out[2] = sys("io_uring_setup", 4, params)
        out[3] = sys("io_uring_setup", 0, params)
        out[4] = sys("io_uring_setup", 4, BAD_PTR)
        out[5] = sys("userfaultfd", O_CLOEXEC | O_NONBLOCK)
        out[6] = sys("userfaultfd", 0x10)
        drop_euid()  # kernel.unprivileged_bpf_disabled: only CAP_BPF may
        out[7] = sys("bpf", BPF_MAP_CREATE, mem.buf(attr), len(attr))
        undo_euid()

    run, out = record(run_child, child)
    assert min(out[0], out[2], out[5]) >= 3
    check(run, "bpf", out[0], cmd=BPF_MAP_CREATE, size=len(attr))
    check(run, "bpf", -errno.EINVAL, cmd=9999, size=0)
    check(run, "io_uring_setup", out[2], entries=4, flags=IORING_SETUP_CLAMP)
    check(run, "io_uring_setup", -errno.EINVAL, entries=0, flags=IORING_SETUP_CLAMP)
    check(run, "io_uring_setup", -errno.EFAULT, entries=4, flags=0)
    check(run, "userfaultfd", out[5], flags=O_CLOEXEC | O_NONBLOCK)
    check(run, "userfaultfd", -errno.EINVAL, flags=0x10)
    if open("/proc/sys/kernel/unprivileged_bpf_disabled").read().strip() != "0":
        check(run, "bpf", -errno.EPERM, cmd=BPF_MAP_CREATE, size=len(attr))
