"""The `typed` schema: one view per event type, `typed.<type>`, holding that type's
events with `args` as a STRUCT of exactly its parameters, each with its SQL type
(`SELECT args.child_pid FROM typed.procfork` is a BIGINT, `args.argv` a VARCHAR[]).

Why views over the JSON and not a STRUCT column in `events`: a STRUCT wide enough for
every type costs a fifth of the load rate and most of the memory (query/args_json.py);
a view costs nothing until it is read, and DuckDB's json_transform makes the STRUCT
then, from the keys `event_types` lists. Creating all ~80 views takes 65-95 ms, so
`query` makes them only when its SQL names `typed` (the shell always does)."""
import json
import re

from scapula.query.loader import run
from scapula.query.schema import sql_text


def uses_typed(sql: str) -> bool:
    """Whether a statement may read a typed view (a false yes costs 65-95 ms)."""
    return re.search(r"\btyped\b", sql, re.IGNORECASE) is not None


def create(con) -> None:
    """A view for every event type in `event_types` that has none yet (a --db file
    keeps them; a capture of a newer scapula may bring types)."""
    have = {r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE schema_name = 'typed'").fetchall()}
    types = con.execute("SELECT type, args FROM event_types ORDER BY type").fetchall()
    statements = [view_sql(t, args) for t, args in types if t not in have]
    if statements:
        run(con, "CREATE SCHEMA IF NOT EXISTS typed;\n" + ";\n".join(statements))


def view_sql(etype: str, args: dict) -> str:
    """The view of one event type; `args`: its keys' SQL types, as event_types has them."""
    if not args:   # DuckDB has no empty STRUCT: the type's events without the column
        select = "SELECT * EXCLUDE (args)"
    else:
        shape = json.dumps(dict(args))   # json_transform takes SQL type names as they are
        select = f"SELECT * REPLACE (json_transform(args, {sql_text(shape)}) AS args)"
    return (f"CREATE OR REPLACE VIEW typed.{_quoted_name(etype)} AS {select} FROM main.events "
            f"WHERE type = {sql_text(etype)}")


def _quoted_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'

