"""The SELECT behind each exported table: one expression per column, chosen from the
column's DuckDB type and the output format, plus the partition and sort columns.

Built from the database's own columns (not a fixed list), so a table or column the
loader gains is exported without a change here."""
from dataclasses import dataclass


def iso_ns(col: str) -> str:
    """SQL for a timestamp as ISO 8601 text in UTC with nanoseconds. The database keeps
    naive TIMESTAMP_NS in UTC, so no zone conversion happens. (strftime's %n is not
    used: DuckDB 2.0 sizes it as six digits and garbles what follows.)"""
    frac = f"lpad(((epoch_ns({col}) % 1000000000 + 1000000000) % 1000000000)::VARCHAR, 9, '0')"
    return f"strftime({col}, '%Y-%m-%dT%H:%M:%S.') || {frac} || 'Z'"


# The rows' order in every format: time first where a table has it (time-sorted Parquet
# row groups also let readers skip by time), then the capture and position in it.
ORDER = ("ts_ns", "start_ns", "capture", "seq", "proc_id", "pid", "cpu", "fd")


@dataclass(frozen=True)
class TableSql:
    table: str
    select: str                     # the SELECT that COPY writes
    partition_by: tuple[str, ...]   # hive partition columns (Parquet only)


def columns(con, table: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a table's columns, in order."""
    return [(r[0], r[1]) for r in con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE table_name = ? AND schema_name = 'main' AND database_name = current_database() "
        "ORDER BY column_index", [table]).fetchall()]


def table_sql(con, table: str, fmt: str) -> TableSql:
    cols = columns(con, table)
    names = [n for n, _ in cols]
    exprs = [_column(n, t, fmt) for n, t in cols]
    partition: tuple[str, ...] = ()
    if fmt == "parquet" and "host" in names:
        partition = ("host",)
        if "ts" in names:  # the day, UTC, of the event
            exprs.append('CAST("ts" AS DATE) AS "date"')
            partition += ("date",)
    order = [f'"{c}"' for c in ORDER if c in names]
    select = f'SELECT {", ".join(exprs)} FROM "{table}"'
    if order:
        select += f" ORDER BY {', '.join(order)}"
    return TableSql(table, select, partition)


def _column(name: str, sql_type: str, fmt: str) -> str:
    """The expression that writes one column in `fmt`."""
    col = f'"{name}"'
    kind = _kind(sql_type)
    if kind == "timestamp":
        if fmt == "parquet":
            # Microseconds (truncated, as the text formats' are), marked UTC: Spark
            # reads no nanosecond timestamps; the `*_ns` integer beside each time keeps
            # the exact value.
            return f"timezone('UTC', make_timestamp(epoch_ns({col}) // 1000)) AS {col}"
        return f"{iso_ns(col)} AS {col}"
    if fmt == "parquet" or kind == "plain":
        return col
    if kind in ("list", "map") and fmt == "csv":
        return f"to_json({col})::VARCHAR AS {col}"  # a JSON array in one cell
    if kind == "blob":
        return f"{col}::VARCHAR AS {col}"  # printable bytes as is, others \xNN
    return col


def _kind(sql_type: str) -> str:
    t = sql_type.upper()
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t.startswith("MAP"):
        return "map"
    if t.endswith("]"):
        return "list"
    if t == "BLOB":
        return "blob"
    return "plain"
