"""Each event's process lifetime and exe, computed while the batches stream, before the
INSERT: the rows of one flush window (a contiguous seq range) at a time.

The window's process facts go to `Lifetimes` first, in seq order: the procfork/
procexec/procexit rows (few, as dicts) and the first sight of every pid not met in an
earlier window (found vectorised: its first row by seq, the least ts of its rows).
Then every row of every batch gets the latest image (snapshot, first sight, fork or
exec) of its pid that starts at or before it: an as-of lookup, one numpy searchsorted
of (pid, seq) keys over the sorted image keys (pyarrow has no searchsorted). A row
before any image of its pid keeps NULL; so does one of a snapshot's pid from before
that process's start time (an earlier process with the pid, before the snapshot).

Why seq and not time: an image starts at the event that made it, and a window's rows
all come after every image of earlier windows in seq, so the images known when a
window is done are all the images its rows can have; in time, a later chunk's fork
could start before a row already passed on (the recorder holds events back a while to
sort them, not for ever). Within a chunk seq is time order, so on the same facts the
two agree. And (pid, seq) packs into one uint64 key, so the lookup is one
searchsorted: pid (u32) above, below the seq counted from the window's start, where
every image of an earlier window counts as 0: of those only a pid's latest matters
(the stable sort keeps images in the order they were made), the others are dropped,
so what is kept is at most an image per pid plus the window's own."""
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scapula.errors import InputError
from scapula.query import batches
from scapula.query import schema as qs
from scapula.query.processes import Lifetimes

# The stream the INSERT reads: the staged columns and each row's image.
SCHEMA = qs.STAGE_ARROW.append(pa.field("proc_id", pa.uint64())).append(
    pa.field("exe", qs.TEXT_DICT))   # indices into the distinct exes

TABLE_PIDS = 1 << 22     # Linux's PID_MAX_LIMIT: pids met are looked up in a table
HOLD_ROWS = 4096         # a type with fewer rows waiting is held to a later window


class Images:
    """Feeds `lives` window by window and gives each window's batches their images.
    Holds per process, never per event: the images' keys and a table of pids met."""

    def __init__(self, lives: Lifetimes, endpoints=None):
        self.lives = lives
        self.endpoints = endpoints if endpoints is not None else batches.Endpoints()
        self.held: dict = {}   # type id -> [(group, seq, proc_id, exe)], rows not yet built
        self.met = np.zeros(1 << 16, np.bool_)   # pid -> has had a row
        self.met_above: set[int] = set()         # pids met from TABLE_PIDS on (odd)
        self.forks: dict[int, int] = {}          # pid not met -> ts of its first fork
        # the images that can still apply, sorted by key (this window's): pid, seq,
        # proc_id, since_ns (_NEVER but for a snapshot's), exe
        self.keys = np.zeros(0, np.uint64)
        self.pids = np.zeros(0, np.uint64)
        self.seqs = np.zeros(0, np.int64)
        self.procs = np.zeros(0, np.uint64)
        self.sinces = np.zeros(0, np.int64)
        self.exes = np.zeros(0, np.int32)   # each image's exe: its place in exe_names, -1 none
        self.exe_names = _Names()
        self.timed = False

    def window(self, parts, final: bool = False) -> list[pa.RecordBatch]:
        """One flush window's (type id, group, seq) parts -> batches in SCHEMA. A type
        with fewer than HOLD_ROWS rows waiting is held, not built: building a batch
        costs about a millisecond however few its rows, and rare types made most of the
        batches. A held part's rows get their images here, in their own window, from a
        batch of their header columns only; they are built with that type's next rows
        once there are enough (`final`: the last window, everything is built)."""
        built, held, life_rows = [], [], []
        for tid, g, seq in parts:
            if g.etype.name in batches.LIFECYCLE:
                life_rows += batches.lifecycle_rows(g, seq)
            if tid in self.held or g.n < HOLD_ROWS:
                held.append((tid, g, seq, batches.header_batch(g, seq)))
            else:
                built.append(batches.group_batch(g, seq, self.endpoints))
        g = parts = None   # the groups built need not wait for the images
        kept = built + [h[3] for h in held]
        out = self._images(kept, life_rows) if kept else []
        for (tid, g, seq, _head), (proc, exe) in zip(held, out[len(built):]):
            self.held.setdefault(tid, []).append((g, seq, proc, exe))
        done = [pa.RecordBatch.from_arrays(batch.columns + list(images), schema=SCHEMA)
                for batch, images in zip(built, out)]
        for tid in list(self.held) if final else {h[0] for h in held}:
            if final or self._held_rows(tid) >= HOLD_ROWS:
                done += self._held_batch(tid)
        return done

    def _held_rows(self, tid) -> int:
        return sum(h[0].n for h in self.held.get(tid, ()))

    def _held_batch(self, tid) -> list[pa.RecordBatch]:
        """The rows of `tid` held over earlier windows, as one batch with their images."""
        got = self.held.pop(tid, None)
        if not got:
            return []
        g, seq = batches.merged([h[0] for h in got], [h[1] for h in got])
        batch = batches.group_batch(g, seq, self.endpoints)
        # each window's exes index that window's images: decoded, then one dictionary
        exes = pa.concat_arrays([h[3].dictionary_decode() for h in got])
        images = [pa.concat_arrays([h[2] for h in got]), pc.dictionary_encode(exes)]
        return [pa.RecordBatch.from_arrays(batch.columns + images, schema=SCHEMA)]

    def _images(self, kept: list, life_rows: list) -> list[tuple]:
        """The window's facts into the lifetimes; then (proc_id, exe) of every row of
        each batch in `kept` (whole batches, or header batches of held parts)."""
        life_rows.sort(key=lambda r: r["seq"])
        for r in life_rows:   # (a child pid no row can have is left out)
            child = r.get("child_pid")
            if r["type"] == "procfork" and child is not None and child != r["pid"] \
                    and 0 <= child < 1 << 32:
                self.forks.setdefault(child, r["ts"])
        pids = [batches.to_numpy(batch.column("pid")) for batch in kept]
        seqs = [batches.to_numpy(batch.column("seq")) for batch in kept]
        times = [batches.to_numpy(batch.column("ts_ns")) for batch in kept]
        pid, seq = np.concatenate(pids), np.concatenate(seqs)
        start = int(seq.min())
        where = f"events {start} to {int(seq.max())}"
        if pid.min() < 0 or pid.max() >> 32:
            raise InputError(f"{where}: a pid out of range ({pid.min()} .. {pid.max()})")
        if min(t.min() for t in times) < 0:   # read as signed: 2^63 ns on, the year 2262
            raise InputError(f"{where}: a time out of range (after the year 2262)")
        steps = self._first_sights(kept, pid, seq, times, start)
        steps += [(r["seq"], 1, r) for r in life_rows]
        steps.sort(key=lambda s: s[:2])   # a pid's first sight before its own row's event
        lives = self.lives
        for _seq, kind, what in steps:
            if kind:
                lives.event(what)
            else:
                lives.seen(*what)
        self._add_images(start)
        return [self._lookup(pid.astype(np.uint64), seq - start, ts)
                for pid, seq, ts in zip(pids, seqs, times)]

    def _first_sights(self, kept, pid, seq, times, start: int) -> list:
        """(seq, 0, seen() arguments) of each pid met first in this window: the facts
        of its first row by seq, and the least ts of its rows."""
        new = np.flatnonzero(~self._met(pid))
        if not len(new):
            return []
        # the new pids' rows by pid, then seq: each pid's first row heads its run (work
        # on the new rows only; after the first window they are few)
        order = new[np.lexsort((seq[new], pid[new]))]
        by_pid = pid[order]
        starts = np.flatnonzero(np.r_[True, by_pid[1:] != by_pid[:-1]])
        first_seq = seq[order[starts]]
        ts = np.concatenate(times)
        least_ts = np.minimum.reduceat(ts[order], starts).tolist()
        self._meet(by_pid[starts])
        cols = _rows_of(kept, order[starts], ("ppid", "comm", "uid", "gid"))
        facts = zip(first_seq.tolist(), by_pid[starts].tolist(), least_ts, *cols)
        forks = self.forks
        out = [(s, 0, (s, p, ts, ppid, batches.comm_bytes(comm), uid, gid,
                       forks.get(p)))
               for s, p, ts, ppid, comm, uid, gid in facts]
        if forks:   # a met pid's forks matter no more
            met = self._met(np.fromiter(forks, np.int64, len(forks)))
            self.forks = {p: t for (p, t), m in zip(forks.items(), met.tolist()) if not m}
        return out

    def _met(self, pid) -> np.ndarray:
        """Whether each pid had a row in an earlier window."""
        if not len(pid) or pid.max() < len(self.met):
            return self.met[pid]
        low = pid < len(self.met)
        out = np.zeros(len(pid), np.bool_)
        out[low] = self.met[pid[low]]
        out[~low] = np.isin(pid[~low], np.fromiter(self.met_above, np.int64))
        return out

    def _meet(self, pids) -> None:
        low = pids < TABLE_PIDS
        small = pids[low]
        top = int(small.max()) + 1 if len(small) else 0
        if top > len(self.met):   # the table covers every pid below TABLE_PIDS met
            grown = np.zeros(min(max(top, 2 * len(self.met)), TABLE_PIDS), np.bool_)
            grown[:len(self.met)] = self.met
            self.met = grown
        self.met[small] = True
        self.met_above.update(pids[~low].tolist())

    def _add_images(self, start: int) -> None:
        """The lookup for the window starting at seq `start`: key = pid << 32 | (seq -
        start + 1), an image made before the window 0."""
        new, self.lives.images = self.lives.images, []
        new = [r for r in new if 0 <= r[1] < 1 << 32]   # others match no row's pid
        pids, seqs, procs, sinces = self.pids, self.seqs, self.procs, self.sinces
        exes = self.exes
        if new:
            pids = np.concatenate([pids, np.array([r[1] for r in new], np.uint64)])
            seqs = np.concatenate([seqs, np.array([r[2] for r in new], np.int64)])
            procs = np.concatenate([procs, np.array([r[0] for r in new], np.uint64)])
            sinces = np.concatenate([sinces, np.array(
                [_NEVER if r[4] is None else r[4] for r in new], np.int64)])
            exes = np.concatenate([exes, np.array(
                [self.exe_names.place(batches.text(r[3])) for r in new], np.int32)])
        since = np.maximum(seqs - (start - 1), 0).astype(np.uint64)
        keys = (pids << np.uint64(32)) | since
        order = np.argsort(keys, kind="stable")   # of equal keys the one made last wins
        keys = keys[order]
        keep = np.ones(len(keys), np.bool_)       # and the ones before it go
        keep[:-1] = keys[1:] != keys[:-1]
        keep |= since[order] != 0
        order = order[keep]
        self.keys = keys[keep]
        self.pids, self.seqs, self.procs = pids[order], seqs[order], procs[order]
        self.sinces = sinces[order]
        self.exes = exes[order]
        self.timed = bool((self.sinces != _NEVER).any())

    def _lookup(self, pid, seq, ts) -> tuple:
        """(proc_id, exe) arrays of rows by pid, seq from the window's start, ts."""
        n = len(pid)
        if not len(self.keys):
            return batches.nulls(n, pa.uint64()), batches.nulls(n, qs.TEXT_DICT)
        at = np.searchsorted(self.keys, (pid << np.uint64(32)) | (seq + 1).astype(np.uint64),
                             side="right") - 1
        np.maximum(at, 0, out=at)
        none = (self.keys[at] >> np.uint64(32)) != pid   # no image of its pid yet
        if self.timed:
            none |= ts < self.sinces[at]
        exe = self.exes[at]
        none_exe = none | (exe < 0)
        mask = none if none.any() else None
        return (batches.from_numpy(self.procs[at], pa.uint64(), mask),
                self.exe_names.column(exe, none_exe))


def _rows_of(kept: list, rows: np.ndarray, names: tuple) -> list[list]:
    """The values of columns `names` at rows `rows` of the batches end to end, a list
    per column, taken batch by batch (a take over a chunked array joined all its
    chunks first: a fifth of a second over a 5M-event load)."""
    ends = np.cumsum([b.num_rows for b in kept])
    where = np.searchsorted(ends, rows, side="right")
    out = [[None] * len(rows) for _ in names]
    for b in np.flatnonzero(np.bincount(where)).tolist():   # (np.unique imports numpy.ma)
        pick = np.flatnonzero(where == b)
        offsets = rows[pick] - (ends[b - 1] if b else 0)
        got = kept[b].select(list(names)).take(batches.from_numpy(offsets.astype(np.int64),
                                                                  pa.int64()))
        for col, values in zip(out, got.columns):
            for i, v in zip(pick.tolist(), values.to_pylist()):
                col[i] = v
    return out


_NEVER = np.iinfo(np.int64).min   # since_ns of images that hold from their seq on


class _Names:
    """The distinct exes of the images, each stored once: a capture's thousands of
    images run a few dozen programs."""

    WHOLE = 1024   # up to this many, a batch's dictionary is all of them

    def __init__(self):
        self._places: dict[str, int] = {}
        self._names: list[str] = []
        self._array = pa.array([], pa.string())

    def place(self, name: str | None) -> int:
        if name is None:
            return -1
        got = self._places.get(name)
        if got is None:
            got = self._places[name] = len(self._names)
            self._names.append(name)
        return got

    def column(self, places: np.ndarray, null: np.ndarray) -> pa.DictionaryArray:
        """The exes at `places` (null where `null`), dictionary-encoded. All the names
        are the dictionary while they are few (compacting it per batch cost ~30 ns a
        row, most of it per call); past WHOLE, the names used only, since each
        batch's dictionary is written out whole to Parquet."""
        if len(self._array) != len(self._names):
            self._array = pa.array(self._names, pa.string())
        places = np.where(null, 0, places).astype(np.int32, copy=False)   # none: -1
        if len(self._names) > self.WHOLE:
            return batches.compact(places, null, self._array)
        return pa.DictionaryArray.from_arrays(
            batches.from_numpy(places, pa.int32(), null if null.any() else None), self._array)
