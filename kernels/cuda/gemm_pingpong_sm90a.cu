// gemm_pingpong_sm90a.cu: the persistent Hopper TMA GEMM with a ping-pong
// schedule of its two consumer warpgroups (kernel bodies' pieces in
// tma_sm90a.cuh).
//
// In the _tma_s kernels (gemm_tma_store_sm90a.cu) the two consumer
// warpgroups share each 128-row tile, 64 rows each, and wait on the same
// stages, so they reach their epilogues together and the tensor cores idle
// while both store. Where K is short the epilogue is a large share of a
// tile: at K = 384 (the ViT-S/16 forward and input-gradient products) a
// tile has only 6 k-tiles, and those shapes ran at 0.63–0.76× cuBLAS on an
// H100 while 4096³ ran at 0.92–0.98×.
//
// Here each consumer warpgroup owns whole tiles, 128 rows by 128 or 192
// columns (two wgmma.m64n128k16 or m64n192k16 per k16 step), and the two
// take the block's tiles in turn: warpgroup 0 the block's 1st, 3rd, …
// tile, warpgroup 1 the 2nd, 4th, …. The k-tiles of those tiles go, in that
// order, through one ring of stages; a stage is read by one warpgroup only.
// The warpgroups also take turns at the tensor cores: a warpgroup starts a
// tile's main loop only once the other has issued the wgmmas of its
// previous tile (two turn mbarriers), and then runs its epilogue, through
// the staging buffers and TMA stores of the _tma_s kernels, while the
// other's main loop runs. One warpgroup alone can keep the tensor cores at
// their peak (peak_wgmma_f16_wg1 measured 920–959 TFLOP/s on an H100). This
// is the schedule CUTLASS calls ping-pong; the code here is our own.
//
// Four families (gemm_tma_pp_body below):
//   - _tma_pp: 128×128 tiles (128 accumulators a thread), a producer
//     warpgroup loading a 6-stage ring of 32 KB stages (tma_produce, as the
//     _tma_s kernels do; each empty barrier counts one arrival), 384
//     threads. ptxas 12.4 allocates every warp of a 384-thread wgmma
//     kernel within 65536 / 384 = 168 registers, whatever setmaxnreg grants
//     the consumers at run time, so 128×192 tiles spill here.
//   - _tma_pp192: 128×192 tiles (192 accumulators), no producer: the two
//     consumer warpgroups load the 4-stage ring of 40 KB stages themselves,
//     256 threads, 254 registers.
//   - _tma_ppr: 128×128 tiles, no producer, 6 stages, and a source added
//     in the epilogue (C = act(alpha·A·B + bias) + beta·S: a Linear layer's
//     residual), NT and NN only;
//   - _tma_ppg: the same with the result multiplied by GELU′ of the source
//     instead (C = (alpha·A·B) ⊙ GELU′(S): a FeedForward's hidden-layer
//     gradient, S the pre-activation), NN only.
//
// The turns order only the use of the tensor cores; the data is guarded by
// the full (and empty) barriers alone, so the turns cannot deadlock:
// warpgroup 0's n-th main loop waits for warpgroup 1's (n−1)-th, which
// exists because warpgroup 0 has at most one tile more; warpgroup 1's n-th
// waits for warpgroup 0's n-th. The stages either needs come after every
// k-tile of the earlier tiles in the ring, and those are released without
// waiting for a turn. A turn barrier is never more than one phase ahead of
// its waiter.
//
// Kernels: gemm_<t>_<a><b>_tma_pp[192], <t> ∈ {f16, bf16}, <a>,<b> ∈ {n, t},
// gemm_<t>_n<b>_tma_ppr and gemm_<t>_nn_tma_ppg (the layouts and tensor maps
// of the _tma_s kernels, with B boxes 128 or 192 rows or columns wide).
// Parameters as the _tma_s kernels: tmA, tmB, tmC, C (the source S for
// _tma_ppr and _tma_ppg, else unused: C goes through tmC), bias, M, N, K,
// ldc (S's row stride for those), alpha, beta (S's factor for _tma_ppr,
// non-zero to read S for _tma_ppg, else 0), flags (GEMM_GELU,
// GEMM_OUT_F16; the rule for C is the _tma_s kernels': rows starting and
// ending on 16-byte boundaries, S likewise), kchunk (must be 0). Launch:
// one block per SM (grid min(tiles, SMs)); block 384 (_tma_pp) or 256;
// dynamic shared memory 6·32768 + 32768 + 1024 + 128 bytes (_tma_pp,
// _tma_ppr, _tma_ppg) or 4·40960 + 32768 + 1024 + 128 (_tma_pp192). On an
// H100 (the eleventh session) slower than the TMA-store kernels at most
// shapes; GemmTune chose _tma_pp for some n = 384 products.

#include "tma_sm90a.cuh"

// gemm_tma_pp_body: the ping-pong kernels. BN: the tile width of a
// warpgroup (128 or 192); S: the stages of the ring; PRODUCER: a producer
// warpgroup (384 threads: warpgroup 0 loads, 1 and 2 consume) or none (256
// threads: warpgroups 0 and 1 consume and load, below).
//
// Without a producer, the ring positions p = i·KT + kt (block-local tile i,
// k-tile kt) are loaded by the consumers: thread 0 loads the first S before
// the main loops; after that, the leader of the warpgroup whose wgmmas on
// position p − S are done loads position p into the stage they have just
// freed, right after its wgmma.wait_group (the same point at which the
// producer kernels arrive on the empty barrier, which these do not use).
// Each position's load so waits only for the release of the position S
// before it, and every release happens inside or right after a main loop,
// never behind a turn, so every position is loaded in time: the argument
// above for the turns holds unchanged. The point of it: ptxas gives a
// 256-thread wgmma kernel up to 255 registers where it gives a 384-thread
// one 168, whatever setmaxnreg grants at run time, and 128×192 tiles (192
// fp32 accumulators a thread) fit only in the former.
//
// SRC: the epilogue reads a source (EpiSrc: S the C parameter, ldc its row
// stride), whose tile each warpgroup asks L2 for at the start of its main
// loop, and adds beta·S (SRC_OP SRC_ADD: a Linear layer's residual) or
// multiplies by GELU′(S) (SRC_GELU_GRAD: S the pre-activation).
template <typename T, bool A_MN, bool B_MN, int BN, int S, bool PRODUCER, bool SRC = false, int SRC_OP = SRC_ADD>
__device__ __forceinline__ void gemm_tma_pp_body(const TmaDesc* tmA, const TmaDesc* tmB, const TmaDesc* tmC,
                                                 const float* __restrict__ bias, int M, int N, int K, float alpha,
                                                 int flags, const EpiSrc& src) {
    static_assert(BN == 128 || BN == 192, "a warpgroup's tile is 128×128 or 128×192");
    constexpr int STAGE = T_A_BYTES + BN * 128;  // bytes per stage
    constexpr int STAGING = 2 * 16384;           // two 8 KB buffers per consumer
    extern __shared__ __align__(16) unsigned char smem_pp[];
    const uint32_t base = (smem_u32(smem_pp) + 1023) & ~1023u;
    const uint32_t bars = base + S * STAGE + STAGING;  // full[s] at bars+8s, empty[s] at bars+8(S+s)
    const uint32_t turn = bars + 16 * S;               // turn[c] at turn+8c: consumer c may start a main loop
    const int tid = threadIdx.x, warp = tid >> 5, wg = warp >> 2;

    const int tilesM = (M + T_BM - 1) / T_BM, tilesN = (N + BN - 1) / BN;
    const int units = tilesM * tilesN;
    const int KT = (K + T_BK - 1) / T_BK;
    // The ring positions of this block: its tiles' k-tiles, in order.
    const int P = ((int)blockIdx.x < units ? (units - 1 - (int)blockIdx.x) / (int)gridDim.x + 1 : 0) * KT;
    // load(p) loads ring position p (no producer).
    auto load = [&](int p) {
        int m0, n0;
        tile_origin<1, BN>((int)blockIdx.x + (p / KT) * (int)gridDim.x, tilesM, tilesN, 0, m0, n0);
        tma_load_ktile<A_MN, B_MN, BN, 1>(tmA, tmB, base + (p % S) * STAGE, bars + 8 * (p % S), m0, n0,
                                          (p % KT) * T_BK, 0, M, N);
    };

    if (tid == 0) {
        tma_ring_init<S>(bars, 1);
        mbar_init(turn, 1);
        mbar_init(turn + 8, 1);
        mbar_init_fence();
    }
    __syncthreads();

    if (PRODUCER && wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        if (tid == 0)
            tma_produce<A_MN, B_MN, BN, 1, S>(tmA, tmB, base, bars, blockIdx.x, units, gridDim.x, tilesM, tilesN, 0, M,
                                              N, 0, KT, flags & GEMM_PREFETCH);
    } else {
        if (PRODUCER) asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int c = PRODUCER ? wg - 1 : wg;
        const bool leader = (tid & 127) == 0;
        if (!PRODUCER && tid == 0)
            for (int p = 0; p < min(S, P); p++) load(p);
        // release(p): the wgmmas on position p are done.
        auto release = [&](int p) {
            if (PRODUCER)
                mbar_arrive(bars + 8 * (S + p % S));
            else if (p + S < P)
                load(p + S);
        };
        const uint32_t stage = base + S * STAGE + c * 16384;
        int it = c * KT;  // ring position of this warpgroup's next k-tile
        int oc = 0;       // boxes stored so far
        // Block-local tile i = c, c + 2, …: work item blockIdx.x + i·gridDim.x.
        for (int i = c, n = 0; (int)(blockIdx.x + i * gridDim.x) < units; i += 2, n++) {
            int m0, n0;
            tile_origin<1, BN>((int)(blockIdx.x + i * gridDim.x), tilesM, tilesN, 0, m0, n0);
            if (SRC && src.beta != 0.f)
                prefetch_src_l2(src, flags & GEMM_OUT_F16 ? (int)sizeof(T) : 4, M, N, m0, 128, n0, BN);
            // d0: rows m0 … m0+63; d1: rows m0+64 … m0+127.
            float d0[BN / 2], d1[BN / 2];
#pragma unroll
            for (int j = 0; j < BN / 2; j++) d0[j] = d1[j] = 0.f;
            if (c == 1)
                mbar_wait(turn + 8, n & 1);  // warpgroup 0 has issued its n-th tile
            else if (n > 0)
                mbar_wait(turn, (n - 1) & 1);  // warpgroup 1 has issued its (n−1)-th tile
            for (int kt = 0; kt < KT; kt++, it++) {
                const int s = it % S;
                mbar_wait(bars + 8 * s, (it / S) & 1);
                const uint32_t sa = base + s * STAGE;
                const uint32_t sb = sa + T_A_BYTES;
                wgmma_fence();
#pragma unroll
                for (int kk = 0; kk < T_BK / 16; kk++) {
                    const uint64_t db = B_MN ? sw128_mn_desc(sb + kk * 2048) : sw128_desc(sb + kk * 32);
                    // Rows 64 on of A: bytes 8192 on in both layouts (64
                    // rows of 128 bytes K-major, or the second 64-wide chunk).
                    const uint64_t da0 = A_MN ? sw128_mn_desc(sa + kk * 2048) : sw128_desc(sa + kk * 32);
                    const uint64_t da1 = A_MN ? sw128_mn_desc(sa + 8192 + kk * 2048) : sw128_desc(sa + 8192 + kk * 32);
                    if (BN == 128) {
                        wgmma_m64n128k16_t<T, A_MN ? 1 : 0, B_MN ? 1 : 0>(d0, da0, db);
                        wgmma_m64n128k16_t<T, A_MN ? 1 : 0, B_MN ? 1 : 0>(d1, da1, db);
                    } else {
                        wgmma_m64n192k16_t<T, A_MN ? 1 : 0, B_MN ? 1 : 0>(d0, da0, db);
                        wgmma_m64n192k16_t<T, A_MN ? 1 : 0, B_MN ? 1 : 0>(d1, da1, db);
                    }
                }
                wgmma_commit();
                wgmma_wait<1>();  // the previous k-tile's wgmmas are done: release its stage
                if (kt > 0 && leader) release(it - 1);
            }
            if (leader) mbar_arrive(turn + 8 * (1 - c));  // the other warpgroup's turn
            wgmma_wait<0>();
            if (KT > 0 && leader) release(it - 1);
            it += KT;  // the other warpgroup's tile
            const EpiSrc* es = SRC ? &src : nullptr;
            if (flags & GEMM_OUT_F16) {
                tma_store_epilogue<T, BN, T, SRC_OP>(d0, tmC, stage, bias, M, N, m0, n0, alpha, flags, c, leader, oc,
                                                     es);
                tma_store_epilogue<T, BN, T, SRC_OP>(d1, tmC, stage, bias, M, N, m0 + 64, n0, alpha, flags, c, leader,
                                                     oc, es);
            } else {
                tma_store_epilogue<T, BN, float, SRC_OP>(d0, tmC, stage, bias, M, N, m0, n0, alpha, flags, c, leader,
                                                         oc, es);
                tma_store_epilogue<T, BN, float, SRC_OP>(d1, tmC, stage, bias, M, N, m0 + 64, n0, alpha, flags, c,
                                                         leader, oc, es);
            }
        }
        if (leader) bulk_wait_all();  // the staging buffers stay until the last store has read them
    }
}

#define GEMM_TMA_PP_KERNEL(name, T, AMN, BMN, BN, S, PRODUCER, THREADS, SRC, SRC_OP)                               \
    extern "C" __global__ void __launch_bounds__(THREADS, 1)                                                         \
        name(const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmB,                               \
             const __grid_constant__ TmaDesc tmC, void* C, const float* __restrict__ bias, int M, int N, int K,      \
             int ldc, float alpha, float beta, int flags, int kchunk) {                                               \
        const EpiSrc src = {C, ldc, SRC ? beta : 0.f};                                                               \
        gemm_tma_pp_body<T, AMN, BMN, BN, S, PRODUCER, SRC, SRC_OP>(&tmA, &tmB, &tmC, bias, M, N, K, alpha, flags,  \
                                                                    src);                                         \
    }
// _tma_pp: 128×128 tiles, 6 stages of 32 KB, a producer warpgroup (384
// threads); _tma_pp192: 128×192 tiles, 4 stages of 40 KB, no producer (256
// threads); _tma_ppr: 128×128 tiles, 6 stages, no producer (256 threads:
// room for the source), C = act(alpha·A·B + bias) + beta·S with S passed
// as C and ldc (the residual add of a Linear layer, GemmF16's
// Epilogue.Residual) and C itself written through tmC; _tma_ppg: the same
// with C = (alpha·A·B) ⊙ GELU′(S) (a FeedForward's hidden-layer gradient,
// S the pre-activation; Backend.GemmGELUGrad), NN only.
#define GEMM_TMA_PP_KERNELS(t, T)                                                              \
    GEMM_TMA_PP_KERNEL(gemm_##t##_nt_tma_pp, T, false, false, 128, 6, true, 384, false, SRC_ADD)        \
    GEMM_TMA_PP_KERNEL(gemm_##t##_nn_tma_pp, T, false, true, 128, 6, true, 384, false, SRC_ADD)         \
    GEMM_TMA_PP_KERNEL(gemm_##t##_tn_tma_pp, T, true, true, 128, 6, true, 384, false, SRC_ADD)          \
    GEMM_TMA_PP_KERNEL(gemm_##t##_tt_tma_pp, T, true, false, 128, 6, true, 384, false, SRC_ADD)         \
    GEMM_TMA_PP_KERNEL(gemm_##t##_nt_tma_pp192, T, false, false, 192, 4, false, 256, false, SRC_ADD)    \
    GEMM_TMA_PP_KERNEL(gemm_##t##_nn_tma_pp192, T, false, true, 192, 4, false, 256, false, SRC_ADD)     \
    GEMM_TMA_PP_KERNEL(gemm_##t##_tn_tma_pp192, T, true, true, 192, 4, false, 256, false, SRC_ADD)      \
    GEMM_TMA_PP_KERNEL(gemm_##t##_tt_tma_pp192, T, true, false, 192, 4, false, 256, false, SRC_ADD)     \
    GEMM_TMA_PP_KERNEL(gemm_##t##_nt_tma_ppr, T, false, false, 128, 6, false, 256, true, SRC_ADD)       \
    GEMM_TMA_PP_KERNEL(gemm_##t##_nn_tma_ppr, T, false, true, 128, 6, false, 256, true, SRC_ADD)        \
    GEMM_TMA_PP_KERNEL(gemm_##t##_nn_tma_ppg, T, false, true, 128, 6, false, 256, true, SRC_GELU_GRAD)

// One source, two PTX modules (kernels/ptx), so that the driver compiles
// only the kernels of the run's type (it compiles a whole module when it
// loads it; this was the largest, 32 s of ptxas here for both types):
// compiled alone this file gives gemm_pingpong_sm90a, the fp16 kernels;
// gemm_bf16_pingpong_sm90a.cu includes it with GEMM_MODULE_BF16 for the
// bf16 ones (MODULE_EMITS_*, gemm_types.cuh).
#if MODULE_EMITS_F16
GEMM_TMA_PP_KERNELS(f16, half)
#endif
#if MODULE_EMITS_BF16
GEMM_TMA_PP_KERNELS(bf16, bf16)
#endif
