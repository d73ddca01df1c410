"""PyTorch anchor for the input pipeline (bench data -anchor).

Times what main_moco.py's data loading does: torchvision's ImageFolder
(PIL decode) with the two MoCo v3 augmentations (TwoCropsTransform of
augmentation1 and augmentation2, as written in main_moco.py), batched by
a DataLoader with --workers worker processes, shuffled, drop_last, in
the steady state of a long epoch.

    /usr/bin/python3 scripts/torch/bench_loader.py --data DIR --workers 2

Needs Debian's python3-torch and python3-torchvision. Prints one JSON
line: images/s over the timed batches (after --warmup untimed ones),
each count rounded up to whole rounds of --workers batches.
"""
import argparse
import json
import random
import time

import PIL
import torch
import torchvision
import torchvision.datasets as datasets
import torchvision.transforms as transforms
from PIL import ImageFilter, ImageOps

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True, help="an ImageFolder")
ap.add_argument("--img", type=int, default=224)
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--workers", type=int, default=1)
ap.add_argument("--batches", type=int, default=8)
ap.add_argument("--warmup", type=int, default=1)
args = ap.parse_args()


class GaussianBlur:
    """moco-v3's moco/loader.py GaussianBlur: PIL's, σ uniform in sigma."""

    def __init__(self, sigma=(0.1, 2.0)):
        self.sigma = sigma

    def __call__(self, x):
        return x.filter(ImageFilter.GaussianBlur(radius=random.uniform(*self.sigma)))


class Solarize:
    def __call__(self, x):
        return ImageOps.solarize(x)


class TwoCrops:
    def __init__(self, t1, t2):
        self.t1, self.t2 = t1, t2

    def __call__(self, x):
        return [self.t1(x), self.t2(x)]


normalize = transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
aug1 = [
    transforms.RandomResizedCrop(args.img, scale=(0.08, 1.0)),
    transforms.RandomApply([transforms.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
    transforms.RandomGrayscale(p=0.2),
    transforms.RandomApply([GaussianBlur([0.1, 2.0])], p=1.0),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
    normalize,
]
aug2 = [
    transforms.RandomResizedCrop(args.img, scale=(0.08, 1.0)),
    transforms.RandomApply([transforms.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
    transforms.RandomGrayscale(p=0.2),
    transforms.RandomApply([GaussianBlur([0.1, 2.0])], p=0.1),
    transforms.RandomApply([Solarize()], p=0.2),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
    normalize,
]
ds = datasets.ImageFolder(args.data, TwoCrops(transforms.Compose(aug1), transforms.Compose(aug2)))
if len(ds) < args.batch:
    raise SystemExit(f"bench_loader.py: {len(ds)} images make no batch of {args.batch}")
# Each worker builds whole batches, and all of them start at once: the
# first --workers batches arrive together, then the next round. So the
# untimed batches are whole rounds (at least one, which also fills the
# prefetch queue) and the timed ones too; otherwise batches built during
# the warmup are timed as if free (with more workers than --batches, all
# of them).
rounds = lambda n: -(-n // max(args.workers, 1)) * max(args.workers, 1)
warmup, timed = rounds(max(args.warmup, 1)), rounds(args.batches)
# One pass of shuffled epochs back to back (RandomSampler draws a fresh
# permutation each len(ds) samples), as an ImageNet epoch of thousands of
# batches keeps the workers busy. A new DataLoader iterator a (small)
# epoch would leave the workers idle at each epoch's end and, with fewer
# batches an epoch than workers, some idle throughout.
sampler = torch.utils.data.RandomSampler(ds, num_samples=(warmup + timed) * args.batch)
loader = torch.utils.data.DataLoader(
    ds, batch_size=args.batch, sampler=sampler, num_workers=args.workers, drop_last=True)
it = iter(loader)
for _ in range(warmup):
    next(it)
t0 = time.perf_counter()
for _ in range(timed):
    views, _ = next(it)
    assert views[0].shape == (args.batch, 3, args.img, args.img)
dt = time.perf_counter() - t0
print(json.dumps({
    "torch": torch.__version__, "torchvision": torchvision.__version__, "pil": PIL.__version__,
    "warmup_batches": warmup, "timed_batches": timed,
    "images_per_s": timed * args.batch / dt,
}))
