"""The typed.<type> views: each event type's `args` as a STRUCT of its own parameters,
typed, on captures written by the real writer and loaded by the real loader."""
import json

from scapula.query import loader, typed_views
from scapula.query.relations import arrow_table
from scapula.query import schema as qs
from scapula.schemas import events as schema
from tests.conftest import scapula
from tests.unit.test_format import expected, row
from tests.unit.test_query import args_value, workload, write


def test_every_parameter_of_every_type_comes_back_typed(tmp_path):
    path = tmp_path / "all.scapula"
    values = {e.name: expected(e, 100 + i) for i, e in enumerate(schema.EVENTS)}
    write(path, [row(e, values[e.name]) for e in schema.EVENTS])
    con = loader.connect()
    loader.load(con, [path])
    typed_views.create(con)
    checked = 0
    for e in schema.EVENTS:
        params = qs.args_params(e)
        got = arrow_table(con.sql(f'SELECT * FROM typed."{e.name}"'))
        assert got.num_rows == 1, e.name
        if not params:   # no args column at all (DuckDB has no empty STRUCT)
            assert "args" not in got.column_names, e.name
            continue
        args = got.column("args")
        assert [f.name for f in args.type] == [p.name for p in params], e.name
        types = ", ".join(f'typeof(args."{p.name}")' for p in params)
        assert con.execute(f'SELECT {types} FROM typed."{e.name}"').fetchall()[0] == \
            tuple(qs.KIND_SQL[p.kind] for p in params), e.name
        want = {p.name: args_value(p, values[e.name][1][p.name], typed=True) for p in params}
        assert args.to_pylist()[0] == want, e.name
        checked += len(params)
    assert checked > 100
    # every column of events is there too, and only that type's rows
    assert con.execute("SELECT count(*), any_value(type) FROM typed.procfork").fetchall() \
        == [(1, "procfork")]
    assert arrow_table(con.sql("SELECT * FROM typed.setuid")).column_names \
        == arrow_table(con.sql("SELECT * FROM events")).column_names


def test_views_are_made_once_per_type_and_kept_in_a_database_file(tmp_path):
    db = tmp_path / "x.duckdb"
    con = loader.connect(str(db))
    loader.load(con, [write(tmp_path / "a.scapula", workload())])
    typed_views.create(con)
    made = con.execute("SELECT count(*) FROM duckdb_views() WHERE schema_name = 'typed'") \
        .fetchall()
    assert made == [(len(schema.EVENTS),)]
    typed_views.create(con)   # nothing new to make: no error, no duplicates
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE schema_name = 'typed'") \
        .fetchall() == made
    con.close()
    con = loader.connect(str(db))
    assert con.execute("SELECT args.child_pid, args.cwd FROM typed.procfork").fetchall() \
        == [(200, "/root")]
    con.close()


def test_view_sql_quotes_what_it_names():
    sql = typed_views.view_sql('we"ird\'s', {"a'b": "VARCHAR[]", "n": "BIGINT"})
    assert 'typed."we""ird\'s"' in sql
    assert "type = 'we\"ird''s'" in sql
    assert json.loads(sql.split("json_transform(args, '")[1].split("') AS")[0]
                      .replace("''", "'")) == {"a'b": "VARCHAR[]", "n": "BIGINT"}


def test_query_makes_the_views_when_its_sql_names_them(tmp_path):
    a = write(tmp_path / "a.scapula", workload())
    r = scapula("query", a, "SELECT args.child_pid, args.exe, typeof(args.child_pid) AS t "
                "FROM typed.procfork", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"child_pid": 200, "exe": "/bin/sh", "t": "BIGINT"}]
    r = scapula("query", a, "SELECT args.argv, args.filename FROM TYPED.procexec", "--json")
    assert json.loads(r.stdout) == [{"argv": ["cat", "x y"], "filename": "cat"}]
    # a query that does not name them does not pay for them
    r = scapula("query", a, "SELECT count(*) AS n FROM duckdb_views() "
                "WHERE schema_name LIKE 'ty_ed'", "--json")
    assert json.loads(r.stdout) == [{"n": 0}]
    # a key the type lacks is DuckDB's binder error, one line, exit 2
    r = scapula("query", a, "SELECT args.nope FROM typed.procfork")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "nope" in r.stderr


def test_uses_typed():
    assert typed_views.uses_typed("select * from Typed.setuid")
    assert not typed_views.uses_typed("SELECT untyped FROM events")
