// peak_sm90a.cu: a probe of the tensor cores' peak rate through Hopper's
// warpgroup instruction wgmma (sm_90a only), the ceiling our wgmma and TMA
// GEMM kernels can reach. Twin of peak.cu (mma.sync); no global memory is
// touched inside the loop.
//
//   peak_wgmma_f16(out, clocks, iters, one2)    wgmma.mma_async.m64n256k16.f32.f16.f16
//   peak_wgmma_bf16(out, clocks, iters, one2)   the same on bf16 operands
//
// Both operands come from shared memory through matrix descriptors, as in
// the GEMMs: a 64×64 A tile and a 256×64 B tile (K-major, 128-byte swizzle,
// the layout of gemm_f16_sm90a.cu), filled once with 1.0 (one2 is a pair of
// 1.0 halves: 0x3C003C00 for fp16, 0x3F803F80 for bf16). Each iteration a
// warpgroup issues PEAK_KSTEPS = 4 wgmmas (k = 0, 16, 32, 48 of the tiles)
// into its one 64×256 fp32 accumulator (128 registers a thread), commits
// them as a group and waits until at most one group is in flight, so that
// the tensor cores always have the next four queued, as in a GEMM's k-loop
// with the loads taken away.
//
// Warpgroups: the block is 128 (one warpgroup) or 256 threads (two), one
// block per SM (the Go side launches one block per SM). A warpgroup's wgmma
// runs on all four sub-partitions' tensor cores at once, so one warpgroup
// can in principle keep them busy; the second, with its own accumulator,
// fills the gaps where the first stalls at its wait (CUTLASS's Hopper
// kernels run two consumer warpgroups for the same reason), and the bench
// times both to show whether one suffices. A third would leave under 40
// registers a thread beside the 128 accumulators, and nothing to gain.
//
// Every accumulator element ends at exactly 16·PEAK_KSTEPS·iters (exact in
// fp32 while below 2^24), which the GPU test checks. Output layout: thread t
// of block b writes its 128 accumulators at out[(b·blockDim.x + t)·128 ...];
// thread 0 writes clocks[3b .. 3b+2] = {clock64 at start, clock64 at end,
// SM id}. FLOPs per wgmma: 2·64·256·16 = 524288.

#include <stdint.h>

#include "peak.cuh"
#include "wgmma_sm90a.cuh"

#define PEAK_WG_MAX_THREADS 256
#define PEAK_KSTEPS 4
#define PEAK_A_BYTES (64 * 128)
#define PEAK_B_BYTES (256 * 128)

// peak_wgmma is the probe's body: the wgmma.m64n256k16 of wgmma_sm90a.cuh
// (the very instruction the Hopper GEMM kernels issue) on T operands.
template <typename T>
__device__ __forceinline__ void peak_wgmma(float* __restrict__ out, long long* __restrict__ clocks, int iters,
                                           uint32_t one2) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    // Tiles 1024-byte aligned, as the swizzle pattern assumes.
    unsigned char* tiles = smem_raw + ((1024 - ((uint32_t)__cvta_generic_to_shared(smem_raw) & 1023)) & 1023);
    const uint32_t sa = (uint32_t)__cvta_generic_to_shared(tiles), sb = sa + PEAK_A_BYTES;
    for (int i = threadIdx.x; i < (PEAK_A_BYTES + PEAK_B_BYTES) / 16; i += blockDim.x)
        ((uint4*)tiles)[i] = make_uint4(one2, one2, one2, one2);
    // Generic-proxy writes, read by wgmma through the async proxy.
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();

    float d[128];
#pragma unroll
    for (int i = 0; i < 128; i++) d[i] = 0.f;

    const long long t0 = clock64();
    wgmma_fence();
    for (int it = 0; it < iters; it++) {
        // Step k of the 64-wide tiles starts 32 bytes further along each
        // swizzled row.
#pragma unroll
        for (int k = 0; k < PEAK_KSTEPS; k++)
            wgmma_m64n256k16<T>(d, sw128_desc(sa + 32 * k), sw128_desc(sb + 32 * k));
        wgmma_commit();
        wgmma_wait<1>();
    }
    wgmma_wait<0>();
    __syncthreads();  // the block's end: its slower warpgroup
    const long long t1 = clock64();

    float* o = out + ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 128;
#pragma unroll
    for (int i = 0; i < 128; i += 4) *(float4*)(o + i) = make_float4(d[i], d[i + 1], d[i + 2], d[i + 3]);
    peak_record(clocks, t0, t1);
}

// Launch: grid one block per SM, block 128 or 256 threads, dynamic shared
// memory PEAK_A_BYTES + PEAK_B_BYTES + 1024 (41 KB, under the default limit).
extern "C" __global__ void __launch_bounds__(PEAK_WG_MAX_THREADS, 1)
    peak_wgmma_f16(float* __restrict__ out, long long* __restrict__ clocks, int iters, uint32_t one2) {
    peak_wgmma<half>(out, clocks, iters, one2);
}

extern "C" __global__ void __launch_bounds__(PEAK_WG_MAX_THREADS, 1)
    peak_wgmma_bf16(float* __restrict__ out, long long* __restrict__ clocks, int iters, uint32_t one2) {
    peak_wgmma<bf16>(out, clocks, iters, one2);
}
