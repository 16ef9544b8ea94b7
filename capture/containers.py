"""Container ids from cgroup paths, by the naming patterns of the common runtimes.

docker:      /docker/<id>, /system.slice/docker-<id>.scope
containerd:  /kubepods/.../<id>, .../cri-containerd-<id>.scope, /containerd/<id>
cri-o:       .../crio-<id>.scope, /crio/<id>   (crio-conmon-<id> is the monitor, not it)
podman:      /machine.slice/libpod-<id>.scope, /libpod_parent/libpod-<id>
An id is 64 lowercase hex digits; the deepest component holding one wins.
"""
import re

_HEX64 = re.compile(rb"[0-9a-f]{64}")
_PREFIXES = (b"docker-", b"cri-containerd-", b"crio-", b"libpod-")


def container_id(cgroup: bytes | None) -> bytes | None:
    """The full container id in `cgroup`, or None when it names no container."""
    if not cgroup:
        return None
    for part in reversed(cgroup.split(b"/")):
        part = part.removesuffix(b".scope")
        for prefix in _PREFIXES:
            if part.startswith(prefix):
                part = part[len(prefix):]
                break
        if _HEX64.fullmatch(part):
            return part
    return None
