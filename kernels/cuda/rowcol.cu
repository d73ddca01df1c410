// rowcol.cu: the reductions of the CUDA backend (engine/cuda Backend), all
// in fp32 and all deterministic (fixed reduction trees, no atomics):
//
//   sum_rows_part / sum_rows_final   column sums (bias gradients) in two stages
//   sum_rows_vec                     the same, four columns a thread
//   sum_all_part / sum_final         the sum of a whole buffer in two stages
//   bn_fwd / bn_bwd                  BatchNorm1d over the rows of each column
//   softmax_fwd / softmax_bwd        per row
//   l2n_fwd / l2n_bwd                per row
//   ce_fwd                           softmax cross-entropy per row (loss + dlogits)
//   ln_fwd_any / ln_bwd_any / ln_bwd_cols  LayerNorm for any width (the fast
//                                    kernels in layernorm.cu take multiples of 4
//                                    up to 1024)
//   attn32_fwd / attn32_bwd_dq / attn32_bwd_dkdv  a plain fp32 attention for
//                                    head dims the flash kernels lack
//   sumsq_part / sumsq_final         Σ x² of a whole buffer (fp64 sums)
//   sumsq_multi                      the same over many buffers at once
//
// The sources of sum_rows, ln_*_any, ln_bwd_cols and sumsq may be fp32,
// fp16 or bf16 (a dtype code per operand, dtype.cuh), as may ln_*_any's y
// and dx and sumsq_final's dst;
// statistics and partial sums are fp32 (fp64 for sumsq).
//
// Row kernels: one block of 256 threads per row (grid = rows). Column
// kernels: block (32, 8), 32 columns per block, the 8 thread rows striding
// over the rows; partial sums folded in shared memory in a fixed order.

#include <stdint.h>

#include "dtype.cuh"

typedef long long i64;

#define NT 256

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// block_sum over NT threads; every thread gets the result. sh holds 32 floats.
__device__ __forceinline__ float block_sum(float v, float* sh) {
    v = warp_sum(v);
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    float t = lane < (blockDim.x >> 5) ? sh[lane] : 0.f;
    return warp_sum(t);
}

__device__ __forceinline__ float block_max(float v, float* sh) {
    v = warp_max(v);
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    float t = lane < (blockDim.x >> 5) ? sh[lane] : -INFINITY;
    return warp_max(t);
}

// ---- column sums ----

// sum_rows_part: block (32,8) at (blockIdx.x: 32 columns, blockIdx.y: a chunk
// of rows). With gridDim.y == 1 it writes dst = beta·dst + Σ directly
// (beta == 0: dst not read); otherwise the partial of chunk y goes to
// part[y·cols + c].
extern "C" __global__ void sum_rows_part(float* __restrict__ dst, float* __restrict__ part,
                                         const void* __restrict__ src, int dts, int rows, int cols, int chunk,
                                         float beta) {
    __shared__ float sh[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    const int r0 = blockIdx.y * chunk, r1 = min(rows, r0 + chunk);
    float s = 0.f;
    if (c < cols)
        for (int r = r0 + threadIdx.y; r < r1; r += 8) s += ld1(src, dts, (i64)r * cols + c);
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        float t = 0.f;
#pragma unroll
        for (int k = 0; k < 8; k++) t += sh[k][threadIdx.x];
        if (gridDim.y == 1) dst[c] = beta == 0.f ? t : beta * dst[c] + t;
        else part[(i64)blockIdx.y * cols + c] = t;
    }
}

// sum_rows_vec is sum_rows_part with four columns a thread, read by one
// 16-byte (fp32) or 8-byte (fp16, bf16) load: block (32, 8) at 128 columns,
// its eight thread rows striding over the chunk's rows, four loads in
// flight each. cols must be a multiple of 4 and src 16-byte aligned. The
// partials have the same layout (part[y·cols + c]); the host folds them
// with sum_rows_vec again, on part as an fp32 [parts, cols] matrix with
// gridDim.y == 1. (sum_rows_part's 2-byte loads, a warp reading 64 bytes of
// a row at a time, summed the ViT-S/16 bias gradients at 1.1 TB/s on an
// H100.)
extern "C" __global__ void sum_rows_vec(float* __restrict__ dst, float* __restrict__ part,
                                        const void* __restrict__ src, int dts, int rows, int cols, int chunk,
                                        float beta) {
    __shared__ float4 sh[8][32];
    const int c = (blockIdx.x * 32 + threadIdx.x) * 4;
    const int r0 = blockIdx.y * chunk, r1 = min(rows, r0 + chunk);
    float4 s = make_float4(0.f, 0.f, 0.f, 0.f);
    if (c < cols) {
#pragma unroll 4
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            const float4 v = ld4(src, dts, (i64)r * cols + c);
            s.x += v.x;
            s.y += v.y;
            s.z += v.z;
            s.w += v.w;
        }
    }
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        float4 t = sh[0][threadIdx.x];
#pragma unroll
        for (int k = 1; k < 8; k++) {
            const float4 u = sh[k][threadIdx.x];
            t.x += u.x;
            t.y += u.y;
            t.z += u.z;
            t.w += u.w;
        }
        if (gridDim.y == 1) {
            float* d = dst + c;
            if (beta == 0.f) {
                d[0] = t.x, d[1] = t.y, d[2] = t.z, d[3] = t.w;
            } else {
                d[0] = beta * d[0] + t.x, d[1] = beta * d[1] + t.y;
                d[2] = beta * d[2] + t.z, d[3] = beta * d[3] + t.w;
            }
        } else {
            *(float4*)(part + (i64)blockIdx.y * cols + c) = t;
        }
    }
}

// sum_rows_final: dst[c] = beta·dst[c] + Σ_p part[p·cols + c], in order.
extern "C" __global__ void sum_rows_final(float* __restrict__ dst, const float* __restrict__ part, int parts,
                                          int cols, float beta) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float t = 0.f;
    for (int p = 0; p < parts; p++) t += part[(i64)p * cols + c];
    dst[c] = beta == 0.f ? t : beta * dst[c] + t;
}

// ---- whole-buffer sums ----

// sum_all_part: each block sums its grid-stride share into part[blockIdx.x].
extern "C" __global__ void sum_all_part(float* __restrict__ part, const float* __restrict__ src, i64 n) {
    __shared__ float sh[32];
    const i64 n4 = n >> 2, stride = (i64)gridDim.x * NT;
    float s = 0.f;
    for (i64 i = (i64)blockIdx.x * NT + threadIdx.x; i < n4; i += stride) {
        float4 v = ((const float4*)src)[i];
        s += (v.x + v.y) + (v.z + v.w);
    }
    for (i64 i = (n & ~(i64)3) + (i64)blockIdx.x * NT + threadIdx.x; i < n; i += stride) s += src[i];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// sum_final: one block; dst[0] = scale·Σ part[0..n).
extern "C" __global__ void sum_final(float* __restrict__ dst, const float* __restrict__ part, int n, float scale) {
    __shared__ float sh[32];
    float s = 0.f;
    for (int i = threadIdx.x; i < n; i += NT) s += part[i];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) dst[0] = scale * s;
}

// ---- BatchNorm1d over [rows, cols], statistics per column ----

// bn_fwd: block (32,8), 32 columns per block. training: batch mean and
// biased variance (two passes), saved as mean/rstd, running stats updated
// with the unbiased variance when runMean is not null; eval: running stats.
extern "C" __global__ void bn_fwd(float* __restrict__ y, float* __restrict__ mean, float* __restrict__ rstd,
                                  const float* __restrict__ x, const float* __restrict__ gamma,
                                  const float* __restrict__ beta, float* __restrict__ runMean,
                                  float* __restrict__ runVar, int rows, int cols, int training, float momentum,
                                  float eps) {
    __shared__ float sh[8][33];
    __shared__ float smu[32], srs[32];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int c = blockIdx.x * 32 + tx;
    const bool ok = c < cols;
    if (training) {
        float s = 0.f;
        if (ok)
            for (int r = ty; r < rows; r += 8) s += x[(i64)r * cols + c];
        sh[ty][tx] = s;
        __syncthreads();
        if (ty == 0) {
            float t = 0.f;
#pragma unroll
            for (int k = 0; k < 8; k++) t += sh[k][tx];
            smu[tx] = t / (float)rows;
        }
        __syncthreads();
        const float mu = smu[tx];
        float v = 0.f;
        if (ok)
            for (int r = ty; r < rows; r += 8) {
                float d = x[(i64)r * cols + c] - mu;
                v += d * d;
            }
        sh[ty][tx] = v;
        __syncthreads();
        if (ty == 0) {
            float t = 0.f;
#pragma unroll
            for (int k = 0; k < 8; k++) t += sh[k][tx];
            float rs = rsqrtf(t / (float)rows + eps);
            srs[tx] = rs;
            if (ok) {
                mean[c] = mu;
                rstd[c] = rs;
                if (runMean) {
                    runMean[c] = (1.f - momentum) * runMean[c] + momentum * mu;
                    runVar[c] = (1.f - momentum) * runVar[c] + momentum * t / (float)(rows - 1);
                }
            }
        }
    } else if (ty == 0) {
        float mu = ok ? runMean[c] : 0.f, rs = ok ? rsqrtf(runVar[c] + eps) : 0.f;
        smu[tx] = mu;
        srs[tx] = rs;
        if (ok) {
            mean[c] = mu;
            rstd[c] = rs;
        }
    }
    __syncthreads();
    if (!ok) return;
    const float mu = smu[tx], rs = srs[tx];
    const float g = gamma ? gamma[c] : 1.f, b = beta ? beta[c] : 0.f;
    for (int r = ty; r < rows; r += 8) {
        i64 p = (i64)r * cols + c;
        y[p] = (x[p] - mu) * rs * g + b;
    }
}

// bn_bwd: training-mode gradient. dx = rs·(d − mean(d) − x̂·mean(d·x̂)) with
// d = dy·gamma; dgamma += Σ dy·x̂, dbeta += Σ dy (null: skipped).
extern "C" __global__ void bn_bwd(float* __restrict__ dx, float* __restrict__ dgamma, float* __restrict__ dbeta,
                                  const float* __restrict__ dy, const float* __restrict__ x,
                                  const float* __restrict__ gamma, const float* __restrict__ mean,
                                  const float* __restrict__ rstd, int rows, int cols) {
    __shared__ float s1[8][33], s2[8][33];
    __shared__ float ssg[32], ssgx[32];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int c = blockIdx.x * 32 + tx;
    const bool ok = c < cols;
    const float mu = ok ? mean[c] : 0.f, rs = ok ? rstd[c] : 0.f;
    const float g = (ok && gamma) ? gamma[c] : 1.f;
    float sdy = 0.f, sdyx = 0.f;
    if (ok)
        for (int r = ty; r < rows; r += 8) {
            i64 p = (i64)r * cols + c;
            float d = dy[p], xh = (x[p] - mu) * rs;
            sdy += d;
            sdyx += d * xh;
        }
    s1[ty][tx] = sdy;
    s2[ty][tx] = sdyx;
    __syncthreads();
    if (ty == 0) {
        float a = 0.f, b = 0.f;
#pragma unroll
        for (int k = 0; k < 8; k++) {
            a += s1[k][tx];
            b += s2[k][tx];
        }
        if (ok) {
            if (dgamma) dgamma[c] += b;
            if (dbeta) dbeta[c] += a;
        }
        ssg[tx] = a * g / (float)rows;
        ssgx[tx] = b * g / (float)rows;
    }
    __syncthreads();
    if (!ok) return;
    const float sg = ssg[tx], sgx = ssgx[tx];
    for (int r = ty; r < rows; r += 8) {
        i64 p = (i64)r * cols + c;
        float xh = (x[p] - mu) * rs;
        dx[p] = rs * (dy[p] * g - sg - xh * sgx);
    }
}

// ---- row kernels: one block of NT threads per row ----

extern "C" __global__ void softmax_fwd(float* __restrict__ y, const float* __restrict__ x, int cols) {
    __shared__ float sh[32];
    const float* xr = x + (i64)blockIdx.x * cols;
    float* yr = y + (i64)blockIdx.x * cols;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < cols; j += NT) m = fmaxf(m, xr[j]);
    m = block_max(m, sh);
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += NT) s += expf(xr[j] - m);
    s = block_sum(s, sh);
    const float inv = 1.f / s;
    for (int j = threadIdx.x; j < cols; j += NT) yr[j] = expf(xr[j] - m) * inv;
}

extern "C" __global__ void softmax_bwd(float* __restrict__ dx, const float* __restrict__ y,
                                       const float* __restrict__ dy, int cols) {
    __shared__ float sh[32];
    const i64 o = (i64)blockIdx.x * cols;
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += NT) s += y[o + j] * dy[o + j];
    s = block_sum(s, sh);
    for (int j = threadIdx.x; j < cols; j += NT) dx[o + j] = y[o + j] * (dy[o + j] - s);
}

// l2n_fwd: y = x/max(‖x‖, eps), norm = the clamped norm.
extern "C" __global__ void l2n_fwd(float* __restrict__ y, float* __restrict__ norm, const float* __restrict__ x,
                                   int cols, float eps) {
    __shared__ float sh[32];
    const i64 o = (i64)blockIdx.x * cols;
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += NT) s += x[o + j] * x[o + j];
    s = block_sum(s, sh);
    const float n = fmaxf(sqrtf(s), eps), inv = 1.f / n;
    if (threadIdx.x == 0) norm[blockIdx.x] = n;
    for (int j = threadIdx.x; j < cols; j += NT) y[o + j] = x[o + j] * inv;
}

// l2n_bwd: dx = (dy − y·⟨y,dy⟩)/n, or dy/n where the norm was clamped (‖y‖ < 1).
extern "C" __global__ void l2n_bwd(float* __restrict__ dx, const float* __restrict__ dy, const float* __restrict__ y,
                                   const float* __restrict__ norm, int cols) {
    __shared__ float sh[32];
    const i64 o = (i64)blockIdx.x * cols;
    float d = 0.f, q = 0.f;
    for (int j = threadIdx.x; j < cols; j += NT) {
        d += y[o + j] * dy[o + j];
        q += y[o + j] * y[o + j];
    }
    d = block_sum(d, sh);
    q = block_sum(q, sh);
    if (q < 1.f - 1e-3f) d = 0.f;
    const float inv = 1.f / norm[blockIdx.x];
    for (int j = threadIdx.x; j < cols; j += NT) dx[o + j] = (dy[o + j] - y[o + j] * d) * inv;
}

// ce_fwd: per row, rowLoss[r] = lse − x[label] and dl = (softmax − onehot)·invRows.
extern "C" __global__ void ce_fwd(float* __restrict__ rowLoss, float* __restrict__ dl, const float* __restrict__ x,
                                  const int* __restrict__ labels, int cols, float invRows) {
    __shared__ float sh[32];
    const i64 o = (i64)blockIdx.x * cols;
    const int lab = labels[blockIdx.x];
    float m = -INFINITY;
    for (int j = threadIdx.x; j < cols; j += NT) m = fmaxf(m, x[o + j]);
    m = block_max(m, sh);
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += NT) s += expf(x[o + j] - m);
    s = block_sum(s, sh);
    const float lse = m + logf(s);
    if (threadIdx.x == 0) rowLoss[blockIdx.x] = lse - x[o + lab];
    for (int j = threadIdx.x; j < cols; j += NT) {
        float g = expf(x[o + j] - lse);
        if (j == lab) g -= 1.f;
        dl[o + j] = g * invRows;
    }
}

// ln_fwd_any: LayerNorm of one row per block, any width (two passes).
extern "C" __global__ void ln_fwd_any(void* __restrict__ y, int dty, float* __restrict__ mean,
                                      float* __restrict__ rstd, const void* __restrict__ x, int dtx,
                                      const float* __restrict__ gamma, const float* __restrict__ beta, int cols,
                                      float eps) {
    __shared__ float sh[32];
    const i64 o = (i64)blockIdx.x * cols;
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += NT) s += ld1(x, dtx, o + j);
    const float mu = block_sum(s, sh) / (float)cols;
    float v = 0.f;
    for (int j = threadIdx.x; j < cols; j += NT) {
        float d = ld1(x, dtx, o + j) - mu;
        v += d * d;
    }
    const float rs = rsqrtf(block_sum(v, sh) / (float)cols + eps);
    if (threadIdx.x == 0) {
        mean[blockIdx.x] = mu;
        rstd[blockIdx.x] = rs;
    }
    for (int j = threadIdx.x; j < cols; j += NT) {
        float t = (ld1(x, dtx, o + j) - mu) * rs;
        if (gamma) t *= gamma[j];
        if (beta) t += beta[j];
        st1(y, dty, o + j, t);
    }
}

// ln_bwd_any: dx of one row per block: rs·(g − mean(g) − x̂·mean(g·x̂)), g = dy·gamma.
extern "C" __global__ void ln_bwd_any(void* __restrict__ dx, int dtdx, const void* __restrict__ dy, int dtdy,
                                      const void* __restrict__ x, int dtx, const float* __restrict__ gamma,
                                      const float* __restrict__ mean, const float* __restrict__ rstd, int cols) {
    __shared__ float sh[32];
    const i64 o = (i64)blockIdx.x * cols;
    const float mu = mean[blockIdx.x], rs = rstd[blockIdx.x];
    float a = 0.f, b = 0.f;
    for (int j = threadIdx.x; j < cols; j += NT) {
        float g = ld1(dy, dtdy, o + j) * (gamma ? gamma[j] : 1.f);
        a += g;
        b += g * (ld1(x, dtx, o + j) - mu) * rs;
    }
    a = block_sum(a, sh) / (float)cols;
    b = block_sum(b, sh) / (float)cols;
    for (int j = threadIdx.x; j < cols; j += NT) {
        float g = ld1(dy, dtdy, o + j) * (gamma ? gamma[j] : 1.f);
        st1(dx, dtdx, o + j, rs * (g - a - (ld1(x, dtx, o + j) - mu) * rs * b));
    }
}

// ln_bwd_cols: block (32,8); dgamma[c] += Σ_r dy·x̂, dbeta[c] += Σ_r dy.
extern "C" __global__ void ln_bwd_cols(float* __restrict__ dgamma, float* __restrict__ dbeta,
                                       const void* __restrict__ dy, int dtdy, const void* __restrict__ x, int dtx,
                                       const float* __restrict__ mean, const float* __restrict__ rstd, int rows,
                                       int cols) {
    __shared__ float s1[8][33], s2[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int c = blockIdx.x * 32 + tx;
    float a = 0.f, b = 0.f;
    if (c < cols)
        for (int r = ty; r < rows; r += 8) {
            i64 p = (i64)r * cols + c;
            float d = ld1(dy, dtdy, p);
            a += d;
            b += d * (ld1(x, dtx, p) - mean[r]) * rstd[r];
        }
    s1[ty][tx] = a;
    s2[ty][tx] = b;
    __syncthreads();
    if (ty == 0 && c < cols) {
        float ta = 0.f, tb = 0.f;
#pragma unroll
        for (int k = 0; k < 8; k++) {
            ta += s1[k][tx];
            tb += s2[k][tx];
        }
        if (dgamma) dgamma[c] += tb;
        if (dbeta) dbeta[c] += ta;
    }
}

// ---- plain fp32 attention on the qkv layout [B, N, 3, H, D] ----
// grid (N, B·H), block NT, dynamic shared memory 2·N + D floats.

// attn32_fwd: one query row per block.
extern "C" __global__ void attn32_fwd(float* __restrict__ out, float* __restrict__ lse,
                                      const float* __restrict__ qkv, int N, int H, int D, float scale) {
    extern __shared__ float sm[];
    __shared__ float sh[32];
    float* p = sm;          // N scores
    float* q = sm + 2 * N;  // D
    const int i = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H;
    const i64 row = (i64)3 * H * D;
    const float* base = qkv + (i64)b * N * row;
    for (int d = threadIdx.x; d < D; d += NT) q[d] = base[i * row + h * D + d];
    __syncthreads();
    float m = -INFINITY;
    for (int j = threadIdx.x; j < N; j += NT) {
        const float* k = base + j * row + (H + h) * D;
        float s = 0.f;
        for (int d = 0; d < D; d++) s += q[d] * k[d];
        s *= scale;
        p[j] = s;
        m = fmaxf(m, s);
    }
    m = block_max(m, sh);
    float sum = 0.f;
    for (int j = threadIdx.x; j < N; j += NT) {
        float e = expf(p[j] - m);
        p[j] = e;
        sum += e;
    }
    sum = block_sum(sum, sh);  // its barriers also publish p
    if (threadIdx.x == 0) lse[(i64)bh * N + i] = m + logf(sum);
    const float inv = 1.f / sum;
    for (int d = threadIdx.x; d < D; d += NT) {
        float o = 0.f;
        for (int j = 0; j < N; j++) o += p[j] * base[j * row + (2 * H + h) * D + d];
        out[(((i64)b * N + i) * H + h) * D + d] = o * inv;
    }
}

// attn32_bwd_dq: one query row per block. Saves di = ⟨dout_i, out_i⟩ in dvec
// and writes dq_i = scale·Σ_j p_ij(dp_ij − di)·k_j.
extern "C" __global__ void attn32_bwd_dq(float* __restrict__ dqkv, float* __restrict__ dvec,
                                         const float* __restrict__ dout, const float* __restrict__ qkv,
                                         const float* __restrict__ out, const float* __restrict__ lse, int N, int H,
                                         int D, float scale) {
    extern __shared__ float sm[];
    __shared__ float sh[32];
    float* ds = sm;
    float* q = sm + 2 * N;
    const int i = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H;
    const i64 row = (i64)3 * H * D;
    const float* base = qkv + (i64)b * N * row;
    const i64 oi = (((i64)b * N + i) * H + h) * D;
    float di = 0.f;
    for (int d = threadIdx.x; d < D; d += NT) {
        q[d] = base[i * row + h * D + d];
        di += dout[oi + d] * out[oi + d];
    }
    di = block_sum(di, sh);  // also publishes q
    if (threadIdx.x == 0) dvec[(i64)bh * N + i] = di;
    const float l = lse[(i64)bh * N + i];
    for (int j = threadIdx.x; j < N; j += NT) {
        const float* k = base + j * row + (H + h) * D;
        const float* v = base + j * row + (2 * H + h) * D;
        float s = 0.f, dp = 0.f;
        for (int d = 0; d < D; d++) {
            s += q[d] * k[d];
            dp += dout[oi + d] * v[d];
        }
        float pj = expf(s * scale - l);
        ds[j] = pj * (dp - di);
    }
    __syncthreads();
    for (int d = threadIdx.x; d < D; d += NT) {
        float a = 0.f;
        for (int j = 0; j < N; j++) a += ds[j] * base[j * row + (H + h) * D + d];
        dqkv[(i64)b * N * row + i * row + h * D + d] = scale * a;
    }
}

// attn32_bwd_dkdv: one key row j per block (after attn32_bwd_dq filled dvec):
// dk_j = scale·Σ_i ds_ij·q_i, dv_j = Σ_i p_ij·dout_i.
extern "C" __global__ void attn32_bwd_dkdv(float* __restrict__ dqkv, const float* __restrict__ dvec,
                                           const float* __restrict__ dout, const float* __restrict__ qkv,
                                           const float* __restrict__ lse, int N, int H, int D, float scale) {
    extern __shared__ float sm[];
    float* p = sm;
    float* ds = sm + N;
    float* kv = sm + 2 * N;  // k_j then v_j: needs 2·D floats; the Go side sizes for it
    const int j = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H;
    const i64 row = (i64)3 * H * D;
    const float* base = qkv + (i64)b * N * row;
    for (int d = threadIdx.x; d < D; d += NT) {
        kv[d] = base[j * row + (H + h) * D + d];
        kv[D + d] = base[j * row + (2 * H + h) * D + d];
    }
    __syncthreads();
    for (int i = threadIdx.x; i < N; i += NT) {
        const float* q = base + i * row + h * D;
        const float* go = dout + (((i64)b * N + i) * H + h) * D;
        float s = 0.f, dp = 0.f;
        for (int d = 0; d < D; d++) {
            s += q[d] * kv[d];
            dp += go[d] * kv[D + d];
        }
        float pi = expf(s * scale - lse[(i64)bh * N + i]);
        p[i] = pi;
        ds[i] = pi * (dp - dvec[(i64)bh * N + i]);
    }
    __syncthreads();
    for (int d = threadIdx.x; d < D; d += NT) {
        float ak = 0.f, av = 0.f;
        for (int i = 0; i < N; i++) {
            ak += ds[i] * base[i * row + h * D + d];
            av += p[i] * dout[(((i64)b * N + i) * H + h) * D + d];
        }
        dqkv[(i64)b * N * row + j * row + (H + h) * D + d] = scale * ak;
        dqkv[(i64)b * N * row + j * row + (2 * H + h) * D + d] = av;
    }
}

// ---- per-tensor scales for fp16 operands ----
// A gradient can be far below fp16's normal range (6e-5): before a tensor is
// cast to fp16 it is multiplied by a power of two that brings its largest
// magnitude to about 2^target, and the product is divided by it afterwards
// (exact: powers of two). amax_part takes the largest |x| per block;
// amax_final writes scale[0] = 2^(target−e) and scale[1] = 2^(e−target) with
// max|x| < 2^e (1 and 1 for an all-zero or non-finite tensor).

extern "C" __global__ void amax_part(float* __restrict__ part, const float* __restrict__ src, i64 n) {
    __shared__ float sh[32];
    const i64 n4 = n >> 2, stride = (i64)gridDim.x * NT;
    float m = 0.f;
    for (i64 i = (i64)blockIdx.x * NT + threadIdx.x; i < n4; i += stride) {
        float4 v = ((const float4*)src)[i];
        m = fmaxf(m, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
    }
    for (i64 i = (n & ~(i64)3) + (i64)blockIdx.x * NT + threadIdx.x; i < n; i += stride) m = fmaxf(m, fabsf(src[i]));
    m = block_max(m, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = m;
}

extern "C" __global__ void amax_final(float* __restrict__ scale, const float* __restrict__ part, int n, int target) {
    __shared__ float sh[32];
    float m = 0.f;
    for (int i = threadIdx.x; i < n; i += NT) m = fmaxf(m, part[i]);
    m = block_max(m, sh);
    if (threadIdx.x == 0) {
        float s = 1.f, inv = 1.f;
        if (m > 0.f && isfinite(m)) {
            int e;
            frexpf(m, &e);  // m = f·2^e, f in [0.5, 1)
            int k = min(max(target - e, -126), 126);  // s and 1/s both normal floats
            s = ldexpf(1.f, k);
            inv = ldexpf(1.f, -k);
        }
        scale[0] = s;
        scale[1] = inv;
    }
}

// ---- sum of squares (engine.SquareSummer) ----
// sumsq_part: each block's grid-stride share of Σ src[i]², each square and
// sum in fp64, into part[blockIdx.x]; the block's 256 sums folded by a
// fixed tree. sumsq_final: one block of 256; dst[0] = Σ part[0..n) (plus
// dst[0] when acc), in a fixed order. Deterministic for a given grid.

__device__ __forceinline__ double block_sum_f64(double v, double* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
#pragma unroll
    for (int s = NT / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    return sh[0];
}

extern "C" __global__ void __launch_bounds__(NT) sumsq_part(double* __restrict__ part, const void* __restrict__ src,
                                                            int dts, i64 n) {
    __shared__ double sh[NT];
    const i64 n4 = n >> 2, stride = (i64)gridDim.x * NT;
    double s = 0.0;
    for (i64 i = (i64)blockIdx.x * NT + threadIdx.x; i < n4; i += stride) {
        float4 v = ld4(src, dts, 4 * i);
        s += ((double)v.x * v.x + (double)v.y * v.y) + ((double)v.z * v.z + (double)v.w * v.w);
    }
    for (i64 i = (n & ~(i64)3) + (i64)blockIdx.x * NT + threadIdx.x; i < n; i += stride) {
        double v = ld1(src, dts, i);
        s += v * v;
    }
    s = block_sum_f64(s, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// sumsq_multi: Σ x² over many buffers in one launch, a block per segment
// of a table the host builds (engine/cuda Backend.SumSquaresAll): segment
// b is n elements of src from element off (a multiple of 4, src 16-byte
// aligned); part[b] = its sum, folded as sumsq_part's. sumsq_final then sums
// the parts. (Two launches per buffer were 656 launches and 3.3 ms of a
// ViT-S/16 MoCo v3 step on an H100, nearly all launch overhead.)
struct SumsqSeg {
    const void* src;
    i64 off, n;
    int dt, pad;
};

extern "C" __global__ void __launch_bounds__(NT) sumsq_multi(double* __restrict__ part,
                                                             const SumsqSeg* __restrict__ segs) {
    __shared__ double sh[NT];
    const SumsqSeg g = segs[blockIdx.x];
    const i64 n4 = g.n >> 2;
    double s = 0.0;
    for (i64 i = threadIdx.x; i < n4; i += NT) {
        float4 v = ld4(g.src, g.dt, g.off + 4 * i);
        s += ((double)v.x * v.x + (double)v.y * v.y) + ((double)v.z * v.z + (double)v.w * v.w);
    }
    for (i64 i = (g.n & ~(i64)3) + threadIdx.x; i < g.n; i += NT) {
        double v = ld1(g.src, g.dt, g.off + i);
        s += v * v;
    }
    s = block_sum_f64(s, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

extern "C" __global__ void __launch_bounds__(NT) sumsq_final(void* __restrict__ dst, int dtd,
                                                             const double* __restrict__ part, int n, int acc) {
    __shared__ double sh[NT];
    double s = 0.0;
    for (int i = threadIdx.x; i < n; i += NT) s += part[i];
    s = block_sum_f64(s, sh);
    if (threadIdx.x == 0) {
        if (acc) s += ld1(dst, dtd, 0);
        st1(dst, dtd, 0, (float)s);
    }
}
