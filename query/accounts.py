"""The `users` and `groups` tables from a capture's HEADER maps, and the user names of
its `processes`: names as the recording host had them, never this host's."""
import pyarrow as pa


def load(con, cap, capture: int, host: str, insert) -> None:
    """`insert(con, table, arrow_table)` appends rows (the loader's)."""
    for table, key, names in (("users", "uid", cap.header.get("users")),
                              ("groups", "gid", cap.header.get("groups"))):
        if not isinstance(names, dict) or not names:
            continue  # a capture from before format 1.2: names stay NULL
        ids = [i for i in names if isinstance(i, int)]
        insert(con, table, pa.table({
            "capture": pa.array([capture] * len(ids), pa.int32()),
            "host": [host] * len(ids), key: pa.array(ids, pa.int64()),
            "name": pa.array([str(names[i]) for i in ids], pa.string())}))
    con.execute("""
        UPDATE processes p SET "user" = u.name
        FROM users u WHERE u.capture = p.capture AND u.uid = p.uid AND p.capture = $c
        """, {"c": capture}).fetchall()
    con.execute("""
        UPDATE processes p SET loginuser = u.name
        FROM users u WHERE u.capture = p.capture AND u.uid = p.loginuid AND p.capture = $c
        """, {"c": capture}).fetchall()
