"""The BPF program: assembled from bpf/, configured by compiled-in constants, loaded and attached.

Configuration that does not change during a recording (the recorder's own pid, the
offsets from BTF, the clock offset, the ring size) is compiled in as constants: BCC
compiles at load time, so this is its equivalent of global variables, and it saves
a map lookup on every syscall.
"""
from dataclasses import dataclass
import ctypes
import os
import re
import time
from importlib import resources

from scapula.capture.btf import BTF
from scapula.capture.errors import KernelError
from scapula.errors import UsageError
from scapula.schemas import events as schema

SCRATCH_SIZE = 65536  # an event's most bytes; variable parameters start in its first half
MAX_PATH = 4096
MAX_ARGS = 32
OUTPUT_RETRIES = 8  # further tries of a failed ring output before it counts as a drop
FILLER_SLOTS = 512  # syscall numbers the fillers table covers (x86_64 stops below 470)
DEFAULT_SNAPLEN = 80  # bytes of I/O data kept per call, as sysdig does
GENERIC_FILLER = "generic_syscall_x"

# Struct members the programs read, as (constant, struct, member). A tuple of
# members names the spellings kernels have used (the first found wins).
BTF_MEMBERS = (
    ("OFF_PT_REGS_DI", "pt_regs", "di"),
    ("OFF_PT_REGS_SI", "pt_regs", "si"),
    ("OFF_PT_REGS_DX", "pt_regs", "dx"),
    ("OFF_PT_REGS_R10", "pt_regs", "r10"),
    ("OFF_PT_REGS_R8", "pt_regs", "r8"),
    ("OFF_PT_REGS_R9", "pt_regs", "r9"),
    ("OFF_PT_REGS_ORIG_AX", "pt_regs", "orig_ax"),
    ("OFF_TASK_PID", "task_struct", "pid"),
    ("OFF_TASK_TGID", "task_struct", "tgid"),
    ("OFF_TASK_REAL_PARENT", "task_struct", "real_parent"),
    ("OFF_TASK_MM", "task_struct", "mm"),
    ("OFF_TASK_EXIT_CODE", "task_struct", "exit_code"),
    ("OFF_MM_ARG_START", "mm_struct", "arg_start"),
    ("OFF_MM_ARG_END", "mm_struct", "arg_end"),
    ("OFF_MM_ENV_START", "mm_struct", "env_start"),
    ("OFF_MM_ENV_END", "mm_struct", "env_end"),
    ("OFF_BINPRM_FILENAME", "linux_binprm", "filename"),
    # fd -> file -> socket -> sock: a socket's own address for connect and accept
    ("OFF_TASK_FILES", "task_struct", "files"),
    ("OFF_FILES_FDT", "files_struct", "fdt"),
    ("OFF_FDTABLE_FD", "fdtable", "fd"),
    ("OFF_FDTABLE_MAX_FDS", "fdtable", "max_fds"),
    ("OFF_FILE_PRIVATE_DATA", "file", "private_data"),
    ("OFF_SOCKET_FILE", "socket", "file"),
    ("OFF_SOCKET_SK", "socket", "sk"),
    ("OFF_SOCK_COMMON", "sock", "__sk_common"),
    ("OFF_SKC_FAMILY", "sock_common", "skc_family"),
    ("OFF_SKC_NUM", "sock_common", "skc_num"),
    ("OFF_SKC_RCV_SADDR", "sock_common", "skc_rcv_saddr"),
    ("OFF_SKC_V6_RCV_SADDR", "sock_common", "skc_v6_rcv_saddr"),
    # process facts (bpf/facts.h): audit ids, session, tty, capabilities
    ("OFF_TASK_LOGINUID", "task_struct", "loginuid"),
    ("OFF_TASK_SESSIONID", "task_struct", "sessionid"),
    ("OFF_TASK_SIGNAL", "task_struct", "signal"),
    ("OFF_SIGNAL_PIDS", "signal_struct", "pids"),
    ("OFF_PID_NUMBERS", "pid", "numbers"),
    ("OFF_UPID_NR", "upid", "nr"),
    ("OFF_SIGNAL_TTY", "signal_struct", "tty"),
    ("OFF_TTY_INDEX", "tty_struct", "index"),
    ("OFF_TTY_DRIVER", "tty_struct", "driver"),
    ("OFF_TTY_DRIVER_MAJOR", "tty_driver", "major"),
    ("OFF_TTY_DRIVER_MINOR_START", "tty_driver", "minor_start"),
    ("OFF_TASK_CRED", "task_struct", "cred"),
    ("OFF_CRED_CAP_EFFECTIVE", "cred", "cap_effective"),
    ("OFF_CRED_CAP_PERMITTED", "cred", "cap_permitted"),
    # ... the executable and the cwd as paths: dentries walked up across mounts
    ("OFF_TASK_FS", "task_struct", "fs"),
    ("OFF_FS_ROOT", "fs_struct", "root"),
    ("OFF_FS_PWD", "fs_struct", "pwd"),
    ("OFF_PATH_MNT", "path", "mnt"),
    ("OFF_PATH_DENTRY", "path", "dentry"),
    ("OFF_MM_EXE_FILE", "mm_struct", "exe_file"),
    ("OFF_FILE_F_PATH", "file", "f_path"),
    ("OFF_FILE_F_INODE", "file", "f_inode"),
    ("OFF_DENTRY_PARENT", "dentry", "d_parent"),
    ("OFF_DENTRY_NAME", "dentry", "d_name"),
    ("OFF_DENTRY_SB", "dentry", "d_sb"),
    ("OFF_QSTR_NAME", "qstr", "name"),
    ("OFF_MOUNT_PARENT", "mount", "mnt_parent"),
    ("OFF_MOUNT_MOUNTPOINT", "mount", "mnt_mountpoint"),
    ("OFF_MOUNT_MNT", "mount", "mnt"),
    ("OFF_VFSMOUNT_ROOT", "vfsmount", "mnt_root"),
    ("OFF_SB_MAGIC", "super_block", "s_magic"),
    ("OFF_INODE_NLINK", "inode", "i_nlink"),
    ("OFF_OVL_INODE_VFS_INODE", "ovl_inode", "vfs_inode"),
    ("OFF_OVL_INODE_UPPER", "ovl_inode", "__upperdentry"),
    # ... and the cgroup, as a kernfs path
    ("OFF_TASK_CGROUPS", "task_struct", "cgroups"),
    ("OFF_CSS_SET_DFL_CGRP", "css_set", "dfl_cgrp"),
    ("OFF_CSS_SET_SUBSYS", "css_set", "subsys"),
    ("OFF_CSS_CGROUP", "cgroup_subsys_state", "cgroup"),
    ("OFF_CGROUP_KN", "cgroup", "kn"),
    ("OFF_KERNFS_NAME", "kernfs_node", "name"),
    ("OFF_KERNFS_PARENT", "kernfs_node", ("__parent", "parent")),  # renamed in 6.15
)

# Other facts from BTF: (constant, how to find it); 0 when absent (the member
# groups that use them are then absent too).
BTF_COUNTS = (
    ("CGROUP_SUBSYS_COUNT", lambda btf: btf.array_length("css_set", "subsys")),
    ("PIDTYPE_PGID", lambda btf: btf.enum_value("PIDTYPE_PGID")),
    ("PIDTYPE_SID", lambda btf: btf.enum_value("PIDTYPE_SID")),
)

# Source files in the order BCC must see them.
SOURCES = ("maps.h", "helpers.h", "writer.h", "facts.h", "dispatcher.c", "sched.c",
           "fillers/process.c", "fillers/file.c", "fillers/net.c", "fillers/priv.c",
           "fillers/io.c", "fillers/generic.c")

SCHED_TRACEPOINTS = ("sched_process_fork", "sched_process_exec", "sched_process_exit")


@dataclass(frozen=True)
class ProgramConfig:
    syscalls: tuple[str, ...]           # names of the syscalls to record
    buffer_size: int = 8 << 20          # ring buffer bytes, a power of two
    self_tgid: int = 0                  # never record this process
    snaplen: int = DEFAULT_SNAPLEN      # bytes of I/O data kept per call
    generic: bool = False               # every other syscall as the generic event (--all)
    # sendto/sendmsg without a destination and recvfrom/recvmsg that ask for no
    # source (a connected socket's data path) recorded too; off for the default set
    net_data: bool = True


def possible_cpus() -> int:
    """How many CPU numbers the kernel may use (/sys/devices/system/cpu/possible: "0-3")."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            ranges = f.read().strip()
    except OSError:
        return os.cpu_count() or 1
    return max(int(part.split("-")[-1]) for part in ranges.split(",")) + 1


def wake_every(buffer_size: int) -> int:
    """Events per CPU between two wake-ups of the reader (bpf/writer.h): a power of
    two, at most 1024, small enough that all CPUs together fill at most a quarter
    of the ring between wake-ups with events of 256 bytes."""
    n = 1024
    while n > 1 and n * possible_cpus() * 256 > buffer_size // 4:
        n //= 2
    return n


def boot_epoch_ns() -> int:
    """Wall-clock ns at boot: added in the kernel to boot-relative timestamps."""
    return time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


# Members the recorder can do without: the fact they serve is left empty (and the
# user told so once) on a kernel that lacks them. Constant -> the HAVE_ flag it feeds.
_GROUPS = {
    "HAVE_SOCKET_LOCAL": ("the local address of connect/accept", (
        "OFF_TASK_FILES", "OFF_FILES_FDT", "OFF_FDTABLE_FD", "OFF_FDTABLE_MAX_FDS",
        "OFF_FILE_PRIVATE_DATA", "OFF_SOCKET_FILE", "OFF_SOCKET_SK", "OFF_SOCK_COMMON",
        "OFF_SKC_FAMILY", "OFF_SKC_NUM", "OFF_SKC_RCV_SADDR")),
    # absent on kernels built without IPv6
    "HAVE_SKC_V6": ("the local address of IPv6 connect/accept", ("OFF_SKC_V6_RCV_SADDR",)),
    # absent without CONFIG_AUDIT
    "HAVE_AUDIT": ("loginuid and sessionid", ("OFF_TASK_LOGINUID", "OFF_TASK_SESSIONID")),
    "HAVE_SESSION": ("sid and pgid", (
        "OFF_TASK_SIGNAL", "OFF_SIGNAL_PIDS", "OFF_PID_NUMBERS", "OFF_UPID_NR",
        "PIDTYPE_PGID", "PIDTYPE_SID")),
    "HAVE_TTY": ("tty", (
        "OFF_TASK_SIGNAL", "OFF_SIGNAL_TTY", "OFF_TTY_INDEX", "OFF_TTY_DRIVER",
        "OFF_TTY_DRIVER_MAJOR", "OFF_TTY_DRIVER_MINOR_START")),
    "HAVE_CAPS": ("cap_effective and cap_permitted", (
        "OFF_TASK_CRED", "OFF_CRED_CAP_EFFECTIVE", "OFF_CRED_CAP_PERMITTED")),
    "HAVE_PATHS": ("exe, exe_flags and cwd", (
        "OFF_TASK_FS", "OFF_FS_ROOT", "OFF_FS_PWD", "OFF_PATH_MNT", "OFF_PATH_DENTRY",
        "OFF_MM_EXE_FILE", "OFF_FILE_F_PATH", "OFF_FILE_F_INODE", "OFF_DENTRY_PARENT",
        "OFF_DENTRY_NAME", "OFF_DENTRY_SB", "OFF_QSTR_NAME", "OFF_MOUNT_PARENT",
        "OFF_MOUNT_MOUNTPOINT", "OFF_MOUNT_MNT", "OFF_VFSMOUNT_ROOT", "OFF_SB_MAGIC",
        "OFF_INODE_NLINK")),
    # absent on kernels built without overlayfs
    "HAVE_OVERLAY": ("the overlay upper-layer exe flag", (
        "OFF_OVL_INODE_VFS_INODE", "OFF_OVL_INODE_UPPER")),
    "HAVE_CGROUP": ("cgroup_path and container_id", (
        "OFF_TASK_CGROUPS", "OFF_CSS_SET_DFL_CGRP", "OFF_CSS_SET_SUBSYS", "OFF_CSS_CGROUP",
        "OFF_CGROUP_KN", "OFF_KERNFS_NAME", "OFF_KERNFS_PARENT", "CGROUP_SUBSYS_COUNT")),
}
OPTIONAL_FACTS = {flag: words for flag, (words, _consts) in _GROUPS.items()}
OPTIONAL_MEMBERS = {c for _words, consts in _GROUPS.values() for c in consts}
# The event parameters each HAVE_ flag fills: left empty (None) when it is off.
FACT_PARAMS = {
    "HAVE_AUDIT": ("loginuid", "sessionid"),
    "HAVE_SESSION": ("sid", "pgid"),
    "HAVE_TTY": ("tty",),
    "HAVE_CAPS": ("cap_effective", "cap_permitted"),
    "HAVE_PATHS": ("exe", "exe_flags", "cwd"),
    "HAVE_CGROUP": ("cgroup_path", "container_id"),
}


def resolve_offsets(btf: BTF) -> dict[str, int]:
    """Offsets of BTF_MEMBERS and the BTF_COUNTS; an optional one this kernel lacks
    is left out."""
    offsets, missing = {}, []
    for const, struct_name, members in BTF_MEMBERS:
        for member in (members,) if isinstance(members, str) else members:
            off = btf.offset(struct_name, member)
            if off is not None:
                offsets[const] = off
                break
        else:
            if const not in OPTIONAL_MEMBERS:
                missing.append(f"{struct_name}.{_spelling(members)}")
    if missing:
        raise KernelError(f"this kernel's BTF lacks {', '.join(missing)}; scapula cannot read "
                          "process facts here")
    for const, find in BTF_COUNTS:
        value = find(btf)
        if value is not None:
            offsets[const] = value
    return offsets


def _spelling(members) -> str:
    return members if isinstance(members, str) else "|".join(members)


def available(offsets: dict[str, int]) -> dict[str, bool]:
    """Each HAVE_ flag: whether every optional member it needs was found."""
    return {flag: all(c in offsets for c in consts) for flag, (_w, consts) in _GROUPS.items()}


def absent_params(offsets: dict[str, int]) -> list[str]:
    """Event parameters this kernel leaves empty (recorded in the file's header)."""
    have = available(offsets)
    return [p for flag, params in FACT_PARAMS.items() if not have[flag] for p in params]


def missing_facts(offsets: dict[str, int]) -> list[str]:
    """What this kernel's BTF leaves the recording without, in words."""
    where = {c: f"{s}.{_spelling(m)}" for c, s, m in BTF_MEMBERS}
    out = []
    for flag, (words, consts) in _GROUPS.items():
        lacking = [where.get(c, c) for c in consts if c not in offsets]
        if lacking:
            out.append(f"this kernel's BTF lacks {', '.join(lacking)}: {words} "
                       f"{'is' if ' and ' not in words else 'are'} left empty")
    return out


def filler_names() -> set[str]:
    """Syscalls that have a filler in bpf/fillers (sys_<name>_x functions)."""
    names = set()
    for src in SOURCES:
        if src.startswith("fillers/"):
            names.update(re.findall(r"^int sys_(\w+)_x\(", _read(src), re.M))
    return names


def _read(name: str) -> str:
    return resources.files("scapula.bpf").joinpath(name).read_text()


def kernel_version() -> tuple[int, int]:
    release = os.uname().release
    major, minor = re.match(r"(\d+)\.(\d+)", release).groups()
    return int(major), int(minor)


def prelude(config: ProgramConfig, offsets: dict[str, int], boot_ns: int) -> str:
    pages = config.buffer_size // os.sysconf("SC_PAGE_SIZE")
    record_exec = any(n in config.syscalls for n in ("execve", "execveat"))
    lines = [
        "/* Generated by capture/program.py for this recording. */",
        f"#define RINGBUF_PAGES {pages}",
        f"#define WAKE_EVERY {wake_every(config.buffer_size)}",
        f"#define SCRATCH_SIZE {SCRATCH_SIZE}",
        f"#define NR_CPUS {possible_cpus()}",
        f"#define MAX_PATH {MAX_PATH}",
        f"#define MAX_ARGS {MAX_ARGS}",
        f"#define OUTPUT_RETRIES {OUTPUT_RETRIES}",
        f"#define FILLER_SLOTS {FILLER_SLOTS}",
        f"#define SNAPLEN {config.snaplen}",
        f"#define SELF_TGID {config.self_tgid}",
        f"#define BOOT_EPOCH_NS {boot_ns}ULL",
        f"#define RECORD_EXEC {int(record_exec)}",
        f"#define RECORD_NET_DATA {int(config.net_data)}",
        # bpf_task_pt_regs and bpf_get_current_task_btf: both there from 5.15
        f"#define TASK_BTF {int(kernel_version() >= (5, 15))}",
        f"#define NR_EXECVE {schema.BY_NAME['execve'].syscall}",
        f"#define NR_EXECVEAT {schema.BY_NAME['execveat'].syscall}",
    ]
    lines += [f"#define {c} {offsets.get(c, 0)}" for c, _s, _m in BTF_MEMBERS]
    lines += [f"#define {c} {offsets.get(c, 0)}" for c, _find in BTF_COUNTS]
    lines += [f"#define {flag} {int(ok)}" for flag, ok in available(offsets).items()]
    for e in schema.EVENTS:
        lines.append(f"#define EVT_{e.name.upper()} {e.id}")
        lines.append(f"#define EVT_{e.name.upper()}_NSCALAR {len(e.scalars)}")
        # events without variable parameters are built in place in the ring
        fixed = 0 if e.variables else schema.HEADER_SIZE + 8 * len(e.scalars)
        lines.append(f"#define EVT_{e.name.upper()}_FIXED_SIZE {fixed}")
    return "\n".join(lines) + "\n"


def source(config: ProgramConfig, offsets: dict[str, int], boot_ns: int) -> str:
    """The whole C text BCC compiles (what `record --print-bpf` shows)."""
    parts = [prelude(config, offsets, boot_ns)]
    for name in SOURCES:
        parts.append(f"/* ---- bpf/{name} ---- */\n{_read(name)}")
    return "\n".join(parts)


def validate(config: ProgramConfig) -> None:
    """A configuration the kernel side can be built for; UsageError otherwise."""
    size = config.buffer_size
    page = os.sysconf("SC_PAGE_SIZE")
    if size < page or size & (size - 1):
        raise UsageError(f"--buffer-size {size}: must be a power of two of at least {page}")
    if not 0 <= config.snaplen <= MAX_PATH:
        raise UsageError(f"--snaplen {config.snaplen}: must be 0 to {MAX_PATH}")
    have = filler_names()
    unknown = [n for n in config.syscalls if n not in have]
    if unknown:
        raise UsageError(f"no filler for syscall(s) {', '.join(unknown)}; "
                         f"recordable: {', '.join(sorted(have))}")


def generic_slots(taken: set[int]) -> list[int]:
    """Syscall numbers the generic filler gets: all without a filler of their own,
    but exit and exit_group (they never return; procexit stands for them)."""
    return [nr for nr in range(FILLER_SLOTS)
            if nr not in taken and nr not in schema.EXIT_SYSCALLS.values()]


class Program:
    """The loaded, attached BPF program. Use as a context manager; detaches on exit."""

    def __init__(self, config: ProgramConfig):
        validate(config)
        self.config = config
        self.boot_ns = boot_epoch_ns()
        self.offsets = resolve_offsets(BTF.load())
        self.missing = missing_facts(self.offsets)  # for the recorder to say, once
        self.text = source(config, self.offsets, self.boot_ns)
        self.bpf = None

    def __enter__(self):
        self.load()
        return self

    def __exit__(self, *exc):
        self.close()

    def load(self) -> None:
        try:
            from bcc import BPF
        except ImportError:
            raise KernelError("the bcc Python module is missing: run `make setup` "
                              "(Debian package python3-bpfcc)") from None
        if not os.path.isdir("/sys/kernel/tracing/events"):
            raise KernelError("tracefs is not mounted: mount -t tracefs tracefs /sys/kernel/tracing")
        try:
            self.bpf = BPF(text=self.text, cflags=["-Wno-macro-redefined", "-Wno-unused-function"])
        except Exception as e:
            raise KernelError(f"BCC could not compile or load the program: {e}") from None
        table = self.bpf["fillers"]
        taken = set()
        for name in self.config.syscalls:
            nr = schema.BY_NAME[name].syscall
            fn = self.bpf.load_func(f"sys_{name}_x", BPF.RAW_TRACEPOINT)
            table[ctypes.c_int(nr)] = ctypes.c_int(fn.fd)
            taken.add(nr)
        if self.config.generic:
            # one program in every other slot, numbers no kernel uses yet included:
            # a call to one of those (ENOSYS) is worth seeing too
            fn = self.bpf.load_func(GENERIC_FILLER, BPF.RAW_TRACEPOINT)
            for nr in generic_slots(taken):
                table[ctypes.c_int(nr)] = ctypes.c_int(fn.fd)
        # BCC attaches RAW_TRACEPOINT_PROBE functions itself when it loads the text.

    def close(self) -> None:
        if self.bpf is not None:
            self.bpf.cleanup()
            self.bpf = None

    @property
    def ring_fd(self) -> int:
        return self.bpf["events"].map_fd

    def counters(self, name: str) -> list[int]:
        """A per-CPU counter map (drops, sent) as one number per CPU."""
        values = self.bpf[name][ctypes.c_int(0)]
        return [int(v) for v in values]
