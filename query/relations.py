"""A DuckDB query's result as Arrow, under the names DuckDB's Python API has given the
two calls over its versions (the loader supports those the project was built with)."""
import pyarrow as pa


def arrow_table(rel) -> pa.Table:
    """The whole result: to_arrow_table since DuckDB 1.4, arrow() before."""
    return (getattr(rel, "to_arrow_table", None) or rel.arrow)()


def arrow_reader(rel, rows: int) -> pa.RecordBatchReader:
    """The result `rows` at a time: to_arrow_reader in DuckDB 2.0, fetch_arrow_reader
    before."""
    return (getattr(rel, "to_arrow_reader", None) or rel.fetch_arrow_reader)(rows)
