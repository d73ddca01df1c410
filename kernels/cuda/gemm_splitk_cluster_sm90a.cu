// gemm_splitk_cluster_sm90a.cu: the split-K partial products of the weight
// gradients (the TN layout: A stored k×m, B stored k×n, both m/n-contiguous)
// on clusters of two blocks sharing B by multicast (kernel body in
// tma_sm90a.cuh).
//
// Why. A weight gradient streams both operands through the SMs once per
// output tile row and column: for 128×192 tiles, 40 KB a 64-deep k-tile
// for 3.1 MFLOPs, about 53 bytes per SM clock at the wgmma peak. The fifth
// session's weight gradients drew about 24 bytes per SM clock at
// 0.79–0.80× cuBLAS; if that is what L2 gives (peak_bw_sm90a.cu measures
// it), fewer bytes per FLOP is the way on. Here the two blocks of a cluster
// take vertically adjacent tiles (rows m0 and m0 + 128, the same columns)
// of the same K chunk and each loads half of B's boxes, multicast into
// both: 28 KB a block per k-tile instead of 40 for 128×192 tiles (32 instead
// of 48 for 128×256).
//
// gemm_<t>_tn_tma_pc[192](tmA, tmB, C, bias, M, N, K, ldc, alpha, beta,
// flags, kchunk): the parameters, tensor maps (A {M, K} and B {N, K},
// boxes {64, 64}), shared memory and split-K workspace of the _tma_p
// kernels (gemm_f16_tma_sm90a.cu), kchunk > 0. Launch grid (2·⌈⌈M/128⌉/2⌉·
// ⌈N/BN⌉, splits): one pair of blocks per pair of tile rows and tile
// column; a block whose tile lies wholly past M (odd tile rows) loads only
// its half of B for its peer and stores nothing. Each block stores its raw
// product (alpha 1, no bias, fp32) into slice y of the M×N workspace, for
// gemm_splitk_reduce. Block 384 threads, __cluster_dims__(2, 1, 1).

#include "tma_sm90a.cuh"

#define GEMM_TMA_PC_KERNEL(name, T, BN)                                                                             \
    extern "C" __global__ void __launch_bounds__(384, 1) __cluster_dims__(2, 1, 1)                                  \
        name(const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmB, void* C,                     \
             const float* __restrict__ bias, int M, int N, int K, int ldc, float alpha, float beta, int flags,        \
             int kchunk) {                                                                                           \
        gemm_tma_p_body<T, true, true, BN, 2>(&tmA, &tmB, nullptr, C, bias, M, N, K, ldc, alpha, beta, flags,         \
                                              kchunk);                                                               \
    }
GEMM_TMA_PC_KERNEL(gemm_f16_tn_tma_pc, half, 256)
GEMM_TMA_PC_KERNEL(gemm_f16_tn_tma_pc192, half, 192)
GEMM_TMA_PC_KERNEL(gemm_bf16_tn_tma_pc, bf16, 256)
GEMM_TMA_PC_KERNEL(gemm_bf16_tn_tma_pc192, bf16, 192)
