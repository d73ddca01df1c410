// peak.cuh: what the peak probes (peak.cu and peak_sm90a.cu, the tensor
// cores; peak_bw_sm90a.cu, the TMA unit's loads) share: each block's record
// of its clock span and its SM, which the host reads to check the layout
// (every SM, the intended blocks per SM) and to count FLOPs or bytes per SM
// per clock.
#pragma once

#include <stdint.h>

__device__ __forceinline__ uint32_t smid() {
    uint32_t r;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(r));
    return r;
}

// peak_record stores block blockIdx.x's clock span [t0, t1] and its SM as
// clocks[3·block .. 3·block+2] (thread 0 only).
__device__ __forceinline__ void peak_record(long long* __restrict__ clocks, long long t0, long long t1) {
    if (threadIdx.x == 0) {
        clocks[3 * blockIdx.x] = t0;
        clocks[3 * blockIdx.x + 1] = t1;
        clocks[3 * blockIdx.x + 2] = smid();
    }
}
