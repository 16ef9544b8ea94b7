"""The field table: names, types and descriptions, and the names conditions use."""
import re

import pytest

from scapula.replay.fields import FIELDS, lookup


def test_every_field_has_a_type_a_description_and_an_extractor():
    for f in FIELDS.values():
        assert f.type and f.desc and callable(f.extract) and f.arg in ("none", "optional",
                                                                          "required"), f.name


def test_dotted_arguments_and_unknown_fields():
    assert lookup("evt.arg.flags")[1] == "flags"
    assert lookup("evt.rawarg.res")[1] == "res"
    assert lookup("proc.env.HOME")[1] == "HOME"
    assert lookup("proc.name")[1] is None
    assert lookup("k8s.ns.name") is None and lookup("nonsense") is None


def test_the_fields_the_upstream_rules_use(shared_dir):
    """Every field the upstream rules name, less the Kubernetes ones (no such data
    here: those rules load disabled), is in the table."""
    text = "".join(p.read_text() for p in sorted((shared_dir / "corpus" / "rules").glob("*.yaml")))
    used = set(re.findall(r"\b((?:evt|proc|thread|fd|user|group|container)\.[a-z0-9_.]+)", text))
    used = {u.rstrip(".") for u in used} - {"user.log"}   # a log file's name in a list
    missing = sorted(u for u in used if lookup(u) is None)
    assert missing == [], missing


class _Exec:
    """An execve/execveat exit event as the fields read it."""

    def __init__(self, name, pid=100, **params):
        from scapula.schemas import events as schema
        self.name, self.etype, self.pid, self._p = name, schema.BY_NAME[name], pid, params

    def param(self, name):
        return self._p.get(name)


@pytest.mark.parametrize("name", ["execve", "execveat"])
def test_exec_flags_are_the_new_images_exe_flags_as_in_falco(name):
    """Falco's exit event calls the exe flags `flags` (not execveat's AT_ flags): the
    upstream rules print them as exe_flags=%evt.arg.flags."""
    from scapula.replay.fields import Context
    from scapula.replay.state import State
    state = State([{"pid": 100, "ppid": 1, "comm": b"x"}])
    state.process(100).exe_flags = 1
    ctx = Context(_Exec(name, flags=0x1000), state)
    assert lookup("evt.arg.flags")[0].extract(ctx, "flags") == "EXE_FROM_MEMFD"
    assert lookup("evt.rawarg.flags")[0].extract(ctx, "flags") == 1
    state.process(100).exe_flags = 0
    assert lookup("evt.arg.flags")[0].extract(ctx, "flags") == "0"
    assert lookup("evt.arg.flags")[0].extract(Context(_Exec(name, pid=9), state), "flags") \
        is None


def test_rawarg_takes_its_parameters_type():
    from scapula.replay.fields import INT64, CHARBUF
    assert lookup("evt.rawarg.res")[0].type == INT64
    assert lookup("evt.rawarg.fd")[0].type == INT64
    assert lookup("evt.rawarg.name")[0].type == CHARBUF


class _Ev:
    name, pid, tid, uid, gid = "getpid", 100, 100, 0, 0


def test_user_and_group_names_come_from_the_recording_host():
    """The capture's HEADER names uid 0 differently from this host: the header wins;
    a header without maps falls back to this host's passwd and group files."""
    from scapula.replay.fields import Context
    from scapula.replay.state import State
    state = State([{"pid": 100, "ppid": 1, "comm": b"x", "loginuid": 0}])
    header = {"users": {0: "toor"}, "groups": {0: "wheel"}}
    values = {f: lookup(f)[0].extract(Context(_Ev(), state, header), None)
              for f in ("user.name", "user.loginname", "group.name")}
    assert values == {"user.name": "toor", "user.loginname": "toor", "group.name": "wheel"}
    # an id the recording host did not know has no name, not this host's
    ev = _Ev()
    ev.uid = ev.gid = 4242
    assert lookup("user.name")[0].extract(Context(ev, state, header), None) is None
    local = Context(_Ev(), state, {})
    assert lookup("user.name")[0].extract(local, None) == "root"
    assert lookup("group.name")[0].extract(local, None) == "root"
