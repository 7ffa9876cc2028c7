#!/usr/bin/python3
# tests/ui/png-check.py FILE…: each FILE is a PNG that is not blank: it
# decodes (8-bit grey, RGB, grey+alpha or RGBA, not interlaced: what
# gdk_texture_save_to_png and ImageMagick write), is at least 200×150, has
# more than 16 colours and no colour covers more than 97% of it. Prints one
# line per file ("FILE: W×H, N colours, top colour P%") and exits 1 if any
# is blank or unreadable. Python's standard library only (zlib, struct).
import struct
import sys
import zlib

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if hdr is None:
        raise ValueError("no IHDR")
    w, h, depth, ctype, _comp, _filt, interlace = hdr
    if depth != 8 or ctype not in CHANNELS or interlace != 0:
        raise ValueError("unsupported PNG (depth %d, colour type %d, interlace %d)" % (depth, ctype, interlace))
    bpp = CHANNELS[ctype]
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 0xFF
            elif f != 0:
                raise ValueError("bad filter %d" % f)
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def main():
    bad = 0
    for path in sys.argv[1:]:
        try:
            w, h, bpp, rows = read_png(path)
        except (OSError, ValueError, zlib.error) as e:
            print("%s: unreadable: %s" % (path, e))
            bad += 1
            continue
        counts = {}
        for row in rows:
            for x in range(0, len(row), bpp):
                px = row[x:x + bpp]
                counts[px] = counts.get(px, 0) + 1
        top = max(counts.values()) * 100.0 / (w * h)
        blank = w < 200 or h < 150 or len(counts) <= 16 or top > 97.0
        print("%s: %d×%d, %d colours, top colour %.1f%%%s" % (path, w, h, len(counts), top, " BLANK" if blank else ""))
        bad += blank
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
