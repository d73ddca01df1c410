"""PyTorch anchor for the CPU MoCo v3 step (issue: ViT and MoCo v3 on the CPU).

Times the official step (two views through base encoder + projector +
predictor, momentum update and momentum forward under no_grad, symmetric
loss, backward, AdamW) on Debian's PyTorch, fp32.

    /usr/bin/python3 scripts/torch/bench_cpu_step.py --threads 1
    /usr/bin/python3 scripts/torch/bench_cpu_step.py --threads 2

Prints one JSON line: images/s (median over steps), peak RSS in MiB.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
import mocov3  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--img", type=int, default=32)
ap.add_argument("--patch", type=int, default=4)
ap.add_argument("--dim", type=int, default=192)
ap.add_argument("--depth", type=int, default=6)
ap.add_argument("--heads", type=int, default=3)
ap.add_argument("--mlp-dim", type=int, default=1024)
ap.add_argument("--out-dim", type=int, default=256)
ap.add_argument("--steps", type=int, default=8)
ap.add_argument("--warmup", type=int, default=2)
a = ap.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(0)
model = mocov3.MoCoV3(dict(img=a.img, patch=a.patch, dim=a.dim, depth=a.depth, heads=a.heads),
                      dim=a.out_dim, mlp_dim=a.mlp_dim, T=0.2)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1.5e-4 * a.batch / 256,
                        betas=(0.9, 0.999), weight_decay=0.1)
x1 = torch.randn(a.batch, 3, a.img, a.img)
x2 = torch.randn(a.batch, 3, a.img, a.img)
times = []
for i in range(a.warmup + a.steps):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = model(x1, x2, 0.99)
    loss.backward()
    opt.step()
    dt = time.perf_counter() - t0
    if i >= a.warmup:
        times.append(dt)
med = statistics.median(times)
print(json.dumps({
    "torch": torch.__version__, "threads": a.threads, "batch": a.batch,
    "step_s": med, "images_per_s": a.batch / med,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "config": vars(a), "blas": torch.__config__.show().count("OpenBLAS") > 0,
}))
