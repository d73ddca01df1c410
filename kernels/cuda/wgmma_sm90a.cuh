// wgmma_sm90a.cuh: the Hopper warpgroup MMA pieces the wgmma GEMM kernels
// share (gemm_f16_sm90a.cu, and through tma_sm90a.cuh the TMA kernels):
// fence, commit and wait, the descriptor of a K-major tile in the 128-byte
// swizzle layout, wgmma.m64n256k16 with fp32 accumulation (its PTX written
// once with the operand type's suffix as the argument), and the direct
// store of a warpgroup's accumulators (wgmma_epilogue, for the TMA kernels;
// gemm_f16_sm90a.cu keeps its own inline copy, whose PTX, measured on an
// H100, changes when it calls this one).

#pragma once
#include <stdint.h>

#include "gemm_types.cuh"

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }

// K-major tile in the 128-byte swizzle layout (as written by TMA with
// SWIZZLE_128B and a 64-half inner box): start >> 4, LBO 1 (unused), SBO
// 1024 bytes between 8-row groups, swizzle mode 1.
__device__ __forceinline__ uint64_t sw128_desc(uint32_t saddr) {
    return (uint64_t)((saddr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) |
           ((uint64_t)1 << 62);
}

// wgmma_m64n256k16<T>: D += A·Bᵀ, both K-major in shared memory, T the
// operand type (the PTX written once, the type suffix a macro argument).
template <typename T>
__device__ __forceinline__ void wgmma_m64n256k16(float* d, uint64_t da, uint64_t db);
#define WGMMA_M64N256K16(T, TY)                                                              \
    template <>                                                                              \
    __device__ __forceinline__ void wgmma_m64n256k16<T>(float* d, uint64_t da, uint64_t db) { \
        asm volatile(                                                                        \
            "wgmma.mma_async.sync.aligned.m64n256k16.f32." TY "." TY " "                     \
            "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, 1, 1, 1, 0, 0;\n"                                                                               \
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])                                                                             \
            : "l"(da), "l"(db));                                                             \
    }
WGMMA_M64N256K16(half, "f16")
WGMMA_M64N256K16(bf16, "bf16")

// wgmma_epilogue stores one warpgroup's 64×BN accumulators (rows from r0,
// columns from n0) straight to C with the usual epilogue.
// Accumulator layout of m64nNk16 (f32): warp wq of the warpgroup holds rows
// 16·wq + g and 16·wq + g + 8; d[4j + 2h + e] is (row g + 8h, column
// 8j + 2t + e).
template <typename T, int BN>
__device__ __forceinline__ void wgmma_epilogue(const float* d, void* C, const float* __restrict__ bias, int M, int N,
                                             int ldc, int r0, int n0, float alpha, float beta, int flags) {
    const int lane = threadIdx.x & 31, wq = (threadIdx.x >> 5) & 3;
    const bool gelu = flags & GEMM_GELU, out16 = flags & GEMM_OUT_F16;
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int row = r0 + wq * 16 + g + 8 * h;
        if (row >= M) continue;
#pragma unroll
        for (int j = 0; j < BN / 8; j++) {
            const int col = n0 + 8 * j + 2 * t;
            if (col >= N) continue;
            gemm_put2<T, true>(C, row, col, N, ldc, alpha, d[4 * j + 2 * h], d[4 * j + 2 * h + 1], bias, gelu, out16,
                               beta);
        }
    }
}
