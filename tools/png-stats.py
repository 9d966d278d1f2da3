#!/usr/bin/env python3
"""Prints what a PNG screenshot shows, as JSON: its size, how many distinct
colours it has, and the fraction of pixels that differ from its most common
colour (the background). Used by the browser tests to tell a drawn page from
a blank one. Handles what Chromium writes: 8-bit RGB or RGBA, not interlaced.

Usage: tools/png-stats.py FILE.png [#rrggbb ...]
With colours, also prints how many pixels have each of them exactly
("colours": {"#rrggbb": count}).
"""
import json
import struct
import sys
import zlib
from collections import Counter


def decode(path):
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    position, idat = 8, []
    width = height = depth = colour = interlace = None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise SystemExit(f"{path}: unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    previous = bytearray(stride)
    rows = []
    offset = 0
    for _ in range(height):
        kind = raw[offset]
        line = bytearray(raw[offset + 1:offset + 1 + stride])
        offset += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def main():
    width, height, channels, rows = decode(sys.argv[1])
    colours = Counter()
    for line in rows:
        for x in range(0, len(line), channels):
            colours[line[x:x + 3]] += 1
    background, count = colours.most_common(1)[0]
    total = width * height
    wanted = {name.lower(): colours.get(bytes.fromhex(name.lstrip("#")), 0) for name in sys.argv[2:]}
    print(json.dumps({
        "colours": wanted,
        "width": width,
        "height": height,
        "distinct_colours": len(colours),
        "background": "#" + background.hex(),
        "non_background_fraction": round((total - count) / total, 4),
    }))


if __name__ == "__main__":
    main()
