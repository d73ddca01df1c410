// dtype.cuh: loads and stores of fp32, fp16 or bf16 storage with the element
// type passed at run time, for the memory-bound kernels of the CUDA backend
// (elementwise.cu, rowcol.cu, layernorm.cu). The codes are engine.DType's
// values: 0 float32, 2 IEEE half, 3 bfloat16 (engine/cuda/backend.go fails
// to compile if those ever change). A dtype is the same for every thread of
// a launch, so its branch is uniform and costs no divergence: one kernel
// serves every mix of operand types instead of one variant per mix.
// Arithmetic stays fp32; stores to fp16 and bf16 round to nearest even
// (bf16 loads are exact: a bf16 is the top half of an fp32).
//
// ld4/st4 move four consecutive elements starting at element e, a multiple
// of 4: one 16-byte access for fp32, one 8-byte access for fp16 and bf16
// (the buffers are whole allocations, aligned to 512 bytes).

#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#define DT_F32 0
#define DT_F16 2
#define DT_BF16 3

__device__ __forceinline__ float ld1(const void* p, int dt, long long e) {
    if (dt == DT_F16) return __half2float(((const __half*)p)[e]);
    if (dt == DT_BF16) return __bfloat162float(((const __nv_bfloat16*)p)[e]);
    return ((const float*)p)[e];
}

__device__ __forceinline__ void st1(void* p, int dt, long long e, float v) {
    if (dt == DT_F16)
        ((__half*)p)[e] = __float2half_rn(v);
    else if (dt == DT_BF16)
        ((__nv_bfloat16*)p)[e] = __float2bfloat16_rn(v);
    else
        ((float*)p)[e] = v;
}

__device__ __forceinline__ float4 ld4(const void* p, int dt, long long e) {
    if (dt == DT_F16) {
        uint2 u = *(const uint2*)((const __half*)p + e);
        __half2 lo = *(__half2*)&u.x, hi = *(__half2*)&u.y;
        float2 a = __half22float2(lo), b = __half22float2(hi);
        return make_float4(a.x, a.y, b.x, b.y);
    }
    if (dt == DT_BF16) {
        // A bf16 widens to fp32 by a shift: the low element of each 32-bit
        // word is its low half.
        uint2 u = *(const uint2*)((const __nv_bfloat16*)p + e);
        return make_float4(__uint_as_float(u.x << 16), __uint_as_float(u.x & 0xffff0000u),
                           __uint_as_float(u.y << 16), __uint_as_float(u.y & 0xffff0000u));
    }
    return *(const float4*)((const float*)p + e);
}

__device__ __forceinline__ void st4(void* p, int dt, long long e, float4 v) {
    if (dt == DT_F16) {
        __half2 lo = __floats2half2_rn(v.x, v.y), hi = __floats2half2_rn(v.z, v.w);
        uint2 u;
        u.x = *(uint32_t*)&lo;
        u.y = *(uint32_t*)&hi;
        *(uint2*)((__half*)p + e) = u;
    } else if (dt == DT_BF16) {
        __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
        uint2 u;
        u.x = *(uint32_t*)&lo;
        u.y = *(uint32_t*)&hi;
        *(uint2*)((__nv_bfloat16*)p + e) = u;
    } else {
        *(float4*)((float*)p + e) = v;
    }
}
