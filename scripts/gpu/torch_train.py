#!/usr/bin/env python3
"""PyTorch baseline for `bench gpu -only train`: the official MoCo v3 step
(scripts/torch/mocov3.py: AMP fp16 autocast, GradScaler, AdamW, momentum
update inside the forward) for ViT-S/16 at batch 256 and ViT-B/16 at batch
128, 224 px, eager, and torch.compile for ViT-S/16. Prints `RESULT <key>
<value> <unit> <ms>` lines with the keys cmd/bench uses (images/s and peak
allocated MiB), so that report.py sets them side by side.

Timing: 4 warm-up steps, then the median of 12 steps, each between CUDA
events with a synchronisation after it."""
import argparse
import os
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
for p in (here, os.path.join(here, "..", "torch")):
    sys.path.insert(0, p)
import mocov3  # noqa: E402


def result(key, value, unit, ms):
    print(f"RESULT {key} {value:.4f} {unit} {ms:.4f}", flush=True)


def moco_step(arch, batch, compiled, steps=12, warm=4):
    """Times the official step; returns (median ms, peak allocated bytes,
    last loss, warm-up seconds)."""
    dev = "cuda"
    torch.manual_seed(0)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model = mocov3.MoCoV3(dict(img=224, patch=16, **mocov3.PRESETS[arch]), dim=256, mlp_dim=4096, T=0.2).to(dev)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1.5e-4 * batch / 256,
                            betas=(0.9, 0.999), weight_decay=0.1)
    scaler = torch.amp.GradScaler("cuda")
    fwd = torch.compile(model) if compiled else model
    x1 = torch.randn(batch, 3, 224, 224, device=dev)
    x2 = torch.randn(batch, 3, 224, 224, device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16):
            loss = fwd(x1, x2, 0.99)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss

    t0 = time.time()
    for _ in range(warm):
        step()
    torch.cuda.synchronize()
    warm_s = time.time() - t0
    times = []
    for _ in range(steps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        loss = step()
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    times.sort()
    out = times[len(times) // 2], torch.cuda.max_memory_allocated(), float(loss), warm_s
    del model, opt, fwd
    torch.cuda.empty_cache()
    return out


def step_bench(arch, batch, compiled, steps, warm):
    ms, peak, _, warm_s = moco_step(arch, batch, compiled, steps, warm)
    tag = {"vit_small": "vits16", "vit_base": "vitb16"}[arch]
    key = f"train_{tag}_224_b{batch}_fp16" + ("_compile" if compiled else "")
    result(key + "_img_per_s", batch / ms * 1e3, "img/s", ms)
    result(key + "_peak_mib", peak / 2**20, "MiB", ms)
    print(f"torch {key}: {ms:.1f} ms/step, warm-up {warm_s:.1f} s", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--only", default="vits,vitb,compile")
    p.add_argument("--steps", type=int, default=12)
    a = p.parse_args()
    print(f"device: {torch.cuda.get_device_name()} (torch {torch.__version__})", flush=True)
    want = a.only.split(",")
    if "vits" in want:
        step_bench("vit_small", 256, False, a.steps, 4)
    if "vitb" in want:
        step_bench("vit_base", 128, False, a.steps, 4)
    if "compile" in want:
        try:
            step_bench("vit_small", 256, True, a.steps, 4)
        except Exception as e:  # compile may not work on every machine
            print(f"torch.compile failed: {str(e)[:300]}", flush=True)


if __name__ == "__main__":
    main()
