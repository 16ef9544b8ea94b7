"""The recording host's user and group names, for the capture's HEADER: a capture read
on another machine must not name its users from that machine's /etc/passwd."""
import grp
import pwd


def host_accounts() -> tuple[dict[int, str], dict[int, str]]:
    """(uid -> user name, gid -> group name) as this host's NSS lists them. Where an id
    has several names the first listed wins, as getpwuid() answers."""
    users: dict[int, str] = {}
    for p in pwd.getpwall():
        users.setdefault(p.pw_uid, _clean(p.pw_name))
    groups: dict[int, str] = {}
    for g in grp.getgrall():
        groups.setdefault(g.gr_gid, _clean(g.gr_name))
    return users, groups


def _clean(name: str) -> str:
    # a name that is not UTF-8 reaches Python with surrogates, which msgpack refuses
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
