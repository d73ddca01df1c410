// gemm_tma_store_deep_sm90a.cu: the persistent Hopper TMA-store GEMM
// kernels with 128×192 tiles (gemm_tma_store_sm90a.cu's _tma_s192) staging
// a consumer warpgroup's whole 64×192 piece of a half C: three 8 KB
// staging buffers per consumer instead of two (kernel body in
// tma_sm90a.cuh).
//
// Why. At K = 384 (the ViT-S/16 forward and input-gradient products) the
// _tma_s192 kernels take about 15.8k SM cycles a tile on an H100, where
// their wgmmas need about 4.6k and the code's own work adds up to about
// 8k. With two buffers, the third 64-column box of a tile waits until the
// TMA store of the first has read its buffer (cp.async.bulk.wait_group.read);
// every SM reaches its epilogue at about the same moment and writes 48 KB,
// so that wait may last as long as the GPU's write path is busy with all of
// them. With three buffers a box waits only for the same box of the
// warpgroup's previous tile, a whole main loop earlier: the stores drain
// during the next tile's wgmmas. Half C only: a float C's box is 32
// columns, six a tile, and three buffers would be half a tile.
//
// Shared memory: 4 stages of 40 KB + 2 consumers × 3 × 8 KB + 1024 + 128
// bytes (214,144 of the 232,448 a block may have). The 256-wide tiles have
// no room for a third buffer (4 × 48 KB + 32 KB is already 224 KB).
//
// Kernels gemm_<t>_<a><b>_tma_s192d, <t> ∈ {f16, bf16}, <a>,<b> ∈ {n, t}:
// the parameters, tensor maps and rules for C of the _tma_s192 kernels.

#include "tma_sm90a.cuh"

#define GEMM_TMA_SD_KERNEL(name, T, AMN, BMN)                                                                   \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                        \
        name(const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmB,                          \
             const __grid_constant__ TmaDesc tmC, void* C, const float* __restrict__ bias, int M, int N, int K, \
             int ldc, float alpha, float beta, int flags, int kchunk) {                                          \
        gemm_tma_p_body<T, AMN, BMN, 192, 1, true, 3>(&tmA, &tmB, &tmC, C, bias, M, N, K, ldc, alpha, beta,     \
                                                      flags, kchunk);                                           \
    }
#define GEMM_TMA_SD_KERNELS(t, T)                                    \
    GEMM_TMA_SD_KERNEL(gemm_##t##_nt_tma_s192d, T, false, false)     \
    GEMM_TMA_SD_KERNEL(gemm_##t##_nn_tma_s192d, T, false, true)      \
    GEMM_TMA_SD_KERNEL(gemm_##t##_tn_tma_s192d, T, true, true)       \
    GEMM_TMA_SD_KERNEL(gemm_##t##_tt_tma_s192d, T, true, false)

GEMM_TMA_SD_KERNELS(f16, half)
GEMM_TMA_SD_KERNELS(bf16, bf16)
