"""User-space throughput of the recorder: events/s decoded and written on one core, the storm rate it sustains without drops, bytes per event.

1. Real ring records are captured once (a large ring drained without decoding, so
   nothing is lost) from two workloads: an open/close storm and the demo's shell
   script run in a loop. They are then fed, several times and interleaved, through
   - scapula: capture/decoder.py to tuples, Probe.ready()'s sort and path
     resolution, CaptureWriter.chunk (columns, msgpack, zstd) to a temp file;
   - baseline: one dict per event (the shape a per-event callback hands out),
     then the dicts msgpack-packed and zstd-compressed per chunk to a temp file.
   Rates are events per second of CPU time of this one process (it is single
   threaded), so other load on the machine does not count against it.
2. `scapula record` (the CLI, default syscalls, 8M ring) runs the storm at rising
   rates; the highest rate with zero drops is what the recorder keeps up with.
3. Bytes per event in the written chunks, for each workload.

Run as root: `make bench-consumer` or `.venv/bin/python bench/consumer.py`.
"""
import argparse
import mmap
import os
from pathlib import Path
import re
import statistics
import struct
import subprocess
import sys
import time

import msgpack
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))
from syscall_overhead import SCAPULA, cpu_rate, profile_top, workdir  # noqa: E402

from scapula.capture import snapshot  # noqa: E402
from scapula.capture.decoder import Decoder, RING_HEADER, row_columns  # noqa: E402
from scapula.capture.paths import PathResolver  # noqa: E402
from scapula.capture.program import Program, ProgramConfig  # noqa: E402
from scapula.capture.recorder import CHUNK_EVENTS  # noqa: E402
from scapula.capture.ringbuf import RingReader  # noqa: E402
from scapula.capture.writer import CaptureWriter, ZSTD_LEVEL, open_output  # noqa: E402
from scapula.demo import WORKLOAD  # noqa: E402
from scapula.schemas import events as schema  # noqa: E402


def capture_records(argv: list[str], cwd: Path) -> tuple[list, list, list, int]:
    """Runs `argv` under scapula's program and keeps the raw ring batches."""
    config = ProgramConfig(syscalls=schema.DEFAULT_SYSCALLS, buffer_size=256 << 20,
                           self_tgid=os.getpid())
    with Program(config) as prog:
        processes, fds = snapshot.take(prog.boot_ns)
        ring = RingReader(prog.ring_fd, config.buffer_size)
        batches = []
        child = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL)
        done_at = None
        while done_at is None or time.monotonic() - done_at < 0.3:
            ring.wait(0.05)
            while True:
                blob, offsets = ring.drain()
                if not offsets:
                    break
                batches.append((blob, offsets))
            if done_at is None and child.poll() is not None:
                done_at = time.monotonic()
        dropped = sum(prog.counters("drops"))
        ring.close()
    return batches, processes, fds, dropped


class ReplayRing(RingReader):
    """A RingReader over an anonymous mapping laid out like the kernel's ring, holding
    captured records; each `release()` commits the next batch as the kernel did, so
    the reader's own walk over the headers is part of what is timed."""

    def __init__(self, batches, per_commit: int = 256):
        total = sum(len(b) for b, _ in batches)
        size = 1 << max(12, (total - 1).bit_length())
        page = mmap.PAGESIZE
        self._page, self._mask = page, size - 1
        self._cons = mmap.mmap(-1, page)
        self._prod = mmap.mmap(-1, page + 2 * size)
        pos = 0
        for blob, _ in batches:
            self._prod[page + pos:page + pos + len(blob)] = blob
            pos += len(blob)
        # Captured drains are small (the capture loop did nothing else); a busy
        # recorder finds more waiting at each drain, so they are committed in groups.
        self._sizes, nbytes, nrec = [], 0, 0
        for blob, offsets in batches:
            nbytes, nrec = nbytes + len(blob), nrec + len(offsets)
            if nrec >= per_commit:
                self._sizes.append(nbytes)
                nbytes = nrec = 0
        if nbytes:
            self._sizes.append(nbytes)
        self._committed = 0

    def batches(self):
        for n in self._sizes:
            self._committed += n
            struct.pack_into("<Q", self._prod, 0, self._committed)
            yield

    def read_all(self, decode, out: list):
        """Per commit, read as the recorder's probe does (until empty); yields after each."""
        for _ in self.batches():
            while self.read(decode, out):
                pass
            yield

    def close(self) -> None:
        self._cons.close()
        self._prod.close()


PER_COMMIT = 256


def run_scapula(batches, processes, fds, out: Path, keep=None) -> tuple[int, int]:
    """The recorder's path from the ring to a file; returns (events, chunk bytes)."""
    ring = ReplayRing(batches, PER_COMMIT)
    decoder, resolver = Decoder(), PathResolver(processes, fds)
    writer = CaptureWriter(open_output(str(out)), str(out))
    writer.header({"host": "bench"}, processes, fds)
    start = writer.offset
    pending = []

    def flush():
        pending.sort(key=lambda r: r[0])
        rows = resolver.apply(pending)
        if keep is not None:
            rows = [r for r in rows if r[4] in keep]
        for i in range(0, len(rows), CHUNK_EVENTS):
            writer.chunk(rows[i:i + CHUNK_EVENTS])
        pending.clear()

    for _ in ring.read_all(decoder.decode, pending):
        if len(pending) >= CHUNK_EVENTS:
            flush()
    flush()
    ring.close()
    chunk_bytes = writer.offset - start
    writer.close({})
    return writer.events, chunk_bytes


class DictDecoder:
    """The baseline: a dict per event, as a per-event callback builds it."""

    def __init__(self):
        self.layouts = {}
        for e in schema.EVENTS:
            fixed = struct.Struct(e.kernel_format)
            names = schema.HEADER_FIELDS + tuple(p.name for p in e.scalars)
            self.layouts[e.id] = (fixed, names, [p.name for p in e.variables])
        self.type_at = struct.calcsize("<QQqIIIII")

    def on_event(self, blob: bytes, off: int) -> dict | None:
        (t,) = struct.unpack_from("<H", blob, off + self.type_at)
        layout = self.layouts.get(t)
        if layout is None:
            return None
        fixed, names, variables = layout
        ev = dict(zip(names, fixed.unpack_from(blob, off)))
        pos = off + fixed.size
        for name in variables:
            (n,) = struct.unpack_from("<H", blob, pos)
            if n == schema.VAR_ABSENT:
                ev[name] = None
                pos += 2
            else:
                ev[name] = blob[pos + 2:pos + 2 + n]
                pos += 2 + n
        return ev


def run_baseline(batches, out: Path) -> tuple[int, int]:
    """The same ring read, then a dict per event, msgpack and zstd per chunk."""
    ring = ReplayRing(batches, PER_COMMIT)
    dec = DictDecoder()
    zc = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    pack = msgpack.Packer(use_bin_type=True).pack
    events = size = 0
    pending = []
    with open(out, "wb") as f:
        def flush():
            nonlocal size
            data = zc.compress(pack(pending))
            f.write(data)
            size += len(data)
            pending.clear()

        def decode_dicts(mem, offsets, out):
            for off in offsets:
                ev = dec.on_event(mem, off + RING_HEADER)
                if ev is not None:
                    out.append(ev)

        for _ in ring.read_all(decode_dicts, pending):
            if len(pending) >= CHUNK_EVENTS:
                events += len(pending)
                flush()
        if pending:
            events += len(pending)
            flush()
    ring.close()
    return events, size


def tree_of(batches, root_pid: int) -> set[int]:
    """The pids of root_pid's process tree, from the fork events in the batches."""
    rows = []
    dec = Decoder()
    for blob, offsets in batches:
        dec.decode(blob, offsets, rows)
    rows.sort(key=lambda r: r[0])
    fork_id = schema.BY_NAME["procfork"].id
    cols = row_columns(schema.BY_NAME["procfork"])
    child_at = cols.index("child_pid")
    tree = {root_pid}
    for r in rows:
        if r[8] == fork_id and r[4] in tree:
            tree.add(r[child_at])
    return tree


def storm_rates(exe: Path, target: Path, tmp: Path, rates: list[int], seconds: float,
                buffer_size: str) -> list[dict]:
    out = []
    for rate in rates:
        path = tmp / "storm.scapula"
        proc = subprocess.run([str(SCAPULA), "record", "-w", str(path), "--buffer-size", buffer_size,
                               "--", str(exe), "storm", str(rate), str(seconds), str(target)],
                              capture_output=True, text=True, timeout=300)
        m = re.search(r"recorded (\d+) events in ([\d.]+)s .*dropped (\d+)", proc.stderr)
        got = re.search(r"storm_events_per_s (\d+)", proc.stdout)
        if not m or not got:
            sys.exit(f"bench: scapula record failed:\n{proc.stderr}")
        row = {"target": rate, "reached": int(got[1]), "events": int(m[1]), "dropped": int(m[3])}
        out.append(row)
        print(f"  storm target {rate or 'max':>8} ev/s reached {row['reached']:>8} ev/s: "
              f"recorded {row['events']:>8}, dropped {row['dropped']}", flush=True)
    return out


def main() -> None:
    global PER_COMMIT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--storm-seconds", type=float, default=1.0,
                    help="length of the captured storm fed to the decoder")
    ap.add_argument("--shell-loops", type=int, default=40)
    ap.add_argument("--rates", default="50000,100000,150000,200000,250000,300000,400000,0",
                    help="storm rates for `scapula record`, events/s (0: as fast as it goes)")
    ap.add_argument("--rate-seconds", type=float, default=5.0)
    ap.add_argument("--profile", action="store_true", help="cProfile the scapula path once")
    ap.add_argument("--per-commit", type=int, default=PER_COMMIT,
                    help="records the replayed ring commits between two drains")
    ap.add_argument("--skip-rates", action="store_true", help="skip part 2 (scapula record storms)")
    args = ap.parse_args()
    PER_COMMIT = args.per_commit
    with workdir() as (tmp, exe, target):
        (tmp / "workload.sh").write_text(WORKLOAD)
        shell = ["sh", "-c", f'for i in $(seq {args.shell_loops}); do sh "$0/workload.sh" "$0"; done',
                 str(tmp)]
        storm = [str(exe), "storm", "0", str(args.storm_seconds), str(target)]

        workloads = {}
        for name, argv in (("storm", storm), ("shell", shell)):
            batches, processes, fds, dropped = capture_records(argv, tmp)
            n = sum(len(o) for _, o in batches)
            print(f"captured {name}: {n} records in {len(batches)} drains "
                  f"({sum(len(b) for b, _ in batches) / max(n, 1):.0f} ring bytes per record, "
                  f"{dropped} dropped)", flush=True)
            workloads[name] = (batches, processes, fds)

        print(f"\n1. ring read + decode + write on one core, {args.rounds} interleaved rounds, "
              f"CPU-time rates, medians; {PER_COMMIT} records per ring commit")
        results = {}
        for r in range(args.rounds):
            for wname, (batches, processes, fds) in workloads.items():
                pair = [("scapula", run_scapula, (batches, processes, fds, tmp / "s.scapula")),
                        ("baseline", run_baseline, (batches, tmp / "b.bin"))]
                for label, fn, fargs in (pair if r % 2 == 0 else pair[::-1]):
                    rate, _ = cpu_rate(fn, *fargs)
                    results.setdefault((wname, label), []).append(rate)
        for wname in workloads:
            s = statistics.median(results[(wname, "scapula")])
            b = statistics.median(results[(wname, "baseline")])
            ratios = [x / y for x, y in zip(results[(wname, "scapula")], results[(wname, "baseline")])]
            print(f"  {wname:6} scapula {s:10,.0f} ev/s   dict-per-event baseline {b:10,.0f} ev/s   "
                  f"ratio {statistics.median(ratios):.2f}x  (target >= 300,000 ev/s)")

        print("\n3. bytes per event in written chunks (columns, msgpack, zstd level "
              f"{ZSTD_LEVEL}); the workload's own process tree only")
        for wname, (batches, processes, fds) in workloads.items():
            keep = tree_of_first_child(batches, os.getpid())
            events, nbytes = run_scapula(batches, processes, fds, tmp / "t.scapula", keep=keep)
            all_events, all_bytes = run_scapula(batches, processes, fds, tmp / "a.scapula")
            _, base_bytes = run_baseline(batches, tmp / "b.bin")
            print(f"  {wname:6} {nbytes / max(events, 1):6.1f} B/event over {events} events "
                  f"(whole host during the capture: {all_bytes / max(all_events, 1):.1f} B/event "
                  f"over {all_events}; dict baseline {base_bytes / max(all_events, 1):.1f})")

        if args.profile:
            batches, processes, fds = workloads["storm"]
            print("\nprofile of the scapula path on the storm (tottime):")
            print(profile_top(run_scapula, batches, processes, fds, tmp / "p.scapula", lines=14))

        print("\n2. `scapula record` (default syscalls, 8M ring) under an open/close storm, "
              f"{args.rate_seconds:g}s per rate")
        if args.skip_rates:
            return
        rates = [int(x) for x in args.rates.split(",")]
        rows = storm_rates(exe, target, tmp, rates, args.rate_seconds, "8M")
        clean = [r["reached"] for r in rows if r["dropped"] == 0]
        print(f"  highest storm rate with zero drops: {max(clean) if clean else 'none'} ev/s")
        near = [r["reached"] for r in rows if r["dropped"] <= r["events"] / 1000]
        print(f"  highest storm rate with drops under 0.1% of events: "
              f"{max(near) if near else 'none'} ev/s")


def tree_of_first_child(batches, parent: int) -> set[int]:
    """The workload's process tree: the first child this process forked in the capture."""
    rows = []
    dec = Decoder()
    for blob, offsets in batches:
        dec.decode(blob, offsets, rows)
    fork_id = schema.BY_NAME["procfork"].id
    child_at = row_columns(schema.BY_NAME["procfork"]).index("child_pid")
    forks = sorted((r for r in rows if r[8] == fork_id and r[4] == parent), key=lambda r: r[0])
    if not forks:
        return set()
    return tree_of(batches, forks[0][child_at])


if __name__ == "__main__":
    main()
