"""Rendering a query's result (an Arrow table): an aligned text table, JSON, JSON lines,
CSV or TSV. Timestamps keep their nanoseconds (they go through Arrow, not datetime);
in JSON they are ISO 8601."""
import csv
import functools
import json

import click
import pyarrow as pa
import pyarrow.compute as pc

FORMATS = ("table", "json", "nl", "csv", "tsv")


def output_options(fn):
    """--json --nl --csv --tsv (the default is a table), as one decorator."""
    for flag, help_ in reversed((("json", "A JSON array of objects."),
                                 ("nl", "One JSON object per line."),
                                 ("csv", "Comma-separated, with a header row."),
                                 ("tsv", "Tab-separated, with a header row."))):
        fn = click.option(f"--{flag}", "fmt", flag_value=flag, help=help_)(fn)
    return functools.wraps(fn)(fn)


def rows(table: pa.Table, iso: bool = False) -> tuple[list[str], list[list]]:
    """Column names and rows of plain values; timestamps as text with ns, as DuckDB
    writes them (2026-11-22 13:43:03.434971000), or `iso`: ISO 8601, for JSON
    (2026-11-22T13:43:03.434971000, +00:00 for a time zone)."""
    cols = []
    for col in table.columns:
        if pa.types.is_timestamp(col.type):
            zoned = col.type.tz is not None
            col = col.cast(pa.string())
            if iso:
                col = pc.replace_substring_regex(col, r"^(\S+) ", r"\1T", max_replacements=1)
                if zoned:
                    col = pc.replace_substring_regex(col, r"([+-]\d\d)(\d\d)$", r"\1:\2")
        values = col.to_pylist()
        if pa.types.is_interval(col.type):   # ts - lag(ts) and the like
            values = [None if v is None else interval_text(v) for v in values]
        cols.append(values)
    return table.column_names, [list(r) for r in zip(*cols)] if cols else []


def render(table: pa.Table, fmt: str | None, echo=click.echo) -> None:
    fmt = fmt or "table"
    names, data = rows(table, iso=fmt in ("json", "nl"))
    if fmt == "json":
        echo(json.dumps([dict(zip(names, r)) for r in data], indent=2, default=_json_value))
    elif fmt == "nl":
        for r in data:
            echo(json.dumps(dict(zip(names, r)), default=_json_value))
    elif fmt in ("csv", "tsv"):
        out = click.get_text_stream("stdout")
        writer = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(names)
        for r in data:
            writer.writerow([_cell(v) for v in r])
    else:
        echo(text_table(names, data))


def text_table(names: list[str], data: list[list]) -> str:
    cells = [[_cell(v) for v in r] for r in data]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(names), line(["-" * w for w in widths])] + [line(r) for r in cells])


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, dict)):
        return json.dumps(v, default=_json_value)
    return _json_value(v)


def interval_text(v) -> str:
    """An interval as DuckDB writes one: 1 month 2 days 03:04:05.000007 (ns kept)."""
    years = int(v.months / 12)   # toward zero, as the months' sign goes
    parts = [f"{n} {unit}{'' if abs(n) == 1 else 's'}"
             for n, unit in ((years, "year"), (v.months - 12 * years, "month"),
                             (v.days, "day")) if n]
    ns = v.nanoseconds
    if ns or not parts:
        seconds, frac = divmod(abs(ns), 10**9)
        minutes, sec = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        text = f"{'-' if ns < 0 else ''}{hours:02d}:{minutes:02d}:{sec:02d}"
        if frac:
            text += "." + f"{frac:09d}".rstrip("0")
        parts.append(text)
    return " ".join(parts)


def _json_value(v):
    """A value as text, bytes as hex: a table's cell, and what JSON has no type for
    (not b'...')."""
    return v.hex() if isinstance(v, bytes) else str(v)
