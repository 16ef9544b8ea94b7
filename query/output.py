"""Rendering a query's result (an Arrow table): an aligned text table, JSON, JSON lines,
CSV or TSV. Timestamps keep their nanoseconds (they go through Arrow, not datetime)."""
import csv
import functools
import json

import click
import pyarrow as pa

FORMATS = ("table", "json", "nl", "csv", "tsv")


def output_options(fn):
    """--json --nl --csv --tsv (the default is a table), as one decorator."""
    for flag, help_ in reversed((("json", "A JSON array of objects."),
                                 ("nl", "One JSON object per line."),
                                 ("csv", "Comma-separated, with a header row."),
                                 ("tsv", "Tab-separated, with a header row."))):
        fn = click.option(f"--{flag}", "fmt", flag_value=flag, help=help_)(fn)
    return functools.wraps(fn)(fn)


def rows(table: pa.Table) -> tuple[list[str], list[list]]:
    """Column names and rows of plain values; timestamps as ISO text with ns."""
    cols = []
    for col in table.columns:
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.string())
        cols.append(col.to_pylist())
    return table.column_names, [list(r) for r in zip(*cols)] if cols else []


def render(table: pa.Table, fmt: str | None, echo=click.echo) -> None:
    names, data = rows(table)
    fmt = fmt or "table"
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
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


def _json_value(v):
    """What JSON has no type for: bytes as hex, as the table shows them (not b'...')."""
    return v.hex() if isinstance(v, bytes) else str(v)
