"""Which of a capture's fd events the `fds` state machine (query/fds.py) must replay, and
which opens it need not see: those closed again with nothing in between that could
look at them, paired with their close here by a few sorts over the events' numbers.

Why a pair is exact: an fd in one process lifetime is looked at only by that lifetime's
events (and, for a fork's child, by the fork that fills its table). Cut each lifetime's
events at every one that is neither an open nor a close (fork, exec, exit, dup, socket,
connect, ...; a fork also cuts its child's): between two cuts, a run, nothing but opens
and closes happens. An open of a number the run has already closed, which the run
closes again (or which stays open, the run lasting to the capture's end), starts from
an empty slot and ends with nobody having seen it: its row follows from the two events
alone. Its close, and a close of a number the run has already closed, change nothing
else. The state machine sees every other event, in seq order, as before; a paired open
still counts for the fd ids (they number the fds in the order they were made)."""
from dataclasses import dataclass

import numpy as np

from scapula.query import schema as qs
from scapula.query.relations import arrow_reader

OPENS = ("open", "openat", "openat2", "creat")
EBADF = -9
# What an event is to the pairing: an open or close of its number, a cut, or the cut
# a fork makes in its child's lifetime (a row of the child's, not an event of it).
OPEN, CLOSE, CUT, FORKED = 0, 1, 2, 3


@dataclass
class Pairs:
    opens: np.ndarray     # seq of each paired open, ascending
    ends: np.ndarray      # seq of the close ending it; -1: open at the capture's end
    end_ns: np.ndarray    # that close's ts_ns
    replay: np.ndarray    # seq of each event the state machine must see, ascending

    def skipped(self, seqs: np.ndarray) -> np.ndarray:
        """How many paired opens come before each of `seqs`."""
        return np.searchsorted(self.opens, seqs)


def plan(con, capture: int, types, pair: bool = True) -> Pairs:
    """`types`: the event types the state machine handles. `pair=False` pairs nothing
    (every event but the no-ops is replayed): the reference the tests hold pairs to."""
    parts = [_pair(*cols, pair) for cols in _lifetimes(con, capture, types)]
    opens, ends, end_ns, replay = ([p[i] for p in parts] or [np.zeros(0, np.int64)]
                                   for i in range(4))
    del parts
    opens = np.concatenate(opens)
    order = np.argsort(opens)
    return Pairs(opens[order], np.concatenate(ends)[order], np.concatenate(end_ns)[order],
                 np.sort(np.concatenate(replay)))


def _lifetimes(con, capture: int, types):
    """The capture's events of `types` but the no-ops (failed opens, closes of a number
    that was not open), and the forks' cuts in their children, by process lifetime
    (-pid without one, as the state machine keys them) then seq: arrays of seq, life,
    number opened or closed, OPEN/CLOSE/CUT/FORKED and ts_ns, some whole lifetimes at
    a time. An event the pairing cannot judge (no lifetime, no time, a close of no
    number) is a cut: cuts are always replayed."""
    opens = ", ".join(f"'{t}'" for t in OPENS)   # our own names: safe to inline
    listed = ", ".join(f"'{t}'" for t in types)
    life = "coalesce(proc_id::BIGINT, -pid)"
    # A fork cuts every lifetime started with its child's pid: more than the state
    # machine's exact match on pid and time, and a cut too many only replays more.
    # Sorted a part of the lifetimes at a time: on 5M events (bounded), the sort of all
    # took the fds build's peak to 521 MB, of half 480.
    events = con.execute("SELECT count(*) FROM events WHERE capture = ?",
                         [capture]).fetchall()[0][0]
    parts = 1 + max(events - 1, 0) // PART_EVENTS
    for part in range(parts):
        yield from _whole_lifetimes(con.sql(f"""
        SELECT * FROM (
          SELECT seq, coalesce({life}, 0) AS life,
                 coalesce(CASE WHEN type = 'close' THEN fd ELSE result END, -1) AS num,
                 CASE WHEN {life} IS NULL OR ts_ns IS NULL THEN {CUT}
                      WHEN type IN ({opens}) AND result >= 0 THEN {OPEN}
                      WHEN type = 'close' AND fd IS NOT NULL THEN {CLOSE}
                      ELSE {CUT} END::TINYINT AS kind, coalesce(ts_ns, 0) AS ts
          FROM events WHERE capture = {int(capture)} AND type IN ({listed})
            AND seq IS NOT NULL   -- no place in seq order: never replayed
            AND NOT coalesce(type IN ({opens}) AND result < 0
                             OR type = 'close' AND result = {EBADF}, false)
          UNION ALL
          SELECT f.seq, p.proc_id::BIGINT, -1, {FORKED}::TINYINT, 0 FROM events f
            JOIN processes p ON p.capture = f.capture AND p.origin = 'fork'
             AND p.pid = {qs.arg("child_pid", "f")}
          WHERE f.capture = {int(capture)} AND f.type = 'procfork' AND f.seq IS NOT NULL)
        WHERE hash(life) % {parts} = {part}
        ORDER BY life, seq"""))


def _whole_lifetimes(rel):
    """A query's rows (by lifetime, then seq) as arrays, whole lifetimes at a time."""
    reader = arrow_reader(rel, PLAN_ROWS)
    held = None
    try:
        for batch in reader:
            if not batch.num_rows:
                continue
            cols = [c.to_numpy() for c in batch.columns]
            if held is not None:
                cols = [np.concatenate([h, c]) for h, c in zip(held, cols)]
            whole = np.searchsorted(cols[1], cols[1][-1])   # the last lifetime may go on
            held = [c[whole:] for c in cols]
            if whole:
                yield [c[:whole] for c in cols]
    finally:
        reader.close()   # DuckDB takes no other query while a result is open
    if held is not None:
        yield held


def _pair(seq, life, num, kind, ts, pair: bool):
    """Some whole lifetimes' rows (by lifetime, then seq): the paired opens' seqs, the
    seq and ts_ns of the close ending each (-1 and 0: none), and the seqs to replay."""
    paired, quiet = np.zeros(len(seq), bool), np.zeros(len(seq), bool)
    end = np.full(len(seq), -1)
    if pair:
        first = _after(life[1:] != life[:-1], True)   # a lifetime's first row
        run = np.cumsum((kind >= CUT) | first)   # each run, numbered
        starts = np.flatnonzero(first)
        # the last run of each lifetime (the run of its last row) lasts to the end
        last = run == np.repeat(run[np.r_[starts[1:], len(run)] - 1],
                                np.diff(np.r_[starts, len(run)]))
        touch = np.flatnonzero(kind < CUT)
        at = touch[np.lexsort((num[touch], run[touch]))]   # stable: seq order kept
        k, r, m = kind[at], run[at], num[at]
        same = _after((r[1:] == r[:-1]) & (m[1:] == m[:-1]), False)   # as the one before
        after_close = same & _after(k[:-1] == CLOSE, False)
        before_close = _before(same[1:] & (k[1:] == CLOSE), False)
        alone = ~_before(same[1:], False)   # the last of its number in its run
        opens = (k == OPEN) & after_close & (before_close | alone & last[at])
        paired[at[opens]] = True
        quiet[at[(k == CLOSE) & (after_close | same & _after(opens[:-1], False))]] = True
        closed = np.flatnonzero(opens & before_close)
        end[at[closed]] = at[closed + 1]
    opens = np.flatnonzero(paired)
    ends = end[opens]
    closed = ends >= 0
    return (seq[opens], np.where(closed, seq[ends], -1), np.where(closed, ts[ends], 0),
            seq[~(paired | quiet) & (kind != FORKED)])


def _after(a: np.ndarray, head: bool) -> np.ndarray:
    """`a` (a property of each element but the first) with `head` for the first."""
    return np.concatenate([[head], a])


def _before(a: np.ndarray, tail: bool) -> np.ndarray:
    """`a` (a property of each element but the last) with `tail` for the last."""
    return np.concatenate([a, [tail]])


PART_EVENTS = 3_000_000   # events (a quarter to a third fd events) to a part
PLAN_ROWS = 1 << 17   # rows paired at a time (~5 MB, and as much again while pairing)
