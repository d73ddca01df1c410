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
