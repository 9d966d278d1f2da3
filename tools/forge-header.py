#!/usr/bin/env python3
"""Forges a trace's header page_size or its arena's size (issue 9, finding
6): the traces whose analysis used to claim an arena of 2^24 pages.

    tools/forge-header.py IN.mrtrace OUT.mrtrace [PAGE_SIZE [ARENA_PAGES]]

PAGE_SIZE (default 1) replaces the header's page_size; ARENA_PAGES, when
given, moves the arena record's end to start + ARENA_PAGES * PAGE_SIZE.

Needs the zstd command. The raw stream is rewritten and compressed again as
one checksummed frame; everything but the header's page_size is kept."""
import subprocess
import sys
import tempfile


def uleb(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_uleb(data, pos):
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


source, target = sys.argv[1], sys.argv[2]
page_size = int(sys.argv[3]) if len(sys.argv) > 3 else 1
arena_pages = int(sys.argv[4]) if len(sys.argv) > 4 else None
raw = subprocess.run(["zstd", "-dcq", source], check=True, capture_output=True).stdout
assert raw[:8] == b"MAPSRACE" and raw[12] == 1, "not a trace starting with its header"
length, payload_start = read_uleb(raw, 13)
payload = raw[payload_start:payload_start + length]
pos = 0
for _ in range(4):  # tool_version, kernel_release, kernel_version, machine
    count, pos = read_uleb(payload, pos)
    pos += count
_, after = read_uleb(payload, pos)
payload = payload[:pos] + uleb(page_size) + payload[after:]
rest = raw[payload_start + length:]
if arena_pages is not None:
    assert rest[0] == 2, "the arena record does not follow the header"
    arena_length, arena_start = read_uleb(rest, 1)
    start, position = read_uleb(rest, arena_start)
    arena = uleb(start) + uleb(start + arena_pages * page_size)
    rest = b"\x02" + uleb(len(arena)) + arena + rest[arena_start + arena_length:]
forged = raw[:12] + b"\x01" + uleb(len(payload)) + payload + rest
# From a file, so that the frame records its content size as a trace's must.
with tempfile.NamedTemporaryFile() as plain:
    plain.write(forged)
    plain.flush()
    subprocess.run(["zstd", "-q", "--check", "-f", plain.name, "-o", target], check=True)
