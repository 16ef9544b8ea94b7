"""I/O and generic events without a kernel: which syscalls a recording picks, which
fillers slots the generic program takes, the syscall-name table, and how print shows them."""
import json

import pytest

from scapula.capture.commands import choose_syscalls
from scapula.capture.program import FILLER_SLOTS, ProgramConfig, generic_slots, source
from scapula.errors import UsageError
from scapula.replay.commands import event_line
from scapula.replay.event import escaped
from scapula.schemas import events as schema
from scapula.schemas import syscalls
from tests.unit.test_format import expected, read, row, write

IO = {"read", "write", "pread64", "pwrite64", "readv", "writev"}


def test_io_events_are_the_end_of_the_table_and_out_of_the_default_set():
    assert {e.name: e.id for e in schema.EVENTS if e.category == "io"} == \
        {"read": 77, "write": 78, "pread64": 79, "pwrite64": 80, "readv": 81, "writev": 82}
    assert set(schema.IO_SYSCALLS) == IO and not IO & set(schema.DEFAULT_SYSCALLS)
    assert schema.EVENTS[-1] is schema.GENERIC and schema.GENERIC.id == 83
    assert [(p.name, p.kind) for p in schema.GENERIC.params] == [("nr", "uint")]


def test_choose_syscalls():
    assert choose_syscalls(None, False) == schema.DEFAULT_SYSCALLS
    with_io = choose_syscalls(None, False, io=True)
    assert with_io[:len(schema.DEFAULT_SYSCALLS)] == schema.DEFAULT_SYSCALLS
    assert set(with_io) - set(schema.DEFAULT_SYSCALLS) == IO
    assert choose_syscalls("openat,write", False, io=True) == \
        ("openat", "write", "read", "pread64", "pwrite64", "readv", "writev")
    assert choose_syscalls("read", False) == ("read",)
    every = {e.name for e in schema.EVENTS if e.syscall is not None}
    assert set(choose_syscalls(None, True)) == every
    assert set(choose_syscalls("openat", True, io=True)) == every  # --all wins
    with pytest.raises(UsageError, match="unknown or unsupported: getppid"):
        choose_syscalls("getppid", False)


def test_generic_slots_are_every_other_number_but_the_exits():
    taken = {schema.BY_NAME[n].syscall for n in schema.DEFAULT_SYSCALLS}
    slots = generic_slots(taken)
    assert set(slots) == set(range(FILLER_SLOTS)) - taken - {60, 231}
    assert 110 in slots and 0 in slots and FILLER_SLOTS - 1 in slots  # getppid, read


def test_snaplen_reaches_the_program_and_is_bounded():
    text = source(ProgramConfig(syscalls=("read",), snaplen=7), {}, 0)
    assert "#define SNAPLEN 7\n" in text and "int generic_syscall_x(" in text
    from scapula.capture.program import validate
    for bad in (-1, 4097):
        with pytest.raises(UsageError, match="--snaplen"):
            validate(ProgramConfig(syscalls=("read",), snaplen=bad))
    validate(ProgramConfig(syscalls=("read",), snaplen=4096))


def test_syscall_names_agree_with_the_event_table():
    """The generated table and the hand-written numbers check each other."""
    for e in schema.EVENTS:
        if e.syscall is not None:
            assert syscalls.name(e.syscall) == e.name
    for name, nr in schema.EXIT_SYSCALLS.items():
        assert syscalls.name(nr) == name
    assert (syscalls.name(110), syscalls.name(63), syscalls.name(15)) == \
        ("getppid", "uname", "rt_sigreturn")
    assert syscalls.name(400) is None and syscalls.name(FILLER_SLOTS) is None  # x86_64's gap
    assert max(syscalls.NAMES) < FILLER_SLOTS


@pytest.mark.parametrize("data, text", [
    (b"", '""'),
    (b"GET / HTTP/1.1\r\n", '"GET / HTTP/1.1\\r\\n"'),
    (b'a "q" \\ b\t\x00\xff\x7f', '"a \\"q\\" \\\\ b\\t\\x00\\xff\\x7f"'),
    ("é".encode(), '"\\xc3\\xa9"'),
])
def test_escaped(data, text):
    assert escaped(data) == text


def one_event(tmp_path, name, res, **params):
    evt = schema.BY_NAME[name]
    header, _ = expected(evt, 10)
    write(tmp_path / "f", [[row(evt, (header | {"res": res}, params))]])
    _, events = read(tmp_path / "f")
    return events[0]


def test_print_shows_data_escaped_and_json_as_surrogate_escaped_text(tmp_path):
    ev = one_event(tmp_path, "write", 6, fd=1, size=9, data=b"hi\xff\n\"x")
    assert event_line(1, ev).endswith(' write res=6 fd=1 size=9 data="hi\\xff\\n\\"x"')
    d = json.loads(json.dumps(ev.as_dict()))
    assert d["data"] == "hi\udcff\n\"x"
    assert d["data"].encode("utf-8", "surrogateescape") == b"hi\xff\n\"x"


def test_print_shows_a_failed_read_without_data(tmp_path):
    ev = one_event(tmp_path, "pread64", -9, fd=99, size=4, pos=-1, data=None)
    assert event_line(1, ev).endswith(" pread64 res=-9 EBADF fd=99 size=4 pos=-1 data=<NA>")
    assert ev.as_dict()["data"] is None and ev.as_dict()["errno"] == "EBADF"


@pytest.mark.parametrize("nr, res, shown, name", [
    (110, 4242, "res=4242 nr=110(getppid)", "getppid"),
    (63, -14, "res=-14 EFAULT nr=63(uname)", "uname"),
    (500, -38, "res=-38 ENOSYS nr=500", None),
])
def test_generic_event_carries_the_syscall_name(tmp_path, nr, res, shown, name):
    ev = one_event(tmp_path, "syscall", res, nr=nr)
    assert event_line(1, ev).endswith(f" syscall {shown}")
    d = ev.as_dict()
    assert (d["type"], d["nr"], d["syscall"], d["res"]) == ("syscall", nr, name, res)
    assert d.get("errno") == {-14: "EFAULT", -38: "ENOSYS"}.get(res) and ev.syscall_name == name
