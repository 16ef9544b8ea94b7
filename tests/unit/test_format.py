"""The capture file format: every event type round-trips, and damage is survived and reported."""
import os
import stat
import subprocess

import pytest

from scapula.capture.decoder import row_columns
from scapula.capture.writer import CaptureWriter, open_output
from scapula.errors import InputError
from scapula.replay.reader import Capture
from scapula.schemas import events as schema
from scapula.schemas import format as fmt

U64_MAX, U32_MAX = 2**64 - 1, 2**32 - 1
PROCESSES = [{"pid": 1, "ppid": 0, "comm": b"init\xff", "exe": b"/sbin/\xfeinit",
              "args": [b"/sbin/init", b"\xc3("], "cwd": b"/", "uid": 0}]
FDS = [[1, 0, b"/dev/\xffnull"]]


def argv_value(name: str, salt: int) -> list[bytes]:
    # an empty argument and a non-UTF-8 one: both must survive the NUL-joined block
    return [f"{name}{salt}".encode(), b"", b"\xff\xfe-" + name.encode()]


def expected(evt: schema.EventType, ts: int, absent: bool = False) -> tuple[dict, dict]:
    """Header fields and params of one synthetic event, distinct per type and param.

    Two dicts: setuid's `uid` param and the header's uid are different values."""
    h = {"ts": ts, "cgroup": U64_MAX - evt.id, "res": -(2**40) - evt.id, "tid": U32_MAX - evt.id,
         "pid": 4_000_000_000 + evt.id, "ppid": evt.id + 1, "uid": 1000 + evt.id,
         "gid": 2000 + evt.id, "type": evt.id, "cpu": 65535 - evt.id,
         "comm": b"c\xff" + str(evt.id).encode() + b"-" * (13 - len(str(evt.id)))}
    p = {}
    for i, prm in enumerate(evt.params):
        if prm.scalar:
            if schema.SCALAR_KINDS[prm.kind] == "Q":
                p[prm.name] = 2**63 + evt.id * 100 + i
            else:
                p[prm.name] = -100 if prm.kind == "fd" and i == 0 else -(2**33) - evt.id * 100 - i
        elif absent:
            p[prm.name] = None
        elif prm.kind == "argv":
            p[prm.name] = argv_value(prm.name, evt.id)
        else:
            p[prm.name] = b"/d\xff/" + f"{evt.name}.{prm.name}".encode()
    return h, p


def row(evt: schema.EventType, values: tuple[dict, dict]) -> tuple:
    header, params = values
    out = [header[name] for name in schema.HEADER_FIELDS]
    for name in row_columns(evt)[len(out):]:
        v = params[name]
        out.append(b"\0".join(v) + b"\0" if isinstance(v, list) else v)
    return tuple(out)


def write(path, chunks: list[list[tuple]], close: bool = True, stream=None) -> CaptureWriter:
    w = CaptureWriter(stream or open_output(str(path)), str(path))
    w.header({"host": "test-\xe9", "config": {}}, PROCESSES, FDS)
    for rows in chunks:
        w.chunk(rows)
    if close:
        w.close({"drops": [0, 1], "sent": [5, 6]})
    else:
        w.flush()
    return w


def read(path, **kw):
    with Capture(str(path)) as cap:
        events = list(cap.events(**kw))
        return cap, events


def assert_event(ev, values: tuple[dict, dict], evt: schema.EventType) -> None:
    header, params = values
    assert ev.name == evt.name
    for name in ("ts", "cgroup", "res", "tid", "pid", "ppid", "uid", "gid", "cpu", "comm"):
        assert getattr(ev, name) == header[name], name
    assert ev.params == params


@pytest.mark.parametrize("evt", schema.EVENTS, ids=lambda e: e.name)
def test_every_event_type_round_trips(tmp_path, evt):
    full, absent = expected(evt, 10), expected(evt, 11, absent=True)
    write(tmp_path / "f", [[row(evt, full), row(evt, absent)]])
    cap, events = read(tmp_path / "f")
    assert len(events) == 2 and not cap.warnings and not cap.truncated
    assert_event(events[0], full, evt)
    assert_event(events[1], absent, evt)
    assert events[0].as_dict()["comm"].encode("utf-8", "surrogateescape") == full[0]["comm"]


def test_header_blocks_round_trip_bytes(tmp_path):
    write(tmp_path / "f", [])
    cap, _ = read(tmp_path / "f")
    assert (cap.processes, cap.fds) == (PROCESSES, FDS)
    assert cap.header["host"] == "test-\xe9" and cap.version == (fmt.FORMAT_MAJOR, fmt.FORMAT_MINOR)
    assert [e.name for e in cap.schema.values()] == [e.name for e in schema.EVENTS]
    assert cap.stats == {"drops": [0, 1], "sent": [5, 6]}


def test_short_comm_keeps_columns_aligned(tmp_path):
    evt = schema.BY_NAME["close"]
    rows = []
    for ts, comm in ((1, b"sh"), (2, b"x" * 15)):
        header, params = expected(evt, ts)
        rows.append(row(evt, (header | {"comm": comm}, params)))
    write(tmp_path / "f", [rows])
    _, events = read(tmp_path / "f")
    assert [e.comm for e in events] == [b"sh", b"x" * 15]


# --- several chunks ---------------------------------------------------------------------
MIXED = [schema.BY_NAME[n] for n in ("openat", "close", "execve", "procexit")]


def chunked(n_chunks=4, per_chunk=25):
    """Chunks of mixed types with ts 0, 10, 20, ...; chunk k covers [k*250, k*250+240]."""
    chunks, ts = [], 0
    for _ in range(n_chunks):
        rows = []
        for i in range(per_chunk):
            rows.append(row(MIXED[i % len(MIXED)], expected(MIXED[i % len(MIXED)], ts)))
            ts += 10
        chunks.append(rows)
    return chunks


@pytest.fixture(params=["complete", "no-footer"])
def capture_file(request, tmp_path):
    """A 4-chunk file, complete (read through the footer) or unfinished (scanned)."""
    path = tmp_path / "f.scapula"
    w = write(path, chunked(), close=request.param == "complete")
    return path, w


def test_chunks_keep_time_order(capture_file):
    path, w = capture_file
    cap, events = read(path)
    assert [e.ts for e in events] == list(range(0, 1000, 10))
    assert [e.name for e in events[:4]] == [e.name for e in MIXED]
    assert cap.truncated == (cap.footer is None) and len(w.chunks) == 4


@pytest.mark.parametrize("since, until, chunks_read", [
    (None, None, 4), (300, None, 3), (None, 245, 1), (255, 495, 1), (240, 250, 2),
    (2000, None, 0), (None, 0, 1)])
def test_since_until(capture_file, since, until, chunks_read):
    path, _ = capture_file
    cap, events = read(path, since=since, until=until)
    lo, hi = since or 0, 990 if until is None else until
    assert [e.ts for e in events] == [t for t in range(0, 1000, 10) if lo <= t <= hi]
    with Capture(str(path)) as cap:
        assert len(list(cap.chunks(since, until))) == chunks_read


def damage(path, at: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(data)


def test_corrupt_chunk_is_reported_and_skipped(capture_file):
    path, w = capture_file
    at = w.chunks[1][0]
    damage(path, at + fmt.BLOCK_HEADER.size + fmt.CHUNK_SUMMARY.size + 5, b"\x00\xff\x00\xff")
    cap, events = read(path)
    assert [e.ts for e in events] == [t for t in range(0, 1000, 10) if not 250 <= t < 500]
    assert any(f"offset {at}" in m and "checksum" in m for m in cap.warnings), cap.warnings


@pytest.mark.parametrize("where", [0, 5, fmt.BLOCK_HEADER.size - 1], ids=["sync", "type", "crc"])
def test_damaged_block_header_is_resynced(capture_file, where):
    path, w = capture_file
    at = w.chunks[2][0]
    damage(path, at + where, b"\x5a")
    cap, events = read(path)
    assert [e.ts for e in events] == [t for t in range(0, 1000, 10) if not 500 <= t < 750]
    assert any(f"offset {at}" in m for m in cap.warnings), cap.warnings


def test_damaged_footer_falls_back_to_scanning(tmp_path):
    w = write(tmp_path / "f", chunked())
    damage(tmp_path / "f", w.offset - fmt.TRAILER.size - 3, b"\xee")
    cap, events = read(tmp_path / "f")
    assert len(events) == 100 and not cap.truncated
    assert cap.footer is None and any("damaged footer" in m for m in cap.warnings)


def test_cut_inside_a_chunk_reads_whole_chunks(tmp_path):
    path = tmp_path / "f"
    w = write(path, chunked())
    os.truncate(path, w.chunks[3][0] + 40)
    cap, events = read(path)
    assert [e.ts for e in events] == list(range(0, 750, 10))
    assert cap.truncated and cap.footer is None
    assert cap.stats == {}  # no stats block was written: scanning again adds no warning
    assert len(cap.warnings) == 1 and f"truncated at offset {w.chunks[3][0]}" in cap.warnings[0]


def test_newer_major_version_is_refused(tmp_path):
    path = tmp_path / "new.scapula"
    write(path, chunked(1))
    damage(path, 0, fmt.PREAMBLE.pack(fmt.FILE_MAGIC, 2, 3, 0))
    with pytest.raises(InputError, match=rf"{path}: format version 2\.3 is newer"):
        Capture(str(path))


def test_newer_minor_version_is_read(tmp_path):
    path = tmp_path / "f"
    write(path, chunked(1))
    damage(path, 0, fmt.PREAMBLE.pack(fmt.FILE_MAGIC, 1, 9, 0))
    cap, events = read(path)
    assert cap.version == (1, 9) and len(events) == 25


@pytest.mark.parametrize("content", [b"", b"hello world\n", b"SCAPULA", b"\0" * 100])
def test_not_a_capture(tmp_path, content):
    path = tmp_path / "x"
    path.write_bytes(content)
    with pytest.raises(InputError, match=f"{path}: not a scapula capture"):
        Capture(str(path))


def test_cut_inside_the_header_blocks(tmp_path):
    path = tmp_path / "f"
    write(path, [])
    os.truncate(path, fmt.PREAMBLE.size + 10)
    with pytest.raises(InputError, match="expected the header block"):
        Capture(str(path))


@pytest.mark.parametrize("existing", [None, 0o644])
def test_file_mode_is_0600_even_with_umask_0(tmp_path, existing):
    path = tmp_path / "f"
    if existing is not None:
        path.write_bytes(b"old")
        path.chmod(existing)
    old = os.umask(0)
    try:
        write(path, chunked(1))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_writing_to_a_pipe(tmp_path):
    path = tmp_path / "piped"
    with open(path, "wb") as out:
        cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=out)
        w = write(path, chunked(), stream=cat.stdin)
        assert cat.wait() == 0
    assert path.stat().st_size == w.offset
    cap, events = read(path)
    assert cap.footer is not None and not cap.warnings and len(events) == 100
