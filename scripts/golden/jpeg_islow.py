#!/usr/bin/python3
"""Fixtures for internal/jpegdec: JPEGs written by libjpeg-turbo's cjpeg
with the options that change how a file is laid out, beside the samples
libjpeg-turbo decodes from each, as Pillow returns them.

Run with Debian's libjpeg-turbo-progs (cjpeg) and python3-pil:
    /usr/bin/python3 scripts/golden/jpeg_islow.py
It writes internal/jpegdec/testdata/*.jpg and, for each, NAME_ref.png:
    - a grayscale JPEG: Pillow's "L" decode, the samples themselves;
    - a colour JPEG: Pillow's decode in "YCbCr" mode (Image.draft), so
      libjpeg's colour conversion is skipped: Y is the luma plane as
      decoded; Cb and Cr are the chroma planes, upsampled by libjpeg's
      default (fancy) upsampling where the file subsamples them.
The PNG stores Y, Cb, Cr in its R, G, B channels (lossless).
Files libjpegdec must refuse (progressive, arithmetic-coded) have no
reference. The Go tests never need Python or cjpeg.
"""
import io
import math
import os
import random
import subprocess

from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "internal", "jpegdec", "testdata")
os.makedirs(OUT, exist_ok=True)


def photo(w, h, seed):
    """Smooth shading, hard-edged blocks and noise: a photo's mix."""
    rnd = random.Random(seed)
    im = Image.new("RGB", (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):
            fx, fy = x / w, y / h
            v = [120 + 80 * math.sin(6 * fx + 2 * fy), 100 + 60 * math.cos(5 * fy - 3 * fx),
                 90 + 50 * math.sin(9 * fx * fy)]
            if (x // 7 + y // 5) % 3 == 0:
                v[0], v[2] = v[2], v[0]
            px[x, y] = tuple(max(0, min(255, int(c + rnd.gauss(0, 12)))) for c in v)
    return im


def cjpeg(im, name, *opts):
    src = io.BytesIO()
    im.save(src, "PPM" if im.mode == "RGB" else "PPM")
    path = os.path.join(OUT, name + ".jpg")
    with open(path, "wb") as f:
        subprocess.run(["cjpeg", *opts], input=src.getvalue(), stdout=f, check=True)
    return path


def reference(path, name):
    im = Image.open(path)
    if im.mode == "L":
        im.load()
        ref = im
    else:
        im.draft("YCbCr", im.size)
        im.load()
        assert im.mode == "YCbCr", im.mode
        ref = Image.frombytes("RGB", im.size, im.tobytes())
    ref.save(os.path.join(OUT, name + "_ref.png"))


cases = [
    # name, size, seed, cjpeg options
    ("c444_q90_33x21", (33, 21), 1, ["-quality", "90", "-sample", "1x1"]),
    ("c420_q90_64x48", (64, 48), 2, ["-quality", "90", "-sample", "2x2"]),
    ("c420_q75_37x29", (37, 29), 3, ["-quality", "75", "-sample", "2x2"]),
    ("c422_q90_41x17", (41, 17), 4, ["-quality", "90", "-sample", "2x1"]),
    ("c440_q90_23x35", (23, 35), 5, ["-quality", "90", "-sample", "1x2"]),
    ("c420_q95_restart_50x40", (50, 40), 6, ["-quality", "95", "-sample", "2x2", "-restart", "3B"]),
    ("c444_q85_restart_optimize_31x31", (31, 31), 7, ["-quality", "85", "-sample", "1x1", "-restart", "1", "-optimize"]),
    ("c420_q100_16x16", (16, 16), 8, ["-quality", "100", "-sample", "2x2"]),
    ("c420_q10_70x45", (70, 45), 9, ["-quality", "10", "-sample", "2x2"]),
    ("c411_q90_45x20", (45, 20), 10, ["-quality", "90", "-sample", "4x1"]),
    ("gray_q90_29x13", (29, 13), 11, ["-quality", "90", "-grayscale"]),
    ("gray_q50_restart_1x1", (1, 1), 12, ["-quality", "50", "-grayscale", "-restart", "1B"]),
    ("gray_q90_optimize_9x65", (9, 65), 13, ["-quality", "90", "-grayscale", "-optimize"]),
]
for name, (w, h), seed, opts in cases:
    path = cjpeg(photo(w, h, seed), name, *opts)
    reference(path, name)

# Valid JPEGs this decoder leaves to image/jpeg.
cjpeg(photo(24, 16, 20), "refuse_progressive", "-quality", "90", "-progressive")
cjpeg(photo(24, 16, 21), "refuse_arithmetic", "-quality", "90", "-arithmetic")
# RGB components (an Adobe header with transform 0): not YCbCr.
cjpeg(photo(24, 16, 22), "refuse_rgb", "-quality", "90", "-rgb")
