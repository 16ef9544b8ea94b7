"""Member offsets of kernel structs, read from the running kernel's BTF.

The programs read task_struct and friends at offsets found here and compiled in as
constants, never at offsets taken from header files (which may not match the kernel).
"""
import struct

from scapula.capture.errors import KernelError

VMLINUX = "/sys/kernel/btf/vmlinux"
BTF_MAGIC = 0xEB9F

KIND_INT, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION = 1, 2, 3, 4, 5
KIND_ENUM, KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST = 6, 7, 8, 9, 10
KIND_RESTRICT, KIND_FUNC, KIND_FUNC_PROTO, KIND_VAR, KIND_DATASEC = 11, 12, 13, 14, 15
KIND_FLOAT, KIND_DECL_TAG, KIND_TYPE_TAG, KIND_ENUM64 = 16, 17, 18, 19

# Bytes that follow a btf_type record, by kind: a fixed part plus a per-vlen part.
_TRAILER = {
    KIND_INT: (4, 0), KIND_ARRAY: (12, 0), KIND_STRUCT: (0, 12), KIND_UNION: (0, 12),
    KIND_ENUM: (0, 8), KIND_FUNC_PROTO: (0, 8), KIND_VAR: (4, 0), KIND_DATASEC: (0, 12),
    KIND_DECL_TAG: (4, 0), KIND_ENUM64: (0, 12),
}
_MODIFIERS = {KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG}


class BTF:
    """The struct and union types of one BTF blob, looked up by name."""

    def __init__(self, data: bytes, source: str = VMLINUX):
        magic, _ver, _flags, hdr_len, type_off, type_len, str_off, _str_len = \
            struct.unpack_from("<HBBIIIII", data, 0)
        if magic != BTF_MAGIC:
            raise KernelError(f"{source}: not BTF (magic {magic:#x})")
        self._data = data
        self._strings = hdr_len + str_off
        self._types: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)]  # kind, vlen, size/type, offset
        self._structs: dict[str, list[int]] = {}
        self._enums: list[int] = []
        pos, end = hdr_len + type_off, hdr_len + type_off + type_len
        unpack = struct.Struct("<III").unpack_from
        while pos < end:
            name_off, info, size_or_type = unpack(data, pos)
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            self._types.append((kind, vlen, size_or_type, pos + 12, ))
            if kind in (KIND_STRUCT, KIND_UNION) and name_off:
                self._structs.setdefault(self._name(name_off), []).append(len(self._types) - 1)
            elif kind == KIND_ENUM:
                self._enums.append(len(self._types) - 1)
            fixed, per = _TRAILER.get(kind, (0, 0))
            pos += 12 + fixed + per * vlen
        self._kflag = {}

    @classmethod
    def load(cls, path: str = VMLINUX) -> "BTF":
        try:
            with open(path, "rb") as f:
                return cls(f.read(), path)
        except OSError as e:
            raise KernelError(f"{path}: cannot read BTF ({e.strerror}); the kernel needs "
                              "CONFIG_DEBUG_INFO_BTF=y") from None

    def _name(self, off: int) -> str:
        end = self._data.index(b"\0", self._strings + off)
        return self._data[self._strings + off:end].decode()

    def _members(self, type_id: int):
        kind, vlen, _size, pos = self._types[type_id]
        kflag = struct.unpack_from("<I", self._data, pos - 8)[0] >> 31
        for i in range(vlen):
            name_off, mtype, offset = struct.unpack_from("<III", self._data, pos + 12 * i)
            bits = offset & 0xFFFFFF if kflag else offset
            yield (self._name(name_off) if name_off else ""), mtype, bits

    def _strip(self, type_id: int) -> int:
        while self._types[type_id][0] in _MODIFIERS:
            type_id = self._types[type_id][2]
        return type_id

    def _find(self, type_id: int, member: str):
        """(bit offset, type id) of `member`, looking inside anonymous structs and unions."""
        for name, mtype, bits in self._members(type_id):
            if name == member:
                return bits, mtype
            if not name:
                inner = self._strip(mtype)
                if self._types[inner][0] in (KIND_STRUCT, KIND_UNION):
                    found = self._find(inner, member)
                    if found:
                        return bits + found[0], found[1]
        return None

    def offset(self, struct_name: str, member: str) -> int | None:
        """Byte offset of `struct_name.member`, or None where this kernel lacks it."""
        for type_id in self._structs.get(struct_name, ()):
            if self._types[type_id][1] == 0:
                continue  # a declaration without members
            found = self._find(type_id, member)
            if found:
                if found[0] % 8:
                    return None  # a bitfield: not readable with a plain load
                return found[0] // 8
        return None

    def size(self, struct_name: str) -> int | None:
        for type_id in self._structs.get(struct_name, ()):
            if self._types[type_id][1]:
                return self._types[type_id][2]
        return None

    def array_length(self, struct_name: str, member: str) -> int | None:
        """Element count of the array member `struct_name.member`."""
        for type_id in self._structs.get(struct_name, ()):
            found = self._types[type_id][1] and self._find(type_id, member)
            if found:
                kind, _vlen, _size, pos = self._types[self._strip(found[1])]
                if kind != KIND_ARRAY:
                    return None
                return struct.unpack_from("<III", self._data, pos)[2]
        return None

    def enum_value(self, name: str) -> int | None:
        """The value of the enumerator `name` (PIDTYPE_SID, ...)."""
        for type_id in self._enums:
            _kind, vlen, _size, pos = self._types[type_id]
            for i in range(vlen):
                name_off, value = struct.unpack_from("<Ii", self._data, pos + 8 * i)
                if self._name(name_off) == name:
                    return value
        return None
