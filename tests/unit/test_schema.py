"""The event table and the BPF fillers agree: every recorded parameter has its filler line."""
import re
from importlib import resources

import pytest

from scapula.capture.program import SOURCES, filler_names
from scapula.schemas import events as schema

_FUNC = re.compile(r"^int sys_(\w+)_x\(.*?\n}\n", re.M | re.S)
_HELPER = re.compile(r"^static __always_inline \w+ (\w+)\(.*?\n}\n", re.M | re.S)
_PARAM = re.compile(r"/\* Parameters? (\d+)(?:-(\d+))?: (.*?) \*/")


def filler_bodies() -> dict[str, str]:
    """Each filler's text, followed by the text of the helpers it calls that
    document parameters (pipe__fds writes both pipe fds, for instance)."""
    bodies, helpers = {}, {}
    for src in SOURCES:
        text = resources.files("scapula.bpf").joinpath(src).read_text()
        for m in _FUNC.finditer(text):
            bodies[m.group(1)] = m.group(0)
        for m in _HELPER.finditer(text):
            if _PARAM.search(m.group(0)):
                helpers[m.group(1)] = m.group(0)
    return {name: body + "".join(h for n, h in helpers.items() if f"{n}(" in body)
            for name, body in bodies.items()}


def documented_params(body: str) -> list[str]:
    """Parameter names from the `Parameter N: name (kind)` comments, in N order."""
    numbered = {}
    for m in _PARAM.finditer(body):
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        names = [part.split(" (")[0].strip() for part in m.group(3).split(",")]
        if len(names) == 1 and last > first:  # "Parameters 1-3: ruid, euid, suid (uid)"
            names = names[0].split()
        assert len(names) == last - first + 1, m.group(0)
        numbered.update(zip(range(first, last + 1), names))
    return [numbered[n] for n in sorted(numbered)]


def test_every_syscall_event_has_a_filler_and_back():
    syscall_events = {e.name for e in schema.EVENTS if e.syscall is not None}
    assert filler_names() == syscall_events


@pytest.mark.parametrize("evt", [e for e in schema.EVENTS if e.syscall is not None],
                         ids=lambda e: e.name)
def test_filler_documents_every_parameter_in_table_order(evt):
    body = filler_bodies()[evt.name]
    expected = [p.name for p in evt.params if not p.derived]
    assert documented_params(body) == expected


def test_generic_filler_documents_its_parameter():
    text = resources.files("scapula.bpf").joinpath("fillers/generic.c").read_text()
    body = re.search(r"^int generic_syscall_x\(.*?\n}\n", text, re.M | re.S).group(0)
    assert documented_params(body) == [p.name for p in schema.GENERIC.params]


def test_ids_names_and_syscall_numbers_are_unique():
    for attr in ("id", "name", "syscall"):
        values = [getattr(e, attr) for e in schema.EVENTS if getattr(e, attr) is not None]
        assert len(values) == len(set(values)), attr


def test_derived_paths_point_at_real_parameters():
    for e in schema.EVENTS:
        names = {p.name: p for p in e.params}
        for d in e.derived:
            source_kind = {"abspath": "path", "container": "str"}[d.kind]
            assert names[d.source].kind == source_kind, (e.name, d.name)
            assert d.dirfd is None or names[d.dirfd].kind == "fd", (e.name, d.name)


def test_embedded_schema_round_trips():
    assert schema.from_dict(schema.as_dict()) == schema.EVENTS


def test_no_parameter_shadows_a_header_field():
    for e in schema.EVENTS:
        clash = {p.name for p in e.params} & set(schema.HEADER_FIELDS)
        assert not clash, (e.name, clash)


def test_process_events_carry_every_fact_in_one_order():
    names = [p.name for p in schema.PROCESS_FACTS]
    for event in ("procfork", "procexec"):
        params = [p.name for p in schema.BY_NAME[event].params]
        assert params[-len(names):] == names, event
