"""The DuckDB tables, declared once with a description per column, mostly derived from
schemas/events.py: which parameter fills which typed column, and which go to `args`."""
from dataclasses import dataclass

import pyarrow as pa

from scapula.schemas import events as schema

# A parameter kind's SQL and Arrow types.
KIND_SQL = {
    "fd": "BIGINT", "int": "BIGINT", "pid": "BIGINT", "uid": "BIGINT", "gid": "BIGINT",
    "uint": "UBIGINT", "mode": "UBIGINT", "flags": "UBIGINT", "tty": "UBIGINT",
    "path": "VARCHAR", "str": "VARCHAR", "abspath": "VARCHAR", "container": "VARCHAR",
    "sockaddr": "VARCHAR", "argv": "VARCHAR[]", "buf": "BLOB",
}
SQL_ARROW = {
    "BIGINT": pa.int64(), "UBIGINT": pa.uint64(), "INTEGER": pa.int32(),
    "UINTEGER": pa.uint32(),
    "USMALLINT": pa.uint16(), "VARCHAR": pa.string(), "VARCHAR[]": pa.list_(pa.string()),
    "BLOB": pa.binary(), "TIMESTAMP_NS": pa.timestamp("ns"), "BOOLEAN": pa.bool_(),
    "JSON": pa.string(), "MAP(VARCHAR, VARCHAR)": pa.map_(pa.string(), pa.string()),
}


@dataclass(frozen=True)
class Column:
    name: str
    sql: str
    desc: str


def C(name, sql, desc):
    return Column(name, sql, desc)


# --- events: the typed common and per-family columns ----------------------------------
# The loader fills the Arrow side (STAGE_COLUMNS); the rest come from SQL at load time.
# uid and gid keep the header's unsigned 32 bits, as the kernel has them (4294967295 is
# the "-1" of the setuid calls): the packed bytes go in as they are, and DuckDB stores
# half the bytes. Pids stay BIGINT, as processes has them: pid arithmetic (pid - ppid)
# on an unsigned type fails when it would go below 0.
COMMON = (
    C("capture", "INTEGER", "the capture file the row came from (captures.capture)"),
    C("host", "VARCHAR", "the recording host's name"),
    C("seq", "BIGINT", "the event's position in its capture, in time order, from 0"),
    C("ts", "TIMESTAMP_NS", "when the call returned (UTC)"),
    C("ts_ns", "BIGINT", "the same, in ns since the Unix epoch"),
    C("cpu", "USMALLINT", "the CPU the event was recorded on"),
    C("tid", "BIGINT", "thread id"),
    C("pid", "BIGINT", "process id (thread group id)"),
    C("ppid", "BIGINT", "parent process id, as the kernel had it at the event"),
    C("uid", "UINTEGER", "real user id"),
    C("gid", "UINTEGER", "real group id"),
    C("comm", "VARCHAR", "the thread's command name (16 bytes at most)"),
    C("exe", "VARCHAR", "the process's executable at the event (processes.exe of its image)"),
    C("proc_id", "UBIGINT", "the process lifetime the event belongs to (processes.proc_id)"),
    C("cgroup", "UBIGINT", "cgroup id"),
    C("type", "VARCHAR", "event type: a syscall name or procfork/procexec/procexit"),
    C("result", "BIGINT", "the syscall's return value (-errno on failure)"),
    C("errno", "VARCHAR", "the error's name when the call failed (ENOENT, ...), else NULL"),
)
FAMILY = (
    C("fd", "BIGINT", "the fd the call works on (its `fd` parameter), or the fd it made"),
    C("path", "VARCHAR", "the path the call names, resolved to an absolute path"),
    C("path_raw", "VARCHAR", "that path as the process passed it"),
    C("path2", "VARCHAR", "the second path (rename, link: the new name), absolute"),
    C("path2_raw", "VARCHAR", "the second path as passed"),
    C("flags", "UBIGINT", "the call's `flags` parameter (open flags, clone flags, ...)"),
    C("mode", "UBIGINT", "the call's `mode` parameter"),
    C("family", "VARCHAR", "address family: AF_INET, AF_INET6, AF_UNIX, ..."),
    C("local_addr", "VARCHAR", "this end's IP address (or unix socket path)"),
    C("local_port", "INTEGER", "this end's port"),
    C("remote_addr", "VARCHAR", "the peer's IP address (or unix socket path)"),
    C("remote_port", "INTEGER", "the peer's port"),
    C("data", "BLOB", "the bytes the call read or wrote (read, write, readv, ...: the first "
      "snaplen of them, as recorded)"),
)
ARGS_DESC = ("every other parameter of the event, by its name, as a JSON object: numbers "
             "as numbers, text as strings, argv and envp as arrays (args->>'filename', "
             "CAST(args->>'new_uid' AS BIGINT), CAST(args->'argv' AS VARCHAR[]))")

# What the loader's Arrow batches carry (capture and host are constants of the INSERT;
# exe and proc_id are set after, from the process lifetimes).
_FROM_SQL = {"capture", "host", "exe", "proc_id"}
STAGE_COLUMNS = tuple(c for c in COMMON if c.name not in _FROM_SQL) + FAMILY

# Sockaddr parameters: which end of the connection each one is.
_LOCAL_SOCKADDR = {("bind", "addr")}


def family_params(etype: schema.EventType) -> dict[str, str]:
    """Family column -> the parameter that fills it, for one event type."""
    names = {p.name: p for p in etype.params}
    out = {}
    for col in ("fd", "flags", "mode"):   # each is also the parameter's kind
        p = names.get(col)
        if p is not None and p.kind == col:
            out[col] = col
    abspaths = [p for p in etype.params if p.kind == "abspath"]
    for col, p in zip(("path", "path2"), abspaths):
        out[col] = p.name
        out[col + "_raw"] = p.source
    for p in etype.params:
        if p.kind == "sockaddr":
            local = p.name == "local" or (etype.name, p.name) in _LOCAL_SOCKADDR
            out["local" if local else "remote"] = p.name
        elif p.kind == "buf":
            out["data"] = p.name
    return out


def args_params(etype: schema.EventType) -> list[schema.Param]:
    """The parameters left for `args`: those no family column holds."""
    used = set(family_params(etype).values())
    return [p for p in etype.params if p.name not in used]


def _arg_types() -> dict[str, str]:
    """An `args` key's SQL type, for casting it out of the JSON (a name whose parameters
    disagree, such as ptrace's uint `target` and kill's pid, is listed as VARCHAR)."""
    types: dict[str, set] = {}
    for e in schema.EVENTS:
        for p in args_params(e):
            types.setdefault(p.name, set()).add(KIND_SQL[p.kind])
    return {k: v.pop() if len(v) == 1 else "VARCHAR" for k, v in sorted(types.items())}


ARG_TYPES = _arg_types()


def arg(name: str, table: str = "") -> str:
    """SQL for one `args` key, cast to its type: CAST(args->>'new_uid' AS BIGINT)."""
    ref = f"{table}.args" if table else "args"
    sql = ARG_TYPES[name]
    if sql.endswith("[]"):
        return f"CAST({ref}->'{name}' AS {sql})"
    return f"{ref}->>'{name}'" if sql == "VARCHAR" else f"CAST({ref}->>'{name}' AS {sql})"


# Text columns of few distinct values go to DuckDB dictionary-encoded: each value is
# made once, not once a row (1.2M events: DuckDB's insert 390 -> 347 ns an event).
TEXT_DICT = pa.dictionary(pa.int32(), pa.string())
DICT_COLUMNS = ("comm", "type", "errno", "family", "local_addr", "remote_addr")
STAGE_ARROW = pa.schema([(c.name, TEXT_DICT if c.name in DICT_COLUMNS else SQL_ARROW[c.sql])
                         for c in STAGE_COLUMNS] +
                        [("args", pa.json_())])   # DuckDB takes it as JSON unchecked
EVENTS = COMMON + FAMILY + (C("args", "JSON", ARGS_DESC),)

# --- the other tables -------------------------------------------------------------------
# Their first columns: which capture file a row comes from, and its host.
TAGGED = (
    C("capture", "INTEGER", "the capture file"),
    C("host", "VARCHAR", "the recording host"),
)
PROCESSES = (
    *TAGGED,
    C("proc_id", "UBIGINT", "this process lifetime (unique in the database)"),
    C("parent_id", "UBIGINT", "the parent's lifetime (NULL when unknown)"),
    C("pid", "BIGINT", "process id"),
    C("ppid", "BIGINT", "parent process id at creation"),
    C("comm", "VARCHAR", "command name, as last seen"),
    C("exe", "VARCHAR", "executable of the last image (after the last exec)"),
    C("argv", "VARCHAR[]", "arguments of the last image, argv[0] included"),
    C("cmdline", "VARCHAR", "argv joined with spaces"),
    C("cwd", "VARCHAR", "working directory at the start of the last image"),
    C("uid", "BIGINT", "real user id at creation"),
    C("euid", "BIGINT", "effective user id at creation (snapshot processes only)"),
    C("gid", "BIGINT", "real group id at creation"),
    C("loginuid", "BIGINT", "audit login uid: the user who logged in (-1: never set)"),
    C("user", "VARCHAR", "uid's name on the recording host (users.name; NULL: not known)"),
    C("loginuser", "VARCHAR", "loginuid's name on the recording host"),
    C("sessionid", "UBIGINT", "audit session id"),
    C("sid", "BIGINT", "session id"),
    C("pgid", "BIGINT", "process group id"),
    C("tty", "VARCHAR", "controlling terminal (pts/3), NULL for none"),
    C("container_id", "VARCHAR", "container id, NULL outside containers"),
    C("start", "TIMESTAMP_NS", "when the process was created (or first seen)"),
    C("start_ns", "BIGINT", "the same in ns since the epoch"),
    C("end", "TIMESTAMP_NS", "when it exited (its last thread, should the main thread "
      "end first), NULL if alive at the end of the capture"),
    C("end_ns", "BIGINT", "the same in ns"),
    C("exit_code", "BIGINT", "exit status (0-255) of a normal exit; NULL when a signal "
      "killed it"),
    C("exit_signal", "BIGINT", "the signal that killed it, 0 for a normal exit"),
    C("core_dumped", "BOOLEAN", "whether it dumped core"),
    C("execs", "INTEGER", "how many programs it executed during the capture"),
    C("origin", "VARCHAR", "snapshot (alive at start), fork (created during), seen (events only)"),
)
CAPTURES = (
    C("capture", "INTEGER", "capture id, in load order"),
    C("path", "VARCHAR", "the file as loaded (absolute)"),
    C("host", "VARCHAR", "host name"),
    C("kernel", "VARCHAR", "kernel release"),
    C("arch", "VARCHAR", "machine"),
    C("cpus", "INTEGER", "CPU count"),
    C("tool", "VARCHAR", "the recording scapula version"),
    C("started", "TIMESTAMP_NS", "when the recording started"),
    C("first", "TIMESTAMP_NS", "first event"),
    C("last", "TIMESTAMP_NS", "last event"),
    C("events", "BIGINT", "events loaded"),
    C("dropped", "BIGINT", "events the kernel dropped (ring buffer full)"),
    C("complete", "BOOLEAN", "the file has its footer (the recording finished)"),
    C("warnings", "VARCHAR[]", "what the reader found damaged or missing"),
    C("size", "BIGINT", "file size in bytes when loaded"),
    C("mtime_ns", "BIGINT", "file modification time when loaded (with size: reload check)"),
)
DROPS = (
    *TAGGED,
    C("cpu", "INTEGER", "CPU number"),
    C("dropped", "BIGINT", "events lost on this CPU because the ring buffer was full"),
    C("sent", "BIGINT", "events the kernel submitted on this CPU"),
)
SNAPSHOT_FDS = (
    *TAGGED,
    C("pid", "BIGINT", "process id"),
    C("fd", "BIGINT", "fd number"),
    C("target", "VARCHAR", "what /proc/PID/fd/FD pointed at when recording started"),
)

FDS = (
    *TAGGED,
    C("fd_id", "UBIGINT", "this fd lifetime (unique in the database)"),
    C("from_id", "UBIGINT", "the lifetime it was copied from: the parent's fd (fork), "
      "the old fd (dup), the listening socket (accept)"),
    C("proc_id", "UBIGINT", "the process lifetime holding it (processes.proc_id)"),
    C("pid", "BIGINT", "process id"),
    C("fd", "BIGINT", "fd number"),
    C("type", "VARCHAR", "file, directory, ipv4, ipv6, unix, netlink, socket (family not "
      "seen), pipe, memfd, eventfd, epoll, ..., NULL when dup copied an fd not seen opened"),
    C("name", "VARCHAR", "the path, lip:lport->rip:rport for a socket, or what "
      "/proc/PID/fd named it (snapshot)"),
    C("path", "VARCHAR", "a file's or directory's absolute path"),
    C("family", "VARCHAR", "a socket's address family (AF_INET, ...)"),
    C("proto", "VARCHAR", "a socket's protocol: tcp, udp, raw, seqpacket"),
    C("local_addr", "VARCHAR", "this end's address (bind, connect, accept)"),
    C("local_port", "INTEGER", "this end's port"),
    C("remote_addr", "VARCHAR", "the peer's address"),
    C("remote_port", "INTEGER", "the peer's port"),
    C("how", "VARCHAR", "what made it: the call (open, openat, socket, accept4, dup2, pipe2, "
      "memfd_create, ...), fork (inherited), snapshot (open when recording started), or "
      "unseen (a socket first seen in a connect or bind)"),
    C("flags", "UBIGINT", "the making call's flags (open flags, ...)"),
    C("cloexec", "BOOLEAN", "closed by the next exec (O_CLOEXEC and kin)"),
    C("opened_seq", "BIGINT", "the event that made it (events.seq; NULL: snapshot)"),
    C("opened", "TIMESTAMP_NS", "when it was made (NULL: before the recording)"),
    C("opened_ns", "BIGINT", "the same in ns"),
    C("closed_seq", "BIGINT", "the event that ended it (close, dup2, exec, exit)"),
    C("closed", "TIMESTAMP_NS", "when it ended, NULL if still open at the capture's end"),
    C("closed_ns", "BIGINT", "the same in ns"),
    C("closed_by", "VARCHAR", "close, dup2/dup3 (replaced), exec (cloexec), exit, or unseen "
      "(its number was reused without a close the capture saw; closed is then the reuse)"),
)
ALERTS = (
    *TAGGED,
    C("seq", "BIGINT", "the event that fired the rule (events.seq in this capture)"),
    C("ts", "TIMESTAMP_NS", "the event's time"),
    C("ts_ns", "BIGINT", "the same in ns"),
    C("pid", "BIGINT", "process id"),
    C("tid", "BIGINT", "thread id"),
    C("proc_id", "UBIGINT", "the process lifetime (processes.proc_id)"),
    C("rule", "VARCHAR", "the rule's name"),
    C("priority", "VARCHAR", "Emergency, Alert, Critical, Error, Warning, Notice, "
      "Informational or Debug"),
    C("severity", "INTEGER", "the priority as a number, 0 (Emergency) to 7 (Debug)"),
    C("tags", "VARCHAR[]", "the rule's tags"),
    C("output", "VARCHAR", "the rule's output text, its fields filled in"),
    C("output_fields", "JSON", "the output's fields and their values "
      "(output_fields->>'proc.name')"),
)
ALERT_RUNS = (
    *TAGGED,
    C("rules", "VARCHAR[]", "the rules files its alerts come from, in load order"),
    C("digest", "VARCHAR", "sha256 over those files' contents (same rules: no new replay)"),
    C("events", "BIGINT", "events replayed"),
    C("alerts", "BIGINT", "alerts raised"),
)
EVENT_TYPES = (
    C("type", "VARCHAR", "event type (events.type)"),
    C("category", "VARCHAR", "file, process, lifecycle, net, priv, kernel, io or generic"),
    C("syscall", "INTEGER", "its x86_64 syscall number, NULL for a tracepoint event"),
    C("description", "VARCHAR", "what the event is"),
    C("args", "MAP(VARCHAR, VARCHAR)", "the keys its events.args object has, each with "
      "the SQL type to cast its value to"),
)
USERS = (
    *TAGGED,
    C("uid", "BIGINT", "user id"),
    C("name", "VARCHAR", "its name in the recording host's passwd (through NSS)"),
)
GROUPS = (
    *TAGGED,
    C("gid", "BIGINT", "group id"),
    C("name", "VARCHAR", "its name in the recording host's group file"),
)

TABLES = {
    "events": ("one row per recorded event", EVENTS),
    "processes": ("one row per process lifetime", PROCESSES),
    "captures": ("one row per loaded capture file", CAPTURES),
    "drops": ("one row per capture and CPU: events lost", DROPS),
    "snapshot_fds": ("the fds open when each recording started", SNAPSHOT_FDS),
    "fds": ("one row per fd lifetime in a process", FDS),
    "alerts": ("one row per alert raised when the capture was replayed with --rules", ALERTS),
    "alert_runs": ("one row per capture replayed with --rules: which rules", ALERT_RUNS),
    "event_types": ("one row per event type: its category and the keys of its args "
                    "(join events USING (type))", EVENT_TYPES),
    "users": ("the recording host's users (captures from scapula 1.2 files on)", USERS),
    "groups": ("the recording host's groups", GROUPS),
}


# Tables whose rows each come from one capture (event_types is shared by all).
PER_CAPTURE = tuple(t for t, (_d, cols) in TABLES.items() if cols[0].name == "capture")


def ddl(views: dict | None = None) -> list[str]:
    """CREATE TABLE (if missing) and COMMENT statements for every table; a table named
    in `views` is made that view instead (name -> its SELECT), commented alike."""
    out = []
    for table, (desc, cols) in TABLES.items():
        if views and table in views:
            out.append(f"CREATE OR REPLACE VIEW {table} AS {views[table]}")
            out.append(f"COMMENT ON VIEW {table} IS {sql_text(desc)}")
        else:
            body = ", ".join(f'"{c.name}" {c.sql}' for c in cols)
            out.append(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
            out.append(f"COMMENT ON TABLE {table} IS {sql_text(desc)}")
        for c in cols:
            out.append(f'COMMENT ON COLUMN {table}."{c.name}" IS {sql_text(c.desc)}')
    return out


def arrow_schema(cols) -> pa.Schema:
    return pa.schema([(c.name, SQL_ARROW[c.sql]) for c in cols])


def sql_text(text: str) -> str:
    """`text` as a SQL string literal, quotes and all."""
    return "'" + text.replace("'", "''") + "'"
