"""`scapula shell` driven through its stdin: the Python prompt (where the duckdb command
is missing, or with --python) and DuckDB's own shell (a stand-in `duckdb` on PATH)."""
import os
import sys

from tests.conftest import scapula
from tests.unit.test_query import workload, write


def env_with_path(path: str) -> dict:
    return dict(os.environ, PATH=path)


def test_the_python_prompt_has_the_connection(tmp_path):
    cap = write(tmp_path / "a.scapula", workload())
    bin_dir = tmp_path / "bin"       # a PATH without any duckdb command
    bin_dir.mkdir()
    r = scapula("shell", cap, "--python", input="print('n =', con.execute("
                "'SELECT count(*) FROM events').fetchone()[0])\n",
                env=env_with_path(str(bin_dir)))
    assert r.returncode == 0, r.stderr
    assert "n = 6" in r.stdout
    assert "scapula shell: DuckDB database" in r.stderr    # the banner
    r = scapula("shell", cap, "--python", input="print(con.sql('SELECT pid FROM processes "
                "WHERE exit_code = 5').fetchall())\n")
    assert r.returncode == 0 and "[(200,)]" in r.stdout, r.stderr


def test_duckdbs_shell_opens_the_loaded_database(tmp_path):
    """The stand-in duckdb runs the SQL it reads on the database file it is given, as
    DuckDB's shell does; the temporary database is gone afterwards."""
    cap = write(tmp_path / "a.scapula", workload())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "duckdb"
    fake.write_text(f"#!{sys.executable}\n"
                    "import sys, duckdb\n"
                    "print('db', sys.argv[1])\n"
                    "con = duckdb.connect(sys.argv[1])\n"
                    "for row in con.sql(sys.stdin.read()).fetchall(): print(row)\n")
    fake.chmod(0o755)
    r = scapula("shell", cap, input="SELECT type, count(*) FROM events GROUP BY type "
                "ORDER BY type;", env=env_with_path(f"{bin_dir}:{os.environ['PATH']}"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1:] == ["('connect', 1)", "('openat', 2)", "('procexec', 1)",
                         "('procexit', 1)", "('procfork', 1)"]
    db = lines[0].split(" ", 1)[1]
    assert db.endswith(".duckdb") and not os.path.exists(db)
    # --db: the database stays where it was asked for
    keep = tmp_path / "keep.duckdb"
    r = scapula("shell", cap, "--db", keep, input="SELECT count(*) FROM processes;",
                env=env_with_path(f"{bin_dir}:{os.environ['PATH']}"))
    assert r.stdout.splitlines() == [f"db {keep}", "(3,)"] and keep.exists()


def test_a_shell_needs_captures_or_a_database():
    r = scapula("shell", "--python")
    assert r.returncode == 2
    assert r.stderr == "scapula: no capture files (and no --db) to open\n"


def test_sql_piped_in_without_the_duckdb_command(tmp_path):
    cap = write(tmp_path / "a.scapula", workload())
    bin_dir = tmp_path / "bin"       # a PATH without any duckdb command
    bin_dir.mkdir()
    r = scapula("shell", cap, input="SELECT count(*) AS n FROM events;\n"
                "CREATE VIEW cats AS SELECT pid FROM processes WHERE exit_code = 5;\n"
                "SELECT pid FROM cats;\n"
                "SELECT args.child_pid AS c FROM typed.procfork;\n",
                env=env_with_path(str(bin_dir)))
    assert r.returncode == 0, r.stderr
    # the typed views are there without the SQL naming them when the shell opened
    assert r.stdout.splitlines() == ["n", "-", "6", "pid", "---", "200", "c", "---", "200"]
    r = scapula("shell", cap, input="SELECT 1;\nSELECT * FROM nowhere;\nSELECT 3;\n",
                env=env_with_path(str(bin_dir)))
    assert r.returncode == 2 and r.stdout.splitlines() == ["1", "-", "1"]
    assert r.stderr.count("\n") == 1 and "nowhere does not exist" in r.stderr
