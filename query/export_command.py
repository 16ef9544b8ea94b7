"""`scapula export`: captures (or a --db) into Parquet, CSV, JSON lines or a Timesketch
timeline in a directory."""
import os

import click

from scapula.console import clean_errors, warn
from scapula.errors import InputError, UsageError
from scapula.query import alerts, export, loader, storage
from scapula.query.commands import (compile_rules, in_memory_option, memory_option,
                                    owner_only, rules_options)
from scapula.query.export_target import MANIFEST, Target


@click.command("export")
@click.argument("files", nargs=-1)
@click.option("-o", "--out", metavar="DIR",
              help="The directory to write (created; must be empty unless --overwrite).")
@click.option("-f", "--format", "fmt", default="parquet", show_default=True,
              metavar="FORMAT", help="parquet, csv, jsonl or timesketch.")
@click.option("-t", "--table", "tables", multiple=True, metavar="NAME[,NAME...]",
              help="Export only these tables (repeatable; default: every table).")
@click.option("--db", type=click.Path(dir_okay=False),
              help="Read (and keep) the database in this file, as `query --db` does.")
@click.option("--overwrite", is_flag=True,
              help="DIR may hold an earlier export: replace it (nothing else is touched).")
@rules_options
@memory_option
@in_memory_option
@clean_errors
def export_command(files, out, fmt, tables, db, overwrite, rule_files, default_rules,
                   memory_limit, in_memory):
    """Export capture files' tables for other tools.

    \b
    parquet     DIR/<table>/host=H/date=YYYY-MM-DD/*.parquet (zstd; `date` for
                tables with a time, UTC), for DuckDB, Spark, Trino
    csv, jsonl  DIR/<table>.csv or .jsonl; lists and structs as JSON
    timesketch  DIR/timeline.jsonl: events with message, datetime, timestamp_desc

    DIR/export.json lists the captures, tables, row counts and columns.
    The tables are those `scapula query` has (events, processes, captures, ...);
    with --rules, alerts too, as `query --rules` judges them.
    """
    wanted = [t for spec in tables for t in spec.split(",") if t] or None
    export.check_request(fmt, wanted)
    if not out:
        raise UsageError("--out DIR is required")
    if not files and not db:
        raise UsageError("no capture files (and no --db) to export")
    if db and not files and not os.path.exists(db):
        raise InputError(f"{db}: no such database")
    rules = compile_rules(rule_files, default_rules)
    owner_only()
    store = storage.Storage(files, db, memory_limit, in_memory)
    try:   # its temporary directory goes whatever fails (the output directory too)
        with Target(out, overwrite) as target:
            with store.failures():
                con = store.connect()
            try:
                with store.failures():
                    ids = store.load(con, files, warn)
                    if rules is not None:   # (no file named: every capture in --db)
                        alerts.judge(con, ids or loader.capture_ids(con), rules, warn)
                    tables = export.choose_tables(con, fmt, wanted)
                    if "fds" in tables:   # those of every capture in the database
                        loader.build_fds(con, loader.capture_ids(con))
                    store.loaded(con)
                written = export.write(con, target.stage, fmt, tables)
                export.write_manifest(target.stage, export.manifest(con, fmt, written))
            finally:
                con.close()
            target.publish([w.name for w in written] + [MANIFEST])
    finally:
        store.close()
    for w in written:
        where = os.path.join(out, w.name) + ("/" if fmt == "parquet" else "")
        parts = f"  by {', '.join(w.partition_by)}" if w.partition_by else ""
        click.echo(f"{w.table:<13}{w.rows:>12,} rows  {where}{parts}")
    click.echo(f"{'manifest':<13}{'':>17}  {os.path.join(out, MANIFEST)}")
