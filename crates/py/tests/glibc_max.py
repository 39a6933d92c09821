"""The highest glibc symbol version a wheel's extension modules need, by a scan of their
ELF dynamic string tables (the `GLIBC_x.y` version names the loader checks).

    python glibc_max.py WHEEL [MAX]      exits 1 when a version exceeds MAX (e.g. 2.17)
"""

import re
import struct
import sys
import zipfile


def dynstr(blob: bytes) -> bytes:
    """The `.dynstr` section of a 64-bit little-endian ELF file."""
    if blob[:4] != b"\x7fELF" or blob[4] != 2 or blob[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", blob, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", blob, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", blob, shoff + i * shentsize) for i in range(shnum)]
    names_off = sections[shstrndx][4]
    for name, kind, _, _, off, size, *_ in sections:
        end = blob.index(b"\0", names_off + name)
        if blob[names_off + name : end] == b".dynstr":
            return blob[off : off + size]
    raise ValueError("no .dynstr section")


def glibc_versions(wheel: str) -> dict[str, tuple[int, ...]]:
    out = {}
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.endswith(".so"):
                found = re.findall(rb"GLIBC_([0-9]+(?:\.[0-9]+)+)", dynstr(z.read(name)))
                out[name] = max(tuple(int(x) for x in v.split(b".")) for v in found) if found else ()
    return out


def main() -> int:
    wheel = sys.argv[1]
    limit = tuple(int(x) for x in sys.argv[2].split(".")) if len(sys.argv) > 2 else None
    versions = glibc_versions(wheel)
    if not versions:
        print(f"{wheel}: no extension module")
        return 1
    worst = max(versions.values())
    text = ".".join(map(str, worst))
    print(f"{wheel}: highest glibc symbol version GLIBC_{text} ({len(versions)} module(s))")
    if limit is not None and worst > limit:
        print(f"  exceeds {'.'.join(map(str, limit))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
