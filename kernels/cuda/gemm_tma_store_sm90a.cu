// gemm_tma_store_sm90a.cu: the persistent Hopper TMA GEMM kernels with a
// TMA-store epilogue, and their twins on clusters of two blocks sharing B
// by multicast (kernel bodies in tma_sm90a.cuh, shared with
// gemm_f16_tma_sm90a.cu, whose _tma_p kernels these extend).
//
// gemm_<t>_<a><b>_tma_s[192]: the persistent kernel with the epilogue going
// through shared memory and TMA stores. Each consumer warpgroup writes its
// finished 64-row piece (alpha, bias, GELU applied, converted to C's type)
// into one of two 8 KB staging buffers, 128 bytes (64 halves or 32 floats)
// of columns at a time, then one thread stores that 64×128-byte box to C
// with cp.async.bulk.tensor and the warpgroup goes on: the store runs while
// the next box is written and while the next tile's main loop runs, and a
// buffer is written again only once the store that read it has read it
// (cp.async.bulk.wait_group.read). A warp's store instruction of the direct
// epilogue touches 8 rows × 16 bytes (fp16 C); through the staging buffer the
// TMA unit writes whole 128-byte lines. The staging buffers use the 128-byte
// swizzle (16-byte unit u of row r at unit u ^ (r mod 8)), which the tensor
// map of C undoes: a warp's 32 four-byte writes of a half C then fall in 32
// different banks. The TMA store clips rows ≥ M and columns ≥ N, but in
// whole 16-byte pieces: on an H100 it wrote the columns past N up to the
// next 16-byte boundary. C must be 16-byte aligned with ldc·sizeof(C
// element) and N·sizeof(C element) multiples of 16, and beta 0 (the host
// uses the _tma_p kernels otherwise).
//
// gemm_f16_<a><b>_tma_c[192] (NT, NN): the same with clusters of two blocks
// (__cluster_dims__(2,1,1)) on vertically adjacent tiles (rows m0 and
// m0 + 128, the same columns), which need the same B tile: each block loads
// half of it and multicasts that half into both blocks' shared memory, so
// B crosses from L2 once per pair instead of twice (48 KB → 32 KB per block
// per k-tile for 128×256 tiles). A stage may then be overwritten only when
// the consumers of both blocks are done with it: each consumer arrives on
// the empty barrier of both blocks (count 4), and a block's full barrier
// counts the bytes from its own loads and from its peer's multicast. The
// two blocks walk the same sequence of tile pairs; a block past M (odd tile
// rows) still loads its half of B for its peer and stores nothing; a half
// of B wholly past N (the last tile column reaching at most half way into
// its tile) is loaded by neither block and counted by neither barrier: it
// would feed only columns never stored. Both blocks wait for each other
// before the first load (barriers initialised) and before exiting (no
// arrival on a finished block's barrier).
//
// Parameters: tmA, tmB, tmC, C, bias, M, N, K, ldc, alpha, beta, flags,
// kchunk (as the _tma_p kernels; kchunk must be 0: split-K partials use the
// _tma_p kernels). Tensor maps: A and B as for _tma_p, except that for the
// _tma_c kernels a k-contiguous B ("t") is mapped with a box of 64 k × BN/2
// rows; C as {N, M} (element type that of C: the operand type with
// GEMM_OUT_F16, else fp32), row stride ldc, box 128 bytes × 64 rows,
// 128-byte swizzle. Shared memory: stages (4 × 48 KB for 256-wide tiles,
// 4 × 40 KB for 192-wide) + 32 KB staging + 1024 + 128 bytes.

#include "tma_sm90a.cuh"

// One source, two PTX modules (kernels/ptx), so that the driver compiles
// only the kernels of the run's type (it compiles a whole module when it
// loads it): compiled alone this file gives gemm_tma_store_sm90a, the fp16
// kernels; gemm_bf16_tma_store_sm90a.cu includes it with GEMM_MODULE_BF16
// for the bf16 ones (MODULE_EMITS_*, gemm_types.cuh).

// The TMA-store kernels: _tma_s (CM 1) for both types and every layout;
// _tma_c (CM 2, clusters of two) for fp16 and the layouts of a Linear
// layer's forward (NT) and input gradient (NN) only, while the cluster
// variant has not been measured (each kernel costs driver JIT time when the
// module loads).
#define GEMM_TMA_SC_KERNEL(name, T, AMN, BMN, BN, CM, CLUSTER)                                                   \
    extern "C" __global__ void __launch_bounds__(384, 1) CLUSTER                                                 \
        name(const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmB,                           \
             const __grid_constant__ TmaDesc tmC, void* C, const float* __restrict__ bias, int M, int N, int K,  \
             int ldc, float alpha, float beta, int flags, int kchunk) {                                           \
        gemm_tma_p_body<T, AMN, BMN, BN, CM, true>(&tmA, &tmB, &tmC, C, bias, M, N, K, ldc, alpha, beta, flags, \
                                                   kchunk);                                                      \
    }
#define CLUSTER2 __cluster_dims__(2, 1, 1)
#define NO_CLUSTER
#define GEMM_TMA_S_KERNELS(t, T)                                                           \
    GEMM_TMA_SC_KERNEL(gemm_##t##_nt_tma_s, T, false, false, 256, 1, NO_CLUSTER)           \
    GEMM_TMA_SC_KERNEL(gemm_##t##_nn_tma_s, T, false, true, 256, 1, NO_CLUSTER)            \
    GEMM_TMA_SC_KERNEL(gemm_##t##_tn_tma_s, T, true, true, 256, 1, NO_CLUSTER)             \
    GEMM_TMA_SC_KERNEL(gemm_##t##_tt_tma_s, T, true, false, 256, 1, NO_CLUSTER)            \
    GEMM_TMA_SC_KERNEL(gemm_##t##_nt_tma_s192, T, false, false, 192, 1, NO_CLUSTER)        \
    GEMM_TMA_SC_KERNEL(gemm_##t##_nn_tma_s192, T, false, true, 192, 1, NO_CLUSTER)         \
    GEMM_TMA_SC_KERNEL(gemm_##t##_tn_tma_s192, T, true, true, 192, 1, NO_CLUSTER)          \
    GEMM_TMA_SC_KERNEL(gemm_##t##_tt_tma_s192, T, true, false, 192, 1, NO_CLUSTER)

#if MODULE_EMITS_F16
GEMM_TMA_S_KERNELS(f16, half)
GEMM_TMA_SC_KERNEL(gemm_f16_nt_tma_c, half, false, false, 256, 2, CLUSTER2)
GEMM_TMA_SC_KERNEL(gemm_f16_nn_tma_c, half, false, true, 256, 2, CLUSTER2)
GEMM_TMA_SC_KERNEL(gemm_f16_nt_tma_c192, half, false, false, 192, 2, CLUSTER2)
GEMM_TMA_SC_KERNEL(gemm_f16_nn_tma_c192, half, false, true, 192, 2, CLUSTER2)
#endif
#if MODULE_EMITS_BF16
GEMM_TMA_S_KERNELS(bf16, bf16)
#endif
