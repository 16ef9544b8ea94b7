"""Member offsets come from the running kernel's BTF, anonymous members included."""
import os

import pytest

from scapula.capture.btf import BTF, VMLINUX
from scapula.capture.errors import KernelError
from scapula.capture.program import BTF_COUNTS, BTF_MEMBERS, missing_facts, resolve_offsets

pytestmark = pytest.mark.skipif(not os.path.exists(VMLINUX), reason="this kernel has no BTF")


@pytest.fixture(scope="module")
def btf():
    return BTF.load()


def test_pt_regs_matches_the_x86_64_abi(btf):
    if os.uname().machine != "x86_64":
        pytest.skip("pt_regs layout checked for x86_64")
    # struct pt_regs is user-visible ABI on x86_64: r15 first, 8 bytes a register
    order = ["r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx",
             "dx", "si", "di", "orig_ax"]
    assert [btf.offset("pt_regs", r) for r in order] == [8 * i for i in range(len(order))]


def test_members_inside_anonymous_structs_are_found(btf):
    # mm_struct keeps nearly everything in an unnamed struct
    start, end = btf.offset("mm_struct", "arg_start"), btf.offset("mm_struct", "arg_end")
    assert start is not None and end == start + 8


def test_every_member_the_probe_needs_resolves(btf):
    offsets = resolve_offsets(btf)
    assert set(offsets) == {c for c, _s, _m in BTF_MEMBERS} | {c for c, _f in BTF_COUNTS}
    assert offsets["OFF_TASK_TGID"] == offsets["OFF_TASK_PID"] + 4


def test_array_lengths_and_enumerators(btf):
    # signal_struct.pids has one slot per pid type: PID, TGID, PGID, SID
    assert btf.array_length("signal_struct", "pids") == 4
    assert (btf.enum_value("PIDTYPE_PGID"), btf.enum_value("PIDTYPE_SID")) == (2, 3)
    assert btf.array_length("task_struct", "pid") is None  # not an array
    assert btf.enum_value("NO_SUCH_ENUMERATOR") is None


def test_a_renamed_member_is_found_by_either_spelling(btf):
    # kernfs_node.parent became __parent in 6.15: whichever this kernel has is used
    from scapula.capture.program import available
    offsets = resolve_offsets(btf)
    spelled = btf.offset("kernfs_node", "__parent") or btf.offset("kernfs_node", "parent")
    assert offsets["OFF_KERNFS_PARENT"] == spelled
    assert offsets["CGROUP_SUBSYS_COUNT"] >= 1
    assert all(available(offsets).values()), available(offsets)


def test_missing_member_is_none_and_bad_blob_is_a_clean_error(btf):
    assert btf.offset("task_struct", "no_such_member") is None
    assert btf.offset("no_such_struct", "pid") is None
    with pytest.raises(KernelError, match="not BTF"):
        BTF(b"\0" * 64, "junk")


class _KernelWithout:
    """A kernel's BTF with some members taken away."""

    def __init__(self, btf, *gone):
        self._btf, self._gone = btf, set(gone)

    def offset(self, struct_name, member):
        return None if (struct_name, member) in self._gone else self._btf.offset(struct_name, member)

    def array_length(self, struct_name, member):
        return self._btf.array_length(struct_name, member)

    def enum_value(self, name):
        return self._btf.enum_value(name)


def test_an_optional_member_missing_leaves_its_fact_empty_and_says_so(btf):
    from scapula.capture.program import ProgramConfig, source
    offsets = resolve_offsets(_KernelWithout(btf, ("sock_common", "skc_v6_rcv_saddr")))
    assert "OFF_SKC_V6_RCV_SADDR" not in offsets
    assert missing_facts(offsets) == [
        "this kernel's BTF lacks sock_common.skc_v6_rcv_saddr: the local address of IPv6 "
        "connect/accept is left empty"]
    text = source(ProgramConfig(syscalls=("connect",)), offsets, 0)
    assert "#define HAVE_SKC_V6 0" in text and "#define HAVE_SOCKET_LOCAL 1" in text
    assert "#define OFF_SKC_V6_RCV_SADDR 0" in text


def test_missing_process_facts_are_named_and_marked_absent_for_readers(btf):
    from scapula.capture.program import absent_params
    offsets = resolve_offsets(_KernelWithout(btf, ("task_struct", "loginuid"),
                                             ("ovl_inode", "__upperdentry")))
    assert missing_facts(offsets) == [
        "this kernel's BTF lacks task_struct.loginuid: loginuid and sessionid are left empty",
        "this kernel's BTF lacks ovl_inode.__upperdentry: the overlay upper-layer exe flag is "
        "left empty"]
    # the upper-layer bit is one of exe_flags' bits: the others stay, so it is not "absent"
    assert absent_params(offsets) == ["loginuid", "sessionid"]


def test_a_required_member_missing_is_a_clean_error(btf):
    with pytest.raises(KernelError, match="lacks task_struct.real_parent"):
        resolve_offsets(_KernelWithout(btf, ("task_struct", "real_parent")))
