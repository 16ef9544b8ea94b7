"""Replaying captures through the rule engine: files merged in time order, each with
its own state (they may come from different hosts), every event judged once."""
from dataclasses import dataclass, field
import heapq
import time

from scapula.errors import InputError, UsageError
from scapula.replay.codegen import compile_predicate
from scapula.replay.condition import CompileError
from scapula.replay.engine import Engine
from scapula.replay.event import Event
from scapula.replay.fields import Context
from scapula.replay.filter import FilterSyntaxError, parse
from scapula.replay.reader import Capture
from scapula.replay.state import State
from scapula.schemas import syscalls


@dataclass
class ReplayStats:
    events: int = 0
    judged: int = 0            # events that passed --filter
    alerts: dict = field(default_factory=dict)   # rule -> count
    seconds: float = 0.0
    warnings: list = field(default_factory=list)


def event_filter(expr: str | None):
    """--filter: the condition language, over the same fields as rules."""
    if not expr:
        return None
    try:
        return compile_predicate(parse(expr, max_depth=1000))
    except FilterSyntaxError as e:
        raise UsageError(f"--filter: {e}") from None
    except CompileError as e:
        raise UsageError(f"--filter: {e.message}") from None


# What replay does with an event of a type: pass over it when the state already knows
# its process (no rule can match it and the state does not follow it), take it into
# the state only, or also judge it.
QUIET, STATE, JUDGE = 0, 1, 2


class _Source:
    """One capture being replayed: its own state, and per event type (by this file's
    type ids) what to do with its events."""

    def __init__(self, path: str, plan):
        self.cap = Capture(path)
        self.state = State(self.cap.processes, self.cap.fds)
        self.plan = plan
        self.plans: dict = {}       # type id -> plan, or a dict syscall nr -> plan

    def prepare(self, g) -> tuple:
        """What the walk needs of a chunk's group: the plan of each row, the times,
        and a counter of the rows taken."""
        etype = g.etype
        how = self.plans.get(etype.id)
        if how is None:
            how = self.plans[etype.id] = {} if etype.category == "generic" else \
                self.plan(etype.name)
        if how.__class__ is dict:
            hows = [how[nr] if nr in how else how.setdefault(nr, self.plan(syscalls.name(nr)))
                    for nr in g.params["nr"]]
        else:
            hows = [how] * g.n
        return g, hows, g.cols["ts"], iter(range(g.n)).__next__

    def rows(self, until, k: int = 0):
        """(ts, k, this source, group, index, plan) of every event up to `until` in time
        order, QUIET rows included; `k` orders sources whose events share a time."""
        for groups, order in self.cap.chunks(None, until):
            prepared = {t: self.prepare(g) for t, g in groups.items()}
            for t in order:
                p = prepared.get(t)
                if p is None:
                    continue
                g, hows, tss, nxt = p
                i = nxt()
                ts = tss[i]
                if until is not None and ts > until:
                    continue
                yield ts, k, self, g, i, hows[i]


def _planner(engine: Engine | None, keep):
    wanted = engine.types() if engine is not None else set()

    def plan(name):
        if keep is not None or wanted is None or name in wanted:
            return JUDGE if (engine is not None or keep is not None) else STATE
        return STATE if State.follows(name) else QUIET
    return plan


class _Replay:
    def __init__(self, engine, on_alert, keep, stats):
        self.engine, self.on_alert, self.keep, self.stats = engine, on_alert, keep, stats

    def take(self, src: _Source, g, i: int, num: int, how: int) -> None:
        """An event the state follows, or that may be judged."""
        ev = Event(g, i)
        src.state.update(ev)
        if how != JUDGE:
            return
        ctx = Context(ev, src.state, src.cap.header, num)
        keep = self.keep
        if keep is not None and not keep(ctx):
            return
        self.stats.judged += 1
        if self.engine is not None:
            for alert in self.engine.judge(ctx):
                alerts = self.stats.alerts
                alerts[alert.rule] = alerts.get(alert.rule, 0) + 1
                self.on_alert(alert, ctx)

    def events(self, sources: list, since, until, progress) -> tuple[int, int]:
        """Every row of the captures up to `until`, merged in time order; the quiet
        ones only counted (most rows are quiet). Rows before `since` build the state
        (an fd opened before the window keeps its name in it) but are not judged.
        Returns (rows, rows in the window)."""
        streams = [s.rows(until, k) for k, s in enumerate(sources)]
        num = earlier = 0
        before = since is not None
        for ts, _k, src, g, i, how in streams[0] if len(streams) == 1 else heapq.merge(*streams):
            num += 1
            if progress is not None and num % 100_000 == 0:
                progress(num, ts)
            if before:
                if ts < since:
                    earlier += 1
                    how = STATE if how == JUDGE else how
                else:
                    before = False
            if how == QUIET:
                cols = g.cols
                if src.state.knows(cols["pid"][i], cols["tid"][i], cols["comm"][i]):
                    continue
            self.take(src, g, i, num, how)
        return num, num - earlier


def replay(paths: list[str], engine: Engine | None, on_alert, *, since=None, until=None,
           keep=None, progress=None) -> ReplayStats:
    """Feed every event of `paths`, in time order, to the state and the engine;
    `on_alert(alert)` for each alert. Events between `since` and `until` (ns, both
    included) are judged, and `keep(ctx)` (from --filter) narrows them further; every
    event up to `until` updates the state. `stats.events` counts the window's."""
    stats = ReplayStats()
    plan = _planner(engine, keep)
    sources = [_Source(p, plan) for p in paths]
    run = _Replay(engine, on_alert, keep, stats)
    started = time.perf_counter()
    try:
        _read, stats.events = run.events(sources, since, until, progress)
        if keep is None:
            stats.judged = stats.events   # without --filter every event is judged (most by no rule)
    finally:
        for s in sources:   # (each warning names its file already)
            stats.warnings += s.cap.report_warnings()
            s.cap.close()
    stats.seconds = time.perf_counter() - started
    return stats


def check_paths(paths) -> None:
    if not paths:
        raise UsageError("replay: give at least one capture file")
    for p in paths:
        try:
            open(p, "rb").close()
        except OSError as e:
            raise InputError(f"{p}: cannot open: {e.strerror}") from None
