// tma_sm90a.cuh: the pieces of the Hopper TMA GEMM kernels shared by
// gemm_f16_tma_sm90a.cu (gemm_<t>_nt_tma, gemm_<t>_<a><b>_tma_p[192]) and
// gemm_tma_store_sm90a.cu (gemm_<t>_<a><b>_tma_s[192], gemm_f16_<a><b>_tma_c[192]):
// mbarriers, TMA loads and stores, wgmma wrappers, the epilogues and the
// kernel bodies, which are templates instantiated as extern "C" kernels by
// those files. Each file is its own PTX module, loaded on first use.

#pragma once

#include <cuda_fp16.h>
#include <stdint.h>

#include "gemm_types.cuh"
#include "wgmma_sm90a.cuh"

struct __align__(64) TmaDesc {
    unsigned long long q[16];
};

#define T_BM 128
#define T_BN 256
#define T_BK 64
#define T_STAGES 4
#define T_A_BYTES (T_BM * 128)
#define T_B_BYTES (T_BN * 128)
#define T_STAGE_BYTES (T_A_BYTES + T_B_BYTES)

__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// MBAR_PARITY_TEST is the body of mbar_try_wait and mbar_test_wait: the
// given mbarrier test (try_wait or test_wait) of the phase of parity %2 at
// %1, its predicate as 0 or 1 in %0.
#define MBAR_PARITY_TEST(op)                                 \
    "{\n"                                                    \
    ".reg .pred p;\n"                                        \
    "mbarrier." op ".parity.shared::cta.b64 p, [%1], %2;\n" \
    "selp.u32 %0, 1, 0, p;\n"                               \
    "}\n"
__device__ __forceinline__ bool mbar_try_wait(uint32_t bar, uint32_t parity) {
    uint32_t ok;
    asm volatile(MBAR_PARITY_TEST("try_wait") : "=r"(ok) : "r"(bar), "r"(parity) : "memory");
    return ok != 0;
}
// mbar_test_wait reports whether the phase of the given parity has
// completed, without waiting (mbarrier.try_wait may suspend the thread a
// while first).
__device__ __forceinline__ bool mbar_test_wait(uint32_t bar, uint32_t parity) {
    uint32_t ok;
    asm volatile(MBAR_PARITY_TEST("test_wait") : "=r"(ok) : "r"(bar), "r"(parity) : "memory");
    return ok != 0;
}
// mbar_wait spins until the phase of the given parity has completed. A wait
// longer than about 4·10⁹ cycles (2 s) means a synchronisation bug: trap, so
// that the launch fails instead of hanging the GPU.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
    if (mbar_try_wait(bar, parity)) return;
    const long long start = clock64();
    while (!mbar_try_wait(bar, parity)) {
        if (clock64() - start > 4000000000LL) __trap();
    }
}
// tma_ring_init initialises an S-stage ring's mbarriers at bars (one
// thread): full[s] at bars + 8s, completed by the producer's expect_tx
// arrival and the loads' bytes; empty[s] at bars + 8(S + s), by
// empty_arrivals releases.
template <int S>
__device__ __forceinline__ void tma_ring_init(uint32_t bars, int empty_arrivals) {
    for (int s = 0; s < S; s++) {
        mbar_init(bars + 8 * s, 1);
        mbar_init(bars + 8 * (S + s), empty_arrivals);
    }
}
// mbar_init_fence makes the initialised mbarriers visible to the cluster
// and to the asynchronous proxy (TMA) before anything uses them.
__device__ __forceinline__ void mbar_init_fence() {
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const TmaDesc* map, int c0, int c1, uint32_t bar) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
            dst),
        "l"((uint64_t)map), "r"(c0), "r"(c1), "r"(bar)
        : "memory");
}

// tma_load_3d is tma_load_2d for a tensor map of three dimensions.
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const TmaDesc* map, int c0, int c1, int c2, uint32_t bar) {
    asm volatile(
        "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], "
        "[%5];\n" ::"r"(dst),
        "l"((uint64_t)map), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
        : "memory");
}

template <typename T>
__device__ __forceinline__ void gemm_nt_tma_body(const TmaDesc& tmA, const TmaDesc& tmB, void* C,
                                                 const float* __restrict__ bias, int M, int N, int K, int ldc,
                                                 float alpha, float beta, int flags) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const uint32_t base = (smem_u32(smem_raw) + 1023) & ~1023u;
    const uint32_t bars = base + T_STAGES * T_STAGE_BYTES;  // full[s] at bars+8s, empty[s] at bars+8(S+s)
    const int tid = threadIdx.x, warp = tid >> 5, wg = warp >> 2;

    int m0, n0;
    grouped_tile<T_BM, T_BN>(blockIdx.x, M, N, m0, n0);
    const int KT = (K + T_BK - 1) / T_BK;

    if (tid == 0) {
        tma_ring_init<T_STAGES>(bars, 2);
        mbar_init_fence();
    }
    __syncthreads();

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        if (tid == 0) {
            for (int kt = 0; kt < KT; kt++) {
                const int s = kt % T_STAGES;
                if (kt >= T_STAGES) mbar_wait(bars + 8 * (T_STAGES + s), ((kt / T_STAGES) - 1) & 1);
                const uint32_t full = bars + 8 * s;
                mbar_expect_tx(full, T_STAGE_BYTES);
                tma_load_2d(base + s * T_STAGE_BYTES, &tmA, kt * T_BK, m0, full);
                tma_load_2d(base + s * T_STAGE_BYTES + T_A_BYTES, &tmB, kt * T_BK, n0, full);
            }
        }
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int c = wg - 1;
        float d[128];
#pragma unroll
        for (int i = 0; i < 128; i++) d[i] = 0.f;
        for (int kt = 0; kt < KT; kt++) {
            const int s = kt % T_STAGES;
            mbar_wait(bars + 8 * s, (kt / T_STAGES) & 1);
            const uint32_t sa = base + s * T_STAGE_BYTES + c * (64 * 128);
            const uint32_t sb = base + s * T_STAGE_BYTES + T_A_BYTES;
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < T_BK / 16; kk++) wgmma_m64n256k16<T>(d, sw128_desc(sa + kk * 32), sw128_desc(sb + kk * 32));
            wgmma_commit();
            wgmma_wait<1>();  // the wgmmas of k-tile kt−1 are done: release its stage
            if (kt > 0 && (tid & 127) == 0) mbar_arrive(bars + 8 * (T_STAGES + (kt - 1) % T_STAGES));
        }
        wgmma_wait<0>();

        wgmma_epilogue<T, T_BN>(d, C, bias, M, N, ldc, m0 + c * 64, n0, alpha, beta, flags);
    }
}


template <typename T, int TA, int TB>
struct Wgmma256;
#define WGMMA_M64N256K16_T(T, TY)                                                                \
    template <int TA, int TB>                                                                   \
    struct Wgmma256<T, TA, TB> {                                                                 \
        static __device__ __forceinline__ void run(float* d, uint64_t da, uint64_t db) {        \
            asm volatile(                                                                       \
                "wgmma.mma_async.sync.aligned.m64n256k16.f32." TY "." TY " "                     \
                "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, 1, 1, 1, %130, %131;\n"                                                                              \
                : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])                                                                            \
                : "l"(da), "l"(db), "n"(TA), "n"(TB));                                          \
        }                                                                                       \
    };
WGMMA_M64N256K16_T(half, "f16")
WGMMA_M64N256K16_T(bf16, "bf16")
// wgmma_m64n256k16_t<T, TA, TB>: with the transpose bits TA, TB (MN-major A or B).
template <typename T, int TA, int TB>
__device__ __forceinline__ void wgmma_m64n256k16_t(float* d, uint64_t da, uint64_t db) {
    Wgmma256<T, TA, TB>::run(d, da, db);
}

template <typename T, int TA, int TB>
struct Wgmma192;
#define WGMMA_M64N192K16_T(T, TY)                                                                \
    template <int TA, int TB>                                                                   \
    struct Wgmma192<T, TA, TB> {                                                                 \
        static __device__ __forceinline__ void run(float* d, uint64_t da, uint64_t db) {        \
            asm volatile(                                                                       \
                "wgmma.mma_async.sync.aligned.m64n192k16.f32." TY "." TY " "                     \
                "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95}, %96, %97, 1, 1, 1, %98, %99;\n"                                                                              \
                : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95])                                                                            \
                : "l"(da), "l"(db), "n"(TA), "n"(TB));                                          \
        }                                                                                       \
    };
WGMMA_M64N192K16_T(half, "f16")
WGMMA_M64N192K16_T(bf16, "bf16")
// wgmma_m64n192k16_t<T, TA, TB>: with the transpose bits TA, TB (MN-major A or B).
template <typename T, int TA, int TB>
__device__ __forceinline__ void wgmma_m64n192k16_t(float* d, uint64_t da, uint64_t db) {
    Wgmma192<T, TA, TB>::run(d, da, db);
}

template <typename T, int TA, int TB>
struct Wgmma128;
#define WGMMA_M64N128K16_T(T, TY)                                                                \
    template <int TA, int TB>                                                                   \
    struct Wgmma128<T, TA, TB> {                                                                 \
        static __device__ __forceinline__ void run(float* d, uint64_t da, uint64_t db) {        \
            asm volatile(                                                                       \
                "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY " "                     \
                "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, 1, 1, 1, %66, %67;\n"                                                                              \
                : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])                                                                            \
                : "l"(da), "l"(db), "n"(TA), "n"(TB));                                          \
        }                                                                                       \
    };
WGMMA_M64N128K16_T(half, "f16")
WGMMA_M64N128K16_T(bf16, "bf16")
// wgmma_m64n128k16_t<T, TA, TB>: with the transpose bits TA, TB (MN-major A or B).
template <typename T, int TA, int TB>
__device__ __forceinline__ void wgmma_m64n128k16_t(float* d, uint64_t da, uint64_t db) {
    Wgmma128<T, TA, TB>::run(d, da, db);
}

// MN-major tile in the 128-byte swizzle layout: 64-wide m/n chunks of 8 KB
// (LBO 8192 bytes), 8-deep k groups of 1024 bytes (SBO), swizzle mode 1.
__device__ __forceinline__ uint64_t sw128_mn_desc(uint32_t saddr) {
    return (uint64_t)((saddr & 0x3FFFF) >> 4) | ((uint64_t)(8192 >> 4) << 16) | ((uint64_t)(1024 >> 4) << 32) |
           ((uint64_t)1 << 62);
}

__device__ __forceinline__ uint32_t cluster_rank() {
    uint32_t r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
    return r;
}
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive;\nbarrier.cluster.wait;\n" ::: "memory");
}
// mbar_arrive_cluster arrives on the mbarrier at the same shared-memory
// offset as bar in block rank of the cluster (rank may be this block). The
// arrival has the default (release, CTA-scope) semantics, as CUTLASS's
// cluster barriers use: what it orders is the end of this warpgroup's
// wgmmas reading a stage (wgmma.wait_group) before the stage is refilled;
// a cluster-scope release would put a GPU-wide MEMBAR in every k-tile.
__device__ __forceinline__ void mbar_arrive_cluster(uint32_t bar, uint32_t rank) {
    asm volatile(
        "{\n"
        ".reg .b32 ra;\n"
        "mapa.shared::cluster.u32 ra, %0, %1;\n"
        "mbarrier.arrive.shared::cluster.b64 _, [ra];\n"
        "}\n" ::"r"(bar),
        "r"(rank)
        : "memory");
}
// tma_load_2d_mc loads a box into the same shared-memory offset of every
// block in mask and completes its bytes on each one's mbarrier at bar's
// offset.
__device__ __forceinline__ void tma_load_2d_mc(uint32_t dst, const TmaDesc* map, int c0, int c1, uint32_t bar,
                                               uint16_t mask) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%0], [%1, {%2, "
        "%3}], [%4], %5;\n" ::"r"(dst),
        "l"((uint64_t)map), "r"(c0), "r"(c1), "r"(bar), "h"(mask)
        : "memory");
}
__device__ __forceinline__ void tma_store_2d(const TmaDesc* map, int c0, int c1, uint32_t src) {
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];\n" ::"l"((uint64_t)map),
                 "r"(c0), "r"(c1), "r"(src)
                 : "memory");
}
__device__ __forceinline__ void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
// bulk_wait_read<N>: at most N of this thread's bulk store groups may still
// be reading their shared-memory source.
template <int N>
__device__ __forceinline__ void bulk_wait_read() {
    asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory");
}
__device__ __forceinline__ void bulk_wait_all() { asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory"); }
// wg_sync synchronises the 128 threads of consumer warpgroup c (named
// barrier 1 + c; barrier 0 is __syncthreads).
__device__ __forceinline__ void wg_sync(int c) {
    asm volatile("bar.sync %0, 128;\n" ::"r"(1 + c) : "memory");
}
// wg_all synchronises the 128 threads of consumer warpgroup c as wg_sync
// does and returns, to each, whether v was true for all of them
// (bar.red.and.pred): a decision the whole warpgroup takes together.
__device__ __forceinline__ bool wg_all(bool v, int c) {
    uint32_t r;
    asm volatile(
        "{\n"
        ".reg .pred p, q;\n"
        "setp.ne.u32 q, %1, 0;\n"
        "bar.red.and.pred p, %2, 128, q;\n"
        "selp.u32 %0, 1, 0, p;\n"
        "}\n"
        : "=r"(r)
        : "r"((uint32_t)v), "r"(1 + c)
        : "memory");
    return r != 0;
}

// tile_origin gives the first row and column of this block's tile for work
// item tile of its cluster (CM blocks on vertically adjacent tiles; CM = 1:
// one block, one tile). Work items go in groups of 8 tile rows, column by
// column within a group, so that blocks running at once share A and B
// panels in L2.
template <int CM, int BN>
__device__ __forceinline__ void tile_origin(int tile, int tilesM, int tilesN, int rank, int& m0, int& n0) {
    constexpr int G = 8 / CM;  // cluster rows per group
    const int unitsM = (tilesM + CM - 1) / CM;
    const int per_group = G * tilesN;
    const int first = (tile / per_group) * G;
    const int gsize = min(unitsM - first, G);
    m0 = ((first + (tile % per_group) % gsize) * CM + rank) * T_BM;
    n0 = ((tile % per_group) / gsize) * BN;
}

// EpiSrc is the TMA-store epilogue's optional source: with beta ≠ 0 the
// result is act(alpha·acc + bias) + beta·S, S an M×N matrix of C's element
// type with rows ld elements apart, 16-byte aligned as C's rows are (the
// residual of a Linear layer; never C itself, which is written through its
// tensor map).
struct EpiSrc {
    const void* p;
    int ld;
    float beta;
};

// src_half2 and src_float2 load the source pair at (row, col), col even, of
// a half (T) or fp32 source: one 4- or 8-byte load where both columns are
// inside, the element and a zero at the last column, zeros past M or N. A
// half pair stays its 32 bits until used (unpack_half2): half the registers
// of two floats.
template <typename T>
__device__ __forceinline__ uint32_t src_half2(const EpiSrc& src, int row, int col, int M, int N) {
    if (row >= M || col >= N) return 0;  // +0.0 in fp16 and bf16
    const T* p = (const T*)src.p + (size_t)row * src.ld + col;
    if (col + 1 < N) return *(const uint32_t*)p;
    return (uint32_t)*(const uint16_t*)p;
}
__device__ __forceinline__ float2 src_float2(const EpiSrc& src, int row, int col, int M, int N) {
    if (row >= M || col >= N) return make_float2(0.f, 0.f);
    const float* p = (const float*)src.p + (size_t)row * src.ld + col;
    if (col + 1 < N) return *(const float2*)p;
    return make_float2(p[0], 0.f);
}
template <typename T>
__device__ __forceinline__ void unpack_half2(uint32_t u, float& a, float& b) {
    const typename GemmT<T>::T2 p = *(const typename GemmT<T>::T2*)&u;
    a = GemmT<T>::to_f(p.x);
    b = GemmT<T>::to_f(p.y);
}

// What an epilogue does with its source (EpiSrc): add beta·S (SRC_ADD), or
// multiply the result by GELU′(S) (SRC_GELU_GRAD: the gradient through an
// exact GELU whose input S was). A compile-time choice, so that each
// kernel carries the code of one.
#define SRC_ADD 0
#define SRC_GELU_GRAD 1

// gelu_grad_erf is the derivative of the exact GELU x·Φ(x): Φ(x) + x·φ(x)
// (the formula of elementwise.cu's ew_unary_bwd).
__device__ __forceinline__ float gelu_grad_erf(float x) {
    const float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
    const float pdf = expf(-0.5f * x * x) * 0.39894228040143267794f;
    return cdf + x * pdf;
}

// prefetch_src_l2 asks L2 for rows [r0, r0 + rows) and columns [n0, n0 +
// cols) of the source (elements of eb bytes), one prefetch per 128-byte line
// shared among a warpgroup's 128 threads, so that the epilogue's loads of
// it, a main loop later, find it there.
__device__ __forceinline__ void prefetch_src_l2(const EpiSrc& src, int eb, int M, int N, int r0, int rows, int n0,
                                                int cols) {
    const int lines = (min(cols, N - n0) * eb + 127) / 128;  // 128-byte lines a row
    if (lines <= 0) return;
    const int n = min(rows, M - r0) * lines;
    for (int i = threadIdx.x & 127; i < n; i += 128) {
        const char* p = (const char*)src.p + ((size_t)(r0 + i / lines) * src.ld + n0) * eb + (i % lines) * 128;
        asm volatile("prefetch.global.L2 [%0];\n" ::"l"(p));
    }
}

// tma_store_epilogue is wgmma_epilogue through the staging buffers stage
// (NBUF of 8 KB, 1024-byte aligned) and TMA stores by tmC: consumer c's
// 64×BN accumulators, rows from r0 and columns from n0 of C, with beta·S
// added when src is given and its beta is not 0 (or, with SRC_OP
// SRC_GELU_GRAD, the result multiplied by GELU′(S)). oc counts the boxes
// this
// warpgroup has stored so far (it takes the buffers in turn, across
// tiles); leader is the warpgroup's first thread, which issues the stores.
// A buffer is written again once the store that read it last, NBUF boxes
// before, has read it: with two, the third box of a tile waits for the
// first's store; with as many as a tile has boxes, a box waits only for
// the same box of the warpgroup's previous tile.
template <typename T, int BN, typename CT, int SRC_OP = SRC_ADD, int NBUF = 2>
__device__ __forceinline__ void tma_store_epilogue(const float* d, const TmaDesc* tmC, uint32_t stage,
                                                   const float* __restrict__ bias, int M, int N, int r0, int n0,
                                                   float alpha, int flags, int c, bool leader, int& oc,
                                                   const EpiSrc* src = nullptr) {
    constexpr int EB = sizeof(CT);         // bytes per element of C
    constexpr int CW = 128 / EB;           // columns per box
    constexpr int JB = CW / 8;             // accumulator column groups j per box
    const int lane = threadIdx.x & 31, wq = (threadIdx.x >> 5) & 3;
    const int g = lane >> 2, t = lane & 3;
    const bool gelu = flags & GEMM_GELU;
#pragma unroll
    for (int q = 0; q < BN / CW; q++, oc++) {
        // (Where a tile's boxes are a multiple of NBUF, box q of every tile
        // takes buffer q mod NBUF: no division at run time.)
        const uint32_t buf =
            stage + (NBUF == 2 ? (oc & 1) : (BN / CW) % NBUF == 0 ? q % NBUF : (unsigned)oc % NBUF) * 8192;
        // The box's bias values, loaded together before the barriers: the
        // shared-memory writes below are asm with a memory clobber, which
        // would otherwise keep each load in place behind the last write
        // and expose its latency once per column group.
        float bb[JB][2];
#pragma unroll
        for (int jj = 0; jj < JB; jj++) {
            const int col = n0 + 8 * (q * JB + jj) + 2 * t;
            bb[jj][0] = bias && col < N ? bias[col] : 0.f;
            bb[jj][1] = bias && col + 1 < N ? bias[col + 1] : 0.f;
        }
        // The box's source values, loaded with the bias (16 registers a
        // thread for either type of C).
        const bool hasSrc = src != nullptr && src->beta != 0.f;
        uint32_t svh[JB][2];
        float2 svf[JB][2];
        if (hasSrc) {
#pragma unroll
            for (int jj = 0; jj < JB; jj++) {
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const int row = r0 + wq * 16 + g + 8 * h, col = n0 + 8 * (q * JB + jj) + 2 * t;
                    if (EB == 2)
                        svh[jj][h] = src_half2<T>(*src, row, col, M, N);
                    else
                        svf[jj][h] = src_float2(*src, row, col, M, N);
                }
            }
        }
        if (leader) bulk_wait_read<NBUF - 1>();  // the store that read buf last is done reading it
        wg_sync(c);
#pragma unroll
        // (fp32 C: rows g and g ^ 1 of a half-warp share their two 16-byte
        // units, a 2-way bank conflict on these writes. Taking the column
        // groups in a per-lane order would avoid it, but indexes the
        // accumulators at run time, which puts them in local memory.)
        for (int jj = 0; jj < JB; jj++) {
            const int j = q * JB + jj;
            const float b0 = bb[jj][0], b1 = bb[jj][1];
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int r = wq * 16 + g + 8 * h;  // row within the 64-row piece; r mod 8 = g
                float v0 = alpha * d[4 * j + 2 * h] + b0, v1 = alpha * d[4 * j + 2 * h + 1] + b1;
                if (gelu) {
                    v0 = gelu_erf(v0);
                    v1 = gelu_erf(v1);
                }
                if (hasSrc) {
                    float s0, s1;
                    if (EB == 2) {
                        unpack_half2<T>(svh[jj][h], s0, s1);
                    } else {
                        s0 = svf[jj][h].x;
                        s1 = svf[jj][h].y;
                    }
                    if (SRC_OP == SRC_GELU_GRAD) {
                        v0 *= gelu_grad_erf(s0);
                        v1 *= gelu_grad_erf(s1);
                    } else {
                        v0 += src->beta * s0;
                        v1 += src->beta * s1;
                    }
                }
                if (EB == 2) {
                    // bytes 16·jj + 4t of the row: unit jj, offset 4t
                    const uint32_t a = buf + r * 128 + ((jj ^ g) << 4) + 4 * t;
                    const typename GemmT<T>::T2 p = GemmT<T>::pack(v0, v1);
                    asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(a), "r"(*(const uint32_t*)&p) : "memory");
                } else {
                    // bytes 32·jj + 8t of the row: unit 2·jj + t/2, offset 8·(t mod 2)
                    const uint32_t a = buf + r * 128 + (((2 * jj + (t >> 1)) ^ g) << 4) + 8 * (t & 1);
                    asm volatile("st.shared.v2.f32 [%0], {%1, %2};\n" ::"r"(a), "f"(v0), "f"(v1) : "memory");
                }
            }
        }
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // the writes, visible to the TMA unit
        wg_sync(c);
        if (leader) {
            // A box wholly outside C is not stored, but its (empty) group
            // is committed all the same: bulk_wait_read counts groups.
            if (r0 < M && n0 + q * CW < N) tma_store_2d(tmC, n0 + q * CW, r0, buf);
            bulk_commit();
        }
    }
}

// tma_load_ktile loads k-tile k (elements k … k+63 of K) of the tile at
// (m0, n0) into the stage at sa (A, then B at sa + T_A_BYTES) and completes
// its bytes on the mbarrier full, which it arms with them first.
//
// WIDE (CM = 1; the tensor maps of the MN-major operands three-dimensional,
// dims {64, K, M/64 or N/64}, box {64, 64, tile/64}): an MN-major operand's
// 64-wide chunks of the tile come in one load, in the layout the per-chunk
// loads give (chunk j at 8192·j). The launch guarantees M and N are
// multiples of the tile, so no chunk lies past them.
template <bool A_MN, bool B_MN, int BN, int CM, bool WIDE = false>
__device__ __forceinline__ void tma_load_ktile(const TmaDesc* tmA, const TmaDesc* tmB, uint32_t sa, uint32_t full,
                                               int m0, int n0, int k, int rank, int M, int N) {
    static_assert(!WIDE || CM == 1, "the wide boxes are not multicast");
    const uint32_t sb = sa + T_A_BYTES;
    // 64-wide m/n chunks that start past M or N are not loaded (nor
    // counted): they feed only rows and columns of C that are never
    // stored. (Both blocks of a cluster have the same n0, so they agree on
    // B's chunks.)
    const int ca = A_MN ? min(T_BM / 64, (M - m0 + 63) / 64) : 0;
    const int cb = B_MN ? min(BN / 64, (N - n0 + 63) / 64) : 0;
    // In a cluster, a block whose tile lies wholly past M (odd tile rows)
    // loads no A: it only shares B.
    const bool loadA = CM == 1 || m0 < M;
    const int bytesA = A_MN ? (loadA ? ca : 0) * 8192 : (loadA ? T_A_BYTES : 0);
    // Shared k-contiguous B: block r loads rows r·BN/CM on of the tile,
    // except a part wholly past N, which feeds only columns never stored (a
    // box wholly out of bounds is not relied on to signal its bytes).
    const int partsB = CM > 1 && !B_MN ? min(CM, (N - n0 + BN / CM - 1) / (BN / CM)) : CM;
    const int bytesB = B_MN ? cb * 8192 : (CM > 1 ? partsB * (BN / CM) * 128 : BN * 128);
    mbar_expect_tx(full, bytesA + bytesB);
    if (A_MN && WIDE) {
        tma_load_3d(sa, tmA, 0, k, m0 / 64, full);
    } else if (A_MN) {
#pragma unroll
        for (int j = 0; j < T_BM / 64; j++)
            if (j < ca) tma_load_2d(sa + j * 8192, tmA, m0 + 64 * j, k, full);
    } else if (loadA) {
        tma_load_2d(sa, tmA, k, m0, full);
    }
    if (B_MN && WIDE) {
        tma_load_3d(sb, tmB, 0, k, n0 / 64, full);
    } else if (B_MN) {
#pragma unroll
        for (int j = 0; j < BN / 64; j++) {
            if (j >= cb) continue;
            if (CM > 1) {
                if (j % CM == rank) tma_load_2d_mc(sb + j * 8192, tmB, n0 + 64 * j, k, full, (1 << CM) - 1);
            } else {
                tma_load_2d(sb + j * 8192, tmB, n0 + 64 * j, k, full);
            }
        }
    } else if (CM > 1) {
        if (rank < partsB)
            tma_load_2d_mc(sb + rank * (BN / CM) * 128, tmB, k, n0 + rank * (BN / CM), full, (1 << CM) - 1);
    } else {
        tma_load_2d(sb, tmB, k, n0, full);
    }
}

// tma_prefetch_2d asks L2 to fetch the box of a tensor map at (c0, c1),
// without loading it anywhere: a hint, which changes no result.
__device__ __forceinline__ void tma_prefetch_2d(const TmaDesc* map, int c0, int c1) {
    asm volatile("cp.async.bulk.prefetch.tensor.2d.L2.global.tile [%0, {%1, %2}];\n" ::"l"((uint64_t)map), "r"(c0),
                 "r"(c1)
                 : "memory");
}

// tma_prefetch_3d is tma_prefetch_2d for a tensor map of three dimensions.
__device__ __forceinline__ void tma_prefetch_3d(const TmaDesc* map, int c0, int c1, int c2) {
    asm volatile("cp.async.bulk.prefetch.tensor.3d.L2.global.tile [%0, {%1, %2, %3}];\n" ::"l"((uint64_t)map),
                 "r"(c0), "r"(c1), "r"(c2)
                 : "memory");
}

// Lookahead is GEMM_LOOKAHEAD's share of one block (tma_lookahead_ktile):
// the block is number j of the `blocks` blocks that walk the same k-range
// at once, one tile each, over a grid of tilesM × tilesN tiles. ahead = 0:
// no look-ahead.
struct Lookahead {
    int ahead, j, blocks, tilesM, tilesN;
};

// tma_boxes_a_tile is the boxes tma_load_ktile loads a k-tile for one
// operand's tile of TILE rows (A) or columns (B): one per 64-wide chunk of
// an MN-major operand with two-dimensional boxes, else one.
template <bool MN, bool WIDE, int TILE>
__device__ __forceinline__ constexpr int tma_boxes_a_tile() {
    return MN && !WIDE ? TILE / 64 : 1;
}

// tma_prefetch_box asks L2 for box b of one operand's k-tile at element k
// of K, boxes numbered tile by tile (rows of A, columns of B) and chunk by
// chunk within a tile, as tma_load_ktile loads them: the 64-wide chunk
// (MN-major, two-dimensional map), the whole tile (MN-major, the wide
// boxes' three-dimensional map) or the tile's rows (K-major). A chunk that
// starts past the operand's extent (M or N) is left out.
template <bool MN, bool WIDE, int TILE>
__device__ __forceinline__ void tma_prefetch_box(const TmaDesc* map, int b, int k, int extent) {
    constexpr int P = tma_boxes_a_tile<MN, WIDE, TILE>();
    const int r = b / P, c = b % P;
    if (MN && WIDE)
        tma_prefetch_3d(map, 0, k, r * (TILE / 64));
    else if (MN && r * TILE + 64 * c < extent)
        tma_prefetch_2d(map, r * TILE + 64 * c, k);
    else if (!MN)
        tma_prefetch_2d(map, k, r * TILE);
}

// tma_lookahead_ktile asks L2 for this block's share of k-tile k of every
// tile of the launch (t: that k-tile's number within the block's k-range).
// The k-tile's boxes are numbered A's first (tile row by tile row, and
// within a row its 64-wide chunks, as tma_load_ktile loads them), then
// B's; box i of k-tile number t goes to block (t·n + i) mod blocks (n
// boxes a k-tile). Every box is asked for once, and over a few k-tiles
// every block asks for the same number: the look-ahead the eleventh
// session measured left its prefetches to the first block of each tile
// row and column, which then ran behind, and a split-K launch ends with its
// slowest block. Boxes that start past M or N are left out, as in
// tma_load_ktile.
template <bool A_MN, bool B_MN, int BN, bool WIDE>
__device__ __forceinline__ void tma_lookahead_ktile(const TmaDesc* tmA, const TmaDesc* tmB, int k, int t,
                                                    const Lookahead& la, int M, int N) {
    const int nA = la.tilesM * tma_boxes_a_tile<A_MN, WIDE, T_BM>();
    const int n = nA + la.tilesN * tma_boxes_a_tile<B_MN, WIDE, BN>();
    for (int i = ((la.j - t * n) % la.blocks + la.blocks) % la.blocks; i < n; i += la.blocks) {
        if (i < nA)
            tma_prefetch_box<A_MN, WIDE, T_BM>(tmA, i, k, M);
        else
            tma_prefetch_box<B_MN, WIDE, BN>(tmB, i - nA, k, N);
    }
}

// tma_produce_ktiles loads nkt k-tiles of the tile at (m0, n0), the first at
// element k0 of K, into the S-stage ring at base with its full and empty
// mbarriers at bars (full[s] at bars + 8s, empty[s] at bars + 8(S + s)); it
// counts the k-tiles the producer has loaded over the block's life. Each
// load waits until the stage's previous k-tile has been released by as many
// arrivals as the empty barriers count.
//
// With la.ahead > 0 (GEMM_LOOKAHEAD), once the ring's first S loads are
// out it asks L2 for its share (tma_lookahead_ktile) of every k-tile from
// S up to S + la.ahead past the one just loaded, in order, each once, and
// none past the block's last k-tile: after the load of k-tile S − 1, those
// up to k-tile 2S − 1 + la.ahead; after each later load, one more. So the
// ring's loads find their boxes in L2 rather than waiting on DRAM, and the
// first loads do not queue behind the look-ahead.
template <bool A_MN, bool B_MN, int BN, int CM, int S, bool WIDE = false>
__device__ __forceinline__ void tma_produce_ktiles(const TmaDesc* tmA, const TmaDesc* tmB, uint32_t base,
                                                   uint32_t bars, int& it, int m0, int n0, int k0, int nkt, int rank,
                                                   int M, int N, const Lookahead& la = Lookahead{0, 0, 1, 0, 0}) {
    constexpr int STAGE = T_A_BYTES + BN * 128;  // bytes per stage
    const int lead = S + la.ahead;               // k-tiles from a load to the farthest look-ahead beside it
    int pf = S;                                  // the next k-tile the look-ahead asks L2 for
    for (int kt = 0; kt < nkt; kt++, it++) {
        const int s = it % S;
        if (it >= S) {
            mbar_wait(bars + 8 * (S + s), ((it / S) - 1) & 1);
        }
        tma_load_ktile<A_MN, B_MN, BN, CM, WIDE>(tmA, tmB, base + s * STAGE, bars + 8 * s, m0, n0, k0 + kt * T_BK,
                                                 rank, M, N);
        if (la.ahead > 0 && kt >= S - 1)
            for (; pf < nkt && pf <= kt + lead; pf++)
                tma_lookahead_ktile<A_MN, B_MN, BN, WIDE>(tmA, tmB, k0 + pf * T_BK, pf, la, M, N);
    }
}

// tma_prefetch_a asks L2 for the A boxes of k-tiles 0 … nkt−1 (from element
// k0 of K) of the tile at row m0, as tma_load_ktile would load them (64-wide
// m chunks that start past M left out).
template <bool A_MN>
__device__ __forceinline__ void tma_prefetch_a(const TmaDesc* tmA, int m0, int k0, int nkt, int M) {
    for (int kt = 0; kt < nkt; kt++) {
        const int k = k0 + kt * T_BK;
        if (A_MN) {
#pragma unroll
            for (int j = 0; j < T_BM / 64; j++)
                if (m0 + 64 * j < M) tma_prefetch_2d(tmA, m0 + 64 * j, k);
        } else {
            tma_prefetch_2d(tmA, k, m0);
        }
    }
}

// TMA_PREFETCH_KT bounds the k-tiles of A that GEMM_PREFETCH asks L2 for
// ahead of a tile: what a short K (ViT-S/16's 384: 6 k-tiles) needs whole;
// a long K's ring is itself far enough ahead.
#define TMA_PREFETCH_KT 8

// tma_produce is the producer thread's loop of the persistent kernels: the
// k-tiles of this block's work items (tile first_unit, then every
// unit_step-th one up to units), in order, into the ring (tma_produce_ktiles).
// With prefetch (GEMM_PREFETCH), as it starts each tile it first asks L2
// for A of the block's next tile (tma_prefetch_a), a tile ahead of its
// loads: each tile's A panel is new to L2 (a group of tiles sharing it runs
// at once on several blocks), and the ring alone issues a tile's first
// loads only a few k-tiles ahead.
//
// With ahead > 0 (GEMM_LOOKAHEAD; CM = 1, one tile a block: the split-K
// partials, whose blocks of one k-range run at once; the route gives it
// only to the weight gradients' TN partials), the block also asks L2 for
// its share of every tile's k-tiles up to that far past its ring
// (tma_produce_ktiles, tma_lookahead_ktile).
template <bool A_MN, bool B_MN, int BN, int CM, int S, bool WIDE = false>
__device__ __forceinline__ void tma_produce(const TmaDesc* tmA, const TmaDesc* tmB, uint32_t base, uint32_t bars,
                                            int first_unit, int units, int unit_step, int tilesM, int tilesN,
                                            int rank, int M, int N, int kbeg, int KT, bool prefetch = false,
                                            int ahead = 0) {
    int it = 0;  // k-tiles loaded so far, over all tiles
    const Lookahead la{CM == 1 && unit_step == units ? ahead : 0, first_unit, units, tilesM, tilesN};
    for (int tile = first_unit; tile < units; tile += unit_step) {
        int m0, n0;
        tile_origin<CM, BN>(tile, tilesM, tilesN, rank, m0, n0);
        if (prefetch && tile + unit_step < units) {
            int pm0, pn0;
            tile_origin<CM, BN>(tile + unit_step, tilesM, tilesN, rank, pm0, pn0);
            if (pm0 < M) tma_prefetch_a<A_MN>(tmA, pm0, kbeg, min(KT, TMA_PREFETCH_KT), M);
        }
        tma_produce_ktiles<A_MN, B_MN, BN, CM, S, WIDE>(tmA, tmB, base, bars, it, m0, n0, kbeg, KT, rank, M, N, la);
    }
}

// tma_release arrives on the empty barrier of ring position it (a k-tile
// count) for this block, or for both blocks of a cluster of CM = 2 (the
// leader thread of a consumer warpgroup, once its wgmmas reading that
// k-tile are done).
template <int CM, int S>
__device__ __forceinline__ void tma_release(uint32_t bars, int it) {
    if (CM > 1) {
#pragma unroll
        for (int r = 0; r < CM; r++) mbar_arrive_cluster(bars + 8 * (S + it % S), r);
    } else {
        mbar_arrive(bars + 8 * (S + it % S));
    }
}

// tma_consume_ktiles is consumer warpgroup c's main loop over nkt k-tiles
// of the ring into its 64×BN accumulators d (zeroed first): it waits for
// each k-tile, issues its wgmmas, keeps one k-tile of them in flight and
// releases the stage of the one before; the last is released after
// wgmma.wait_group 0. it counts the k-tiles consumed over the block's life.
// With stag_arrive, the k-tile count stag_kt − 1 is the one after which
// this thread arrives on the stagger barrier stag (GEMM_STAGGER).
//
// early (GEMM_EARLY_RELEASE): a warpgroup that finds its next k-tile not
// yet landed first waits for the wgmmas in flight (wgmma.wait_group 0)
// and releases the previous k-tile's stage, then waits for the data.
// Without it the consumers hold that stage until the next k-tile lands and
// its wgmmas are issued, so while they starve the producer has one stage
// of the S fewer to load into: S − 1 k-tiles in flight instead of S.
// wgmma.wait_group must be executed by the whole warpgroup or by none of
// it, so the warpgroup decides together (wg_all: "landed" only where every
// thread saw it landed); the release is the leader's. The decision costs a
// warpgroup barrier every k-tile; where the data has landed nothing else
// changes.
template <typename T, bool A_MN, bool B_MN, int BN, int CM, int S>
__device__ __forceinline__ void tma_consume_ktiles(float* d, uint32_t base, uint32_t bars, int& it, int nkt, int c,
                                                   bool leader, bool stag_arrive, int stag_kt, uint32_t stag,
                                                   bool early) {
    constexpr int STAGE = T_A_BYTES + BN * 128;  // bytes per stage
#pragma unroll
    for (int i = 0; i < BN / 2; i++) d[i] = 0.f;
    for (int kt = 0; kt < nkt; kt++, it++) {
        const int s = it % S;
        bool released = false;  // the previous k-tile's stage, by the leader
        if (early && kt > 0) {
            const bool landed = wg_all(mbar_test_wait(bars + 8 * s, (it / S) & 1), c);
            if (!landed) {
                wgmma_wait<0>();
                if (leader) tma_release<CM, S>(bars, it - 1);
                released = true;
            }
        }
        mbar_wait(bars + 8 * s, (it / S) & 1);
        // Consumer c's 64 rows of A: bytes c·8192 on in both layouts
        // (64 rows of 128 bytes K-major, or the c-th 64-wide chunk).
        const uint32_t sa = base + s * STAGE + c * 8192;
        const uint32_t sb = base + s * STAGE + T_A_BYTES;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < T_BK / 16; kk++) {
            const uint64_t da = A_MN ? sw128_mn_desc(sa + kk * 2048) : sw128_desc(sa + kk * 32);
            const uint64_t db = B_MN ? sw128_mn_desc(sb + kk * 2048) : sw128_desc(sb + kk * 32);
            if (BN == 256)
                wgmma_m64n256k16_t<T, A_MN ? 1 : 0, B_MN ? 1 : 0>(d, da, db);
            else
                wgmma_m64n192k16_t<T, A_MN ? 1 : 0, B_MN ? 1 : 0>(d, da, db);
        }
        wgmma_commit();
        if (stag_arrive && it == stag_kt - 1) mbar_arrive(stag);
        wgmma_wait<1>();  // the wgmmas of the previous k-tile are done: release its stage
        if (kt > 0 && leader && !released) tma_release<CM, S>(bars, it - 1);
    }
    wgmma_wait<0>();
    if (nkt > 0 && leader) tma_release<CM, S>(bars, it - 1);
}

// gemm_tma_p_body: the persistent kernels. A_MN: A stored K×M
// (m-contiguous); B_MN: B stored K×N (n-contiguous); CM: blocks per cluster
// sharing B by multicast (1 or 2); TSTORE: the TMA-store epilogue (C through
// tmC) instead of direct stores, with NBUF staging buffers of 8 KB per
// consumer warpgroup (tma_store_epilogue); WIDE: the MN-major operands'
// tiles in one three-dimensional box each (tma_load_ktile).
//
// With GEMM_STAGGER in flags the second consumer warpgroup starts its first
// k-tile only once the first has issued STAGGER_KT of them (an mbarrier
// after the stage barriers). They start that far apart, and neither can get
// further ahead than the stages the other has not yet released, so that one
// warpgroup's epilogue can run while the other still issues wgmmas. (One
// warpgroup alone reached the tensor cores' peak on an H100:
// peak_wgmma_f16_wg1.) In step, both leave the tensor cores idle for their
// epilogues. The first
// warpgroup can issue STAGGER_KT < S k-tiles from the stages loaded before
// any release, so the wait cannot deadlock; it also arrives after its last
// tile, for a block with fewer k-tiles than that. With fewer than
// STAGGER_KT k-tiles a tile, the offset is the first tile's k-tiles.
// Split-K partials never get the flag. On an H100 (the eleventh session)
// within 4% of the default either way.
template <typename T, bool A_MN, bool B_MN, int BN, int CM = 1, bool TSTORE = false, int NBUF = 2, bool WIDE = false>
__device__ __forceinline__ void gemm_tma_p_body(const TmaDesc* tmA, const TmaDesc* tmB, const TmaDesc* tmC, void* C,
                                                const float* __restrict__ bias, int M, int N, int K, int ldc,
                                                float alpha, float beta, int flags, int kchunk) {
    constexpr int S = (BN == 256 || TSTORE) ? 4 : 5;     // stages
    constexpr int STAGGER_KT = 2;                        // GEMM_STAGGER's offset, < S
    static_assert(STAGGER_KT < S, "the staggered warpgroup would wait for a release it blocks");
    constexpr int STAGE = T_A_BYTES + BN * 128;          // bytes per stage
    constexpr int STAGING = TSTORE ? 2 * NBUF * 8192 : 0;  // NBUF 8 KB buffers per consumer
    extern __shared__ __align__(16) unsigned char smem_p[];
    const uint32_t base = (smem_u32(smem_p) + 1023) & ~1023u;
    const uint32_t bars = base + S * STAGE + STAGING;  // full[s] at bars+8s, empty[s] at bars+8(S+s)
    const uint32_t stag = bars + 16 * S;               // GEMM_STAGGER's barrier
    const bool stagger = flags & GEMM_STAGGER;
    const bool early = flags & GEMM_EARLY_RELEASE;
    const int tid = threadIdx.x, warp = tid >> 5, wg = warp >> 2;
    const int rank = CM > 1 ? (int)cluster_rank() : 0;

    const int tilesM = (M + T_BM - 1) / T_BM, tilesN = (N + BN - 1) / BN;
    const int units = ((tilesM + CM - 1) / CM) * tilesN;  // work items of a cluster
    const int first_unit = blockIdx.x / CM, unit_step = gridDim.x / CM;
    // Split-K (kchunk > 0, a multiple of 64): blockIdx.y takes k in
    // [y·kchunk, min(K, (y+1)·kchunk)) and C is its own M×N fp32 slice.
    const int kbeg = kchunk > 0 ? blockIdx.y * kchunk : 0;
    const int KT = ((kchunk > 0 ? min(K - kbeg, kchunk) : K) + T_BK - 1) / T_BK;
    // GEMM_STAGGER's offset in this launch: STAGGER_KT k-tiles, or one whole
    // tile's worth where a tile has fewer (then the second warpgroup waits
    // for the first's first tile, not for its second).
    const int stagKT = max(1, min(STAGGER_KT, KT));
    if (kchunk > 0) C = (float*)C + (size_t)blockIdx.y * M * N;

    if (tid == 0) {
        tma_ring_init<S>(bars, 2 * CM);
        mbar_init(stag, 1);
        mbar_init_fence();
    }
    __syncthreads();
    if (CM > 1) cluster_sync();  // the peer's barriers exist before any multicast or remote arrival

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        // (GEMM_PREFETCH's prefetches address two-dimensional maps.)
        // GEMM_LOOKAHEAD's distance past the ring: 0 (off), 4, 8 or 16
        // k-tiles; the TMA-store kernels and the clusters do not read it.
        const int look = (flags >> GEMM_LOOKAHEAD_SHIFT) & 3;
        const int ahead = CM == 1 && !TSTORE && look ? 2 << look : 0;
        if (tid == 0)
            tma_produce<A_MN, B_MN, BN, CM, S, WIDE>(tmA, tmB, base, bars, first_unit, units, unit_step, tilesM,
                                                     tilesN, rank, M, N, kbeg, KT, !WIDE && (flags & GEMM_PREFETCH),
                                                     ahead);
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int c = wg - 1;
        const bool leader = (tid & 127) == 0;
        int it = 0;  // k-tiles consumed so far, over all tiles
        int oc = 0;  // boxes stored so far (TSTORE)
        if (stagger && c == 1) mbar_wait(stag, 0);
        for (int tile = first_unit; tile < units; tile += unit_step) {
            int m0, n0;
            tile_origin<CM, BN>(tile, tilesM, tilesN, rank, m0, n0);
            float d[BN / 2];
            tma_consume_ktiles<T, A_MN, B_MN, BN, CM, S>(d, base, bars, it, KT, c, leader,
                                                         stagger && c == 0 && leader, stagKT, stag, early);
            if (TSTORE) {
                const uint32_t stage = base + S * STAGE + c * NBUF * 8192;
                if (flags & GEMM_OUT_F16)
                    tma_store_epilogue<T, BN, T, SRC_ADD, NBUF>(d, tmC, stage, bias, M, N, m0 + c * 64, n0, alpha, flags,
                                                                c, leader, oc);
                else
                    tma_store_epilogue<T, BN, float, SRC_ADD, NBUF>(d, tmC, stage, bias, M, N, m0 + c * 64, n0, alpha,
                                                                    flags, c, leader, oc);
            } else {
                wgmma_epilogue<T, BN>(d, C, bias, M, N, ldc, m0 + c * 64, n0, alpha, beta, flags);
            }
        }
        if (stagger && c == 0 && leader && it < stagKT) mbar_arrive(stag);  // fewer k-tiles than the offset
        if (TSTORE && leader) bulk_wait_all();  // the staging buffers stay until the last store has read them
    }
    if (CM > 1) cluster_sync();  // no block leaves while its peer may still arrive on its barriers
}
