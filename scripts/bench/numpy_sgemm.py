#!/usr/bin/python3
"""Time numpy float32 matmul (OpenBLAS SGEMM) for cmd/bench cpu -anchor.

usage: numpy_sgemm.py [-runs R] [-min-run SECONDS] M,N,K,TA,TB ...
       numpy_sgemm.py -serve
       numpy_sgemm.py -core

Each shape is C (M×N) = op(A)·op(B) with depth K; TA/TB = 1 means that
operand is stored transposed (numpy passes the transpose flag to SGEMM, no
copy). The thread count comes from OPENBLAS_NUM_THREADS, which the caller
sets before numpy loads. Prints "# core NAME threads T" and then one line
"M,N,K,TA,TB GFLOPS" per shape: the median over R timed runs after one
warm-up, each run repeating the product for at least -min-run seconds.

With -serve it prints the "# core" line and then reads lines
"M,N,K,TA,TB REPS" from stdin, answering each with the seconds REPS products
took, so that the caller can interleave its own runs with OpenBLAS's.

With -core it prints the "# core" line alone: which kernels OpenBLAS picks
in this environment.
"""
import ctypes
import sys
import time

import numpy as np


def openblas_info():
    """The OpenBLAS core (kernel family) in use and its thread count."""
    for name in ("libopenblas.so.0", "libopenblasp-r0.3.21.so", "libopenblas.so"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_num_threads.restype = ctypes.c_int
        return lib.openblas_get_corename().decode(), lib.openblas_get_num_threads()
    return "unknown", -1


def operands(rng, spec):
    m, n, k, ta, tb = (int(v) for v in spec.split(","))
    a = rng.random((k, m) if ta else (m, k), dtype=np.float32) - 0.5
    b = rng.random((n, k) if tb else (k, n), dtype=np.float32) - 0.5
    if ta:
        a = a.T
    if tb:
        b = b.T
    return a, b, np.empty((m, n), dtype=np.float32), 2.0 * m * n * k


def serve(rng):
    cache = {}
    for line in sys.stdin:
        spec, reps = line.split()
        if spec not in cache:
            cache.clear()
            cache[spec] = operands(rng, spec)
        a, b, c, _ = cache[spec]
        t0 = time.perf_counter()
        for _ in range(int(reps)):
            np.matmul(a, b, out=c)
        print(f"{time.perf_counter() - t0:.9f}", flush=True)


def main(argv):
    runs, min_run = 5, 0.1
    serving = False
    while argv and argv[0].startswith("-"):
        if argv[0] == "-core":
            core, threads = openblas_info()
            print(f"# core {core} threads {threads}", flush=True)
            return
        if argv[0] == "-serve":
            serving = True
            argv = argv[1:]
            continue
        if argv[0] == "-runs":
            runs = int(argv[1])
        elif argv[0] == "-min-run":
            min_run = float(argv[1])
        else:
            sys.exit(__doc__)
        argv = argv[2:]
    if not argv and not serving:
        sys.exit(__doc__)
    core, threads = openblas_info()
    print(f"# core {core} threads {threads}", flush=True)
    rng = np.random.default_rng(1)
    if serving:
        serve(rng)
        return
    for spec in argv:
        a, b, c, flops = operands(rng, spec)
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)  # warm-up
        np.matmul(a, b, out=c)
        reps = max(1, int(min_run / max(time.perf_counter() - t0, 1e-6) * 2))
        gf = []
        for _ in range(runs):
            t0 = time.perf_counter()
            for _ in range(reps):
                np.matmul(a, b, out=c)
            gf.append(flops * reps / (time.perf_counter() - t0) / 1e9)
        gf.sort()
        print(f"{spec} {gf[len(gf) // 2]:.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
