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

// peak_tile_load[_w]: the operand loads of the weight gradients'
// split-K partials (gemm_<t>_tn_tma_p192, _p192w) without their wgmmas: is
// the load side what holds them at about 1 µs a k-tile?
//
//   peak_tile_load(tmA, tmB, M, N, ldA, ldB, nkt, ahead, out, clocks)
//
// A (K×M) and B (K×N) are both stored MN-major, as a weight gradient's
// operands are, and filled by peak_fill_index (32-bit word j holds j).
// Block b takes tile b mod (M/128 · N/192) of the 128×192 tiles (m
// fastest) and split b div that: nkt 64-deep k-tiles from k-tile
// split·nkt on. Its producer (thread 32) loads them into the partials'
// 5-stage ring of 40 KB stages with the partials' own code
// (tma_produce_ktiles: five 64×64 boxes a k-tile, or with WIDE two
// three-dimensional ones); its consumer (thread 0) waits for each k-tile,
// checks one sampled 32-bit word of A's tile and one of B's against the
// word their place in global memory holds, poisons the words the k-tile
// that next takes the stage will be checked at (the first five k-tiles'
// before any load), and releases the stage:
// everything the partials do but their wgmmas. out[b] = (wrong words << 32)
// | words checked; clocks as the other probes (thread 0's span: the first
// wait to the last release). ahead > 0: the producer also asks L2 for its
// share of every tile's k-tiles that far past its ring, as the partials do
// with GEMM_LOOKAHEAD (tma_lookahead_ktile; the blocks of a split deal the
// boxes out by their tile number).
#define TL_STAGES 5
#define TL_BN 192
#define TL_STAGE (T_A_BYTES + TL_BN * 128)

// tl_offset is the byte offset in a stage's operand of element (r, col),
// r its k row in the k-tile, col its column in the tile, as the TMA unit
// stores 64-wide chunks of 64 rows of 128 bytes in the 128-byte swizzle:
// chunk col/64 at 8192·(col/64), row r at 128·r, the 16-byte piece c of a
// row at piece c ^ (r mod 8).
__device__ __forceinline__ uint32_t tl_offset(int r, int col) {
    const int cc = col & 63;
    return (uint32_t)((col >> 6) * 8192 + r * 128 + (((cc >> 3) ^ (r & 7)) << 4) + (cc & 7) * 2);
}

template <bool WIDE>
__device__ __forceinline__ void peak_tile_load(const TmaDesc* tmA, const TmaDesc* tmB, int M, int N, int ldA, int ldB,
                                               int nkt, int ahead, unsigned long long* __restrict__ out,
                                               long long* __restrict__ clocks) {
    extern __shared__ __align__(16) unsigned char smem_tl[];
    const uint32_t raw = smem_u32(smem_tl), base = (raw + 1023) & ~1023u;
    unsigned char* stages = smem_tl + (base - raw);
    const uint32_t bars = base + TL_STAGES * TL_STAGE;
    const int tilesM = M / T_BM, tiles = tilesM * (N / TL_BN);
    const int m0 = (blockIdx.x % tiles % tilesM) * T_BM, n0 = (blockIdx.x % tiles / tilesM) * TL_BN;
    const int kt0 = (blockIdx.x / tiles) * nkt;
    // K-tile kt's samples: k row r, an even column of A's tile and one of
    // B's, moving from k-tile to k-tile (odd steps: every value comes round).
    auto row = [](int kt) { return (kt * 37) & 63; };
    auto colA = [](int kt) { return ((kt * 13) % (T_BM / 2)) * 2; };
    auto colB = [](int kt) { return ((kt * 29) % (TL_BN / 2)) * 2; };
    // poison(kt): all ones where k-tile kt will be checked, in its stage,
    // before its load is issued (an earlier run may have left the right
    // words in this SM's shared memory).
    auto poison = [&](int kt) {
        unsigned char* st = stages + (kt % TL_STAGES) * TL_STAGE;
        ((volatile uint32_t*)st)[tl_offset(row(kt), colA(kt)) / 4] = ~0u;
        ((volatile uint32_t*)(st + T_A_BYTES))[tl_offset(row(kt), colB(kt)) / 4] = ~0u;
    };
    if (threadIdx.x == 0) {
        for (int kt = 0; kt < TL_STAGES; kt++) poison(kt);
        tma_ring_init<TL_STAGES>(bars, 1);
        mbar_init_fence();  // also orders the poison before the loads (the async proxy)
    }
    __syncthreads();
    if (threadIdx.x == 32) {
        int it = 0;
        const Lookahead la{ahead, (int)(blockIdx.x % tiles), tiles, tilesM, N / TL_BN};
        tma_produce_ktiles<true, true, TL_BN, 1, TL_STAGES, WIDE>(tmA, tmB, base, bars, it, m0, n0, kt0 * T_BK, nkt, 0,
                                                                 M, N, la);
        return;
    }
    if (threadIdx.x != 0) return;
    uint32_t wrong = 0, checked = 0;
    const long long t0 = clock64();
    for (int kt = 0; kt < nkt; kt++) {
        const int s = kt % TL_STAGES;
        mbar_wait(bars + 8 * s, (kt / TL_STAGES) & 1);
        volatile uint32_t* sa = (volatile uint32_t*)(stages + s * TL_STAGE);
        volatile uint32_t* sb = (volatile uint32_t*)(stages + s * TL_STAGE + T_A_BYTES);
        const long long k = (long long)(kt0 + kt) * T_BK + row(kt);
        wrong += sa[tl_offset(row(kt), colA(kt)) / 4] != (uint32_t)((k * ldA + m0 + colA(kt)) / 2);
        wrong += sb[tl_offset(row(kt), colB(kt)) / 4] != (uint32_t)((k * ldB + n0 + colB(kt)) / 2);
        checked += 2;
        // Poison what k-tile kt + S will be checked at in this stage, so
        // that only its own load can make it right; the fence orders these
        // writes before the refill (the async proxy).
        poison(kt + TL_STAGES);
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        mbar_arrive(bars + 8 * (TL_STAGES + s));
    }
    const long long t1 = clock64();
    out[blockIdx.x] = ((unsigned long long)wrong << 32) | checked;
    peak_record(clocks, t0, t1);
}

#define PEAK_TILE_LOAD(name, WIDE)                                                                                   \
    extern "C" __global__ void __launch_bounds__(64, 1)                                                              \
        name(const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmB, int M, int N, int ldA, int ldB, \
             int nkt, int ahead, unsigned long long* __restrict__ out, long long* __restrict__ clocks) {             \
        peak_tile_load<WIDE>(&tmA, &tmB, M, N, ldA, ldB, nkt, ahead, out, clocks);                                   \
    }
PEAK_TILE_LOAD(peak_tile_load, false)
PEAK_TILE_LOAD(peak_tile_load_w, true)
