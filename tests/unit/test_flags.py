"""Flag words, modes and errnos render by name."""
import os

import pytest

from scapula.schemas.flags import errno_name, flags_text, mode_text


@pytest.mark.parametrize("table,value,text", [
    ("open", os.O_RDONLY, "O_RDONLY"),
    ("open", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "O_WRONLY|O_CREAT|O_TRUNC"),
    ("open", os.O_RDWR | os.O_CLOEXEC | os.O_DIRECTORY, "O_RDWR|O_DIRECTORY|O_CLOEXEC"),
    ("open", os.O_SYNC, "O_RDONLY|O_SYNC"),
    ("open", os.O_TMPFILE | os.O_RDWR, "O_RDWR|O_TMPFILE"),
    ("open", os.O_PATH, "O_PATH"),
    ("at", 0x200, "AT_REMOVEDIR"),
    ("at", 0, "0"),
    ("clone", 0x11 | 0x1200000, "SIGCHLD|CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID"),
    ("memfd", 1 | 2, "MFD_CLOEXEC|MFD_ALLOW_SEALING"),
    ("rename", 1, "RENAME_NOREPLACE"),
    ("dup", 0x40000000, "0x40000000"),
    # single values, not bit sets
    ("signal", 9, "SIGKILL"),
    ("ptrace", 16, "PTRACE_ATTACH"),
    ("prctl", 15, "PR_SET_NAME"),
    ("bpf_cmd", 0, "BPF_MAP_CREATE"),
    ("domain", 10, "AF_INET6"),
    ("shutdown", 1, "SHUT_WR"),
    ("ptrace", 999999, "999999"),
    # a socket type is a value in the low bits and flags above them
    ("socktype", 1 | 0o2000000, "SOCK_STREAM|SOCK_CLOEXEC"),
    ("mount", 0x1 | 0x2, "MS_RDONLY|MS_NOSUID"),
])
def test_flags_text(table, value, text):
    assert flags_text(table, value) == text


def test_mode_text():
    assert mode_text(0o644) == "0644"
    assert mode_text(0o100755) == "S_IFREG|0755"
    assert mode_text(0) == "0"


def test_errno_name():
    assert errno_name(-2) == "ENOENT"
    assert errno_name(0) is None and errno_name(5) is None
    assert errno_name(-(1 << 40)) is None  # a pointer-sized success value, not an error


def test_terminal_names_from_tty_nr():
    from scapula.schemas.flags import tty_text
    assert tty_text(0) == "0"
    assert tty_text((136 << 8) | 3) == "pts/3"
    assert tty_text((136 << 8) | (300 & 0xFF) | ((300 & ~0xFF) << 12)) == "pts/300"
    assert tty_text((137 << 8) | 2) == "pts/258"
    assert (tty_text((4 << 8) | 1), tty_text((4 << 8) | 64)) == ("tty1", "ttyS0")
    assert tty_text((5 << 8) | 1) == "console"
    assert tty_text((42 << 8) | 7) == "42:7"


def test_capability_sets_read_whole_minus_what_is_missing():
    from scapula.schemas.flags import ALL_CAPS, flags_text
    assert flags_text("caps", 0) == "0"
    assert flags_text("caps", ALL_CAPS) == "ALL"
    assert flags_text("caps", ALL_CAPS & ~(1 << 24)) == "ALL-CAP_SYS_RESOURCE"
    assert flags_text("caps", (1 << 21) | (1 << 10)) == "CAP_NET_BIND_SERVICE|CAP_SYS_ADMIN"
    assert flags_text("caps", ALL_CAPS | 1 << 50) == "ALL|0x4000000000000"
