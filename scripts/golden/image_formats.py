#!/usr/bin/python3
"""Writes moco/data/testdata/formats/: the WebP fixtures of the image
formats test (TestDecodeFormats), made by Pillow (Debian's python3-pil,
with libwebp), which Go cannot encode, and the JPEG fixtures of
TestDecodeJPEGLikePillow, each beside Pillow's (libjpeg-turbo's) decode.

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

JPEG (quality 90; each NAME.jpg beside NAME_pil.png, Pillow's decode of it
to RGB or L, which is what torchvision's ImageFolder sees):
edges_420.jpg, edges_422.jpg, edges_444.jpg, edges_gray.jpg
                       edges(33, 21): discs and bars of saturated colour
                       on a grey ramp, sharp colour edges where the
                       decoders' chroma upsampling differs most, odd sizes
                       (an odd last chroma column and row); 4:2:0, 4:2:2
                       (2x1 chroma), 4:4:4 and grayscale
edges_440.jpg          a 4:4:0 (1x2 chroma) JPEG, which Pillow cannot
                       write: edges(80, 16) written 4:2:2, its frame header
                       then relabelled 33x21 with 1x2 luma sampling. The
                       entropy-coded data read the same way (an MCU is two
                       luma blocks and one of each chroma), so the picture
                       is the 4:2:2 one's blocks rearranged: a valid,
                       scrambled image with chroma edges at block borders
gradient_420.jpg       the WebP fixtures' smooth 64x48 gradient, 4:2:0
gradient_420_progressive.jpg
                       the same, progressive
tiny_420_4x3.jpg, tiny_420_5x3.jpg
                       edges(4, 3) and edges(5, 3), 4:2:0: libjpeg
                       upsamples a chroma plane at most 2 samples wide by
                       replication and a wider one with its triangle filter
wide_420_227x37.jpg, wide_422_203x19.jpg, wide_444_150x9.jpg
                       edges() at widths where moco/data's AVX2 conversion
                       kernels do most of each row (and the Go loop a tail)

Run from the repository root: /usr/bin/python3 scripts/golden/image_formats.py
"""
import os
import struct

from PIL import Image, ImageDraw


def test_rgba(w, h, seed):
    """fixtures_test.go's testRGBA: the pixel at (x, y) is
    (x·37 + seed·11, y·53 + seed·7, (x + y)·19) mod 256, opaque."""
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 37 + seed * 11) % 256, (y * 53 + seed * 7) % 256, ((x + y) * 19) % 256)
                for y in range(h) for x in range(w)])
    return im


def edges(w, h):
    """A grey ramp with saturated discs and bars: sharp colour edges in
    every direction, which a w×h crop of any size keeps some of."""
    im = Image.new("RGB", (w, h))
    im.putdata([(40 + 6 * x, 40 + 6 * x, 40 + 6 * x) for y in range(h) for x in range(w)])
    d = ImageDraw.Draw(im)
    d.rectangle([w // 7, 0, w // 7 + 2, h], fill=(255, 0, 0))
    d.rectangle([0, h // 3, w, h // 3 + 1], fill=(0, 0, 255))
    d.ellipse([w // 3, h // 4, w // 3 + 11, h // 4 + 11], fill=(0, 220, 0))
    d.ellipse([2 * w // 3 - 2, h // 2, 2 * w // 3 + 7, h // 2 + 9], fill=(250, 200, 0))
    d.line([0, h - 1, w - 1, 0], fill=(200, 0, 220), width=2)
    return im


def relabel_440(b, w, h):
    """b, a baseline JPEG written 4:2:2 (luma sampled 2x1), with its frame
    header saying w×h and luma sampled 1x2 instead."""
    # SOF0: marker, length (2), precision (1), height, width (2 each),
    # component count, then per component its id and sampling byte (hv).
    i = b.index(b"\xff\xc0")
    assert b[i + 9] == 3 and b[i + 11] == 0x21, "not a 4:2:2 frame"
    return b[:i + 5] + struct.pack(">HH", h, w) + b[i + 9:i + 11] + b"\x12" + b[i + 12:]


def save_jpeg(out, name, im, **kw):
    """Writes NAME.jpg (quality 90) and NAME_pil.png, Pillow's decode."""
    path = os.path.join(out, name + ".jpg")
    im.save(path, quality=90, **kw)
    decode_jpeg(out, name)


def decode_jpeg(out, name):
    dec = Image.open(os.path.join(out, name + ".jpg"))
    dec.convert("L" if dec.mode == "L" else "RGB").save(os.path.join(out, name + "_pil.png"))


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

    e = edges(33, 21)
    save_jpeg(out, "edges_420", e, subsampling="4:2:0")
    save_jpeg(out, "edges_422", e, subsampling="4:2:2")
    save_jpeg(out, "edges_444", e, subsampling="4:4:4")
    save_jpeg(out, "edges_gray", e.convert("L"))
    save_jpeg(out, "gradient_420", g, subsampling="4:2:0")
    save_jpeg(out, "gradient_420_progressive", g, subsampling="4:2:0", progressive=True)
    save_jpeg(out, "tiny_420_4x3", edges(4, 3), subsampling="4:2:0")
    save_jpeg(out, "tiny_420_5x3", edges(5, 3), subsampling="4:2:0")
    # Rows wide enough for the AVX2 conversion kernels, with tails.
    save_jpeg(out, "wide_420_227x37", edges(227, 37), subsampling="4:2:0")
    save_jpeg(out, "wide_422_203x19", edges(203, 19), subsampling="4:2:2")
    save_jpeg(out, "wide_444_150x9", edges(150, 9), subsampling="4:4:4")
    # 4:2:2 MCUs are 16x8 pixels, 4:4:0 ones 8x16: 80x16 (5x2 MCUs) has
    # as many, in as many columns, as 33x21.
    tmp = os.path.join(out, "edges_440.jpg")
    edges(80, 16).save(tmp, quality=90, subsampling="4:2:2")
    with open(tmp, "rb") as f:
        b = relabel_440(f.read(), 33, 21)
    with open(tmp, "wb") as f:
        f.write(b)
    decode_jpeg(out, "edges_440")


if __name__ == "__main__":
    main()
