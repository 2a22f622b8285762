#!/usr/bin/env python3
"""A Network Monitor 2.0 file whose frame table claims (and holds) 2 GiB, written to stdout,
for checking that reading it stays within a small memory budget (issue 14):

    python3 scripts/netmon-huge-table.py zeros | gzip -1 > /tmp/huge-zeros.cap.gz
    python3 scripts/netmon-huge-table.py climbing | gzip -1 > /tmp/huge-climbing.cap.gz
    /usr/bin/time -f '%M KiB' portreuse /tmp/huge-zeros.cap.gz

The table is stored first (at byte 128), as NetMon allows: `zeros` fills it with zeros,
`climbing` with offsets that climb past its end, as a table of 512 Mi records would.
"""

import array
import struct
import sys

TABLE_LEN = 0x8000_0000 - 4  # 2 GiB, a multiple of 4
CHUNK = 1 << 20


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "zeros"
    out = sys.stdout.buffer
    header = bytearray(128)
    header[0:4] = b"GMBU"
    header[4], header[5] = 0, 2  # version 2.0
    struct.pack_into("<H", header, 6, 1)  # Ethernet
    struct.pack_into("<8H", header, 8, 2026, 11, 1, 23, 0, 31, 40, 825)
    struct.pack_into("<II", header, 24, 128, TABLE_LEN)
    out.write(header)
    table_end = 128 + TABLE_LEN
    written = 0
    entry = 0
    while written < TABLE_LEN:
        n = min(CHUNK, TABLE_LEN - written) // 4
        if kind == "zeros":
            out.write(bytes(4 * n))
        else:
            first = table_end + 64 * entry
            values = array.array("I", (v & 0xFFFFFFFF for v in range(first, first + 64 * n, 64)))
            out.write(values.tobytes())
        entry += n
        written += 4 * n


if __name__ == "__main__":
    main()
