"""Constants and block framing of the .scapula capture file (specified in FORMAT.md)."""
from array import array
import struct
import sys
import zlib

FILE_MAGIC = b"SCAPULA\0"
FORMAT_MAJOR = 1   # a reader refuses files of any other major version
FORMAT_MINOR = 2   # additions a version-1 reader may ignore (1.2: HEADER users, groups)
PREAMBLE = struct.Struct("<8sHHI")  # magic, major, minor, flags (reserved, 0)

SYNC = b"\xa5SCB"
# sync, type, flags, stored length, raw length, payload crc32, header crc32
BLOCK_HEADER = struct.Struct("<4sHHIIII")
_BLOCK_HEAD = struct.Struct("<4sHHIII")  # the part the header crc covers
FLAG_ZSTD = 1
KNOWN_FLAGS = FLAG_ZSTD  # a block with any other bit set cannot be read by this version

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
COMM_SIZE = 16  # dtype bytes16: fixed 16-byte fields, NUL padded
HEADER_DTYPES = {"ts": "u64", "cgroup": "u64", "res": "i64", "tid": "u32", "pid": "u32",
                 "ppid": "u32", "uid": "u32", "gid": "u32", "cpu": "u16", "comm": "bytes16"}
SCALAR_DTYPES = {"q": "i64", "Q": "u64"}

_SWAP = sys.byteorder != "little"  # array() packs in host order; the file is little-endian


def block_header(btype: int, flags: int, payload: bytes, raw_len: int) -> bytes:
    head = _BLOCK_HEAD.pack(SYNC, btype, flags, len(payload), raw_len, zlib.crc32(payload))
    return head + struct.pack("<I", zlib.crc32(head))


def pack_array(dtype: str, values) -> bytes:
    """Integers as a packed little-endian array of `dtype` (u64, i64, u32, u16)."""
    arr = array(DTYPES[dtype], values)
    if _SWAP:
        arr.byteswap()
    return arr.tobytes()


def unpack_array(dtype: str, data: bytes) -> array:
    arr = array(DTYPES[dtype])
    if len(data) % arr.itemsize:
        raise ValueError(f"{dtype} column of {len(data)} bytes")
    arr.frombytes(data)
    if _SWAP:
        arr.byteswap()
    return arr
