"""PyTorch/cuBLAS anchors on the GPU machine, at the shapes mocogo's issues name.

Usage (on the GPU machine): python3 scripts/gpu/anchors.py OUTDIR [--no-compile]
Writes OUTDIR/anchors.jsonl (one JSON object per measurement) and prints a
table. Timings: CUDA events, warm-up, median of repeats (triton do_bench).
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "torch"))
import mocov3  # noqa: E402

from triton.testing import do_bench  # noqa: E402

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
os.makedirs(out_dir, exist_ok=True)
log = open(os.path.join(out_dir, "anchors.jsonl"), "w")
rows = []


def record(**kw):
    kw["device"] = torch.cuda.get_device_name()
    log.write(json.dumps(kw) + "\n")
    log.flush()
    rows.append(kw)
    print(json.dumps(kw), flush=True)


def bench(fn, rep=200):
    return do_bench(fn, warmup=25, rep=rep, return_mode="median")  # ms


torch.manual_seed(0)
dev = "cuda"
props = torch.cuda.get_device_properties(0)
record(what="device", name=props.name, sms=props.multi_processor_count,
       mem_gib=round(props.total_memory / 2**30, 1), torch=torch.__version__,
       cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())

# Device copy bandwidth: bytes read + written.
n = 1 << 28  # 256 Mi floats = 1 GiB
src = torch.randn(n, device=dev)
dst = torch.empty_like(src)
ms = bench(lambda: dst.copy_(src), rep=100)
record(what="copy", bytes=2 * 4 * n, ms=ms, gbps=2 * 4 * n / ms / 1e6)
del src, dst

# GEMM: C[M,N] = A[M,K] @ B[K,N] (and the backward layouts of a Linear).
gemm_shapes = [(4096, 4096, 4096), (8192, 8192, 8192)]
M = 256 * 197
for k, n_ in [(384, 1152), (384, 384), (384, 1536), (1536, 384)]:
    gemm_shapes.append((M, n_, k))
for dt in [torch.float16, torch.bfloat16]:
    for (m, n_, k) in gemm_shapes:
        # Rotate among input sets larger than L2 where the matrices are small.
        sets = max(1, min(8, int(200e6 // (2 * (m * k + k * n_)))))
        As = [torch.randn(m, k, device=dev, dtype=dt) for _ in range(sets)]
        Bs = [torch.randn(k, n_, device=dev, dtype=dt) for _ in range(sets)]
        it = [0]

        def f():
            i = it[0] = (it[0] + 1) % sets
            return As[i] @ Bs[i]
        ms = bench(f)
        record(what="gemm", dtype=str(dt), m=m, n=n_, k=k, layout="NN", ms=ms,
               tflops=2 * m * n_ * k / ms / 1e9)
        if m == M and dt == torch.float16:
            # A Linear's weight gradient: dW[N,K] = dY[M,N]^T @ X[M,K], reducing over M.
            dY, X = torch.randn(m, n_, device=dev, dtype=dt), torch.randn(m, k, device=dev, dtype=dt)
            ms = bench(lambda: dY.t() @ X)
            record(what="gemm", dtype=str(dt), m=n_, n=k, k=m, layout="TN (weight grad)", ms=ms,
                   tflops=2 * m * n_ * k / ms / 1e9)
            del dY, X
        del As, Bs
torch.cuda.empty_cache()

# Attention: SDPA forward and forward+backward per backend.
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

for (B, H, N, D) in [(256, 12, 197, 32), (256, 6, 197, 64)]:
    q, k, v = [torch.randn(B, H, N, D, device=dev, dtype=torch.float16, requires_grad=True) for _ in range(3)]
    do = torch.randn(B, H, N, D, device=dev, dtype=torch.float16)
    fwd_flops = 4 * B * H * N * N * D
    for be in [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH]:
        try:
            with sdpa_kernel([be]):
                F.scaled_dot_product_attention(q, k, v).backward(do)
                ms_f = bench(lambda: F.scaled_dot_product_attention(q, k, v), rep=100)

                def fb():
                    q.grad = k.grad = v.grad = None
                    F.scaled_dot_product_attention(q, k, v).backward(do)
                ms_fb = bench(fb, rep=100)
            record(what="sdpa", backend=be.name, B=B, H=H, N=N, D=D, fwd_ms=ms_f, fwdbwd_ms=ms_fb,
                   fwd_tflops=fwd_flops / ms_f / 1e9, fwdbwd_tflops=3.5 * fwd_flops / ms_fb / 1e9)
        except Exception as e:  # a backend may not support a shape
            record(what="sdpa", backend=be.name, B=B, H=H, N=N, D=D, error=str(e)[:200])
    del q, k, v, do
torch.cuda.empty_cache()

# LayerNorm forward and forward+backward, bytes = read x + write y (fwd).
for C in [384, 768]:
    R = 256 * 197
    for dt in [torch.float32, torch.float16]:
        x = torch.randn(R, C, device=dev, dtype=dt, requires_grad=True)
        w = torch.randn(C, device=dev, dtype=dt, requires_grad=True)
        b = torch.randn(C, device=dev, dtype=dt, requires_grad=True)
        dy = torch.randn(R, C, device=dev, dtype=dt)
        es = x.element_size()
        ms_f = bench(lambda: F.layer_norm(x, (C,), w, b, 1e-6))

        def fb():
            x.grad = w.grad = b.grad = None
            F.layer_norm(x, (C,), w, b, 1e-6).backward(dy)
        ms_fb = bench(fb)
        ms_b = ms_fb - ms_f
        record(what="layernorm", rows=R, cols=C, dtype=str(dt), fwd_ms=ms_f, fwd_gbps=2 * R * C * es / ms_f / 1e6,
               fwdbwd_ms=ms_fb, bwd_gbps_est=3 * R * C * es / ms_b / 1e6)
        del x, w, b, dy
torch.cuda.empty_cache()


# MoCo v3 step, AMP fp16, AdamW, as the official main_moco.py does it
# (the step itself is torch_train.py's).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_train  # noqa: E402


def moco_step_bench(arch, batch, compile_model, steps=12, warm=4):
    ms, peak, loss, warm_s = torch_train.moco_step(arch, batch, compile_model, steps, warm)
    record(what="moco_step", arch=arch, img=224, patch=16, batch=batch, mode="compile" if compile_model else "eager",
           amp="fp16", step_ms=ms, images_per_s=batch / ms * 1e3, peak_mem_gib=peak / 2**30,
           warmup_s=warm_s, loss=loss)


moco_step_bench("vit_small", 256, False)
moco_step_bench("vit_base", 128, False)
if "--no-compile" not in sys.argv:
    for arch, batch in [("vit_small", 256)]:
        try:
            moco_step_bench(arch, batch, True)
        except Exception as e:
            record(what="moco_step", arch=arch, batch=batch, mode="compile", error=str(e)[:300])

print("\nsummary")
for r in rows:
    print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "device"})
