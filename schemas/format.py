"""Constants and block framing of the .scapula capture file (specified in FORMAT.md)."""
import struct
import zlib

FILE_MAGIC = b"SCAPULA\0"
FORMAT_MAJOR = 1   # a reader refuses files with a newer major version
FORMAT_MINOR = 0   # additions a version-1 reader may ignore
PREAMBLE = struct.Struct("<8sHHI")  # magic, major, minor, flags

SYNC = b"\xa5SCB"
# sync, type, flags, stored length, raw length, payload crc32, header crc32
BLOCK_HEADER = struct.Struct("<4sHHIIII")
_BLOCK_HEAD = struct.Struct("<4sHHIII")  # the part the header crc covers
FLAG_ZSTD = 1

# Block types
HEADER, SCHEMA, PROCESSES, FDS, CHUNK, STATS, FOOTER = 1, 2, 3, 4, 5, 6, 7
BLOCK_NAMES = {HEADER: "header", SCHEMA: "schema", PROCESSES: "processes", FDS: "fds",
               CHUNK: "chunk", STATS: "stats", FOOTER: "footer"}

# A chunk's payload starts with this uncompressed summary: first ts, last ts, count.
CHUNK_SUMMARY = struct.Struct("<QQI4x")

TRAILER = struct.Struct("<Q8s")  # footer block offset, end magic
END_MAGIC = b"SCAPEND\0"

# Column encodings inside a chunk: packed little-endian arrays, or msgpack lists.
DTYPES = {"u64": "Q", "i64": "q", "u32": "I", "u16": "H"}
HEADER_DTYPES = {"ts": "u64", "cgroup": "u64", "res": "i64", "tid": "u32", "pid": "u32",
                 "ppid": "u32", "uid": "u32", "gid": "u32", "cpu": "u16", "comm": "bytes16"}
SCALAR_DTYPES = {"q": "i64", "Q": "u64"}


def block_header(btype: int, flags: int, payload: bytes, raw_len: int) -> bytes:
    head = _BLOCK_HEAD.pack(SYNC, btype, flags, len(payload), raw_len, zlib.crc32(payload))
    return head + struct.pack("<I", zlib.crc32(head))
