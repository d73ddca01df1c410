// gemm_f16.cu: fp16 and bf16 tensor-core GEMM for Ampere and later
// (mma.sync).
//
//   C = act(alpha · op(A) · op(B) + bias) + beta · C
//
// All matrices are row-major. op(A) is M×K and op(B) is K×N; A is stored
// M×K ("n") or K×M ("t"), B is stored K×N ("n") or N×K ("t"). Inputs are
// fp16 (gemm_f16_*) or bf16 (gemm_bf16_*: the same templates, see
// gemm_types.cuh), accumulation is fp32, C is fp32 or the input type (flag
// GEMM_OUT_F16). bias is
// an optional fp32 vector of N added to every row; act is the identity or
// the exact (erf) GELU (flag GEMM_GELU). When beta is 0, C is not read.
//
// Epilogue: by default each thread stores its accumulator pairs straight to
// C (gemm_store2). With flag GEMM_STAGED, beta = 0 and C and ldc allowing
// 16-byte stores, the block's finished tile goes through shared memory
// instead (the pipeline's stages, free after the main loop) and out in
// whole 128-byte lines: gemm_types.cuh explains the layout, staged_epilogue
// below the passes.
//
// Block tile 128×128×32, 8 warps each owning a 64×32 piece of C, a 4-stage
// cp.async pipeline through padded shared memory (rows padded by 16 bytes, so
// that ldmatrix's eight 16-byte row reads hit eight different bank groups),
// ldmatrix (.trans for tiles stored M- or N-contiguous) feeding
// mma.sync.m16n8k16.row.col.f32.f16.f16.f32 (.bf16.bf16 for bf16).
//
// Edges: every row, column and k beyond the matrix is zero-filled with
// cp.async's src-size operand, so M, N and K are arbitrary. The 16-byte copy
// path (kernels without the _u suffix) needs A and B 16-byte aligned and lda,
// ldb multiples of 8; the _u kernels load element by element with guards
// and accept any alignment and leading dimension.
//
// Kernel names: gemm_<t>_<a><b>[_u], <t> ∈ {f16,bf16}, <a>,<b> ∈ {n,t} as above.
// Launch: grid (ceil(M/128)·ceil(N/128)), block 256, dynamic shared memory
// GEMM_SMEM_BYTES (needs the >48 KB attribute set).

#include <cuda_fp16.h>
#include <stdint.h>

#include "gemm_types.cuh"
#include "mma_sm80.cuh"

// One source, three PTX modules (kernels/ptx), so that the driver compiles
// only the kernels a run uses (it compiles a whole module when it loads
// it): compiled alone this file gives gemm_f16, the fp16 kernels and their
// split-K reduce; gemm_bf16.cu includes it with GEMM_MODULE_BF16 for the
// bf16 ones (MODULE_EMITS_*, gemm_types.cuh), and gemm_wide.cu with
// GEMM_MODULE_WIDE for the 128×256 kernels (_w) of both types alone, which
// only GemmMMAWide launches.
#if defined(GEMM_MODULE_WIDE)
#define MODULE_EMITS_F16_NARROW 0
#define MODULE_EMITS_BF16_NARROW 0
#define MODULE_EMITS_WIDE 1
#else
#define MODULE_EMITS_F16_NARROW MODULE_EMITS_F16
#define MODULE_EMITS_BF16_NARROW MODULE_EMITS_BF16
#define MODULE_EMITS_WIDE 0
#endif

#define BM 128
#define BN 128
#define BK 32
#define STAGES 4
#define NTHREADS 256
#define KM_LD (BK + 8)             // K-contiguous tile row length in halves (80 B)
#define MN_LD (BM + 8)             // M/N-contiguous tile row length in halves (272 B)
#define TILE_HALVES (BM * KM_LD)   // 5120 ≥ BK*MN_LD = 4352
#define STAGE_HALVES (2 * TILE_HALVES)
// GEMM_SMEM_BYTES = STAGES * STAGE_HALVES * 2 = 81920

// load_tile copies one BK-deep slice of an operand into shared memory.
// KMAJOR: the operand is stored with k contiguous (rows = m or n, ld = row
// stride): smem [128][KM_LD]. Otherwise it is stored with m/n contiguous
// (rows = k): smem [BK][MN_LD]. r0 is the first m/n of the tile, k0 the first k,
// R the m/n extent, K the k extent.
// ROWS (128 or 256) is the tile's m/n extent; the M/N-contiguous smem
// layout then has rows of ROWS + 8 halves.
template <bool KMAJOR, bool ALIGNED, int ROWS = 128, typename T>
__device__ __forceinline__ void load_tile(T* s, const T* __restrict__ g, int ld, int r0, int k0, int R, int K, int tid) {
    constexpr int CPR = ROWS / 8;  // 16-byte chunks per M/N-contiguous row
#pragma unroll
    for (int i = 0; i < ROWS / 64; i++) {
        int c = tid + i * NTHREADS;
        int row, col, gr, gc, rext, cext;
        if (KMAJOR) {
            row = c >> 2; col = (c & 3) * 8;
            gr = r0 + row; gc = k0 + col; rext = R; cext = K;
        } else {
            row = c / CPR; col = (c % CPR) * 8;
            gr = k0 + row; gc = r0 + col; rext = K; cext = R;
        }
        T* dst = s + row * (KMAJOR ? KM_LD : ROWS + 8) + col;
        int n = (gr < rext) ? min(8, max(0, cext - gc)) : 0;
        if (ALIGNED) {
            const T* src = n > 0 ? g + (size_t)gr * ld + gc : g;
            cp_async16(smem_u32(dst), src, n * 2);
        } else {
            union { uint4 v; T h[8]; } u;
            const T* src = g + (size_t)gr * ld + gc;
#pragma unroll
            for (int j = 0; j < 8; j++) u.h[j] = j < n ? src[j] : GemmT<T>::zero();
            *(uint4*)dst = u.v;
        }
    }
}

// staged_epilogue is gemm_body's staged epilogue (gemm_types.cuh): the
// block's 128×TBN results, finished and converted to C's type (T when
// out16, else fp32), go through a padded tile in the SMEM bytes of the
// pipeline's shared memory (gemm_stage_warp) and out in 16-byte pieces.
// When the fp32 tile does not fit at once (128×256 tiles: 128·264·4 =
// 135168 bytes against 122880) it goes in two passes of 64 rows, each
// written by the four warps that own those rows (for either type, again to
// keep one copy of the code).
template <typename T, int WN, int SMEM>
__device__ __forceinline__ void staged_epilogue(const float (&acc)[4][WN / 8][4], unsigned char* smem, void* C,
                                                const float* __restrict__ bias, int M, int N, int ldc, int m0,
                                                int n0, float alpha, bool gelu, bool out16, int tid) {
    constexpr int TBN = 4 * WN, LD = TBN + 8;
    constexpr int PASSES = BM * LD * 4 <= SMEM ? 1 : 2;
    constexpr int ROWS = BM / PASSES;
    static_assert(ROWS * LD * 4 <= SMEM, "staged tile larger than the pipeline's shared memory");
    const int lane = tid & 31, warp = tid >> 5;
    const int warp_m = warp >> 2, warp_n = warp & 3;
#pragma unroll
    for (int pass = 0; pass < PASSES; pass++) {
        if (PASSES == 1 || warp_m == pass) {
            const int r0 = PASSES == 1 ? warp_m * 64 : 0;  // the warp's first row in the staged tile
            gemm_stage_warp<T, 4, WN / 8, LD>(acc, smem, r0, warp_n * WN, bias, n0, N, alpha, gelu, out16, lane);
        }
        __syncthreads();
        if (out16)
            gemm_stage_copy_out<T, ROWS, TBN, NTHREADS>((T*)smem, (T*)C, ldc, m0 + pass * ROWS, n0, M, N, tid);
        else
            gemm_stage_copy_out<float, ROWS, TBN, NTHREADS>((float*)smem, (float*)C, ldc, m0 + pass * ROWS, n0, M,
                                                            N, tid);
        if (pass + 1 < PASSES) __syncthreads();  // the next pass overwrites the tile
    }
}

// WN is the warp tile's width: 32 (block 128×128, the first kernels) or 64
// (block 128×256, the _w kernels: twice the mma per ldmatrix of A).
template <typename T, bool A_KMAJOR, bool B_KMAJOR, bool ALIGNED, int WN = 32>
__device__ __forceinline__ void gemm_body(const T* __restrict__ A, const T* __restrict__ B, void* C,
                                          const float* __restrict__ bias, int M, int N, int K, int lda, int ldb,
                                          int ldc, float alpha, float beta, int flags) {
    extern __shared__ __align__(16) unsigned char smem[];
    T* const sm = (T*)smem;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int warp_m = warp >> 2, warp_n = warp & 3;
    constexpr int TBN = 4 * WN;  // block tile width
    constexpr int B_HALVES = TBN * KM_LD > BK * (TBN + 8) ? TBN * KM_LD : BK * (TBN + 8);
    constexpr int ST_HALVES = TILE_HALVES + B_HALVES;
    constexpr int B_LD = TBN + 8;  // M/N-contiguous B row

    int m0, n0;
    grouped_tile<BM, TBN>(blockIdx.x, M, N, m0, n0);

    float acc[4][WN / 8][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < WN / 8; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0.0f;

    const int KT = (K + BK - 1) / BK;
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < KT) {
            T* st = sm + s * ST_HALVES;
            load_tile<A_KMAJOR, ALIGNED>(st, A, lda, m0, s * BK, M, K, tid);
            load_tile<B_KMAJOR, ALIGNED, TBN>(st + TILE_HALVES, B, ldb, n0, s * BK, N, K, tid);
        }
        cp_async_commit();
    }

    for (int kt = 0; kt < KT; kt++) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        {
            int nk = kt + STAGES - 1;
            if (nk < KT) {
                T* st = sm + (nk % STAGES) * ST_HALVES;
                load_tile<A_KMAJOR, ALIGNED>(st, A, lda, m0, nk * BK, M, K, tid);
                load_tile<B_KMAJOR, ALIGNED, TBN>(st + TILE_HALVES, B, ldb, n0, nk * BK, N, K, tid);
            }
            cp_async_commit();
        }
        const T* sA = sm + (kt % STAGES) * ST_HALVES;
        const T* sB = sA + TILE_HALVES;
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            uint32_t af[4][4], bf[WN / 8][2];
#pragma unroll
            for (int mi = 0; mi < 4; mi++) {
                int mr = warp_m * 64 + mi * 16;
                if (A_KMAJOR) {
                    const T* p = sA + (mr + (lane & 15)) * KM_LD + kk + (lane >> 4) * 8;
                    ldsm_x4(af[mi][0], af[mi][1], af[mi][2], af[mi][3], smem_u32(p));
                } else {
                    int i = lane >> 3;
                    const T* p = sA + (kk + (lane & 7) + (i >> 1) * 8) * MN_LD + mr + (i & 1) * 8;
                    ldsm_x4_t(af[mi][0], af[mi][1], af[mi][2], af[mi][3], smem_u32(p));
                }
            }
#pragma unroll
            for (int nj = 0; nj < WN / 16; nj++) {
                int nb = warp_n * WN + nj * 16;
                int i = lane >> 3;
                if (B_KMAJOR) {
                    const T* p = sB + (nb + (lane & 7) + (i >> 1) * 8) * KM_LD + kk + (i & 1) * 8;
                    ldsm_x4(bf[2 * nj][0], bf[2 * nj][1], bf[2 * nj + 1][0], bf[2 * nj + 1][1], smem_u32(p));
                } else {
                    const T* p = sB + (kk + (lane & 7) + (i & 1) * 8) * B_LD + nb + (i >> 1) * 8;
                    ldsm_x4_t(bf[2 * nj][0], bf[2 * nj][1], bf[2 * nj + 1][0], bf[2 * nj + 1][1], smem_u32(p));
                }
            }
#pragma unroll
            for (int mi = 0; mi < 4; mi++)
#pragma unroll
                for (int ni = 0; ni < WN / 8; ni++) mma16816<T>(acc[mi][ni], af[mi], bf[ni][0], bf[ni][1]);
        }
    }
    cp_async_wait<0>();

    const bool gelu = flags & GEMM_GELU, out16 = flags & GEMM_OUT_F16;
    if (gemm_staged_ok(C, ldc, out16, beta, flags)) {
        // Every warp must be done reading the pipeline's stages before they
        // hold the staged tile.
        __syncthreads();
        staged_epilogue<T, WN, STAGES * ST_HALVES * 2>(acc, smem, C, bias, M, N, ldc, m0, n0, alpha, gelu, out16, tid);
        return;
    }

    // Direct epilogue, straight from the accumulators: each thread owns
    // pairs of adjacent columns.
    mma_store_warp<T, 4, WN / 8>(acc, C, m0 + warp_m * 64, n0 + warp_n * WN, M, N, ldc, alpha, bias, gelu, out16, beta,
                                 lane);
}

#define GEMM_KERNEL(name, T, AK, BKM, AL)                                                                      \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 2)                                                   \
        name(const T* __restrict__ A, const T* __restrict__ B, void* C, const float* __restrict__ bias,         \
             int M, int N, int K, int lda, int ldb, int ldc, float alpha, float beta, int flags) {             \
        gemm_body<T, AK, BKM, AL>(A, B, C, bias, M, N, K, lda, ldb, ldc, alpha, beta, flags);                  \
    }
// GEMM_KERNELS(t, T): the eight kernels gemm_<t>_<a><b>[_u] for operand type T.
// A "n" = stored M×K = k-contiguous; B "n" = stored K×N = n-contiguous.
#define GEMM_KERNELS(t, T)                                \
    GEMM_KERNEL(gemm_##t##_nn, T, true, false, true)      \
    GEMM_KERNEL(gemm_##t##_nt, T, true, true, true)       \
    GEMM_KERNEL(gemm_##t##_tn, T, false, false, true)     \
    GEMM_KERNEL(gemm_##t##_tt, T, false, true, true)      \
    GEMM_KERNEL(gemm_##t##_nn_u, T, true, false, false)   \
    GEMM_KERNEL(gemm_##t##_nt_u, T, true, true, false)    \
    GEMM_KERNEL(gemm_##t##_tn_u, T, false, false, false)  \
    GEMM_KERNEL(gemm_##t##_tt_u, T, false, true, false)

#if MODULE_EMITS_F16_NARROW
GEMM_KERNELS(f16, half)
#endif
#if MODULE_EMITS_BF16_NARROW
GEMM_KERNELS(bf16, bf16)
#endif

// ---- split-K ----
//
// For products with few output tiles and a long K (the weight gradients:
// 1536×384 outputs summed over 50432 tokens make only 36 tiles for 132 SMs),
// gemm_<t>_<a><b>_sk splits K into gridDim.y chunks of kchunk (a multiple of
// BK, so every chunk's operand pointers stay 16-byte aligned) and writes each
// chunk's raw fp32 product to its own M×N slice of the workspace W. Then
// gemm_splitk_reduce sums the slices in a fixed order (split 0 first), so the
// result does not depend on scheduling, and applies the usual epilogue
// (alpha, bias, GELU, beta·C, fp32 output or fp16 for gemm_splitk_reduce,
// bf16 for gemm_splitk_reduce_bf16).
//
// flags: only GEMM_STAGED counts (the staged epilogue for the partials).
// Launch: grid (ceil(M/128)·ceil(N/128), splits), block 256, GEMM_SMEM_BYTES;
// aligned operands only (as the kernels without _u).
#define GEMM_SPLITK_KERNEL(name, T, AK, BKM)                                                               \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 2)                                              \
        name(const T* __restrict__ A, const T* __restrict__ B, float* __restrict__ W, int M, int N,        \
             int K, int lda, int ldb, int kchunk, int ldw, int flags) {                                    \
        const int k0 = blockIdx.y * kchunk;                                                                \
        const int kl = min(K - k0, kchunk);                                                                \
        const T* a = AK ? A + k0 : A + (size_t)k0 * lda;                                                   \
        const T* b = BKM ? B + k0 : B + (size_t)k0 * ldb;                                                  \
        gemm_body<T, AK, BKM, true>(a, b, W + (size_t)blockIdx.y * M * ldw, nullptr, M, N, max(kl, 0), lda, \
                                    ldb, ldw, 1.0f, 0.0f, flags & GEMM_STAGED);                            \
    }
#define GEMM_SPLITK_KERNELS(t, T)                          \
    GEMM_SPLITK_KERNEL(gemm_##t##_nn_sk, T, true, false)   \
    GEMM_SPLITK_KERNEL(gemm_##t##_nt_sk, T, true, true)    \
    GEMM_SPLITK_KERNEL(gemm_##t##_tn_sk, T, false, false)  \
    GEMM_SPLITK_KERNEL(gemm_##t##_tt_sk, T, false, true)

#if MODULE_EMITS_F16_NARROW
GEMM_SPLITK_KERNELS(f16, half)
#endif
#if MODULE_EMITS_BF16_NARROW
GEMM_SPLITK_KERNELS(bf16, bf16)
#endif

// gemm_splitk_reduce: C[r, c] = act(alpha · Σ_s W[s][r][c] + bias[c]) + beta · C[r, c],
// the sum taken in order s = 0, 1, …. Each slice of W is M rows of stride ldw
// (N rounded up to a multiple of 4, so every slice and row starts 16-byte
// aligned). Each thread owns four consecutive elements of the logical M×N
// (16-byte loads when N is a multiple of 4, and then ldw = N).
//
// Where N is a multiple of 4 a thread's four elements lie in one row: it
// issues the loads of up to eight slices before it adds any (the adds
// wait on the first, and the eight are in flight together), and where
// ldc is a multiple of 4 and C starts on a 4-element boundary, it reads
// and stores its four elements of C, and loads their biases, as one
// access each. Each element gets the same operations in the same order as
// in the element-wise path (reduce_store), so both give the same bits.
// Launch: any 1-D grid (grid-stride), block 256.
template <typename T>
__device__ __forceinline__ void splitk_reduce(const float* __restrict__ W, void* C, const float* __restrict__ bias,
                                              int M, int N, int splits, int ldc, float alpha, float beta, int flags,
                                              int ldw) {
    const bool gelu = flags & GEMM_GELU, out16 = flags & GEMM_OUT_F16;
    const size_t MN = (size_t)M * N, SW = (size_t)M * ldw;
    const size_t quads = (MN + 3) / 4;
    const bool vec = (N & 3) == 0;
    const bool vecC = vec && (ldc & 3) == 0 && ((uintptr_t)C & (out16 ? 7 : 15)) == 0 &&
                      (bias == nullptr || ((uintptr_t)bias & 15) == 0);
    for (size_t q = (size_t)blockIdx.x * blockDim.x + threadIdx.x; q < quads; q += (size_t)gridDim.x * blockDim.x) {
        const size_t e0 = q * 4;
        float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (vec) {
            const float* w = W + e0;
            for (int s0 = 0; s0 < splits; s0 += 8) {
                float4 x[8];
#pragma unroll
                for (int j = 0; j < 8; j++)
                    if (s0 + j < splits) x[j] = __ldcs((const float4*)(w + (s0 + j) * SW));
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    if (s0 + j < splits) {
                        v[0] += x[j].x; v[1] += x[j].y; v[2] += x[j].z; v[3] += x[j].w;
                    }
                }
            }
        } else {
            for (int s = 0; s < splits; s++) {
#pragma unroll
                for (int j = 0; j < 4; j++)
                    if (e0 + j < MN) v[j] += W[s * SW + (e0 + j) / N * ldw + (e0 + j) % N];
            }
        }
        if (vecC) {
            const int row = (int)(e0 / N), col = (int)(e0 % N);
            float x[4];
            const float4 b = bias ? *(const float4*)(bias + col) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            const float bs[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int j = 0; j < 4; j++) {
                x[j] = alpha * v[j];
                if (bias) x[j] += bs[j];
                if (gelu) x[j] = gelu_erf(x[j]);
            }
            const size_t off = (size_t)row * ldc + col;
            if (out16) {
                typedef typename GemmT<T>::T2 T2;
                T2* c = (T2*)((T*)C + off);
                if (beta != 0.0f) {
                    const uint2 old = *(const uint2*)c;
                    const T* o = (const T*)&old;
#pragma unroll
                    for (int j = 0; j < 4; j++) x[j] += beta * GemmT<T>::to_f(o[j]);
                }
                T2 out[2];
                T* o = (T*)out;
#pragma unroll
                for (int j = 0; j < 4; j++) o[j] = GemmT<T>::from_f(x[j]);
                *(uint2*)c = *(const uint2*)out;
            } else {
                float4* c = (float4*)((float*)C + off);
                if (beta != 0.0f) {
                    const float4 old = *c;
                    x[0] += beta * old.x; x[1] += beta * old.y; x[2] += beta * old.z; x[3] += beta * old.w;
                }
                *c = make_float4(x[0], x[1], x[2], x[3]);
            }
            continue;
        }
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const size_t e = e0 + j;
            if (e >= MN) break;
            reduce_store<T>(C, (int)(e / N), (int)(e % N), ldc, v[j], alpha, bias, gelu, out16, beta);
        }
    }
}

#define GEMM_SPLITK_REDUCE(name, T)                                                                              \
    extern "C" __global__ void __launch_bounds__(256)                                                            \
        name(const float* __restrict__ W, void* C, const float* __restrict__ bias, int M, int N, int splits,      \
             int ldc, float alpha, float beta, int flags, int ldw) {                                             \
        splitk_reduce<T>(W, C, bias, M, N, splits, ldc, alpha, beta, flags, ldw);                                \
    }
#if MODULE_EMITS_F16_NARROW
GEMM_SPLITK_REDUCE(gemm_splitk_reduce, half)
#endif
#if MODULE_EMITS_BF16_NARROW
GEMM_SPLITK_REDUCE(gemm_splitk_reduce_bf16, bf16)
#endif

// ---- wide tiles ----
//
// gemm_<t>_<a><b>_w: block tile 128×256, 8 warps each 64×64 (4×8 mma tiles:
// 8 ldmatrix.x4 feed 32 mma per k16 step, against 6 for 16 with 64×32), the
// same 4-stage cp.async pipeline with 30 KB stages (120 KB: one block per
// SM). Aligned operands only. Launch: grid ceil(M/128)·ceil(N/256), block
// 256, GEMM_W_SMEM_BYTES = 4·(128·40 + 256·40)·2 = 122880.
#define GEMM_W_KERNEL(name, T, AK, BKM)                                                                     \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1)                                               \
        name(const T* __restrict__ A, const T* __restrict__ B, void* C, const float* __restrict__ bias,     \
             int M, int N, int K, int lda, int ldb, int ldc, float alpha, float beta, int flags) {           \
        gemm_body<T, AK, BKM, true, 64>(A, B, C, bias, M, N, K, lda, ldb, ldc, alpha, beta, flags);          \
    }
#define GEMM_W_KERNELS(t, T)                         \
    GEMM_W_KERNEL(gemm_##t##_nn_w, T, true, false)   \
    GEMM_W_KERNEL(gemm_##t##_nt_w, T, true, true)    \
    GEMM_W_KERNEL(gemm_##t##_tn_w, T, false, false)  \
    GEMM_W_KERNEL(gemm_##t##_tt_w, T, false, true)

#if MODULE_EMITS_WIDE
GEMM_W_KERNELS(f16, half)
GEMM_W_KERNELS(bf16, bf16)
#endif
