"""Conditions compiled to predicates: every operator, types, unknown values, and the
event types a condition can match. Each case runs through both compilers: the
closures (condition.py) and the generated source the engine runs (codegen.py)."""
import pytest

from scapula.replay import fields as F
from scapula.replay.codegen import compile_predicate
from scapula.replay.condition import CompileError, compile_condition
from scapula.replay.filter import parse

VALUES = {
    "s.name": (F.CHARBUF, "Bash"), "s.path": (F.FSPATH, "/etc/ssh/sshd_config"),
    "n.port": (F.PORT, 22), "n.count": (F.UINT64, 10), "b.yes": (F.BOOL, True),
    "ip.addr": (F.IPADDR, "10.1.2.3"), "ip.net": (F.IPNET, __import__("ipaddress")
                                                   .ip_address("10.1.2.3")),
    "l.names": (F.LIST, ["sshd", "bash", "systemd"]), "u.unknown": (F.CHARBUF, None),
    "s.b64": (F.CHARBUF, "aGVsbG8="), "s.other": (F.CHARBUF, "Bash"),
    "b.buf": (F.BYTEBUF, b"Bash\0"),
}


class _Ctx:
    """What compiled conditions need of a context when the fields are mocks."""
    def __init__(self):
        self.values = {}


def known(name):
    if name not in VALUES:
        return None
    type_, value = VALUES[name]
    return F.FieldDef(name, type_, "test", lambda ctx, arg, v=value: v), None


COMPILERS = pytest.mark.parametrize("compile_", [compile_condition, compile_predicate],
                                    ids=["closures", "generated"])


def check(expr, compile_=compile_condition):
    return compile_(parse(expr), known)(_Ctx())


@pytest.mark.parametrize("expr, expected", [
    ("s.name = Bash", True), ("s.name == Bash", True), ("s.name != Bash", False),
    ("s.name = bash", False), ("s.name icontains BAS", True), ("s.name contains as", True),
    ("s.name startswith Ba", True), ("s.name endswith sh", True),
    ("s.name in (zsh, Bash)", True), ("s.name in (zsh)", False),
    ("s.path glob '/etc/*/sshd_*'", True), ("s.path iglob '/ETC/*'", True),
    ("s.path pmatch (/etc/ssh, /tmp)", True), ("s.path pmatch (/etc/ss)", False),
    ("s.name regex '^B.s'", True), ("b.buf bcontains 617368", True),
    ("b.buf bstartswith 42", True), ("b.buf bcontains 7a", False),
    ("b.buf contains as", True), ("b.buf = 'Bash\\x00'", True),
    ("n.port = 22", True), ("n.port > 21 and n.port <= 22", True), ("n.port in (80, 22)", True),
    ("n.count >= 0x0a", True), ("n.count < 10", False),
    ("b.yes = true", True), ("b.yes = false", False),
    ("ip.addr = 10.1.2.3", True), ("ip.net = 10.0.0.0/8", True), ("ip.net = 192.168.0.0/16", False),
    ("ip.net != 192.168.0.0/16", True),
    ("l.names in (nginx, sshd)", True),
    ("l.names intersects (x, systemd)", True), ("l.names intersects (x)", False),
    ("tolower(s.name) = bash", True), ("toupper(s.name) = BASH", True),
    ("len(s.name) = 4", True), ("b64(s.b64) = hello", True),
    ("basename(s.path) = sshd_config", True),
    ("s.name = val(s.other)", True), ("s.name != val(s.path)", True),
    ("s.name exists", True), ("not s.name = zsh and (n.port = 1 or n.port = 22)", True),
    # an unknown value compares false with everything, its negation included
    ("u.unknown = x", False), ("u.unknown != x", False), ("u.unknown exists", False),
    ("u.unknown in (x)", False), ("not u.unknown = x", True),
    # operator modifiers: sugar for an `or` (anyof, oneof) or an `and` (allof)
    ("s.name startswith anyof (x, Ba)", True), ("s.name == oneof (x, y)", False),
    ("s.name endswith allof (sh, ash)", True), ("s.name endswith allof (sh, x)", False),
    ("s.name != allof (x, y)", True), ("s.name == anyof ()", False),
    ("ip.net == anyof (192.168.0.0/16, 10.0.0.0/8)", True), ("ip.net in (10.0.0.0/8)", True),
    # the multi-value transformers
    ('join("-", (s.name, "x")) = Bash-x', True), ('concat(s.name, n.port) = Bash22', True),
    ('getopt(("-n", "-t", "v"), "nt:")[t] = v', True),
    ('getopt(("-n", "-t", "v"), "nt:") intersects (n)', True),
    ("len(l.names) = 3", True), ('b64("aGVsbG8") = hello', True), ('b64("a") = x', False),
])
@COMPILERS
def test_operators(expr, expected, compile_):
    assert check(expr, compile_) is expected


@pytest.mark.parametrize("expr, message", [
    ("no.such = 1", "nonexistent field no.such"),
    ("n.port contains 2", "operator 'contains' does not apply to a PORT field"),
    ("n.port = abc", "'abc' is not a number"),
    ("b.yes = maybe", "'maybe' is not true or false"),
    ("some_macro", "undefined macro 'some_macro'"),
    # libsinsp's type rules: bytes operators on buffers only, lists take set operators
    ("s.name bcontains 6173", "operator 'bcontains' does not apply to a CHARBUF field"),
    ("b.buf bcontains 617", "'617' is not an even number of hex digits"),
    ("l.names = bash", "operator '=' does not apply to a LIST field"),
    ("ip.addr contains 10", "operator 'contains' does not apply to a IPADDR field"),
    ("b.yes > 1", "operator '>' does not apply to a BOOL field"),
    ("ip.net in (10.0.0.0/33)", "not a network"),
    ("s.name = 'a\\x00b'", "cannot hold a NUL byte"),
    ("toupper(n.port) = 1", "field type 'PORT' is not supported by 'toupper' transformer"),
    ("toupper(s.name)[1] = X", "transformer 'toupper' does not support field arguments"),
    ("s.name = val(n.port)", "cannot compare a CHARBUF field with a PORT one"),
])
@COMPILERS
def test_compile_errors(expr, message, compile_):
    with pytest.raises(CompileError, match=message):
        compile_(parse(expr), known)
