#!/usr/bin/python3
"""Golden vectors for the deterministic pieces of moco/data's augmentation.

Run with Debian's python3-torch + python3-torchvision (0.14) + PIL:
    /usr/bin/python3 scripts/golden/augment_ops.py
It writes moco/data/testdata/golden/augment_ops.json, which the Go tests
read; the tests never need Python.

Float ops use torchvision's tensor functional API on float32 CHW in [0,1]
(the formulas moco/data follows). Blur and solarize come from PIL, which
the official moco-v3 code calls (ImageFilter.GaussianBlur, ImageOps.solarize),
so they are uint8 outputs.
"""
import json
import os

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image, ImageFilter, ImageOps

H, W = 12, 10
g = torch.Generator().manual_seed(1234)
img_u8 = torch.randint(0, 256, (3, H, W), generator=g, dtype=torch.uint8)
# A few exact values: pure colours, gray, the solarize threshold.
img_u8[:, 0, 0] = torch.tensor([255, 0, 0])
img_u8[:, 0, 1] = torch.tensor([0, 255, 0])
img_u8[:, 0, 2] = torch.tensor([0, 0, 255])
img_u8[:, 0, 3] = torch.tensor([128, 128, 128])
img_u8[:, 0, 4] = torch.tensor([127, 127, 127])
x = img_u8.float() / 255.0
pil = Image.fromarray(img_u8.permute(1, 2, 0).numpy(), "RGB")


def flat(t):
    return [float(v) for v in t.reshape(-1).tolist()]


def pil_chw(p):
    a = np.asarray(p, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    return [int(v) for v in a.transpose(2, 0, 1).reshape(-1)]


cases = []
for f in [0.6, 1.0, 1.37]:
    cases.append({"op": "brightness", "factor": f, "out": flat(F.adjust_brightness(x, f))})
for f in [0.6, 1.25, 1.4]:
    cases.append({"op": "contrast", "factor": f, "out": flat(F.adjust_contrast(x, f))})
for f in [0.8, 1.15]:
    cases.append({"op": "saturation", "factor": f, "out": flat(F.adjust_saturation(x, f))})
for f in [-0.1, -0.03, 0.0, 0.07, 0.1, 0.5]:
    cases.append({"op": "hue", "factor": f, "out": flat(F.adjust_hue(x, f))})
cases.append({"op": "grayscale", "factor": 0, "out": flat(F.rgb_to_grayscale(x, num_output_channels=3))})
cases.append({"op": "hflip", "factor": 0, "out": flat(F.hflip(x))})

resize = []
for (oh, ow) in [(5, 4), (7, 6), (12, 10), (20, 17), (3, 9)]:
    t = F.resize(x, [oh, ow], interpolation=F.InterpolationMode.BILINEAR, antialias=True)
    p = pil.resize((ow, oh), Image.BILINEAR)
    resize.append({"top": 0, "left": 0, "h": H, "w": W, "oh": oh, "ow": ow,
                   "out": flat(t), "pil": pil_chw(p)})
for (top, left, h, w, s) in [(2, 1, 8, 7, 6), (0, 3, 12, 5, 9), (4, 4, 3, 3, 8)]:
    t = F.resized_crop(x, top, left, h, w, [s, s], interpolation=F.InterpolationMode.BILINEAR, antialias=True)
    p = F.resized_crop(pil, top, left, h, w, [s, s], interpolation=F.InterpolationMode.BILINEAR)
    resize.append({"top": top, "left": left, "h": h, "w": w, "oh": s, "ow": s,
                   "out": flat(t), "pil": pil_chw(p)})

evals = []
for size in [8, 7]:
    r = int(size * 256 / 224)
    t = F.center_crop(F.resize(x, r, interpolation=F.InterpolationMode.BILINEAR, antialias=True), size)
    evals.append({"size": size, "out": flat(t)})

blur = []
for sigma in [0.1, 0.5, 0.9, 1.3, 2.0]:
    blur.append({"sigma": sigma, "pil": pil_chw(pil.filter(ImageFilter.GaussianBlur(radius=sigma)))})

golden = {
    "torch": torch.__version__, "torchvision": torchvision.__version__,
    "pil": Image.__version__ if hasattr(Image, "__version__") else "",
    "h": H, "w": W, "input": pil_chw(pil),
    "color": cases, "resize": resize, "eval": evals, "blur": blur,
    "solarize": pil_chw(ImageOps.solarize(pil, 128)),
}
out = os.path.join(os.path.dirname(__file__), "..", "..", "moco", "data", "testdata", "golden", "augment_ops.json")
with open(out, "w") as fh:
    json.dump(golden, fh, separators=(",", ":"))
print("wrote", os.path.normpath(out))
