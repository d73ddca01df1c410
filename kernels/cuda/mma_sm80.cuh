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
