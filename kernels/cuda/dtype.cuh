// dtype.cuh: loads and stores of fp32 or fp16 storage with the element type
// passed at run time, for the memory-bound kernels of the CUDA backend
// (elementwise.cu, rowcol.cu, layernorm.cu). The codes are engine.DType's
// values: 0 float32, 2 IEEE half. A dtype is the same for every thread of a
// launch, so its branch is uniform and costs no divergence: one kernel
// serves every mix of operand types instead of one variant per mix.
// Arithmetic stays fp32; stores to fp16 round to nearest even.
//
// ld4/st4 move four consecutive elements starting at element e, a multiple
// of 4: one 16-byte access for fp32, one 8-byte access for fp16 (the
// buffers are whole allocations, aligned to 512 bytes).

#pragma once
#include <cuda_fp16.h>
#include <stdint.h>

#define DT_F32 0
#define DT_F16 2

__device__ __forceinline__ float ld1(const void* p, int dt, long long e) {
    if (dt == DT_F16) return __half2float(((const __half*)p)[e]);
    return ((const float*)p)[e];
}

__device__ __forceinline__ void st1(void* p, int dt, long long e, float v) {
    if (dt == DT_F16)
        ((__half*)p)[e] = __float2half_rn(v);
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
    return *(const float4*)((const float*)p + e);
}

__device__ __forceinline__ void st4(void* p, int dt, long long e, float4 v) {
    if (dt == DT_F16) {
        __half2 lo = __floats2half2_rn(v.x, v.y), hi = __floats2half2_rn(v.z, v.w);
        uint2 u;
        u.x = *(uint32_t*)&lo;
        u.y = *(uint32_t*)&hi;
        *(uint2*)((__half*)p + e) = u;
    } else {
        *(float4*)((float*)p + e) = v;
    }
}
