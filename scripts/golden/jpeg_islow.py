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
Progressive files (cjpeg -progressive, and scan scripts, -scans, that
refine the DC and AC coefficients bit by bit in scans of one component)
and a sequential file in several scans are decoded like the others.
Files jpegdec must refuse (arithmetic-coded, RGB) have no reference;
rand_progressive_*.jpg, random images, sizes, qualities, sampling and
scan scripts, have none either: the Go test holds them to image/jpeg's
decode (within a level). The Go tests never need Python or cjpeg.
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


def scans_file(name, text):
    path = os.path.join("/tmp", "jpeg_islow_" + name + ".txt")
    with open(path, "w") as f:
        f.write(text)
    return path


# Successive approximation in every scan type: DC first scans at Al=2,
# luma alone and the chroma interleaved, non-interleaved AC first scans
# of bands at Al=2 and 1, AC refinements to Al=1 and 0, and interleaved
# DC refinements between them.
SCANS_COLOR = scans_file("color", """
0: 0-0, 0, 2;
1,2: 0-0, 0, 2;
0: 1-5, 0, 2;
2: 1-63, 0, 1;
1: 1-63, 0, 1;
0: 6-63, 0, 2;
0,1,2: 0-0, 2, 1;
0: 1-63, 2, 1;
1: 1-63, 1, 0;
0,1,2: 0-0, 1, 0;
2: 1-63, 1, 0;
0: 1-63, 1, 0;
""")
# Non-interleaved DC scans too, and a band refined twice.
SCANS_COLOR2 = scans_file("color2", """
0: 0-0, 0, 2;
1: 0-0, 0, 0;
2: 0-0, 0, 0;
0: 1-9, 0, 3;
0: 10-63, 0, 1;
1: 1-63, 0, 0;
0: 0-0, 2, 1;
2: 1-63, 0, 0;
0: 1-9, 3, 2;
0: 0-0, 1, 0;
0: 1-9, 2, 1;
0: 1-9, 1, 0;
0: 10-63, 1, 0;
""")
SCANS_GRAY = scans_file("gray", """
0: 0-0, 0, 1;
0: 1-2, 0, 3;
0: 3-63, 0, 2;
0: 1-2, 3, 2;
0: 1-63, 2, 1;
0: 0-0, 1, 0;
0: 1-63, 1, 0;
""")
# A sequential file of two scans: luma alone, then Cb and Cr interleaved.
SCANS_SEQUENTIAL = scans_file("sequential", """
0;
1 2;
""")


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
    ("c420_q90_progressive_24x16", (24, 16), 20, ["-quality", "90", "-progressive"]),
    ("c420_q85_progressive_restart_61x45", (61, 45), 14, ["-quality", "85", "-sample", "2x2", "-progressive", "-restart", "2B"]),
    ("c444_q90_progressive_37x27", (37, 27), 15, ["-quality", "90", "-sample", "1x1", "-progressive"]),
    ("c444_q95_progressive_restart_19x21", (19, 21), 16, ["-quality", "95", "-sample", "1x1", "-progressive", "-restart", "1B"]),
    ("c422_q80_progressive_35x13", (35, 13), 17, ["-quality", "80", "-sample", "2x1", "-progressive"]),
    ("gray_q90_progressive_45x31", (45, 31), 18, ["-quality", "90", "-grayscale", "-progressive"]),
    ("gray_q75_progressive_restart_30x17", (30, 17), 19, ["-quality", "75", "-grayscale", "-progressive", "-restart", "1B"]),
    ("c444_q90_scans_33x25", (33, 25), 23, ["-quality", "90", "-sample", "1x1", "-scans", SCANS_COLOR]),
    ("c444_q98_scans_restart_27x19", (27, 19), 24, ["-quality", "98", "-sample", "1x1", "-scans", SCANS_COLOR, "-restart", "1B"]),
    ("c420_q90_scans2_restart_43x29", (43, 29), 25, ["-quality", "90", "-sample", "2x2", "-scans", SCANS_COLOR2, "-restart", "3B"]),
    ("c444_q100_scans2_17x15", (17, 15), 26, ["-quality", "100", "-sample", "1x1", "-scans", SCANS_COLOR2]),
    ("gray_q95_scans_restart_37x23", (37, 23), 27, ["-quality", "95", "-grayscale", "-scans", SCANS_GRAY, "-restart", "2B"]),
    ("c420_q90_sequential_scans_29x21", (29, 21), 28, ["-quality", "90", "-sample", "2x2", "-scans", SCANS_SEQUENTIAL]),
    ("c444_q90_sequential_scans_restart_21x11", (21, 11), 29, ["-quality", "90", "-sample", "1x1", "-scans", SCANS_SEQUENTIAL, "-restart", "1B"]),
]
for name, (w, h), seed, opts in cases:
    path = cjpeg(photo(w, h, seed), name, *opts)
    reference(path, name)

# Random progressive files, for the comparison with image/jpeg.
rnd = random.Random(40)
for i in range(12):
    w, h = rnd.randint(1, 70), rnd.randint(1, 70)
    opts = ["-quality", str(rnd.randint(5, 100))]
    if i % 4 == 3:
        opts += ["-grayscale"] + (["-scans", SCANS_GRAY] if i % 8 == 3 else ["-progressive"])
    else:
        opts += ["-sample", rnd.choice(["1x1", "2x1", "1x2", "2x2"])]
        opts += rnd.choice([["-progressive"], ["-scans", SCANS_COLOR], ["-scans", SCANS_COLOR2]])
    if rnd.random() < 0.4:
        opts += ["-restart", str(rnd.randint(1, 3)) + "B"]
    if rnd.random() < 0.5:
        opts += ["-optimize"]
    cjpeg(photo(w, h, 100 + i), "rand_progressive_%02d" % i, *opts)

# Valid JPEGs this decoder leaves to image/jpeg.
cjpeg(photo(24, 16, 21), "refuse_arithmetic", "-quality", "90", "-arithmetic")
# RGB components (an Adobe header with transform 0): not YCbCr.
cjpeg(photo(24, 16, 22), "refuse_rgb", "-quality", "90", "-rgb")
