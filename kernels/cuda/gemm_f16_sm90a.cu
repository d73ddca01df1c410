// gemm_f16_sm90a.cu: fp16 and bf16 GEMM on Hopper's warpgroup tensor-core
// instructions (wgmma, sm_90a only), for the Linear-layer layout
//
//   C = act(alpha · A · Bᵀ + bias) + beta · C,   A m×k, B n×k (both k-contiguous)
//
// with the same epilogue, flags and parameters as gemm_f16_nt in
// gemm_f16.cu (fp32 or fp16 C, per-column fp32 bias, exact GELU, alpha,
// beta; beta = 0 leaves C unread; flag GEMM_STAGED for the staged
// epilogue of gemm_types.cuh). Needs lda, ldb multiples of 8 and A, B
// 16-byte aligned (the Go wrapper falls back to gemm_f16_nt otherwise). The
// gemm_bf16_* kernels are the same templates on bf16 operands (wgmma
// .bf16, C fp32 or bf16; gemm_types.cuh).
//
// Block tile 128×128×64 and two warpgroups, each computing 64×128 with
// wgmma.m64n128k16 (4 per k-tile) from shared memory. Tiles are copied with
// cp.async (16 bytes, zero-filled past the edges) into a 3-stage ring laid
// out as the 128-byte-swizzled K-major canonical layout that the wgmma
// matrix descriptors describe: row r (128 bytes = 64 halves) at r·128, its
// 16-byte chunk c at chunk c ^ (r mod 8), every tile 1024-byte aligned.
// After each copy lands: fence.proxy.async (cp.async writes are generic-proxy
// writes, wgmma reads through the async proxy), then a barrier.
// Two blocks fit on an SM (96 KB of shared memory each), so one block's
// copies and epilogue overlap the other's tensor-core work.
//
// Kernels (the benchmark compares them):
//   gemm_f16_nt_sm90 (gemm_bf16_nt_sm90): 128×128 tile, 3 stages, wgmma.wait 0 after each k-tile;
//     grid ceil(M/128)·ceil(N/128), block 256, shared memory 3·32768 + 1024.
//   gemm_f16_nt_sm90_n256 (gemm_bf16_nt_sm90_n256): 128×256 tile (each warpgroup 64×256 with
//     m64n256k16), 4 stages, one k-tile of wgmmas kept in flight; grid
//     ceil(M/128)·ceil(N/256), block 256, shared memory 4·49152 + 1024.

#include <cuda_fp16.h>
#include <stdint.h>

#include "gemm_types.cuh"
#include "mma_sm80.cuh"
#include "wgmma_sm90a.cuh"

// One source, two PTX modules (kernels/ptx), so that the driver compiles
// only the kernels of the run's type (it compiles a whole module when it
// loads it): compiled alone this file gives gemm_f16_sm90a, the fp16
// kernels; gemm_bf16_sm90a.cu includes it with GEMM_MODULE_BF16 for the
// bf16 ones (MODULE_EMITS_*, gemm_types.cuh).

#define G9_BM 128
#define G9_BN 128
#define G9_BK 64
#define G9_THREADS 256

__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// wgmma_m64n128k16<T>: D += A·Bᵀ from shared memory (both K-major,
// 128-byte swizzle), T the operand type; the PTX is written once, with the
// type suffix as a macro argument (m64n256k16 is in wgmma_sm90a.cuh).
#define WGMMA_M64N128K16(T, TY)                                                              \
    template <>                                                                              \
    __device__ __forceinline__ void wgmma_m64n128k16<T>(float* d, uint64_t da, uint64_t db) { \
        asm volatile(                                                                        \
            "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY " "                     \
            "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, 1, 1, 1, 0, 0;\n"                                                                               \
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])                                                                             \
            : "l"(da), "l"(db));                                                             \
    }
template <typename T>
__device__ __forceinline__ void wgmma_m64n128k16(float* d, uint64_t da, uint64_t db);
WGMMA_M64N128K16(half, "f16")
WGMMA_M64N128K16(bf16, "bf16")

template <typename T, int BN>
__device__ __forceinline__ void wgmma_tile(float* d, uint64_t da, uint64_t db) {
    if (BN == 128)
        wgmma_m64n128k16<T>(d, da, db);
    else
        wgmma_m64n256k16<T>(d, da, db);
}

// load_tile_sw copies rows r0..r0+ROWS−1, k0..k0+63 of a k-contiguous operand
// (R rows, K columns, row stride ld) into one swizzled tile at s.
template <int ROWS, typename T>
__device__ __forceinline__ void load_tile_sw(uint32_t s, const T* __restrict__ g, int ld, int r0, int k0, int R,
                                             int K, int tid) {
#pragma unroll
    for (int i = 0; i < ROWS * 8 / G9_THREADS; i++) {
        int c = tid + i * G9_THREADS;  // ROWS·8 chunks of 16 bytes
        int row = c >> 3, ch = c & 7;
        int gr = r0 + row, gk = k0 + ch * 8;
        int n = (gr < R) ? min(8, max(0, K - gk)) : 0;
        const T* src = n > 0 ? g + (size_t)gr * ld + gk : g;
        cp_async16(s + row * 128 + ((ch ^ (row & 7)) << 4), src, n * 2);
    }
}

// staged_epilogue90 is gemm90's staged epilogue (gemm_types.cuh): the
// block's 128×BN results, finished and converted to C's type (T when
// out16, else fp32), go through a padded tile at smem (the stages, which
// hold even the fp32 tile at once) and out in 16-byte pieces. The values
// are computed once; only the stores branch on out16.
template <typename T, int BN>
__device__ __forceinline__ void staged_epilogue90(const float* d, unsigned char* smem, void* C,
                                                  const float* __restrict__ bias, int M, int N, int ldc, int m0,
                                                  int n0, float alpha, bool gelu, bool out16, int tid) {
    constexpr int LD = BN + 8;
    const int lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int row = (warp >> 2) * 64 + (warp & 3) * 16 + g;  // warpgroup, warp in it, lane
#pragma unroll
    for (int j = 0; j < BN / 8; j++) {
        const int col = 8 * j + 2 * t;
        float b0 = 0.0f, b1 = 0.0f;
        if (bias) {
            if (n0 + col < N) b0 = bias[n0 + col];
            if (n0 + col + 1 < N) b1 = bias[n0 + col + 1];
        }
#pragma unroll
        for (int h = 0; h < 2; h++) {
            float v0 = alpha * d[4 * j + 2 * h] + b0, v1 = alpha * d[4 * j + 2 * h + 1] + b1;
            if (gelu) {
                v0 = gelu_erf(v0);
                v1 = gelu_erf(v1);
            }
            const int e = (row + 8 * h) * LD + col;
            if (out16)
                gemm_stage_put2((T*)smem + e, v0, v1);
            else
                gemm_stage_put2((float*)smem + e, v0, v1);
        }
    }
    __syncthreads();
    if (out16)
        gemm_stage_copy_out<T, G9_BM, BN, G9_THREADS>((T*)smem, (T*)C, ldc, m0, n0, M, N, tid);
    else
        gemm_stage_copy_out<float, G9_BM, BN, G9_THREADS>((float*)smem, (float*)C, ldc, m0, n0, M, N, tid);
}

// gemm90 is the kernel body. BN: block tile width (128 or 256, also the
// wgmma N); STAGES: shared-memory ring depth; OVERLAP: keep one k-tile's
// wgmmas in flight while the next is issued (the refill distance drops from
// STAGES−1 to STAGES−2, since the stage refilled must be free of in-flight
// reads).
template <typename T, int BN, int STAGES, bool OVERLAP>
__device__ __forceinline__ void gemm90(const T* __restrict__ A, const T* __restrict__ B, void* C,
                                       const float* __restrict__ bias, int M, int N, int K, int lda, int ldb,
                                       int ldc, float alpha, float beta, int flags) {
    constexpr int A_BYTES = G9_BM * 128, B_BYTES = BN * 128, STAGE = A_BYTES + B_BYTES;
    constexpr int P = OVERLAP ? STAGES - 2 : STAGES - 1;  // tiles in flight ahead
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const uint32_t base = (smem_u32(smem_raw) + 1023) & ~1023u;
    const int tid = threadIdx.x, wg = tid >> 7;  // warpgroup

    int m0, n0;
    grouped_tile<G9_BM, BN>(blockIdx.x, M, N, m0, n0);

    float d[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; i++) d[i] = 0.f;

    const int KT = (K + G9_BK - 1) / G9_BK;
#pragma unroll
    for (int s = 0; s < P; s++) {
        if (s < KT) {
            uint32_t st = base + s * STAGE;
            load_tile_sw<G9_BM>(st, A, lda, m0, s * G9_BK, M, K, tid);
            load_tile_sw<BN>(st + A_BYTES, B, ldb, n0, s * G9_BK, N, K, tid);
        }
        cp_async_commit();
    }
    for (int kt = 0; kt < KT; kt++) {
        cp_async_wait<P - 1>();
        fence_proxy_async();
        __syncthreads();
        // The stage refilled now last held tile kt+P−STAGES, whose wgmmas
        // every warpgroup has waited for before the barrier above.
        {
            int nk = kt + P;
            if (nk < KT) {
                uint32_t st = base + (nk % STAGES) * STAGE;
                load_tile_sw<G9_BM>(st, A, lda, m0, nk * G9_BK, M, K, tid);
                load_tile_sw<BN>(st + A_BYTES, B, ldb, n0, nk * G9_BK, N, K, tid);
            }
            cp_async_commit();
        }
        const uint32_t sa = base + (kt % STAGES) * STAGE + wg * (64 * 128);
        const uint32_t sb = base + (kt % STAGES) * STAGE + A_BYTES;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < G9_BK / 16; kk++) wgmma_tile<T, BN>(d, sw128_desc(sa + kk * 32), sw128_desc(sb + kk * 32));
        wgmma_commit();
        wgmma_wait<OVERLAP ? 1 : 0>();
    }
    wgmma_wait<0>();
    cp_async_wait<0>();

    // The accumulators' layout: wgmma_epilogue (wgmma_sm90a.cuh).
    const bool gelu = flags & GEMM_GELU, out16 = flags & GEMM_OUT_F16;
    if (gemm_staged_ok(C, ldc, out16, beta, flags)) {
        // Every warp's wgmmas and copies are complete (waited above); the
        // barrier makes them complete for the whole block before the
        // stages hold the staged tile.
        __syncthreads();
        static_assert(G9_BM * (BN + 8) * 4 <= STAGES * STAGE, "staged fp32 tile larger than the stages");
        staged_epilogue90<T, BN>(d, smem_raw, C, bias, M, N, ldc, m0, n0, alpha, gelu, out16, tid);
        return;
    }
    wgmma_epilogue<T, BN>(d, C, bias, M, N, ldc, m0 + wg * 64, n0, alpha, beta, flags);
}

#define GEMM90_KERNEL(name, T, BN, STAGES, OVERLAP, MINB)                                                       \
    extern "C" __global__ void __launch_bounds__(G9_THREADS, MINB)                                              \
        name(const T* __restrict__ A, const T* __restrict__ B, void* C, const float* __restrict__ bias,         \
             int M, int N, int K, int lda, int ldb, int ldc, float alpha, float beta, int flags) {             \
        gemm90<T, BN, STAGES, OVERLAP>(A, B, C, bias, M, N, K, lda, ldb, ldc, alpha, beta, flags);             \
    }

// 128×128, 3 stages (97 KB), two blocks per SM; 128×256, 4 stages
// (193 KB), one block per SM, one k-tile of wgmmas in flight.
#if MODULE_EMITS_F16
GEMM90_KERNEL(gemm_f16_nt_sm90, half, 128, 3, false, 2)
GEMM90_KERNEL(gemm_f16_nt_sm90_n256, half, 256, 4, true, 1)
#endif
#if MODULE_EMITS_BF16
GEMM90_KERNEL(gemm_bf16_nt_sm90, bf16, 128, 3, false, 2)
GEMM90_KERNEL(gemm_bf16_nt_sm90_n256, bf16, 256, 4, true, 1)
#endif
