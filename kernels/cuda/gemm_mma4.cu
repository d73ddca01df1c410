// gemm_mma4.cu: fp16 and bf16 tensor-core GEMM for Ampere and later
// (mma.sync), with four warps of 64×64 per 128×128 block.
//
//   C = act(alpha · op(A) · op(B) + bias) + beta · C
//
// The same product, layouts, flags and epilogues as gemm_f16.cu (read its
// header for the conventions: row-major matrices, op(A) M×K stored M×K "n"
// or K×M "t", op(B) K×N stored K×N "n" or N×K "t", fp32 accumulation, C fp32
// or the operand type with GEMM_OUT_F16, bias, exact GELU, beta·C, the
// staged epilogue with GEMM_STAGED); only the way the block is cut into
// warps and the main loop differ.
//
// Why another kernel. gemm_f16's 128×128 kernel gives each of 8 warps a
// 64×32 piece of C: per k16 step a warp issues 4 ldmatrix.x4 for A and 2 for
// B, 3 KB of shared-memory reads, for 16 mma (192 bytes per mma); with the
// pipeline's cp.async writes (64 bytes per mma) that is 256 bytes of
// shared-memory traffic per mma, while one SM's shared memory moves 128
// bytes a cycle. Its 128×256 twin (_w, 64×64 warp tiles) reads less per mma
// but runs one block of 8 warps per SM, and every barrier stops the whole
// SM. Here each warp owns 64×64 (4×8 mma tiles: 8 ldmatrix.x4 for 32 mma,
// 128 bytes per mma, plus 64 of cp.async writes: 192 in all, 0.75× the
// 128×128 kernel's), and a block is only 4 warps, so two blocks share an
// SM and one's barrier leaves the other's warps issuing.
//
// Main loop. Block tile 128×128×32, 4-stage cp.async pipeline (as
// gemm_f16: 16-byte copies, edges zero-filled through src-size), one
// __syncthreads per k-tile. Each warp's A and B fragments are double
// buffered: the fragments of the next k16 step are loaded while the mma of
// the current one run. With BK = 32 a k-tile has two k16 steps:
//
//   frag[1] ← ldmatrix(stage kt, k 16..31)
//   cp.async k-tile kt+3 → stage (kt+3) % 4; commit
//   mma(frag[0])                         k 0..15 of tile kt
//   wait until ≤ 2 groups in flight (k-tile kt+1 has landed); __syncthreads
//   frag[0] ← ldmatrix(stage kt+1, k 0..15)
//   mma(frag[1])                         k 16..31 of tile kt
//
// The stage written in iteration kt held k-tile kt−1, whose last ldmatrix
// (k 16..31) was issued in iteration kt−1 before that iteration's barrier,
// so one barrier per k-tile covers both hazards (the copy landing before
// its ldmatrix, the ldmatrix done before the stage is overwritten). The
// ldmatrix of either buffer have the 32 mma of the other to complete
// behind.
//
// Shared memory: per stage an A and a B tile of 10 KB each (a k-contiguous
// operand as 128 rows × 40 halves, an m/n-contiguous one as 32 rows × 136
// halves), 4 stages = 80 KB, so two blocks fit an SM on sm_80 (164 KB) and
// sm_90 (228 KB). Rows are padded by 16 bytes, as in gemm_f16: an
// ldmatrix 8×8 matrix reads 8 rows of 16 bytes, and with rows 80 bytes
// apart (k-contiguous) they start at banks 0, 20, 8, 28, 16, 4, 24, 12
// (mod 32), with rows 272 bytes apart (m/n-contiguous) at 0, 4, …, 28:
// eight disjoint groups of four banks, one pass, no conflict.
//
// Registers: 128 fp32 accumulators, 2 × (16 + 16) fragment registers, the
// copy pointers: __launch_bounds__(128, 2) (at most 255 a thread; two
// blocks of 128 threads need ≤ 256).
//
// Kernels: gemm_<t>_<a><b>_q, <t> ∈ {f16,bf16}, <a>,<b> ∈ {n,t}; the
// split-K partial products gemm_<t>_<a><b>_q_sk (as gemm_f16's _sk, summed
// by gemm_splitk_reduce[_bf16] of module gemm_f16 or gemm_bf16). Aligned operands only (A and B 16-byte
// aligned, lda and ldb multiples of 8); any M, N, K.
// Launch: grid ceil(M/128)·ceil(N/128) (× splits for _q_sk), block 128,
// dynamic shared memory GEMM_Q_SMEM_BYTES = 81920 (needs the >48 KB
// attribute).

#include <cuda_fp16.h>
#include <stdint.h>

#include "gemm_types.cuh"
#include "mma_sm80.cuh"

namespace q {

constexpr int BM = 128, BN = 128, BK = 32, STAGES = 4, NT = 128;
constexpr int KM_LD = BK + 8;  // k-contiguous tile row in halves (80 B)
constexpr int MN_LD = BM + 8;  // m/n-contiguous tile row in halves (272 B)
constexpr int TILE_BYTES = BM * KM_LD * 2;  // 10240 ≥ BK·MN_LD·2 = 8704
constexpr int STAGE_BYTES = 2 * TILE_BYTES;
constexpr int SMEM_BYTES = STAGES * STAGE_BYTES;  // 81920
static_assert(BK * MN_LD * 2 <= TILE_BYTES, "m/n-contiguous tile larger than its slot");

// Loader copies one operand's BK-deep slices into shared memory, four
// 16-byte cp.async per thread per k-tile, k-tile after k-tile (next).
// KMAJOR: the operand is stored k contiguous (A "n", B "t"): the tile is
// 128 rows (m or n) × 32 k, chunk i of thread tid at row tid/4 + 32·i,
// column (tid%4)·8. Otherwise (A "t", B "n") it is 32 rows (k) × 128 (m or
// n): row tid/16 + 8·i, column (tid%16)·8. The per-thread parts of the
// addresses and bounds are worked out once, and each k-tile moves them on,
// so that little stays live beside the accumulators and fragments. Chunks
// wholly or partly past the matrix copy fewer bytes (src-size) and are
// zero-filled; a chunk with nothing to copy reads from g, the operand's
// start, a valid address.
template <bool KMAJOR, typename T>
struct Loader {
    const T* p;    // chunk 0's source in the next k-tile
    uint32_t dst;  // chunk 0's byte offset in the tile
    int lim;       // KMAJOR: K − (chunk 0's k) in the next k-tile; else the columns left in the row (≤ 8 copied)
    int rows;      // KMAJOR: bit i set when chunk i's row is inside the matrix; else K − (chunk 0's k) in the next k-tile

    __device__ __forceinline__ Loader(const T* __restrict__ g, int ld, int r0, int R, int K, int tid) {
        if (KMAJOR) {
            const int row = tid >> 2, col = (tid & 3) * 8;
            p = g + (size_t)(r0 + row) * ld + col;
            dst = (row * KM_LD + col) * 2;
            lim = K - col;
            rows = 0;
#pragma unroll
            for (int i = 0; i < 4; i++) rows |= (r0 + row + 32 * i < R) << i;
        } else {
            const int row = tid >> 4, col = (tid & 15) * 8;
            p = g + (size_t)row * ld + r0 + col;
            dst = (row * MN_LD + col) * 2;
            lim = min(8, max(0, R - r0 - col));
            rows = K - row;
        }
    }

    // next issues the copies of the next k-tile into the tile at shared
    // address s; g and ld are the operand and its row stride.
    __device__ __forceinline__ void next(uint32_t s, const T* __restrict__ g, int ld) {
        const int nk = min(8, max(0, lim));  // KMAJOR: the k extent of every chunk
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int n;
            const T* src;
            uint32_t d;
            if (KMAJOR) {
                n = (rows >> i & 1) ? nk : 0;
                src = p + (size_t)(32 * i) * ld;
                d = s + dst + i * 32 * KM_LD * 2;
            } else {
                n = 8 * i < rows ? lim : 0;
                src = p + (size_t)(8 * i) * ld;
                d = s + dst + i * 8 * MN_LD * 2;
            }
            cp_async16(d, n > 0 ? (const void*)src : (const void*)g, n * 2);
        }
        if (KMAJOR) {
            p += BK;
            lim -= BK;
        } else {
            p += (size_t)BK * ld;
            rows -= BK;
        }
    }
};

// Frags are one warp's operands for one k16 step: A for its four 16-row
// pieces, B for its eight 8-column pieces.
struct Frags {
    uint32_t a[4][4];
    uint32_t b[8][2];
};

// load_frags fills f from the stage whose A tile starts at shared address
// sa (B at sa + TILE_BYTES), k offset kk (0 or 16); ao and bo are the lane's
// byte offsets in the tiles for the first piece (lane_offsets).
template <bool A_KMAJOR, bool B_KMAJOR>
__device__ __forceinline__ void load_frags(Frags& f, uint32_t sa, uint32_t ao, uint32_t bo, int kk) {
#pragma unroll
    for (int mi = 0; mi < 4; mi++) {
        if (A_KMAJOR)
            ldsm_x4(f.a[mi][0], f.a[mi][1], f.a[mi][2], f.a[mi][3], sa + ao + (mi * 16 * KM_LD + kk) * 2);
        else
            ldsm_x4_t(f.a[mi][0], f.a[mi][1], f.a[mi][2], f.a[mi][3], sa + ao + (kk * MN_LD + mi * 16) * 2);
    }
    const uint32_t sb = sa + TILE_BYTES;
#pragma unroll
    for (int nj = 0; nj < 4; nj++) {
        if (B_KMAJOR)
            ldsm_x4(f.b[2 * nj][0], f.b[2 * nj][1], f.b[2 * nj + 1][0], f.b[2 * nj + 1][1],
                    sb + bo + (nj * 16 * KM_LD + kk) * 2);
        else
            ldsm_x4_t(f.b[2 * nj][0], f.b[2 * nj][1], f.b[2 * nj + 1][0], f.b[2 * nj + 1][1],
                      sb + bo + (kk * MN_LD + nj * 16) * 2);
    }
}

// lane_offsets gives the byte offsets in the A and B tiles of the row each
// lane hands to ldmatrix for the warp's first 16×16 piece of A and first
// 16(n)×16(k) of B (the same addressing as gemm_f16's kernels):
//   A k-contiguous: lanes 0–15 rows 0–15 at k 0, lanes 16–31 rows 0–15 at k 8
//     (matrices a0 a1 a2 a3 = rows 0–7/8–15 × k 0–7, then × k 8–15);
//   A m-contiguous (.trans): lane group i = lane/8 reads k rows (lane%8) + 8·(i/2)
//     at m 8·(i%2);
//   B n-contiguous rows: group i reads n rows (lane%8) + 8·(i/2) at k 8·(i%2)
//     (b0 b1 of the first 8 columns, then of the next 8);
//   B n-contiguous (.trans): k rows (lane%8) + 8·(i%2) at n 8·(i/2).
template <bool A_KMAJOR, bool B_KMAJOR>
__device__ __forceinline__ void lane_offsets(int lane, int warp_m, int warp_n, uint32_t& ao, uint32_t& bo) {
    const int i = lane >> 3, r = lane & 7;
    if (A_KMAJOR)
        ao = ((warp_m * 64 + (lane & 15)) * KM_LD + (lane >> 4) * 8) * 2;
    else
        ao = ((r + (i >> 1) * 8) * MN_LD + warp_m * 64 + (i & 1) * 8) * 2;
    if (B_KMAJOR)
        bo = ((warp_n * 64 + r + (i >> 1) * 8) * KM_LD + (i & 1) * 8) * 2;
    else
        bo = ((r + (i & 1) * 8) * MN_LD + warp_n * 64 + (i >> 1) * 8) * 2;
}

template <typename T>
__device__ __forceinline__ void mma_all(float (&acc)[4][8][4], const Frags& f) {
#pragma unroll
    for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int ni = 0; ni < 8; ni++) mma16816<T>(acc[mi][ni], f.a[mi], f.b[ni][0], f.b[ni][1]);
}

template <typename T, bool A_KMAJOR, bool B_KMAJOR>
__device__ __forceinline__ void body(const T* __restrict__ A, const T* __restrict__ B, void* C,
                                     const float* __restrict__ bias, int M, int N, int K, int lda, int ldb, int ldc,
                                     float alpha, float beta, int flags) {
    extern __shared__ __align__(16) unsigned char smem[];
    const uint32_t s0 = smem_u32(smem);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int warp_m = warp >> 1, warp_n = warp & 1;  // 2×2 warps of 64×64

    int m0, n0;
    grouped_tile<BM, BN>(blockIdx.x, M, N, m0, n0);

    float acc[4][8][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0.0f;

    Loader<A_KMAJOR, T> la(A, lda, m0, M, K, tid);
    Loader<B_KMAJOR, T> lb(B, ldb, n0, N, K, tid);
    const int KT = (K + BK - 1) / BK;
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < KT) {
            la.next(s0 + s * STAGE_BYTES, A, lda);
            lb.next(s0 + s * STAGE_BYTES + TILE_BYTES, B, ldb);
        }
        cp_async_commit();
    }

    uint32_t ao, bo;
    lane_offsets<A_KMAJOR, B_KMAJOR>(lane, warp_m, warp_n, ao, bo);
    Frags f[2];
    cp_async_wait<STAGES - 2>();
    __syncthreads();
    load_frags<A_KMAJOR, B_KMAJOR>(f[0], s0, ao, bo, 0);

    static_assert((STAGES & (STAGES - 1)) == 0, "stage indices wrap with a mask");
    for (int kt = 0; kt < KT; kt++) {
        // Read stage kt % STAGES; write k-tile kt + STAGES − 1 into the
        // stage k-tile kt − 1 used.
        load_frags<A_KMAJOR, B_KMAJOR>(f[1], s0 + (kt & (STAGES - 1)) * STAGE_BYTES, ao, bo, 16);
        if (kt + STAGES - 1 < KT) {
            const uint32_t sw = s0 + ((kt + STAGES - 1) & (STAGES - 1)) * STAGE_BYTES;
            la.next(sw, A, lda);
            lb.next(sw + TILE_BYTES, B, ldb);
        }
        cp_async_commit();
        mma_all<T>(acc, f[0]);
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        // After the last k-tile this reads a stage nobody writes any more
        // (no copies are in flight): the values are not used.
        load_frags<A_KMAJOR, B_KMAJOR>(f[0], s0 + ((kt + 1) & (STAGES - 1)) * STAGE_BYTES, ao, bo, 0);
        mma_all<T>(acc, f[1]);
    }
    cp_async_wait<0>();

    const bool gelu = flags & GEMM_GELU, out16 = flags & GEMM_OUT_F16;
    const int g = lane >> 2, t = lane & 3;
    if (gemm_staged_ok(C, ldc, out16, beta, flags)) {
        // Staged epilogue (gemm_types.cuh): the finished 128×128 tile in the
        // pipeline's shared memory (fp32: 128·136·4 = 69632 of 81920 bytes),
        // then out in 16-byte pieces. Every warp must be done reading the
        // stages first.
        constexpr int LD = BN + 8;
        static_assert(BM * LD * 4 <= SMEM_BYTES, "staged tile larger than the pipeline's shared memory");
        __syncthreads();
        gemm_stage_warp<T, 4, 8, LD>(acc, smem, warp_m * 64, warp_n * 64, bias, n0, N, alpha, gelu, out16, lane);
        __syncthreads();
        if (out16)
            gemm_stage_copy_out<T, BM, BN, NT>((const T*)smem, (T*)C, ldc, m0, n0, M, N, tid);
        else
            gemm_stage_copy_out<float, BM, BN, NT>((const float*)smem, (float*)C, ldc, m0, n0, M, N, tid);
        return;
    }

    // Direct epilogue: each thread stores its accumulator pairs.
#pragma unroll
    for (int mi = 0; mi < 4; mi++) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int row = m0 + warp_m * 64 + mi * 16 + g + h * 8;
            if (row >= M) continue;
#pragma unroll
            for (int ni = 0; ni < 8; ni++) {
                const int col = n0 + warp_n * 64 + ni * 8 + 2 * t;
                if (col >= N) continue;
                gemm_put2<T, false>(C, row, col, N, ldc, alpha, acc[mi][ni][2 * h], acc[mi][ni][2 * h + 1], bias, gelu,
                                    out16, beta);
            }
        }
    }
}

}  // namespace q

#define GEMM_Q_KERNEL(name, T, AK, BKM)                                                                     \
    extern "C" __global__ void __launch_bounds__(q::NT, 2)                                                  \
        name(const T* __restrict__ A, const T* __restrict__ B, void* C, const float* __restrict__ bias,     \
             int M, int N, int K, int lda, int ldb, int ldc, float alpha, float beta, int flags) {           \
        q::body<T, AK, BKM>(A, B, C, bias, M, N, K, lda, ldb, ldc, alpha, beta, flags);                      \
    }

// Split-K partials, as gemm_f16's _sk: K cut into gridDim.y chunks of
// kchunk (a multiple of 32), chunk y's raw fp32 product into slice y of W
// (M rows of stride ldw); flags: only GEMM_STAGED counts.
#define GEMM_Q_SPLITK_KERNEL(name, T, AK, BKM)                                                              \
    extern "C" __global__ void __launch_bounds__(q::NT, 2)                                                  \
        name(const T* __restrict__ A, const T* __restrict__ B, float* __restrict__ W, int M, int N, int K,  \
             int lda, int ldb, int kchunk, int ldw, int flags) {                                            \
        const int k0 = blockIdx.y * kchunk;                                                                 \
        const int kl = min(K - k0, kchunk);                                                                 \
        const T* a = AK ? A + k0 : A + (size_t)k0 * lda;                                                    \
        const T* b = BKM ? B + k0 : B + (size_t)k0 * ldb;                                                   \
        q::body<T, AK, BKM>(a, b, W + (size_t)blockIdx.y * M * ldw, nullptr, M, N, max(kl, 0), lda, ldb,   \
                            ldw, 1.0f, 0.0f, flags & GEMM_STAGED);                                          \
    }

// A "n" = stored M×K = k-contiguous; B "n" = stored K×N = n-contiguous.
#define GEMM_Q_KERNELS(t, T)                                   \
    GEMM_Q_KERNEL(gemm_##t##_nn_q, T, true, false)             \
    GEMM_Q_KERNEL(gemm_##t##_nt_q, T, true, true)              \
    GEMM_Q_KERNEL(gemm_##t##_tn_q, T, false, false)            \
    GEMM_Q_KERNEL(gemm_##t##_tt_q, T, false, true)             \
    GEMM_Q_SPLITK_KERNEL(gemm_##t##_nn_q_sk, T, true, false)   \
    GEMM_Q_SPLITK_KERNEL(gemm_##t##_nt_q_sk, T, true, true)    \
    GEMM_Q_SPLITK_KERNEL(gemm_##t##_tn_q_sk, T, false, false)  \
    GEMM_Q_SPLITK_KERNEL(gemm_##t##_tt_q_sk, T, false, true)

GEMM_Q_KERNELS(f16, half)
GEMM_Q_KERNELS(bf16, bf16)
