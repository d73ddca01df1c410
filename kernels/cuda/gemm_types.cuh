// gemm_types.cuh: the operand element types of the GEMM kernels
// (gemm_f16.cu, gemm_mma4.cu, gemm_f16_sm90a.cu, and through tma_sm90a.cuh
// gemm_f16_tma_sm90a.cu and gemm_tma_store_sm90a.cu). Each kernel body
// is a template on T, IEEE half or bfloat16, instantiated once per type as
// extern "C" kernels named gemm_f16_* and gemm_bf16_*: the operands A and B
// are T, the accumulation fp32, and C either fp32 or T (flag GEMM_OUT_F16,
// "C holds the operand type", for both). Only the tensor-core instruction's
// type suffix and the epilogue's conversions depend on T: ldmatrix,
// cp.async, TMA and the shared-memory layouts move 16-bit elements whatever
// they encode.
//
// GemmT<T> gives the epilogue's conversions (stores of T round to nearest
// even) and T's zero; gemm_store2 is the direct epilogue's store, shared by
// every kernel, and gemm_stage_put2 / gemm_stage_copy_out are the staged
// epilogue's two halves (below); the epilogue flags, smem_u32 and
// gelu_erf are here too. The tensor-core wrappers are specialised per T,
// their PTX written once in a macro taking the type suffix: mma16816 in
// mma_sm80.cuh (with cp.async and ldmatrix), wgmma_* in the Hopper files.

#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

typedef __nv_bfloat16 bf16;

// MODULE_EMITS_F16 and MODULE_EMITS_BF16 say which type's kernels a source
// emits. The sources whose modules a training step loads (gemm_f16.cu,
// gemm_f16_sm90a.cu, gemm_f16_tma_sm90a.cu, gemm_tma_store_sm90a.cu) and
// the ping-pong kernels' (GemmTune's choice at some shapes) each make two
// modules, since the driver compiles a whole module when it loads
// it: compiled alone, the fp16 kernels; included by their gemm_bf16*.cu
// twin, which defines GEMM_MODULE_BF16 first, the bf16 ones. A run then
// has the driver compile only its own type's kernels. (Not GEMM_* with a
// value: those are the epilogue and schedule flags, which
// TestGemmFlagsMatchKernels pins to the Go side's.)
#if defined(GEMM_MODULE_BF16)
#define MODULE_EMITS_F16 0
#define MODULE_EMITS_BF16 1
#else
#define MODULE_EMITS_F16 1
#define MODULE_EMITS_BF16 0
#endif

// grouped_tile gives block pid's output tile (first row m0, first column
// n0) of an M×N product in BM×BN tiles: tiles go in groups of 8 tile rows,
// column by column within a group, so that blocks running at once share
// their A and B panels in L2.
template <int BM, int BN>
__device__ __forceinline__ void grouped_tile(int pid, int M, int N, int& m0, int& n0) {
    const int tilesM = (M + BM - 1) / BM, tilesN = (N + BN - 1) / BN;
    const int per_group = 8 * tilesN;
    const int first_m = (pid / per_group) * 8;
    const int gsize = min(tilesM - first_m, 8);
    m0 = (first_m + (pid % per_group) % gsize) * BM;
    n0 = ((pid % per_group) / gsize) * BN;
}

__device__ __forceinline__ uint32_t smem_u32(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }

__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

template <typename T>
struct GemmT;

template <>
struct GemmT<half> {
    typedef half2 T2;
    static __device__ __forceinline__ float to_f(half x) { return __half2float(x); }
    static __device__ __forceinline__ half from_f(float x) { return __float2half_rn(x); }
    static __device__ __forceinline__ half2 pack(float a, float b) { return __floats2half2_rn(a, b); }
    static __device__ __forceinline__ half zero() { return __float2half(0.0f); }
};

template <>
struct GemmT<bf16> {
    typedef __nv_bfloat162 T2;
    static __device__ __forceinline__ float to_f(bf16 x) { return __bfloat162float(x); }
    static __device__ __forceinline__ bf16 from_f(float x) { return __float2bfloat16_rn(x); }
    static __device__ __forceinline__ __nv_bfloat162 pack(float a, float b) { return __floats2bfloat162_rn(a, b); }
    static __device__ __forceinline__ bf16 zero() { return __float2bfloat16_rn(0.0f); }
};

// gemm_store2 is the epilogue's store of one or two adjacent results of a
// row (two: col + 1 < N; vec: two and the pair 4-byte aligned, one access)
// into C at element off, with beta·C added first when beta ≠ 0 (C not read
// otherwise): C holds T when outHalf, else fp32. VEC_FIRST only says where
// vec is evaluated, before the branch on outHalf or in each arm: the same
// computation, but each file keeps the order its measured fp16 kernels were
// compiled from (mma.sync: in each arm; wgmma and TMA: first), so that
// their PTX is unchanged by the templating.
template <typename T, bool VEC_FIRST>
__device__ __forceinline__ void gemm_store2(void* C, size_t off, bool two, bool outHalf, float beta, float v0,
                                            float v1) {
    const bool vec_first = two && ((off & 1) == 0);
    if (outHalf) {
        T* c = (T*)C + off;
        const bool vec = VEC_FIRST ? vec_first : two && ((off & 1) == 0);
        if (beta != 0.0f) {
            v0 += beta * GemmT<T>::to_f(c[0]);
            if (two) v1 += beta * GemmT<T>::to_f(c[1]);
        }
        if (vec) {
            *(typename GemmT<T>::T2*)c = GemmT<T>::pack(v0, v1);
        } else {
            c[0] = GemmT<T>::from_f(v0);
            if (two) c[1] = GemmT<T>::from_f(v1);
        }
    } else {
        float* c = (float*)C + off;
        const bool vec = VEC_FIRST ? vec_first : two && ((off & 1) == 0);
        if (beta != 0.0f) {
            v0 += beta * c[0];
            if (two) v1 += beta * c[1];
        }
        if (vec) {
            *(float2*)c = make_float2(v0, v1);
        } else {
            c[0] = v0;
            if (two) c[1] = v1;
        }
    }
}

// reduce_store is the split-K reductions' epilogue of one element of C (T
// when out16, else fp32): C[row, col] = act(alpha·v + bias[col]) +
// beta·C[row, col], C read only when beta ≠ 0.
template <typename T>
__device__ __forceinline__ void reduce_store(void* C, int row, int col, int ldc, float v, float alpha,
                                             const float* __restrict__ bias, bool gelu, bool out16, float beta) {
    float x = alpha * v;
    if (bias) x += bias[col];
    if (gelu) x = gelu_erf(x);
    const size_t off = (size_t)row * ldc + col;
    if (out16) {
        T* c = (T*)C + off;
        if (beta != 0.0f) x += beta * GemmT<T>::to_f(*c);
        *c = GemmT<T>::from_f(x);
    } else {
        float* c = (float*)C + off;
        if (beta != 0.0f) x += beta * *c;
        *c = x;
    }
}

// gemm_put2 is the direct epilogue of one accumulator pair (a0, a1) of C's
// row, columns col and col + 1 (col < N; the second only where col + 1 <
// N): alpha, the bias, GELU, then gemm_store2.
template <typename T, bool VEC_FIRST>
__device__ __forceinline__ void gemm_put2(void* C, int row, int col, int N, int ldc, float alpha, float a0, float a1,
                                          const float* __restrict__ bias, bool gelu, bool outHalf, float beta) {
    const bool two = col + 1 < N;
    float v0 = alpha * a0, v1 = alpha * a1;
    if (bias) {
        v0 += bias[col];
        if (two) v1 += bias[col + 1];
    }
    if (gelu) {
        v0 = gelu_erf(v0);
        v1 = gelu_erf(v1);
    }
    gemm_store2<T, VEC_FIRST>(C, (size_t)row * ldc + col, two, outHalf, beta, v0, v1);
}

// ---- Staged epilogue (flag GEMM_STAGED) ----
//
// The direct epilogue (gemm_store2) has every thread store its accumulator
// pairs straight to C: one warp store instruction covers 8 rows × 16 bytes
// (T out) or 8 rows × 32 bytes (fp32 out), so every instruction touches 8
// separate row segments and half-filled 32-byte sectors. The staged
// epilogue instead writes the finished values (alpha, bias, GELU applied,
// converted to C's type) into a tile in shared memory, and the block then
// copies the tile out row by row, consecutive threads storing consecutive
// 16 bytes of a row: each warp instruction writes whole 128-byte lines.
//
// The tile is COLS + 8 elements a row. The accumulator fragments of
// mma.m16n8k16 and of wgmma have the same shape within a warp: lane
// (g = lane/4, t = lane%4) holds columns 2t, 2t+1 of rows g and g + 8, so a
// warp's pair store writes 8 rows × one 8-element segment (16 bytes of T,
// 32 bytes of fp32). Shared memory serves a 32-bit-per-lane access in one
// pass over the 32 four-byte banks, a 64-bit access in two passes of 16
// lanes (rows g = 0–3, then 4–7). Padding each row by one segment (8
// elements) puts row r's segment r segments further along the banks: the
// 8 rows (T) or 4 rows (fp32) of one pass cover the 128 bytes of the banks
// exactly once, with no conflict. The copy-out reads 16 bytes a lane, 8
// lanes a pass, along one row: conflict-free whatever the padding, as long
// as rows start 16-byte aligned ((COLS + 8) · size is a multiple of 16).
//
// The copy-out needs C and its rows 16-byte aligned; it does not read C,
// so the staged path serves only beta = 0 (beta ≠ 0 keeps the direct store,
// which rounds act(...) + beta·C once). gemm_staged_ok decides this per
// launch; the kernels fall back to the direct store when it says no.
// Rows ≥ M and columns ≥ N are masked in the copy-out; when N is not a
// multiple of the 16-byte vector, the last piece of each row is stored
// element by element.

// The epilogue flags every GEMM kernel takes: GEMM_GELU applies the exact
// (erf) GELU, GEMM_OUT_F16 stores C in the operand type, GEMM_STAGED asks
// the mma.sync and wgmma kernels for the staged epilogue, GEMM_STAGGER asks
// the persistent TMA kernels to start their second consumer warpgroup two
// k-tiles after the first, GEMM_PREFETCH asks the producer of the
// persistent TMA kernels to have L2 fetch A for the block's next tile when
// it starts a tile, GEMM_EARLY_RELEASE asks the consumers of the persistent
// TMA kernels to release a stage before they wait for the next k-tile
// (tma_consume_ktiles, tma_sm90a.cuh), and the two bits at
// GEMM_LOOKAHEAD_SHIFT (1, 2, 3: 4, 8, 16 k-tiles; 0: off) ask the producer
// of the split-K partials to have L2 fetch its share of every tile's
// k-tiles that far past its ring (tma_lookahead_ktile, tma_sm90a.cuh).
#define GEMM_GELU 1
#define GEMM_OUT_F16 2
#define GEMM_STAGED 4
#define GEMM_STAGGER 8
#define GEMM_PREFETCH 16
#define GEMM_EARLY_RELEASE 32
#define GEMM_LOOKAHEAD_SHIFT 6

// gemm_staged_ok reports whether a launch may use the staged epilogue: it
// was asked for, beta is 0, and C (of T when outHalf, else fp32) and every
// row of it start 16-byte aligned. The answer is the same for every thread.
__device__ __forceinline__ bool gemm_staged_ok(const void* C, int ldc, bool outHalf, float beta, int flags) {
    const size_t rowBytes = (size_t)ldc * (outHalf ? 2 : 4);
    return (flags & GEMM_STAGED) && beta == 0.0f && (((uintptr_t)C | rowBytes) & 15) == 0;
}

// gemm_stage_put2 stores two adjacent results into the staged tile at p
// (4- or 8-byte aligned), converted to OutT: T (rounded to nearest even) or
// fp32.
template <typename OutT>
__device__ __forceinline__ void gemm_stage_put2(OutT* p, float v0, float v1) {
    *(typename GemmT<OutT>::T2*)p = GemmT<OutT>::pack(v0, v1);
}
template <>
__device__ __forceinline__ void gemm_stage_put2<float>(float* p, float v0, float v1) {
    *(float2*)p = make_float2(v0, v1);
}

// gemm_stage_warp writes one warp's mma.sync accumulators into a staged
// tile of LD elements a row: MI×NI m16n8 fragments, the warp's rows from r0
// and columns from c0 of the tile, finished (alpha, the bias of C's column
// n0 + c, GELU) and converted to C's type (T when out16, else fp32). The
// values are computed once and only the stores branch on out16, so that a
// kernel holds one copy of the GELU code for its staged path.
template <typename T, int MI, int NI, int LD>
__device__ __forceinline__ void gemm_stage_warp(const float (&acc)[MI][NI][4], unsigned char* smem, int r0, int c0,
                                                const float* __restrict__ bias, int n0, int N, float alpha,
                                                bool gelu, bool out16, int lane) {
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int ni = 0; ni < NI; ni++) {
        const int col = c0 + ni * 8 + 2 * t;
        float b0 = 0.0f, b1 = 0.0f;
        if (bias) {
            if (n0 + col < N) b0 = bias[n0 + col];
            if (n0 + col + 1 < N) b1 = bias[n0 + col + 1];
        }
#pragma unroll
        for (int mi = 0; mi < MI; mi++) {
#pragma unroll
            for (int h = 0; h < 2; h++) {
                float v0 = alpha * acc[mi][ni][2 * h] + b0, v1 = alpha * acc[mi][ni][2 * h + 1] + b1;
                if (gelu) {
                    v0 = gelu_erf(v0);
                    v1 = gelu_erf(v1);
                }
                const int e = (r0 + mi * 16 + g + 8 * h) * LD + col;
                if (out16)
                    gemm_stage_put2((T*)smem + e, v0, v1);
                else
                    gemm_stage_put2((float*)smem + e, v0, v1);
            }
        }
    }
}

// gemm_stage_copy_out copies ROWS rows of a staged tile s (COLS + 8
// elements a row) to C at row r0, column c0 (ldc elements a row), leaving
// out rows ≥ M and columns ≥ N. Each of the NTHREADS threads moves 16-byte
// pieces, consecutive threads consecutive pieces of a row. The loop is
// unrolled by 4, not fully: four loads in flight ahead of their stores are
// enough, and a full unroll lets the compiler hoist up to 16 loads (64
// registers) above the stores; in a first version of the 128×256 kernels,
// whose accumulators stay live through the first of two passes, that meant
// 255 registers and spills.
template <typename OutT, int ROWS, int COLS, int NTHREADS>
__device__ __forceinline__ void gemm_stage_copy_out(const OutT* s, OutT* C, int ldc, int r0, int c0, int M, int N,
                                                    int tid) {
    constexpr int LD = COLS + 8, VEC = 16 / sizeof(OutT), PIECES = COLS / VEC;
    static_assert(COLS % VEC == 0 && (LD * sizeof(OutT)) % 16 == 0, "staged tile rows must be 16-byte pieces");
    static_assert(ROWS * PIECES % NTHREADS == 0, "every thread copies the same number of pieces");
#pragma unroll 4
    for (int i = 0; i < ROWS * PIECES / NTHREADS; i++) {
        const int p = tid + i * NTHREADS;
        const int r = p / PIECES, c = (p % PIECES) * VEC;
        const int gr = r0 + r, gc = c0 + c;
        if (gr >= M || gc >= N) continue;
        const OutT* src = s + r * LD + c;
        OutT* dst = C + (size_t)gr * ldc + gc;
        if (gc + VEC <= N) {
            *(uint4*)dst = *(const uint4*)src;
        } else {
            for (int j = 0; j < N - gc; j++) dst[j] = src[j];
        }
    }
}
