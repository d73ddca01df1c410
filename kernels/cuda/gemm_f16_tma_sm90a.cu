// gemm_f16_tma_sm90a.cu: fp16 and bf16 GEMM for Hopper with the tensor
// memory accelerator (TMA) and warp specialisation, for the Linear-layer
// layout
//
//   C = act(alpha · A · Bᵀ + bias) + beta · C,   A m×k, B n×k (both k-contiguous)
//
// (same epilogue, flags and meaning as gemm_f16_nt in gemm_f16.cu). Every
// kernel here also exists as gemm_bf16_*: the same template on bf16
// operands (wgmma .bf16, tensor maps of data type BFLOAT16, C fp32 or bf16;
// gemm_types.cuh).
//
// Block tile 128×256×64, 3 warpgroups: warpgroup 0 is the producer (one
// thread issues cp.async.bulk.tensor loads of the A and B tiles, described by
// two tensor maps built on the host with cuTensorMapEncodeTiled, 128-byte
// swizzle, out-of-bounds elements filled with zeros by the hardware, so M, N
// and K are arbitrary); warpgroups 1 and 2 are consumers, each computing
// 64×256 with wgmma.m64n256k16 from the 4-stage shared-memory ring.
// Synchronisation is by mbarriers: full[s] (the producer's expect_tx plus the
// copy's completed bytes) and empty[s] (one arrival per consumer warpgroup
// once the wgmmas reading stage s are done; each consumer keeps one k-tile
// of wgmmas in flight and releases the stage before). setmaxnreg moves
// registers from the producer (40) to the consumers (232).
//
// Kernel: gemm_f16_nt_tma(tmA, tmB, C, bias, M, N, K, ldc, alpha, beta,
// flags), tmA/tmB 128-byte tensor maps passed by value (__grid_constant__):
// A as dims {K, M}, box {64, 128}; B as dims {K, N}, box {64, 256}; both
// fp16, row stride lda·2 / ldb·2 bytes (a multiple of 16), base 16-byte
// aligned. Launch: grid ceil(M/128)·ceil(N/256), block 384, dynamic shared
// memory 4·49152 + 1024 + 64.

#include "tma_sm90a.cuh"

// One source, two PTX modules (kernels/ptx), so that the driver compiles
// only the kernels of the run's type (it compiles a whole module when it
// loads it): compiled alone this file gives gemm_f16_tma_sm90a, the fp16
// kernels; gemm_bf16_tma_sm90a.cu includes it with GEMM_MODULE_BF16 for
// the bf16 ones (MODULE_EMITS_*, gemm_types.cuh).

#define GEMM_NT_TMA_KERNEL(name, T)                                                                                \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                           \
        name(const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmB, void* C,                    \
             const float* __restrict__ bias, int M, int N, int K, int ldc, float alpha, float beta, int flags) {   \
        gemm_nt_tma_body<T>(tmA, tmB, C, bias, M, N, K, ldc, alpha, beta, flags);                                  \
    }
#if MODULE_EMITS_F16
GEMM_NT_TMA_KERNEL(gemm_f16_nt_tma, half)
#endif
#if MODULE_EMITS_BF16
GEMM_NT_TMA_KERNEL(gemm_bf16_nt_tma, bf16)
#endif

// ---- persistent kernels, every layout ----
//
// gemm_<t>_<a><b>_tma_p: the same tiles, roles and ring as gemm_f16_nt_tma,
// for each storage layout, on a grid of any size: block b takes the tiles
// b, b + gridDim.x, … in the grouped order. Launched with one block per tile
// it is the plain kernel; launched with one block per SM it is persistent:
// the stage index and phase run on across tiles, so the producer loads the
// next tile's k-tiles while the consumers are still storing the previous
// tile. Every k-tile a consumer reads is released (empty[s]) once its wgmmas
// are done, the last one of a tile after wgmma.wait_group 0.
//
// Operands stored k-contiguous ("n" for A, "t" for B) are loaded as before
// (one box of 64 k × 128 or 256 rows, K-major 128-byte swizzle). Operands
// stored m- or n-contiguous ("t" for A: K×M; "n" for B: K×N) are loaded as
// boxes of 64 m/n × 64 k (tensor map dims {M or N, K}, box {64, 64}), one per
// 64 columns of the tile, each 8 KB: the MN-major 128-byte-swizzle layout of
// wgmma (transpose bit set), whose descriptor has LBO = 8192 bytes between
// 64-wide m/n chunks and SBO = 1024 bytes between 8-deep k groups; a k16
// step moves the start by 16 rows of 128 bytes.
//
// The _p192 kernels use 128×192 tiles (two consumers of 64×192,
// wgmma.m64n192k16) and 5 stages of 40 KB, for widths that 256 does not
// divide but 192 does (ViT-S: 384, 1152).
//
// Parameters as gemm_f16_nt_tma, then kchunk: 0, or split-K (launch grid
// (tiles or fewer, splits)): block row y sums k in [y·kchunk, (y+1)·kchunk)
// only (kchunk a multiple of 64) and stores its raw product (alpha 1, beta
// 0, no bias, fp32, ldc N) into slice y of the M×N fp32 workspace C, for
// gemm_splitk_reduce (gemm_f16.cu). Shared memory 4·49152 + 1024 + 128 bytes
// (_p) or 5·40960 + 1024 + 128 (_p192); the tensor maps follow the layout:
// A "n" {K, M} box {64, 128}, A "t" {M, K} box {64, 64}, B "t" {K, N} box
// {64, BN}, B "n" {N, K} box {64, 64}.

#define GEMM_TMA_P_KERNEL(name, T, AMN, BMN, BN)                                                                    \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                        \
        name(const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmB, void* C,                 \
             const float* __restrict__ bias, int M, int N, int K, int ldc, float alpha, float beta, int flags,    \
             int kchunk) {                                                                                       \
        gemm_tma_p_body<T, AMN, BMN, BN>(&tmA, &tmB, nullptr, C, bias, M, N, K, ldc, alpha, beta, flags, kchunk);   \
    }
#define GEMM_TMA_P_KERNELS(t, T)                                         \
    GEMM_TMA_P_KERNEL(gemm_##t##_nt_tma_p, T, false, false, 256)         \
    GEMM_TMA_P_KERNEL(gemm_##t##_nn_tma_p, T, false, true, 256)          \
    GEMM_TMA_P_KERNEL(gemm_##t##_tn_tma_p, T, true, true, 256)           \
    GEMM_TMA_P_KERNEL(gemm_##t##_tt_tma_p, T, true, false, 256)          \
    GEMM_TMA_P_KERNEL(gemm_##t##_nt_tma_p192, T, false, false, 192)      \
    GEMM_TMA_P_KERNEL(gemm_##t##_nn_tma_p192, T, false, true, 192)       \
    GEMM_TMA_P_KERNEL(gemm_##t##_tn_tma_p192, T, true, true, 192)        \
    GEMM_TMA_P_KERNEL(gemm_##t##_tt_tma_p192, T, true, false, 192)

#if MODULE_EMITS_F16
GEMM_TMA_P_KERNELS(f16, half)
#endif
#if MODULE_EMITS_BF16
GEMM_TMA_P_KERNELS(bf16, bf16)
#endif

// gemm_<t>_tn_tma_p[192]w: the TN kernels (both operands MN-major: the
// weight gradients) with each operand's tile loaded as one box of a
// three-dimensional tensor map, dims {64, K, M/64} (A) and {64, K, N/64}
// (B), row stride lda·2 / ldb·2 bytes and 128 bytes between 64-wide chunks,
// box {64, 64, 2} (A) and {64, 64, BN/64} (B): two TMA loads a k-tile
// instead of five (six for _pw), the same bytes in the same places, so the
// same results bit for bit. M must be a multiple of 128 and N of BN.
// Parameters and launch as the _p[192] kernels.
#define GEMM_TMA_PW_KERNEL(name, T, BN)                                                                            \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                        \
        name(const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmB, void* C,                 \
             const float* __restrict__ bias, int M, int N, int K, int ldc, float alpha, float beta, int flags,    \
             int kchunk) {                                                                                       \
        gemm_tma_p_body<T, true, true, BN, 1, false, 2, true>(&tmA, &tmB, nullptr, C, bias, M, N, K, ldc, alpha, \
                                                             beta, flags, kchunk);                                \
    }
#if MODULE_EMITS_F16
GEMM_TMA_PW_KERNEL(gemm_f16_tn_tma_pw, half, 256)
GEMM_TMA_PW_KERNEL(gemm_f16_tn_tma_p192w, half, 192)
#endif
#if MODULE_EMITS_BF16
GEMM_TMA_PW_KERNEL(gemm_bf16_tn_tma_pw, bf16, 256)
GEMM_TMA_PW_KERNEL(gemm_bf16_tn_tma_p192w, bf16, 192)
#endif
