// peak.cu: a probe of the tensor cores' peak rate through mma.sync (sm_80
// and later), the instruction our GEMM, attention and split-K kernels are
// built on. It measures the ceiling those kernels can reach, not a useful
// product: no memory is touched inside the loop.
//
//   peak_mma_f16(out, clocks, iters)    mma.sync.m16n8k16.row.col.f32.f16.f16.f32
//   peak_mma_bf16(out, clocks, iters)   the same on bf16 operands
//
// Every warp keeps PEAK_CHAINS independent accumulators (4 fp32 registers
// each) and, iters times, issues one mma per chain, each chain's mma
// depending only on its own previous one: PEAK_CHAINS mmas of a warp are in
// flight at once, and with PEAK_THREADS/32 warps per block and (the Go side
// launches) two blocks per SM, four warps per SM sub-partition share its
// tensor core, 32 chains in all, well past what covers the instruction's
// latency (about 30 cycles) at its issue interval (a few cycles).
//
// The A and B fragments hold 1.0 in every half (fp16 0x3C00, bf16 0x3F80),
// so each mma adds 16 (the k depth) to every accumulator element: after the
// loop every value of out is exactly 16·iters (exact in fp32 while below
// 2^24), which the GPU test checks, so that a probe that silently did
// nothing (or less) cannot pass. The fragments come in through the one
// parameter, so that nothing is a compile-time constant.
//
// Layout: block b writes its PEAK_THREADS·PEAK_CHAINS·4 accumulators at
// out[b·PEAK_THREADS·PEAK_CHAINS·4 ...] (thread-major), and thread 0 writes
// clocks[3b .. 3b+2] = {clock64 at start, clock64 at end, SM id}. Blocks on
// one SM share its clock counter, so the span from the earliest start to the
// latest end on an SM is the cycles that SM spent; FLOPs per SM per clock
// follow with 2·16·8·16 = 4096 FLOPs per mma.

#include <stdint.h>

#include "mma_sm80.cuh"
#include "peak.cuh"

#define PEAK_THREADS 256
#define PEAK_CHAINS 8

// peak_mma is the probe's body: the mma.sync of mma_sm80.cuh (the very
// instruction the GEMM kernels issue) on T operands; one2 is a pair of 1.0
// halves of T.
template <typename T>
__device__ __forceinline__ void peak_mma(float* __restrict__ out, long long* __restrict__ clocks, int iters,
                                         uint32_t one2) {
    const uint32_t a[4] = {one2, one2, one2, one2};
    const uint32_t b[2] = {one2, one2};
    float d[PEAK_CHAINS][4];
#pragma unroll
    for (int c = 0; c < PEAK_CHAINS; c++) d[c][0] = d[c][1] = d[c][2] = d[c][3] = 0.f;

    __syncthreads();
    const long long t0 = clock64();
    for (int i = 0; i < iters; i++) {
#pragma unroll
        for (int c = 0; c < PEAK_CHAINS; c++) mma16816<T>(d[c], a, b[0], b[1]);
    }
    __syncthreads();  // the block's end: its slowest warp
    const long long t1 = clock64();

    float* o = out + ((size_t)blockIdx.x * PEAK_THREADS + threadIdx.x) * PEAK_CHAINS * 4;
#pragma unroll
    for (int c = 0; c < PEAK_CHAINS; c++)
        *(float4*)(o + 4 * c) = make_float4(d[c][0], d[c][1], d[c][2], d[c][3]);
    peak_record(clocks, t0, t1);
}

// one2 is passed by the caller (0x3C003C00 for fp16, 0x3F803F80 for bf16)
// rather than written here, so the compiler cannot fold the operands.
extern "C" __global__ void __launch_bounds__(PEAK_THREADS)
    peak_mma_f16(float* __restrict__ out, long long* __restrict__ clocks, int iters, uint32_t one2) {
    peak_mma<half>(out, clocks, iters, one2);
}

extern "C" __global__ void __launch_bounds__(PEAK_THREADS)
    peak_mma_bf16(float* __restrict__ out, long long* __restrict__ clocks, int iters, uint32_t one2) {
    peak_mma<bf16>(out, clocks, iters, one2);
}

// peak_mma_ldsm_f16 and peak_mma_ldsm_fill_f16 probe mma.sync fed from
// shared memory as the GEMM kernels feed it (gemm_f16's 128×256 kernel,
// gemm_mma4, gemm_mma_tma_sm90a): 8 warps, one block an SM, each warp a
// 64×64 tile of C, 32 chains of 4 accumulators a thread. Every iteration is
// one k16 step: the warp's A fragments (4 ldmatrix.x4, 64 rows × 16 k) and
// B fragments (4 ldmatrix.x4, 64 columns × 16 k) for the next step are read
// while the 32 mma of this one run, from double-buffered registers: 128
// bytes of shared-memory reads per mma. The tiles are 128 rows of 80 bytes
// (32 k halves and 16 bytes of padding, gemm_f16's k-contiguous layout, in
// which an 8×8 matrix's eight rows fall in eight distinct groups of four
// banks), filled with 1.0, so each mma again adds 16 to its accumulators.
//
// The _fill kernels also write 64 bytes of shared memory per mma (four
// 16-byte stores a thread an iteration), the traffic of the cp.async or TMA
// copies into a stage (48 bytes per mma for a 128×256 stage, 64 for
// 128×128). Shared memory serves 128 bytes a clock, one "wavefront"; a
// 16-byte store is served eight threads at a time, in one wavefront when
// those eight threads' 16-byte pieces fall in distinct groups of four banks.
// So 32 mma of a warp cost 32 wavefronts of ldmatrix (conflict-free) and
// 16 of stores: 1.5 a mma, a bound of 4096 / 1.5 = 2731 FLOP per SM per
// clock, about mma.sync's own peak (2661).
//
//   peak_mma_ldsm_fill_f16: store q of thread t at scratch byte
//     4096·q + 16·t: eight consecutive threads cover 128 consecutive bytes,
//     one wavefront each (as cp.async's 16-byte chunks of a padded row, or a
//     TMA box, land).
//   peak_mma_ldsm_fill4_f16: store q of thread t at byte 64·t + 16·q, the
//     pattern this probe had until the twelfth session: eight consecutive
//     threads hit only two groups of four banks, four threads each, so each
//     store takes four times the wavefronts: 32 + 64 = 96 a warp's 32 mma,
//     3 a mma, a bound of 1365 FLOP per SM per clock. The eleventh session
//     measured 1362 and read it, wrongly, as the ceiling of an mma.sync GEMM
//     with 64×64 warp tiles; this control says whether that reading of the
//     bank conflict holds (expect ≈ 1365, and ≈ 2600 for _fill).
//
// Against peak_mma_f16 they say whether an H100's shared memory, not its
// tensor cores, bounds an mma.sync GEMM with 64×64 warp tiles; with
// peak_mma_f16 on one block an SM (8 warps) they separate that from
// occupancy.
#define LDSM_THREADS 256
#define LDSM_ROW 80                                // bytes per tile row
#define LDSM_TILE (128 * LDSM_ROW)                 // one operand tile
#define LDSM_SCRATCH (LDSM_THREADS * 64)           // the _fill stores

// FILL: 0 no stores, 1 conflict-free stores, 4 the four-way conflicted ones.
template <typename T, int FILL>
__device__ __forceinline__ void peak_mma_ldsm(float* __restrict__ out, long long* __restrict__ clocks, int iters,
                                              uint32_t one2) {
    extern __shared__ __align__(16) unsigned char smem_ldsm[];
    uint32_t* s32 = (uint32_t*)smem_ldsm;
    for (int i = threadIdx.x; i < 2 * LDSM_TILE / 4; i += LDSM_THREADS) s32[i] = one2;
    __syncthreads();
    const uint32_t sA = smem_u32(smem_ldsm), sB = sA + LDSM_TILE, sF = sB + LDSM_TILE + threadIdx.x * (FILL == 4 ? 64 : 16);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    // Warp (wm, wn) of a 2×4 grid: A rows 64·wm on; B rows 64·(wn mod 2) on
    // (the 128-row tile stands for the block's 256 columns).
    const uint32_t aRow = sA + ((warp >> 2) * 64 + (lane & 15)) * LDSM_ROW + (lane >> 4) * 16;
    const uint32_t bRow = sB + ((warp & 1) * 64 + (lane & 7) + ((lane >> 4) << 3)) * LDSM_ROW + ((lane >> 3) & 1) * 16;
    uint32_t a[2][4][4], b[2][8][2];
    float d[32][4];
#pragma unroll
    for (int c = 0; c < 32; c++) d[c][0] = d[c][1] = d[c][2] = d[c][3] = 0.f;
    // load(f, kk): the fragments of k16 step kk (0 or 1 of the row's 32 k)
    // into buffer f.
    auto load = [&](int f, int kk) {
#pragma unroll
        for (int i = 0; i < 4; i++) ldsm_x4(a[f][i][0], a[f][i][1], a[f][i][2], a[f][i][3], aRow + i * 16 * LDSM_ROW + kk * 32);
#pragma unroll
        for (int j = 0; j < 4; j++)
            ldsm_x4(b[f][2 * j][0], b[f][2 * j][1], b[f][2 * j + 1][0], b[f][2 * j + 1][1], bRow + j * 16 * LDSM_ROW + kk * 32);
    };
    auto step = [&](int f) {
        if (FILL) {
#pragma unroll
            for (int q = 0; q < 4; q++)
                asm volatile("st.shared.v4.b32 [%0], {%1, %1, %1, %1};\n" ::"r"(sF + (FILL == 4 ? 16 : 16 * LDSM_THREADS) * q),
                             "r"(one2)
                             : "memory");
        }
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 8; j++) mma16816<T>(d[8 * i + j], a[f][i], b[f][j][0], b[f][j][1]);
    };
    load(0, 0);
    __syncthreads();
    const long long t0 = clock64();
    // Two steps an iteration of this loop, so that the buffers are indexed
    // by constants (registers, not local memory); an odd count ends with
    // one step on buffer 0, which the last load(0, 0) filled.
    int it = 0;
    for (; it + 2 <= iters; it += 2) {
        load(1, 1);
        step(0);
        load(0, 0);
        step(1);
    }
    if (it < iters) step(0);
    __syncthreads();
    const long long t1 = clock64();

    float* o = out + ((size_t)blockIdx.x * LDSM_THREADS + threadIdx.x) * 32 * 4;
#pragma unroll
    for (int c = 0; c < 32; c++) *(float4*)(o + 4 * c) = make_float4(d[c][0], d[c][1], d[c][2], d[c][3]);
    peak_record(clocks, t0, t1);
}

extern "C" __global__ void __launch_bounds__(LDSM_THREADS, 1)
    peak_mma_ldsm_f16(float* __restrict__ out, long long* __restrict__ clocks, int iters, uint32_t one2) {
    peak_mma_ldsm<half, 0>(out, clocks, iters, one2);
}

extern "C" __global__ void __launch_bounds__(LDSM_THREADS, 1)
    peak_mma_ldsm_fill_f16(float* __restrict__ out, long long* __restrict__ clocks, int iters, uint32_t one2) {
    peak_mma_ldsm<half, 1>(out, clocks, iters, one2);
}

extern "C" __global__ void __launch_bounds__(LDSM_THREADS, 1)
    peak_mma_ldsm_fill4_f16(float* __restrict__ out, long long* __restrict__ clocks, int iters, uint32_t one2) {
    peak_mma_ldsm<half, 4>(out, clocks, iters, one2);
}
