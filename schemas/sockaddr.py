"""Raw socket addresses (kind "sockaddr", as copied from user memory) to fields and text."""
import ipaddress
import struct

from scapula.schemas.flags import VALUE_TABLES

AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6 = 0, 1, 2, 10
_FAMILIES = VALUE_TABLES["domain"]


def decode(raw: bytes | None) -> dict | None:
    """A sockaddr as plain data: always `family` (a name, or the number as a string;
    None when there are not even the 2 bytes of one), then what that family has:
    addr and port (inet, inet6: also flowinfo, scope_id), path and abstract (unix).
    Anything the decoder does not understand is kept as hex in `data`."""
    if raw is None:
        return None
    if len(raw) < 2:
        return {"family": None, "data": raw.hex()}
    family = struct.unpack_from("<H", raw)[0]
    d = {"family": _FAMILIES.get(family, str(family))}
    if family == AF_INET and len(raw) >= 8:
        d["addr"] = str(ipaddress.IPv4Address(raw[4:8]))
        d["port"] = struct.unpack_from(">H", raw, 2)[0]
    elif family == AF_INET6 and len(raw) >= 24:
        addr = ipaddress.IPv6Address(raw[8:24])
        mapped = addr.ipv4_mapped   # written as inet_ntop does: ::ffff:127.0.0.1
        d["addr"] = f"::ffff:{mapped}" if mapped is not None else str(addr)
        d["port"] = struct.unpack_from(">H", raw, 2)[0]
        d["flowinfo"] = struct.unpack_from(">I", raw, 4)[0]
        d["scope_id"] = struct.unpack_from("<I", raw, 24)[0] if len(raw) >= 28 else 0
    elif family == AF_UNIX:
        path = raw[2:]
        # An abstract name starts with a NUL and runs to the end of the given length,
        # NULs included; a filesystem path ends at its first NUL.
        d["abstract"] = path[:1] == b"\0"
        if not d["abstract"]:
            path = path.split(b"\0", 1)[0]
        d["path"] = (path[1:] if d["abstract"] else path).decode("utf-8", "surrogateescape")
    else:
        d["data"] = raw[2:].hex()
    return d


def text(raw: bytes | None) -> str:
    """127.0.0.1:80, [::1]:80, unix:/run/x.sock, unix:@name (abstract), unix: (unnamed)."""
    d = decode(raw)
    if d is None:
        return "<NA>"
    if not raw:
        return "(none)"  # a connected TCP socket asked for its source gets no address
    family = d["family"]
    if "port" in d and family == "AF_INET":
        return f"{d['addr']}:{d['port']}"
    if "port" in d:
        scope = f"%{d['scope_id']}" if d["scope_id"] else ""
        return f"[{d['addr']}{scope}]:{d['port']}"
    if "path" in d:
        return f"unix:{'@' if d['abstract'] else ''}{d['path']}"
    return f"{family or '?'}:{d['data']}"
