#!/usr/bin/env python3
"""Dump every event of MariaDB/MySQL binlog files as hex, for golden tests.

Usage: extract.py [--stop-after-type N] BINLOG_FILE... > events.txt

--stop-after-type N stops reading a file after the first event of type N:
an encrypted binlog (encrypt_binlog=ON) is only readable up to its
START_ENCRYPTION_EVENT (164), everything after it is ciphertext whose
headers are not laid out as above.

Output (one line per event, '#' lines are comments):

    E <file> <pos> <type> <checksum> <hex of the whole event>

<pos> is the event's byte offset in the file, <type> the event type byte,
<checksum> is `crc32` when the file's FORMAT_DESCRIPTION_EVENT announces
binlog_checksum=CRC32 (the last 4 bytes of the event are then its CRC32) and
`none` otherwise. The hex covers the whole event: 19-byte common header,
body and, for `crc32`, the trailer.

The extractor is deliberately independent of the Rust code under test: it
walks the files with the documented layout (4-byte magic 0xfe 'bin', then
events whose common header is timestamp u32, type u8, server_id u32,
event_size u32, log_pos u32, flags u16, all little-endian) and verifies every
CRC32 with Python's zlib, so a checksum the Rust decoder accepts was also
accepted by an unrelated implementation.
"""

import re
import struct
import sys
import zlib

MAGIC = b"\xfebin"
HEADER_LEN = 19
FORMAT_DESCRIPTION_EVENT = 15
LOG_EVENT_BINLOG_IN_USE_F = 0x1
# The FDE post-header: binlog_version u16, server_version char[50],
# create_timestamp u32, header_length u8, then one post-header length per
# event type; a checksum-aware server appends the algorithm byte and a CRC32.
FDE_SERVER_VERSION = slice(HEADER_LEN + 2, HEADER_LEN + 2 + 50)


def checksum_alg(fde: bytes) -> int:
    """Checksum algorithm announced by a FORMAT_DESCRIPTION_EVENT.

    Servers from 5.6.1 / MariaDB 5.3 on write the algorithm byte just before
    the (always present) 4-byte FDE checksum: 0 = off, 1 = CRC32.
    """
    version = fde[FDE_SERVER_VERSION].split(b"\0")[0].decode()
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if not m or tuple(map(int, m.groups())) < (5, 6, 1):
        return None  # checksum-unaware server: no algorithm byte, no CRC
    return fde[-5]


def events(path, stop_after=None):
    data = open(path, "rb").read()
    if data[:4] != MAGIC:
        raise SystemExit(f"{path}: not a binlog file (magic {data[:4]!r})")
    pos = 4
    alg = None
    while pos < len(data):
        if pos + HEADER_LEN > len(data):
            raise SystemExit(f"{path}: truncated header at {pos}")
        _ts, etype, _sid, size, _next, flags = struct.unpack_from("<IBIIIH", data, pos)
        if size < HEADER_LEN or pos + size > len(data):
            raise SystemExit(f"{path}: bad event_size {size} at {pos}")
        ev = data[pos:pos + size]
        if etype == FORMAT_DESCRIPTION_EVENT:
            alg = checksum_alg(ev)
        # A checksum-aware FDE always ends in a CRC32, whatever it announces.
        has_crc = alg == 1 or (etype == FORMAT_DESCRIPTION_EVENT and alg is not None)
        if has_crc:
            body = bytearray(ev[:-4])
            if etype == FORMAT_DESCRIPTION_EVENT:
                # The in-use flag is set while the file is open and cleared on
                # close without rewriting the CRC: it is computed without it.
                struct.pack_into("<H", body, 17, flags & ~LOG_EVENT_BINLOG_IN_USE_F)
            stored = struct.unpack_from("<I", ev, size - 4)[0]
            computed = zlib.crc32(bytes(body)) & 0xFFFFFFFF
            if stored != computed:
                raise SystemExit(f"{path}: CRC mismatch at {pos}: "
                                 f"stored {stored:#x} computed {computed:#x}")
        yield pos, etype, ("crc32" if alg == 1 else "none"), ev
        pos += size
        if etype == stop_after:
            return


def main():
    args = sys.argv[1:]
    stop_after = None
    if args[:1] == ["--stop-after-type"]:
        stop_after = int(args[1])
        args = args[2:]
    for path in args:
        name = path.rsplit("/", 1)[-1]
        for pos, etype, chk, ev in events(path, stop_after):
            print(f"E {name} {pos} {etype} {chk} {ev.hex()}")


if __name__ == "__main__":
    main()
