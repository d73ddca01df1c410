// peak_bw_sm90a.cu: a probe of how fast Hopper's TMA unit brings global
// memory into shared memory (sm_90a only): the ceiling on how fast our TMA
// GEMM kernels can be fed their operands. From L2 (a footprint that fits
// in it) the rate says whether a GEMM whose tiles need more bytes per clock
// than that is bound by L2 rather than by its tensor cores; from DRAM (a
// footprint that does not fit) it is the read bandwidth those kernels see.
//
//   peak_fill_index(p, words)                    p[j] = j for j < words
//   peak_bulk_load(src, chunks, iters, out, clocks)
//
// peak_bulk_load: one block an SM, one thread at work (the other 31 lanes
// of the warp leave at once), as one producer thread issues a GEMM's
// loads. It streams iters chunks of BW_CHUNK bytes, chunk after chunk of a
// footprint of `chunks` chunks of src (filled by peak_fill_index), starting
// at block b's share b·chunks/gridDim.x and wrapping, through a ring of
// BW_STAGES chunks of shared memory: cp.async.bulk (the TMA unit's bulk
// copy, completing an mbarrier by its bytes) BW_STAGES chunks ahead. So
// BW_STAGES · BW_CHUNK = 128 KB are in flight an SM, enough to cover an L2
// or DRAM round trip at any rate an SM can take.
//
// Each chunk, once landed, is checked: the word at a position that moves
// from chunk to chunk, poisoned just before the chunk's copy was issued,
// must hold its index in src. The mbarrier's transaction count already
// waits for every byte; the check catches a wrong address or a wait that
// returned early, so a probe that moved less than it claims cannot pass.
// out[b] = (wrong words << 32) | chunks checked; thread 0 writes clocks[3b ..
// 3b+2] = {clock64 at start, clock64 at end, SM id}, as the other probes.

#include <stdint.h>

#include "peak.cuh"
#include "tma_sm90a.cuh"

#define BW_CHUNK 16384
#define BW_STAGES 8
#define BW_WORDS (BW_CHUNK / 4)

extern "C" __global__ void __launch_bounds__(256) peak_fill_index(uint32_t* __restrict__ p, long long words) {
    for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < words; j += (long long)gridDim.x * blockDim.x)
        p[j] = (uint32_t)j;
}

// bulk_load issues the bulk copy of bytes bytes from global src into
// shared dst, completing the transaction count of mbarrier bar.
__device__ __forceinline__ void bulk_load(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
                 "l"((uint64_t)__cvta_generic_to_global(src)), "r"(bytes), "r"(bar)
                 : "memory");
}

extern "C" __global__ void __launch_bounds__(32, 1)
    peak_bulk_load(const uint32_t* __restrict__ src, long long chunks, int iters, unsigned long long* __restrict__ out,
                   long long* __restrict__ clocks) {
    extern __shared__ __align__(128) unsigned char smem_raw[];
    if (threadIdx.x != 0) return;
    const uint32_t ring = (uint32_t)__cvta_generic_to_shared(smem_raw);
    const uint32_t bars = ring + BW_STAGES * BW_CHUNK;
    unsigned char* stages = smem_raw;
    for (int s = 0; s < BW_STAGES; s++) mbar_init(bars + 8 * s, 1);
    mbar_init_fence();

    const long long first = (long long)blockIdx.x * chunks / gridDim.x;
    // Chunk i's sampled word: a position that moves from chunk to chunk
    // (977 is odd: every position of a chunk comes round).
    auto sample = [](int i) { return (int)((i * 977u) % BW_WORDS); };
    auto issue = [&](int i) {
        const int s = i % BW_STAGES;
        const long long c = (first + i) % chunks;
        // Poison the word to be checked, so that only this copy can make
        // it right (a stage may hold the same chunk from an earlier round
        // or run); the fence orders this write, and the read of the
        // stage's previous chunk, before the copy (the async proxy).
        ((volatile uint32_t*)(stages + s * BW_CHUNK))[sample(i)] = ~(uint32_t)(c * BW_WORDS + sample(i));
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        mbar_expect_tx(bars + 8 * s, BW_CHUNK);
        bulk_load(ring + s * BW_CHUNK, src + c * BW_WORDS, BW_CHUNK, bars + 8 * s);
    };
    const long long t0 = clock64();
    for (int i = 0; i < BW_STAGES && i < iters; i++) issue(i);
    uint32_t wrong = 0, checked = 0;
    for (int i = 0; i < iters; i++) {
        const int s = i % BW_STAGES;
        mbar_wait(bars + 8 * s, (i / BW_STAGES) & 1);
        const long long c = (first + i) % chunks;
        const uint32_t got = ((const volatile uint32_t*)(stages + s * BW_CHUNK))[sample(i)];
        wrong += got != (uint32_t)(c * BW_WORDS + sample(i));
        checked++;
        if (i + BW_STAGES < iters) issue(i + BW_STAGES);
    }
    const long long t1 = clock64();
    out[blockIdx.x] = ((unsigned long long)wrong << 32) | checked;
    peak_record(clocks, t0, t1);
}
