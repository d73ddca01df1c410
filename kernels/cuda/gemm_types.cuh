// gemm_types.cuh: the operand element types of the GEMM kernels
// (gemm_f16.cu, gemm_f16_sm90a.cu, gemm_f16_tma_sm90a.cu). Each kernel body
// is a template on T, IEEE half or bfloat16, instantiated once per type as
// extern "C" kernels named gemm_f16_* and gemm_bf16_*: the operands A and B
// are T, the accumulation fp32, and C either fp32 or T (flag GEMM_OUT_F16,
// "C holds the operand type", for both). Only the tensor-core instruction's
// type suffix and the epilogue's conversions depend on T: ldmatrix,
// cp.async, TMA and the shared-memory layouts move 16-bit elements whatever
// they encode.
//
// GemmT<T> gives the epilogue's conversions (stores of T round to nearest
// even) and T's zero; gemm_store2 is the epilogue's store, shared by every
// kernel. The tensor-core wrappers (mma16816, wgmma_*) are specialised per T
// in each file, their PTX written once in a macro taking the type suffix.

#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

typedef __nv_bfloat16 bf16;

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
