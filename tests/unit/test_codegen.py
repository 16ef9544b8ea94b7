"""What codegen.py makes of rules beyond their answers (test_condition.py and the
conformance tests hold those to the closures'): the event type settled, shared
sub-conditions kept once, or-ed checks folded, deep conditions still run, profiling."""
import re

from scapula.replay import fields as F
from scapula.replay.codegen import compile_rules
from scapula.replay.filter import parse

VALUES = {"s.name": (F.CHARBUF, "bash"), "s.path": (F.FSPATH, "/etc/shadow"),
          "n.port": (F.PORT, 22), "evt.type": (F.CHARBUF, "openat")}
READS = []


def known(name):
    if name not in VALUES:
        return None
    type_, value = VALUES[name]

    def extract(ctx, arg, name=name, value=value):
        READS.append(name)
        return value
    return F.FieldDef(name, type_, "test", extract), None


class Rule:
    def __init__(self, condition):
        # deeper than libsinsp's 100 levels: macros expanded make such trees
        self.condition = parse(condition, max_depth=1000)
        self.seconds, self.evaluations = 0.0, 0


class Ctx:
    def __init__(self):
        self.values = {}


def judged(conditions, etype="openat", profile=False):
    rules = [Rule(c) for c in conditions]
    judge = compile_rules(rules, etype, known, profile)
    READS.clear()
    hits = judge(Ctx())
    return [rules.index(r) for r in hits], judge, rules


def test_the_event_type_is_settled_when_the_function_is_made():
    hits, judge, _ = judged(["evt.type = openat and s.name = bash",
                             "evt.type in (execve, execveat) and s.name = bash",
                             "evt.type != openat or s.name = zsh"])
    assert hits == [0]
    assert "evt.type" not in READS
    assert judge.source.count("hits.append") == 2     # the execve rule is not there at all


def test_each_field_is_read_once_per_event():
    hits, _, _ = judged(["s.name = bash and s.path startswith /etc",
                         "s.name = bash and s.path = /etc/shadow",
                         "s.name != zsh and n.port = 22"])
    assert hits == [0, 1, 2]
    assert sorted(READS) == ["n.port", "s.name", "s.path"]


def test_a_sub_condition_several_rules_share_is_kept_in_a_local():
    shared = "(s.name = bash and n.port > 20)"
    _, judge, _ = judged([f"{shared} and s.path = /x", f"{shared} and s.path = /etc/shadow"])
    assert "m0 := " in judge.source


def test_or_ed_checks_of_one_field_are_folded():
    hits, judge, _ = judged(["s.path startswith /usr or s.path startswith /etc or s.name = x",
                             "s.name = zsh or s.name in (sh, bash)"])
    assert hits == [0, 1]
    assert judge.source.count("startswith") == 1
    assert "k" in judge.source and " in k" in judge.source


def test_a_condition_too_deep_for_python_source_still_runs():
    deep = "s.name = bash"
    for _ in range(60):
        deep = f"not ({deep} and n.port = 1)"   # about 180 parentheses deep in Python
    hits, judge, _ = judged([deep, "not " + deep])
    assert hits == [0]          # each level: not (true and false)
    # both rules run as condition.py's closures
    tests = [line.strip() for line in judge.source.splitlines() if line.strip().startswith("if")]
    assert len(tests) == 2 and all(re.fullmatch(r"if k\d+\(ctx\):", t) for t in tests)


def test_profiling_counts_evaluations_and_time():
    hits, judge, rules = judged(["s.name = bash", "s.name = zsh"], profile=True)
    assert hits == [0]
    assert [r.evaluations for r in rules] == [1, 1]
    assert all(r.seconds >= 0 for r in rules)
