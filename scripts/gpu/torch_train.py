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
import gc
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


class MocoStep:
    """The official step of one configuration on the GPU: the model, its
    optimizer and scaler, two views; warm() runs the warm-up steps (and
    torch.compile's compilation), timed() the measured ones."""

    def __init__(self, arch, batch, compiled):
        dev = "cuda"
        self.arch, self.batch, self.compiled = arch, batch, compiled
        torch.manual_seed(0)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        # Whatever an earlier configuration left allocated is not this one's.
        self.base = torch.cuda.memory_allocated()
        self.model = mocov3.MoCoV3(dict(img=224, patch=16, **mocov3.PRESETS[arch]), dim=256, mlp_dim=4096,
                                   T=0.2).to(dev)
        self.opt = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad],
                                     lr=1.5e-4 * batch / 256, betas=(0.9, 0.999), weight_decay=0.1)
        self.scaler = torch.amp.GradScaler("cuda")
        self.fwd = torch.compile(self.model) if compiled else self.model
        self.x1 = torch.randn(batch, 3, 224, 224, device=dev)
        self.x2 = torch.randn(batch, 3, 224, 224, device=dev)
        self.warm_s = 0.0

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16):
            loss = self.fwd(self.x1, self.x2, 0.99)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return loss

    def warm(self, n=4):
        t0 = time.time()
        for _ in range(n):
            self.step()
        torch.cuda.synchronize()
        self.warm_s += time.time() - t0

    def timed(self, steps=12):
        """Median ms of steps, each between CUDA events with a
        synchronisation after it, and the peak allocated bytes (the
        process's since this configuration was set up)."""
        times = []
        for _ in range(steps):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            self.loss = self.step()
            e.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(e))
        times.sort()
        return times[len(times) // 2], torch.cuda.max_memory_allocated() - self.base

    def report(self, ms, peak):
        tag = {"vit_small": "vits16", "vit_base": "vitb16"}[self.arch]
        key = f"train_{tag}_224_b{self.batch}_fp16" + ("_compile" if self.compiled else "")
        result(key + "_img_per_s", self.batch / ms * 1e3, "img/s", ms)
        result(key + "_peak_mib", peak / 2**20, "MiB", ms)
        print(f"torch {key}: {ms:.1f} ms/step, warm-up {self.warm_s:.1f} s", flush=True)

    def close(self):
        del self.model, self.opt, self.fwd, self.x1, self.x2
        if self.compiled:
            torch._dynamo.reset()  # the compiled graphs hold their own buffers
        gc.collect()
        torch.cuda.empty_cache()


def moco_step(arch, batch, compiled, steps=12, warm=4):
    """Times the official step; returns (median ms, peak allocated bytes,
    last loss, warm-up seconds). (scripts/gpu/anchors.py)"""
    m = MocoStep(arch, batch, compiled)
    m.warm(warm)
    ms, peak = m.timed(steps)
    out = ms, peak, float(m.loss), m.warm_s
    m.close()
    return out


def step_bench(arch, batch, compiled, steps, warm, pre=None):
    """Times one configuration (pre: one already set up and warmed)."""
    m = pre or MocoStep(arch, batch, compiled)
    if pre is None:
        m.warm(warm)
    ms, peak = m.timed(steps)
    m.report(ms, peak)
    m.close()


def wait_for(path, timeout):
    t0 = time.time()
    while not os.path.exists(path):
        if time.time() - t0 > timeout:
            return False
        time.sleep(0.2)
    return True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--only", default="vits,vitb,compile")
    p.add_argument("--steps", type=int, default=12)
    # run.sh's decide preset: compile and warm the torch.compile model
    # (90 s on an H100) while the GPU runs untimed work, write --ready,
    # and time everything once --go exists.
    p.add_argument("--ready", help="file written once the compiled model is warm")
    p.add_argument("--go", help="file whose appearance starts the timed steps")
    p.add_argument("--go-timeout", type=float, default=900)
    a = p.parse_args()
    print(f"device: {torch.cuda.get_device_name()} (torch {torch.__version__})", flush=True)
    want = a.only.split(",")
    pre = None
    if a.go and "compile" in want:
        try:
            pre = MocoStep("vit_small", 256, True)
            pre.warm(4)
            print(f"torch.compile: warm after {pre.warm_s:.1f} s", flush=True)
        except Exception as e:  # compile may not work on every machine
            print(f"torch.compile failed: {str(e)[:300]}", flush=True)
            pre = None
        want.remove("compile")
    if a.ready:
        # The memory the warm-up left cached goes back while our own steps
        # run beside this idle process.
        torch.cuda.empty_cache()
        open(a.ready, "w").close()
    if a.go:
        if not wait_for(a.go, a.go_timeout):
            print(f"torch_train: {a.go} did not appear within {a.go_timeout:.0f} s: nothing timed", flush=True)
            return
        if pre is not None:
            try:
                step_bench("vit_small", 256, True, a.steps, 4, pre=pre)
            except Exception as e:
                print(f"torch.compile failed: {str(e)[:300]}", flush=True)
                pre = None
                gc.collect()
                torch.cuda.empty_cache()
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
