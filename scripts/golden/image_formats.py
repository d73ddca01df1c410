#!/usr/bin/python3
"""Writes moco/data/testdata/formats/: the WebP fixtures of the image
formats test (TestDecodeFormats), made by Pillow (Debian's python3-pil,
with libwebp), which Go cannot encode.

pattern_lossless.webp  testRGBA(13, 9, 4) of fixtures_test.go, lossless
gradient_lossy.webp    a smooth 64×48 gradient (R = 4x, G = 5y, B = 128),
                       lossy (quality 90): test patterns that change
                       every pixel are lossy WebP's worst case, where the
                       decoders' chroma upsampling differs most
gradient_lossy_pil.png Pillow's decode of gradient_lossy.webp: what our
                       decoder's output is compared with
pattern_lossy.webp, pattern_lossy_pil.png
                       testRGBA(33, 21, 4), lossy (quality 90), and
                       Pillow's decode: odd sizes and colour edges at
                       every pixel, where chroma upsampling shows
gradient_alpha_lossy.webp, gradient_alpha_lossy_pil.png
                       the same gradient with an alpha channel (lossy
                       colour, lossless alpha), and Pillow's decode of it
                       to RGB (alpha dropped)

Run from the repository root: /usr/bin/python3 scripts/golden/image_formats.py
"""
import os

from PIL import Image


def test_rgba(w, h, seed):
    """fixtures_test.go's testRGBA: the pixel at (x, y) is
    (x·37 + seed·11, y·53 + seed·7, (x + y)·19) mod 256, opaque."""
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 37 + seed * 11) % 256, (y * 53 + seed * 7) % 256, ((x + y) * 19) % 256)
                for y in range(h) for x in range(w)])
    return im


def main():
    out = "moco/data/testdata/formats"
    os.makedirs(out, exist_ok=True)
    im = test_rgba(13, 9, 4)
    im.save(os.path.join(out, "pattern_lossless.webp"), lossless=True)
    test_rgba(33, 21, 4).save(os.path.join(out, "pattern_lossy.webp"), quality=90)
    Image.open(os.path.join(out, "pattern_lossy.webp")).convert("RGB").save(os.path.join(out, "pattern_lossy_pil.png"))
    g = Image.new("RGB", (64, 48))
    g.putdata([(4 * x, 5 * y, 128) for y in range(48) for x in range(64)])
    g.save(os.path.join(out, "gradient_lossy.webp"), quality=90)
    Image.open(os.path.join(out, "gradient_lossy.webp")).convert("RGB").save(os.path.join(out, "gradient_lossy_pil.png"))
    ga = g.convert("RGBA")
    ga.putalpha(Image.new("L", (64, 48), 200))
    ga.save(os.path.join(out, "gradient_alpha_lossy.webp"), quality=90)
    Image.open(os.path.join(out, "gradient_alpha_lossy.webp")).convert("RGB").save(os.path.join(out, "gradient_alpha_lossy_pil.png"))


if __name__ == "__main__":
    main()
