// mma_sm80.cuh: the sm_80 instructions the cp.async-fed GEMM kernels share
// (gemm_f16.cu, gemm_mma4.cu, gemm_f16_sm90a.cu): cp.async copies into
// shared memory, ldmatrix (.trans for tiles stored m/n-contiguous) and the
// mma.sync m16n8k16 tensor-core product with fp32 accumulation, its PTX
// written once with the operand type's suffix as the argument.

#pragma once
#include <stdint.h>

#include "gemm_types.cuh"

__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldsm_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

// mma16816<T>: D += A·B for one m16n8k16 tile, T the operand type.
template <typename T>
__device__ __forceinline__ void mma16816(float* c, const uint32_t* a, uint32_t b0, uint32_t b1);
#define MMA16816(T, TY)                                                                                        \
    template <>                                                                                                \
    __device__ __forceinline__ void mma16816<T>(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {       \
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." TY "." TY                                        \
                     ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"                            \
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])                                          \
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));                          \
    }
MMA16816(half, "f16")
MMA16816(bf16, "bf16")
#undef MMA16816

// mma_store_warp is the direct epilogue of a warp's MI×NI tiles of
// m16n8k16 accumulators (acc[mi][ni]: thread (g, t) = (lane/4, lane mod 4)
// holds rows g and g + 8, columns 2t and 2t + 1 of tile (mi, ni)), the
// warp's first row r0 and column c0 of C: gemm_put2 for each pair whose row
// is inside M and first column inside N.
template <typename T, int MI, int NI>
__device__ __forceinline__ void mma_store_warp(const float (&acc)[MI][NI][4], void* C, int r0, int c0, int M, int N,
                                               int ldc, float alpha, const float* __restrict__ bias, bool gelu,
                                               bool out16, float beta, int lane) {
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int mi = 0; mi < MI; mi++) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int row = r0 + mi * 16 + g + h * 8;
            if (row >= M) continue;
#pragma unroll
            for (int ni = 0; ni < NI; ni++) {
                const int col = c0 + ni * 8 + 2 * t;
                if (col >= N) continue;
                gemm_put2<T, false>(C, row, col, N, ldc, alpha, acc[mi][ni][2 * h], acc[mi][ni][2 * h + 1], bias, gelu,
                                    out16, beta);
            }
        }
    }
}
