"""Conditions compiled to predicates: every operator, types, unknown values, and the
event types a condition can match."""
import pytest

from scapula.replay import fields as F
from scapula.replay.condition import CompileError, compile_condition
from scapula.replay.filter import parse

VALUES = {
    "s.name": (F.CHARBUF, "Bash"), "s.path": (F.FSPATH, "/etc/ssh/sshd_config"),
    "n.port": (F.PORT, 22), "n.count": (F.UINT64, 10), "b.yes": (F.BOOL, True),
    "ip.addr": (F.IPADDR, "10.1.2.3"), "ip.net": (F.IPNET, __import__("ipaddress")
                                                   .ip_address("10.1.2.3")),
    "l.names": (F.LIST, ["sshd", "bash", "systemd"]), "u.unknown": (F.CHARBUF, None),
    "s.b64": (F.CHARBUF, "aGVsbG8="), "s.other": (F.CHARBUF, "Bash"),
}


def known(name):
    if name not in VALUES:
        return None
    type_, value = VALUES[name]
    return F.FieldDef(name, type_, "test", lambda ctx, arg, v=value: v), None


def check(expr):
    return compile_condition(parse(expr), known)(None)


@pytest.mark.parametrize("expr, expected", [
    ("s.name = Bash", True), ("s.name == Bash", True), ("s.name != Bash", False),
    ("s.name = bash", False), ("s.name icontains BAS", True), ("s.name contains as", True),
    ("s.name startswith Ba", True), ("s.name endswith sh", True),
    ("s.name in (zsh, Bash)", True), ("s.name in (zsh)", False),
    ("s.path glob '/etc/*/sshd_*'", True), ("s.path iglob '/ETC/*'", True),
    ("s.path pmatch (/etc/ssh, /tmp)", True), ("s.path pmatch (/etc/ss)", False),
    ("s.name regex '^B.s'", True), ("s.name bcontains 6173", True),
    ("s.name bstartswith 42", True),
    ("n.port = 22", True), ("n.port > 21 and n.port <= 22", True), ("n.port in (80, 22)", True),
    ("n.count >= 0x0a", True), ("n.count < 10", False),
    ("b.yes = true", True), ("b.yes = false", False),
    ("ip.addr = 10.1.2.3", True), ("ip.net = 10.0.0.0/8", True), ("ip.net = 192.168.0.0/16", False),
    ("ip.net != 192.168.0.0/16", True),
    ("l.names = bash", True), ("l.names in (nginx, sshd)", True),
    ("l.names intersects (x, systemd)", True), ("l.names intersects (x)", False),
    ("tolower(s.name) = bash", True), ("toupper(s.name) = BASH", True),
    ("len(s.name) = 4", True), ("b64(s.b64) = hello", True),
    ("basename(s.path) = sshd_config", True),
    ("s.name = val(s.other)", True), ("s.name != val(s.path)", True),
    ("s.name exists", True), ("not s.name = zsh and (n.port = 1 or n.port = 22)", True),
    # an unknown value compares false with everything, its negation included
    ("u.unknown = x", False), ("u.unknown != x", False), ("u.unknown exists", False),
    ("u.unknown in (x)", False), ("not u.unknown = x", True),
])
def test_operators(expr, expected):
    assert check(expr) is expected


@pytest.mark.parametrize("expr, message", [
    ("no.such = 1", "nonexistent field no.such"),
    ("n.port contains 2", "operator 'contains' does not apply to a PORT field"),
    ("n.port = abc", "'abc' is not a number"),
    ("b.yes = maybe", "'maybe' is not true or false"),
    ("some_macro", "undefined macro 'some_macro'"),
])
def test_compile_errors(expr, message):
    with pytest.raises(CompileError, match=message):
        compile_condition(parse(expr), known)
