#!/usr/bin/env python3
"""PyTorch/cuBLAS baseline for `bench gpu`: the same operations at the same
shapes, timed the same way (CUDA events around each run, three warm-up runs,
median of --iters). Prints `RESULT <key> <value> <unit>` lines with the keys
cmd/bench uses, so that report.py can set them side by side."""
import argparse
import statistics
import sys

import torch
import torch.nn.functional as F


def timed(fn, iters):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(iters):
        s = torch.cuda.Event(enable_timing=True)
        e = torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        ms.append(s.elapsed_time(e))
    return statistics.median(ms)


def result(key, value, unit, ms):
    print(f"RESULT {key} {value:.4g} {unit}\t({ms:.4f} ms)", flush=True)


def kernels_of(fn):
    """The names of the GPU kernels one call of fn launches, in order (the
    profiler's CUDA activity), or a note of why they could not be had."""
    try:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        names = []
        for e in prof.events():
            if str(getattr(e, "device_type", "")).endswith("CUDA") and e.name not in names:
                names.append(e.name)
        return names or ["(none recorded)"]
    except Exception as ex:  # the profiler is a diagnostic: never a failure
        return [f"(profiler: {type(ex).__name__}: {str(ex).splitlines()[0][:120] if str(ex) else ''})"]


def copy_bench(iters):
    n = 256 << 20
    x = torch.empty(n, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    ms = timed(lambda: y.copy_(x), iters)
    result("copy_256MiB", 2 * n / ms / 1e6, "GB/s", ms)


M_VIT = 256 * 197
# The GEMM anchors: key, transA, transB, m, n, k, bias, GELU (bench gpu's
# shapes and epilogues).
GEMM_SHAPES = [
    ("gemm_nn_4096", False, False, 4096, 4096, 4096, False, False),
    ("gemm_nt_4096", False, True, 4096, 4096, 4096, False, False),
    ("gemm_tn_4096", True, False, 4096, 4096, 4096, False, False),
    ("vit_qkv_fwd_50432x1152x384", False, True, M_VIT, 1152, 384, True, False),
    ("vit_proj_fwd_50432x384x384", False, True, M_VIT, 384, 384, True, False),
    ("vit_fc1_fwd_50432x1536x384", False, True, M_VIT, 1536, 384, True, True),
    ("vit_fc2_fwd_50432x384x1536", False, True, M_VIT, 384, 1536, True, False),
    ("vit_fc2_dx_50432x1536x384", False, False, M_VIT, 1536, 384, False, False),
    ("vit_fc1_dw_1536x384x50432", True, False, 1536, 384, M_VIT, False, False),
    ("vit_qkv_dw_1152x384x50432", True, False, 1152, 384, M_VIT, False, False),
    ("vit_fc2_dw_384x1536x50432", True, False, 384, 1536, M_VIT, False, False),
]


def gemm_setup(ta, tb, m, n, k, bias, gelu, h):
    """One anchor's call on fresh random operands of type h."""
    a = torch.rand((k, m) if ta else (m, k), device="cuda", dtype=h) * 2 - 1
    b = torch.rand((n, k) if tb else (k, n), device="cuda", dtype=h) * 2 - 1
    A = a.t() if ta else a
    bb = torch.rand(n, device="cuda", dtype=h) if bias else None
    if tb:
        # Linear layer: x·Wᵀ + b, with W stored n×k.
        if gelu:
            return lambda: F.gelu(F.linear(A, b, bb))
        return lambda: F.linear(A, b, bb)
    return lambda: A @ b


def gemm_bench(iters):
    # fp16 under the shape keys; bf16 on 4096³ NT and the ViT-S shapes under
    # <key>_bf16, as bench gpu's GemmBF16 timings.
    runs = [(s, torch.float16, s[0]) for s in GEMM_SHAPES]
    runs += [(s, torch.bfloat16, s[0] + "_bf16") for s in GEMM_SHAPES if s[0] == "gemm_nt_4096" or s[0].startswith("vit_")]
    for (_, ta, tb, m, n, k, bias, gelu), h, key in runs:
        fn = gemm_setup(ta, tb, m, n, k, bias, gelu, h)
        ms = timed(fn, iters)
        result(key, 2 * m * n * k / ms / 1e9, "TFLOP/s", ms)
        del fn


def gemm_kernels():
    """Which cuBLAS kernel (tile, cluster, schedule in its name) sets each
    fp16 GEMM anchor: what our kernels are up against at each shape. Run
    after every timing, so that none runs in a process the profiler has
    touched."""
    for key, ta, tb, m, n, k, bias, gelu in GEMM_SHAPES:
        fn = gemm_setup(ta, tb, m, n, k, bias, gelu, torch.float16)
        print(f"KERNELS {key} " + " | ".join(kernels_of(fn)), flush=True)
        del fn
        torch.cuda.empty_cache()


def ln_bench(iters):
    rows = 256 * 197
    for cols in (384, 768):
        x = torch.randn(rows, cols, device="cuda")
        dy = torch.randn_like(x)
        w = torch.randn(cols, device="cuda")
        b = torch.randn(cols, device="cuda")
        ms = timed(lambda: F.layer_norm(x, (cols,), w, b, 1e-6), iters)
        result(f"ln_fwd_{rows}x{cols}", 2 * 4 * rows * cols / ms / 1e6, "GB/s", ms)
        _, mean, rstd = torch.ops.aten.native_layer_norm(x, [cols], w, b, 1e-6)
        ms = timed(lambda: torch.ops.aten.native_layer_norm_backward(dy, x, [cols], mean, rstd, w, b, [True, True, True]), iters)
        result(f"ln_bwd_{rows}x{cols}", 3 * 4 * rows * cols / ms / 1e6, "GB/s", ms)


def attn_bench(iters):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    B, N = 256, 197
    backends = [("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION),
                ("cudnn", SDPBackend.CUDNN_ATTENTION)]
    # fp16 under attn_*_h<H>d<D>, bf16 under attn_*_h<H>d<D>_bf16 (bench
    # gpu's AttentionForwardBF16/AttentionBackwardBF16 timings).
    for dtype, tag in ((torch.float16, ""), (torch.bfloat16, "_bf16")):
        for H, D in ((12, 32), (6, 64)):
            qkv = torch.randn(B, N, 3, H, D, device="cuda", dtype=dtype)
            # Same layout as mocogo: qkv [B, N, 3, H, D] viewed as [B, H, N, D].
            q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))
            flops = 4 * B * H * N * N * D
            best_f, best_fb = 0.0, 0.0
            for name, be in backends:
                try:
                    with sdpa_kernel([be]):
                        ms = timed(lambda: F.scaled_dot_product_attention(q, k, v), iters)
                        result(f"attn_fwd_h{H}d{D}{tag}_{name}", flops / ms / 1e9, "TFLOP/s", ms)
                        best_f = max(best_f, flops / ms / 1e9)
                        qg, kg, vg = (t.detach().requires_grad_() for t in (q, k, v))
                        do = torch.randn_like(q)

                        def fb():
                            o = F.scaled_dot_product_attention(qg, kg, vg)
                            torch.autograd.grad(o, (qg, kg, vg), do)

                        ms = timed(fb, iters)
                        # Forward + backward ≈ 3.5 forward products (FA2's count).
                        result(f"attn_fwdbwd_h{H}d{D}{tag}_{name}", 3.5 * flops / ms / 1e9, "TFLOP/s", ms)
                        best_fb = max(best_fb, 3.5 * flops / ms / 1e9)
                except Exception as ex:  # a backend may not support a shape
                    print(f"# attn {name}{tag} H={H} D={D}: {type(ex).__name__}: {str(ex).splitlines()[0][:200]}",
                          flush=True)
            if best_f:
                result(f"attn_fwd_h{H}d{D}{tag}", best_f, "TFLOP/s", 0)
            if best_fb:
                result(f"attn_fwdbwd_h{H}d{D}{tag}", best_fb, "TFLOP/s", 0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--only", default="copy,gemm,ln,attn")
    a = p.parse_args()
    if not torch.cuda.is_available():
        print("torch_baseline: no CUDA device", file=sys.stderr)
        sys.exit(1)
    print("device:", torch.cuda.get_device_name(), "torch", torch.__version__, "cuda", torch.version.cuda, flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    groups = a.only.split(",")
    for g, fn in (("copy", copy_bench), ("gemm", gemm_bench), ("ln", ln_bench), ("attn", attn_bench)):
        if g in groups:
            fn(a.iters)
            torch.cuda.empty_cache()
    if "gemm" in groups:
        gemm_kernels()


if __name__ == "__main__":
    main()
