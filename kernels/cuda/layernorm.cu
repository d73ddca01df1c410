// layernorm.cu: LayerNorm forward and backward over rows of fp32 values.
//
// One warp per row; each lane keeps its share of the row in registers as
// V float4s (cols ≤ 128·V, cols a multiple of 4), so x is read once in the
// forward pass and x, dy once in the backward pass. Kernel names carry V:
// layernorm_fwd_<V>, layernorm_bwd_<V>, V ∈ {1,2,3,4,6,8} (cols up to 1024).
//
// Forward:  y = (x−mean)·rstd·gamma + beta, rstd = 1/sqrt(var+eps), biased
//           variance from a second pass over the registers (no E[x²]−E[x]²
//           cancellation). gamma, beta may be null. mean and rstd are saved.
// Backward: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·gamma.
//           dgamma = Σ dy·x̂ and dbeta = Σ dy over rows: every block keeps
//           per-lane sums in registers over the rows it visits (grid-stride),
//           folds its 8 warps in shared memory in a fixed order, and writes one
//           row of partials; layernorm_bwd_reduce then sums the partials per
//           column and adds them into dgamma/dbeta. No atomics, deterministic.
//
// x, y (forward) and dy, x, dx (backward) may each be fp32, fp16 or bf16: a
// dtype code per operand (dtype.cuh), read 4 elements at a time (8 bytes for
// fp16 and bf16; rows stay 8-byte aligned since cols is a multiple of 4). The
// statistics, gamma, beta and the dgamma/dbeta partials are fp32.
//
// The backward kernels declare __launch_bounds__(256, 1): with (256) alone
// ptxas 12.4 held layernorm_bwd_2 to 64 registers on sm_90 and spilled.
//
// Launch: block 256 (8 warps, 8 rows at a time). Forward grid ceil(rows/8);
// backward grid any P ≥ 1 (partials hold P·cols floats each);
// layernorm_bwd_reduce grid ceil(cols/32), block (32,16).

#include <stdint.h>

#include "dtype.cuh"

#define LN_WARPS 8

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <int V>
__device__ __forceinline__ void ln_fwd(void* __restrict__ y, int dty, float* __restrict__ mean,
                                       float* __restrict__ rstd, const void* __restrict__ x, int dtx,
                                       const float* __restrict__ gamma, const float* __restrict__ beta, int rows,
                                       int cols, float eps) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int row = blockIdx.x * LN_WARPS + warp;
    if (row >= rows) return;
    const int c4 = cols >> 2;
    const long long xr = (long long)row * cols;
    float4 v[V];
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < V; i++) {
        int idx = lane + i * 32;
        v[i] = idx < c4 ? ld4(x, dtx, xr + 4 * idx) : make_float4(0.f, 0.f, 0.f, 0.f);
        s += (v[i].x + v[i].y) + (v[i].z + v[i].w);
    }
    const float inv = 1.0f / (float)cols;
    const float mu = warp_sum(s) * inv;
    float ss = 0.f;
#pragma unroll
    for (int i = 0; i < V; i++) {
        int idx = lane + i * 32;
        if (idx < c4) {
            float a = v[i].x - mu, b = v[i].y - mu, c = v[i].z - mu, d = v[i].w - mu;
            ss += (a * a + b * b) + (c * c + d * d);
        }
    }
    const float rs = 1.0f / sqrtf(warp_sum(ss) * inv + eps);
#pragma unroll
    for (int i = 0; i < V; i++) {
        int idx = lane + i * 32;
        if (idx < c4) {
            float4 o = make_float4((v[i].x - mu) * rs, (v[i].y - mu) * rs, (v[i].z - mu) * rs, (v[i].w - mu) * rs);
            if (gamma) {
                float4 gm = ((const float4*)gamma)[idx];
                o.x *= gm.x; o.y *= gm.y; o.z *= gm.z; o.w *= gm.w;
            }
            if (beta) {
                float4 bt = ((const float4*)beta)[idx];
                o.x += bt.x; o.y += bt.y; o.z += bt.z; o.w += bt.w;
            }
            st4(y, dty, xr + 4 * idx, o);
        }
    }
    if (lane == 0) {
        mean[row] = mu;
        rstd[row] = rs;
    }
}

template <int V>
__device__ __forceinline__ void ln_bwd(void* __restrict__ dx, int dtdx, float* __restrict__ pgamma,
                                       float* __restrict__ pbeta, const void* __restrict__ dy, int dtdy,
                                       const void* __restrict__ x, int dtx, const float* __restrict__ gamma,
                                       const float* __restrict__ mean, const float* __restrict__ rstd, int rows,
                                       int cols) {
    __shared__ __align__(16) float sg[1024], sb[1024];  // read as float4
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int c4 = cols >> 2;
    const float inv = 1.0f / (float)cols;
    float4 ag[V], ab[V], gm[V];
#pragma unroll
    for (int i = 0; i < V; i++) {
        int idx = lane + i * 32;
        ag[i] = ab[i] = make_float4(0.f, 0.f, 0.f, 0.f);
        gm[i] = (gamma && idx < c4) ? ((const float4*)gamma)[idx] : make_float4(1.f, 1.f, 1.f, 1.f);
    }
    // With PF (rows of up to 384 columns) the next row's x, dy, mean and
    // rstd are loaded before this row's arithmetic, so that each warp keeps
    // two rows' loads in flight. With one row in flight a warp waited for
    // every load: 0.77× the copy bandwidth at 384 columns on an H100 (fifth
    // session), two blocks of 8 warps per SM at 96 registers. The prefetch
    // takes V = 3 to 127 registers, where two blocks still fit; wider rows
    // keep one row in flight (V = 4 would drop to one block per SM).
    constexpr bool PF = V <= 3;
    const int stride = gridDim.x * LN_WARPS;
    int row = blockIdx.x * LN_WARPS + warp;
    float4 nx[V], nd[V];  // the next row (PF only; unused otherwise)
#pragma unroll
    for (int i = 0; i < V; i++) nx[i] = nd[i] = make_float4(0.f, 0.f, 0.f, 0.f);
    float nmu = 0.f, nrs = 0.f;
    auto load = [&](int r) {
        const long long o = (long long)r * cols;
#pragma unroll
        for (int i = 0; i < V; i++) {
            int idx = lane + i * 32;
            if (idx < c4) {
                nx[i] = ld4(x, dtx, o + 4 * idx);
                nd[i] = ld4(dy, dtdy, o + 4 * idx);
            }
        }
        nmu = mean[r];
        nrs = rstd[r];
    };
    if constexpr (PF) {
        if (row < rows) load(row);
    }
    for (; row < rows; row += stride) {
        const long long ro = (long long)row * cols;
        float4 xh[V], d[V];
        float mu, rs;
        if constexpr (PF) {
            float4 cx[V];
#pragma unroll
            for (int i = 0; i < V; i++) cx[i] = nx[i], d[i] = nd[i];
            mu = nmu, rs = nrs;
            if (row + stride < rows) load(row + stride);
#pragma unroll
            for (int i = 0; i < V; i++) {
                int idx = lane + i * 32;
                if (idx < c4)
                    xh[i] = make_float4((cx[i].x - mu) * rs, (cx[i].y - mu) * rs, (cx[i].z - mu) * rs,
                                        (cx[i].w - mu) * rs);
                else
                    d[i] = xh[i] = make_float4(0.f, 0.f, 0.f, 0.f);
            }
        } else {
            mu = mean[row], rs = rstd[row];
#pragma unroll
            for (int i = 0; i < V; i++) {
                int idx = lane + i * 32;
                if (idx < c4) {
                    float4 xv = ld4(x, dtx, ro + 4 * idx);
                    d[i] = ld4(dy, dtdy, ro + 4 * idx);
                    xh[i] = make_float4((xv.x - mu) * rs, (xv.y - mu) * rs, (xv.z - mu) * rs, (xv.w - mu) * rs);
                } else {
                    d[i] = xh[i] = make_float4(0.f, 0.f, 0.f, 0.f);
                }
            }
        }
        float s1 = 0.f, s2 = 0.f;
#pragma unroll
        for (int i = 0; i < V; i++) {
            float gx = d[i].x * gm[i].x, gy = d[i].y * gm[i].y, gz = d[i].z * gm[i].z, gw = d[i].w * gm[i].w;
            s1 += (gx + gy) + (gz + gw);
            s2 += (gx * xh[i].x + gy * xh[i].y) + (gz * xh[i].z + gw * xh[i].w);
            ag[i].x += d[i].x * xh[i].x; ag[i].y += d[i].y * xh[i].y;
            ag[i].z += d[i].z * xh[i].z; ag[i].w += d[i].w * xh[i].w;
            ab[i].x += d[i].x; ab[i].y += d[i].y; ab[i].z += d[i].z; ab[i].w += d[i].w;
        }
        const float m1 = warp_sum(s1) * inv, m2 = warp_sum(s2) * inv;
#pragma unroll
        for (int i = 0; i < V; i++) {
            int idx = lane + i * 32;
            if (idx < c4) {
                float4 o;
                o.x = rs * (d[i].x * gm[i].x - m1 - xh[i].x * m2);
                o.y = rs * (d[i].y * gm[i].y - m1 - xh[i].y * m2);
                o.z = rs * (d[i].z * gm[i].z - m1 - xh[i].z * m2);
                o.w = rs * (d[i].w * gm[i].w - m1 - xh[i].w * m2);
                st4(dx, dtdx, ro + 4 * idx, o);
            }
        }
    }
    if (!pgamma && !pbeta) return;
    // Fold the 8 warps' column sums in a fixed order.
    for (int w = 0; w < LN_WARPS; w++) {
        if (warp == w) {
#pragma unroll
            for (int i = 0; i < V; i++) {
                int idx = lane + i * 32;
                if (idx < c4) {
                    float4* g4 = (float4*)sg + idx;
                    float4* b4 = (float4*)sb + idx;
                    if (w == 0) {
                        *g4 = ag[i];
                        *b4 = ab[i];
                    } else {
                        float4 a = *g4, b = *b4;
                        a.x += ag[i].x; a.y += ag[i].y; a.z += ag[i].z; a.w += ag[i].w;
                        b.x += ab[i].x; b.y += ab[i].y; b.z += ab[i].z; b.w += ab[i].w;
                        *g4 = a;
                        *b4 = b;
                    }
                }
            }
        }
        __syncthreads();
    }
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        if (pgamma) pgamma[(size_t)blockIdx.x * cols + c] = sg[c];
        if (pbeta) pbeta[(size_t)blockIdx.x * cols + c] = sb[c];
    }
}

#define LN_KERNELS(V)                                                                                              \
    extern "C" __global__ void __launch_bounds__(256) layernorm_fwd_##V(                                          \
        void* y, int dty, float* mean, float* rstd, const void* x, int dtx, const float* gamma, const float* beta, \
        int rows, int cols, float eps) {                                                                           \
        ln_fwd<V>(y, dty, mean, rstd, x, dtx, gamma, beta, rows, cols, eps);                                       \
    }                                                                                                              \
    extern "C" __global__ void __launch_bounds__(256, 1) layernorm_bwd_##V(                                       \
        void* dx, int dtdx, float* pgamma, float* pbeta, const void* dy, int dtdy, const void* x, int dtx,         \
        const float* gamma, const float* mean, const float* rstd, int rows, int cols) {                            \
        ln_bwd<V>(dx, dtdx, pgamma, pbeta, dy, dtdy, x, dtx, gamma, mean, rstd, rows, cols);                       \
    }

LN_KERNELS(1)
LN_KERNELS(2)
LN_KERNELS(3)
LN_KERNELS(4)
LN_KERNELS(6)
LN_KERNELS(8)

// layernorm_bwd_reduce adds Σ_p partial[p][c] into out[c] for dgamma and
// dbeta (either pair may be null). Block (32,16): 32 columns, 16 row lanes.
extern "C" __global__ void __launch_bounds__(512) layernorm_bwd_reduce(float* dgamma, float* dbeta,
                                                                        const float* pgamma, const float* pbeta,
                                                                        int parts, int cols) {
    __shared__ float sg[16][33], sb[16][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    float g = 0.f, b = 0.f;
    if (c < cols) {
        for (int p = threadIdx.y; p < parts; p += 16) {
            if (pgamma) g += pgamma[(size_t)p * cols + c];
            if (pbeta) b += pbeta[(size_t)p * cols + c];
        }
    }
    sg[threadIdx.y][threadIdx.x] = g;
    sb[threadIdx.y][threadIdx.x] = b;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        for (int i = 1; i < 16; i++) {
            g += sg[i][threadIdx.x];
            b += sb[i][threadIdx.x];
        }
        if (dgamma) dgamma[c] += g;
        if (dbeta) dbeta[c] += b;
    }
}
