"""Events as a Timesketch timeline: JSON lines with `message`, `datetime` (ISO 8601, UTC),
`timestamp` (microseconds), `timestamp_desc`, and every set field of the event, flat.

Timesketch indexes top-level fields; a nested object is stored but hard to search, so
each key of the `args` object becomes an `arg_<name>` field (the prefix also keeps
args' `exe` apart from the event's own `exe`). Fields that are NULL are left out: any
one event sets a handful of its ~100 columns, and the nulls would outweigh the data."""
import pyarrow as pa

from scapula.query.export_sql import columns
from scapula.query.relations import arrow_reader
from scapula.schemas import syscalls

TIMESTAMP_DESC = "Event Recorded"

# The human line: "cat (4242) openat /etc/shadow res=3",
# "curl (77) connect 10.0.0.5:41000 -> 93.184.215.14:443 res=0",
# "sh (70) procexec /usr/bin/cat argv=cat /etc/shadow". Each part is NULL (and so left
# out by concat_ws) when the event has nothing for it.
MESSAGE = r"""concat_ws(' ',
    e.comm || ' (' || e.pid || ')',
    coalesce(n.name, e.type),
    e.path || coalesce(' -> ' || e.path2, ''),
    CASE WHEN e.path IS NULL AND e.type = 'procexec' THEN e.args->>'exe' END,
    CASE WHEN e.path IS NULL AND e.fd IS NOT NULL THEN 'fd=' || e.fd END,
    CASE WHEN e.local_addr IS NOT NULL OR e.remote_addr IS NOT NULL THEN concat_ws(
        CASE WHEN e.type LIKE 'accept%' OR e.type LIKE 'recv%' THEN ' <- ' ELSE ' -> ' END,
        {local}, {remote}) END,
    CASE WHEN (e.args->'argv') IS NOT NULL
         THEN 'argv=' || array_to_string(CAST(e.args->'argv' AS VARCHAR[]), ' ') END,
    'child=' || (e.args->>'child_pid'),
    CASE WHEN e.type = 'procexit' THEN 'status=' || (e.args->>'status')
         || CASE WHEN (e.args->>'sig') <> '0' THEN ' sig=' || (e.args->>'sig') ELSE '' END END,
    CASE WHEN e.type NOT IN ('procfork', 'procexec', 'procexit') THEN 'res=' || e.result END,
    e.errno)"""


# The args object's keys, each renamed arg_<key>, its value as it is.
ARG_FIELDS = ("to_json(map_from_entries(list_transform(json_keys(e.args), "
              "lambda k: {'k': 'arg_' || k, 'v': e.args -> k})))")


def _endpoint(side: str) -> str:
    """addr:port, [v6addr]:port, or a unix socket's path alone."""
    addr, port = f"e.{side}_addr", f"e.{side}_port"
    return (f"CASE WHEN {port} IS NULL THEN {addr} "
            f"WHEN e.family = 'AF_INET6' THEN '[' || {addr} || ']:' || {port} "
            f"ELSE {addr} || ':' || {port} END")


def select(con) -> str:
    """One JSON object (as text) per event, in time order."""
    fields = [f"message := {MESSAGE.format(local=_endpoint('local'), remote=_endpoint('remote'))}",
              "datetime := strftime(e.ts, '%Y-%m-%dT%H:%M:%S.%f+00:00')",
              "timestamp := e.ts_ns // 1000",  # truncated, as datetime is
              f"timestamp_desc := '{TIMESTAMP_DESC}'"]
    for name, _type in columns(con, "events"):
        if name not in ("ts", "args"):   # ts: datetime, timestamp and ts_ns say it
            fields.append(f'"{name}" := e."{name}"')
    # merge_patch leaves out what is NULL, the args' keys as well as the columns
    obj = (f"json_merge_patch(json_merge_patch('{{}}', to_json(struct_pack({', '.join(fields)}))), "
           f"{ARG_FIELDS})::VARCHAR")
    return (f"SELECT {obj} AS line FROM events e "
            "LEFT JOIN _syscall_names n ON e.type = 'syscall' "
            "AND n.nr = CAST(e.args->>'nr' AS BIGINT) ORDER BY e.ts_ns, e.capture, e.seq")


def write(con, path: str) -> int:
    """Write the timeline to `path`; returns the number of lines."""
    names = pa.table({"nr": pa.array(list(syscalls.NAMES), pa.int64()),
                      "name": list(syscalls.NAMES.values())})
    con.register("_syscall_names", names)
    count = 0
    try:
        rel = con.sql(select(con))
        reader = arrow_reader(rel, 65536)
        with open(path, "w", encoding="utf-8") as out:
            for batch in reader:
                lines = batch.column(0).to_pylist()
                if lines:
                    out.write("\n".join(lines))
                    out.write("\n")
                    count += len(lines)
    finally:
        con.unregister("_syscall_names")
    return count
