"""The events held or spilled by query/event_sink.py: what the rest of a load and the
commands read through the view, and the errors a user can meet."""
import json

import pytest

from scapula.query import loader
from scapula.query.event_sink import EventSink
from tests.conftest import scapula
from tests.unit.test_query import rows, workload, write


@pytest.mark.parametrize("budget", [1 << 30, 0])
def test_captures_row_counts_the_held_events(tmp_path, budget):
    # the `captures` row (first, last, events) is read through the view while the
    # capture loads: its held batches must be there by then
    a = write(tmp_path / "a.scapula", workload())
    b = write(tmp_path / "b.scapula", workload()[:4], host="h2")
    sink = EventSink(str(tmp_path / "events"), budget)
    c = loader.connect(None, sink)
    loader.load(c, [a, b], events=sink)
    t = loader.connect()
    loader.load(t, [a, b])
    span = "SELECT capture, first, last, events FROM captures ORDER BY capture"
    assert rows(t, span)[0][3] == 6
    assert rows(c, span) == rows(t, span)


def test_query_and_export_manifest_count_the_held_events(tmp_path):
    a = write(tmp_path / "a.scapula", workload())
    sql = "SELECT events, first IS NOT NULL AS has_first FROM captures"
    held = scapula("query", a, sql, "--json")
    every = scapula("query", a, sql, "--json", "--in-memory")
    assert json.loads(every.stdout) == [{"events": 6, "has_first": True}]
    assert json.loads(held.stdout) == json.loads(every.stdout)
    r = scapula("export", a, "--format", "csv", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "out" / "export.json").read_text())
    assert manifest["captures"][0]["events"] == 6


@pytest.mark.parametrize("budget", [1 << 30, 0])
def test_a_full_temporary_directory_at_connect_is_an_output_error(tmp_path, monkeypatch,
                                                                 budget):
    # a full TMPDIR (no space, no inodes) when the view's empty file is made: the
    # one-line OutputError (exit 5), as when the events themselves cannot be written
    import pyarrow.parquet as pq
    from scapula.errors import OutputError

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(pq, "write_table", full)
    sink = EventSink(str(tmp_path / "events"), budget)
    with pytest.raises(OutputError) as e:
        loader.connect(None, sink)
    assert e.value.exit_code == 5 and "No space left on device" in str(e.value)


@pytest.mark.parametrize("budget", [1 << 30, 0])
def test_a_file_that_changed_between_two_loads_replaces_its_events(tmp_path, budget):
    # a file that grew since it was loaded (`scapula query live.scapula live.scapula`
    # while the recorder writes): its events are replaced through the sink, since a
    # view takes no DELETE
    p = write(tmp_path / "live.scapula", workload())

    def paths():
        yield p
        write(p, workload() + workload()[:2])   # the recorder wrote more
        yield p
    sink = EventSink(str(tmp_path / "events"), budget)
    c = loader.connect(None, sink)
    loader.load(c, paths(), events=sink)
    t = loader.connect()
    write(p, workload())
    loader.load(t, paths())
    q = "SELECT capture, count(*) FROM events GROUP BY ALL"
    assert rows(c, q) == rows(t, q) == [(1, 8)]
