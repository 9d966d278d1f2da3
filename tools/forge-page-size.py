#!/usr/bin/env python3
"""Rewrites the page_size of a trace's header (issue 9, finding 6): the
forged trace whose analysis used to claim an arena of 2^24 "pages".

    tools/forge-page-size.py IN.mrtrace OUT.mrtrace [PAGE_SIZE]

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
forged = raw[:12] + b"\x01" + uleb(len(payload)) + payload + raw[payload_start + length:]
# From a file, so that the frame records its content size as a trace's must.
with tempfile.NamedTemporaryFile() as plain:
    plain.write(forged)
    plain.flush()
    subprocess.run(["zstd", "-q", "--check", "-f", plain.name, "-o", target], check=True)
