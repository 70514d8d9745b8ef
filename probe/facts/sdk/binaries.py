"""Versions inside compiled files, read in pure Python and only the bytes needed.

- Go executables (ELF): the module list the Go linker embeds (``.go.buildinfo``), in
  both the inline format (Go >= 1.18) and the older pointer format.
- .NET assemblies (PE): the FileVersion of the VS_FIXEDFILEINFO resource (the
  AssemblyVersion of AWSSDK.Core is pinned at 3.3, so only the file version tells).

Every parser takes an open binary file, never raises for malformed input (returns
None), and never reads more than a few MiB however large the file claims to be.
"""

from __future__ import annotations

import re
import struct
from typing import BinaryIO, Optional

BUILDINFO_MAGIC = b"\xff Go buildinf:"
INFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
INFO_END = bytes.fromhex("f932433186182072008242104116d8f2")
MAX_STRING = 1 << 20
SCAN_LIMIT = 64 << 20  # how far to look for the magic when there are no section headers


def _read_at(fh: BinaryIO, offset: int, size: int) -> bytes:
    if offset < 0 or size < 0 or size > MAX_STRING * 4:
        return b""
    fh.seek(offset)
    return fh.read(size)


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
    raise ValueError("bad varint")


class _Elf:
    def __init__(self, fh: BinaryIO) -> None:
        ident = _read_at(fh, 0, 64)
        if len(ident) < 52 or ident[:4] != b"\x7fELF" or ident[4] not in (1, 2) or ident[5] not in (1, 2):
            raise ValueError("not ELF")
        self.fh = fh
        self.is64 = ident[4] == 2
        self.end = "<" if ident[5] == 1 else ">"
        if self.is64:
            phoff, shoff = struct.unpack_from(self.end + "QQ", ident, 0x20)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(self.end + "HHHHH", ident, 0x36)
        else:
            phoff, shoff = struct.unpack_from(self.end + "II", ident, 0x1C)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(self.end + "HHHHH", ident, 0x2A)
        self.segments: list[tuple[int, int, int]] = []  # vaddr, offset, filesz
        if phnum and phentsize and phnum < 512:
            table = _read_at(fh, phoff, phentsize * phnum)
            for i in range(phnum):
                entry = table[i * phentsize : (i + 1) * phentsize]
                if len(entry) < (56 if self.is64 else 32):
                    break
                if self.is64:
                    ptype, _flags, off, vaddr, _paddr, filesz = struct.unpack_from(self.end + "IIQQQQ", entry)
                else:
                    ptype, off, vaddr, _paddr, filesz = struct.unpack_from(self.end + "IIIII", entry)
                if ptype == 1:  # PT_LOAD
                    self.segments.append((vaddr, off, filesz))
        self.sections: dict[str, tuple[int, int, int]] = {}  # name -> addr, offset, size
        if shnum and shentsize and shnum < 4096 and shstrndx < shnum:
            table = _read_at(fh, shoff, shentsize * shnum)
            raw = []
            for i in range(shnum):
                entry = table[i * shentsize : (i + 1) * shentsize]
                if len(entry) < (64 if self.is64 else 40):
                    break
                if self.is64:
                    name, _t, _f, addr, off, size = struct.unpack_from(self.end + "IIQQQQ", entry)
                else:
                    name, _t, _f, addr, off, size = struct.unpack_from(self.end + "IIIIII", entry)
                raw.append((name, addr, off, size))
            if shstrndx < len(raw):
                _n, _a, stroff, strsize = raw[shstrndx]
                names = _read_at(fh, stroff, min(strsize, 1 << 20))
                for name, addr, off, size in raw:
                    end = names.find(b"\0", name)
                    if 0 <= name < len(names) and end != -1:
                        self.sections[names[name:end].decode("latin-1")] = (addr, off, size)

    def offset_of(self, vaddr: int) -> Optional[int]:
        for start, off, size in self.segments:
            if start <= vaddr < start + size:
                return off + (vaddr - start)
        return None


def _find_magic(fh: BinaryIO) -> Optional[int]:
    """Where the buildinfo header is, scanning 16-aligned (as the Go linker places it)."""
    chunk = 1 << 20
    pos = 0
    carry = b""
    while pos < SCAN_LIMIT:
        fh.seek(pos)
        data = fh.read(chunk)
        if not data:
            return None
        buf = carry + data
        base = pos - len(carry)
        i = buf.find(BUILDINFO_MAGIC)
        while i != -1:
            if (base + i) % 16 == 0:
                return base + i
            i = buf.find(BUILDINFO_MAGIC, i + 1)
        carry = buf[-16:]
        pos += len(data)
    return None


def go_modules(fh: BinaryIO) -> Optional[dict[str, object]]:
    """{"go": "go1.21.5", "path": main package, "deps": {module: version}} or None."""
    try:
        elf = _Elf(fh)
        if ".go.buildinfo" in elf.sections:
            _addr, header_at, _size = elf.sections[".go.buildinfo"]
        elif elf.sections:
            return None  # section headers without .go.buildinfo: not a Go >= 1.13 binary
        else:
            found = _find_magic(fh)
            if found is None:
                return None
            header_at = found
        header = _read_at(fh, header_at, 32)
        if len(header) < 32 or not header.startswith(BUILDINFO_MAGIC):
            return None
        ptrsize, flags = header[14], header[15]
        if flags & 2:  # inline strings (Go >= 1.18)
            body = _read_at(fh, header_at + 32, MAX_STRING)
            n, pos = _uvarint(body, 0)
            version = body[pos : pos + n]
            pos += n
            n, pos = _uvarint(body, pos)
            modinfo = body[pos : pos + n]
        else:  # pointers to Go string headers (Go < 1.18)
            if ptrsize not in (4, 8):
                return None
            end = ">" if flags & 1 else "<"
            fmt = end + ("Q" if ptrsize == 8 else "I")

            def read_string(ptr_at: int) -> bytes:
                off = elf.offset_of(ptr_at)
                if off is None:
                    return b""
                hdr = _read_at(fh, off, 2 * ptrsize)
                if len(hdr) < 2 * ptrsize:
                    return b""
                data_ptr = struct.unpack_from(fmt, hdr, 0)[0]
                length = struct.unpack_from(fmt, hdr, ptrsize)[0]
                data_off = elf.offset_of(data_ptr)
                if data_off is None or length > MAX_STRING:
                    return b""
                return _read_at(fh, data_off, length)

            vptr = struct.unpack_from(fmt, header, 16)[0]
            mptr = struct.unpack_from(fmt, header, 16 + ptrsize)[0]
            version = read_string(vptr)
            modinfo = read_string(mptr)
    except (ValueError, struct.error, OSError, OverflowError):
        return None
    return parse_modinfo(version.decode("utf-8", "replace"), modinfo)


def parse_modinfo(go_version: str, modinfo: bytes) -> Optional[dict[str, object]]:
    if len(modinfo) >= 33 and modinfo[:16] == INFO_START:
        modinfo = modinfo[16:]
    if modinfo.endswith(INFO_END):
        modinfo = modinfo[:-16]
    text = modinfo.decode("utf-8", "replace")
    if not text and not go_version:
        return None
    deps: dict[str, str] = {}
    main = None
    last = None
    for line in text.splitlines():
        parts = line.split("\t")
        if parts[0] == "path" and len(parts) > 1:
            main = parts[1]
        elif parts[0] in ("mod", "dep") and len(parts) > 2:
            deps[parts[1]] = parts[2]
            last = parts[1]
        elif parts[0] == "=>" and len(parts) > 2 and last:
            # A replace directive: the replacement's version is what was built in.
            deps[last] = parts[2] if parts[2] and parts[2] != "(devel)" else deps[last]
    return {"go": go_version, "path": main, "deps": deps}


FEATURE_STRINGS = {
    "relative": b"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "token_file": b"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
}


def feature_strings(fh: BinaryIO, limit: int = SCAN_LIMIT) -> dict[str, bool]:
    """Which credential-provider variable names a binary contains (read in 1 MiB chunks).

    The fallback for Go binaries built without module information (GOPATH builds, as
    Debian's): an SDK that names a variable reads it.
    """
    found = {k: False for k in FEATURE_STRINGS}
    longest = max(len(v) for v in FEATURE_STRINGS.values())
    fh.seek(0)
    carry = b""
    read = 0
    while read < limit and not all(found.values()):
        data = fh.read(1 << 20)
        if not data:
            break
        read += len(data)
        buf = carry + data
        for key, needle in FEATURE_STRINGS.items():
            if not found[key] and needle in buf:
                found[key] = True
        carry = buf[-longest:]
    return found


_RUST_AWS_CONFIG = re.compile(rb"aws-config-(\d+\.\d+\.\d+)[/\\]src[/\\]")


def rust_aws_config(fh: BinaryIO, limit: int = SCAN_LIMIT) -> Optional[str]:
    """The aws-config crate version a Rust binary was built with, or None.

    Rust keeps each crate's source path in its panic locations, e.g.
    ``.../index.crates.io-<hash>/aws-config-1.5.4/src/imds/client.rs``: the version is in
    the folder name. The file is mapped, not read, and searched with mmap's C search, so
    a large non-Rust executable costs a page-cache scan and no copies.
    """
    import mmap

    try:
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            end = min(len(mm), limit)
            at = mm.find(b"aws-config-", 0, end)
            while at != -1:
                m = _RUST_AWS_CONFIG.match(mm[at : at + 48])
                if m:
                    return m.group(1).decode("ascii")
                at = mm.find(b"aws-config-", at + 1, end)
    except (ValueError, OSError):
        return None
    return None


def pe_file_version(fh: BinaryIO) -> Optional[str]:
    """The FileVersion (a.b.c.d) of a PE file's version resource, or None."""
    try:
        dos = _read_at(fh, 0, 64)
        if len(dos) < 64 or dos[:2] != b"MZ":
            return None
        pe_at = struct.unpack_from("<I", dos, 0x3C)[0]
        coff = _read_at(fh, pe_at, 24)
        if len(coff) < 24 or coff[:4] != b"PE\0\0":
            return None
        nsections, = struct.unpack_from("<H", coff, 6)
        opt_size, = struct.unpack_from("<H", coff, 20)
        table = _read_at(fh, pe_at + 24 + opt_size, 40 * min(nsections, 96))
        for i in range(min(nsections, 96)):
            entry = table[i * 40 : (i + 1) * 40]
            if len(entry) < 40:
                break
            name = entry[:8].rstrip(b"\0")
            raw_size, raw_at = struct.unpack_from("<II", entry, 16)
            if name != b".rsrc":
                continue
            data = _read_at(fh, raw_at, min(raw_size, 8 << 20))
            sig = data.find(b"\xbd\x04\xef\xfe")
            while sig != -1 and sig % 4:
                sig = data.find(b"\xbd\x04\xef\xfe", sig + 1)
            if sig == -1 or sig + 16 > len(data):
                return None
            ms, ls = struct.unpack_from("<II", data, sig + 8)
            return f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"
    except (struct.error, OSError, ValueError):
        return None
    return None
