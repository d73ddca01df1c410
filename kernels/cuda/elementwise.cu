// elementwise.cu: the element-wise kernels of the CUDA backend (engine/cuda
// Backend): fill, axpy, scale, binary ops with a repeated trailing block,
// broadcast of a device scalar, exact GELU and ReLU forward and backward,
// conversions between fp32, fp16 and bf16, the optimizer updates (AdamW, SGD with momentum), the
// EMA of the momentum encoder, a general permute (up to 6 axes) and the
// copy along an axis behind slice and concat.
//
// Every kernel is a grid-stride loop. Buffers come from the backend's
// allocator, whole allocations aligned to 512 bytes, so the first n/4
// elements are processed four at a time (16-byte loads and stores for fp32,
// 8-byte for fp16 and bf16) and the last n%4 by a scalar tail loop. Scalars are
// fp32; sizes are 64-bit.
//
// Mixed precision: the kernels behind the engine.MixedPrecision methods
// (fill, axpy, scale, binary, unary and its backward, convert, permute,
// copy_axis, unscale2's destination) take a dtype code after each tensor
// operand (0 fp32, 2 fp16, 3 bf16; dtype.cuh) and compute in fp32, rounding
// fp16 and bf16 stores to nearest even. The optimizer kernels, ew_broadcast
// and the fixed casts (cast_*) are fp32 (and fp16) only.
//
// Launch: block 256, grid min(ceil(n/4/256), a few waves) (the Go side picks).

#include <cuda_fp16.h>
#include <stdint.h>

#include "dtype.cuh"

typedef long long i64;

#define GRID_STRIDE(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

// The scalar tail: elements [n4·4, n) handled one per thread.
#define TAIL(i, n) for (i64 i = ((n) & ~(i64)3) + (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

extern "C" __global__ void ew_fill(void* __restrict__ d, int dtd, float v, i64 n) {
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) { st4(d, dtd, 4 * i, make_float4(v, v, v, v)); }
    TAIL(i, n) { st1(d, dtd, i, v); }
}

// d = alpha·s[0] (s is a one-element device buffer).
extern "C" __global__ void ew_broadcast(float* __restrict__ d, const float* __restrict__ s, float alpha, i64 n) {
    const float v = alpha * s[0];
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) { ((float4*)d)[i] = make_float4(v, v, v, v); }
    TAIL(i, n) { d[i] = v; }
}

// d += alpha·x
extern "C" __global__ void ew_axpy(void* __restrict__ d, int dtd, float alpha, const void* __restrict__ x, int dtx,
                                   i64 n) {
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        float4 a = ld4(d, dtd, 4 * i), b = ld4(x, dtx, 4 * i);
        a.x += alpha * b.x; a.y += alpha * b.y; a.z += alpha * b.z; a.w += alpha * b.w;
        st4(d, dtd, 4 * i, a);
    }
    TAIL(i, n) { st1(d, dtd, i, ld1(d, dtd, i) + alpha * ld1(x, dtx, i)); }
}

// d = alpha·s (d may be s)
extern "C" __global__ void ew_scale(void* d, int dtd, const void* s, int dts, float alpha, i64 n) {
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        float4 a = ld4(s, dts, 4 * i);
        a.x *= alpha; a.y *= alpha; a.z *= alpha; a.w *= alpha;
        st4(d, dtd, 4 * i, a);
    }
    TAIL(i, n) { st1(d, dtd, i, alpha * ld1(s, dts, i)); }
}

// ew_convert: d = s·k with k = sc[1] (sc from amax_final: undoes a scale
// applied before a cast to fp16) or 1 when sc is null. Copy between
// element types (fp32 <-> fp16) and the unscaling of fp16 results.
extern "C" __global__ void ew_convert(void* __restrict__ d, int dtd, const void* __restrict__ s, int dts,
                                      const float* __restrict__ sc, i64 n) {
    const float k = sc ? sc[1] : 1.f;
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        float4 a = ld4(s, dts, 4 * i);
        a.x *= k; a.y *= k; a.z *= k; a.w *= k;
        st4(d, dtd, 4 * i, a);
    }
    TAIL(i, n) { st1(d, dtd, i, k * ld1(s, dts, i)); }
}

__device__ __forceinline__ float binop(int op, float a, float b) {
    return op == 0 ? a + b : (op == 1 ? a - b : a * b);
}

// d[i] = a[i] op b[i mod nb]; op 0 add, 1 sub, 2 mul. d may alias a or b.
// The 4-wide path needs nb a multiple of 4 (so a quad of a never straddles
// the end of b's block); otherwise every element is scalar.
extern "C" __global__ void ew_binary(int op, void* d, int dtd, const void* a, int dta, const void* b, int dtb, i64 n,
                                     i64 nb) {
    if ((nb & 3) == 0) {
        const i64 n4 = n >> 2, nb4 = nb >> 2;
        GRID_STRIDE(i, n4) {
            float4 x = ld4(a, dta, 4 * i), y = ld4(b, dtb, 4 * (nb4 == n4 ? i : i % nb4));
            x.x = binop(op, x.x, y.x); x.y = binop(op, x.y, y.y);
            x.z = binop(op, x.z, y.z); x.w = binop(op, x.w, y.w);
            st4(d, dtd, 4 * i, x);
        }
        TAIL(i, n) { st1(d, dtd, i, binop(op, ld1(a, dta, i), ld1(b, dtb, i % nb))); }
    } else {
        GRID_STRIDE(i, n) { st1(d, dtd, i, binop(op, ld1(a, dta, i), ld1(b, dtb, i % nb))); }
    }
}

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

__device__ __forceinline__ float unary_f(int op, float x) {
    if (op == 0) return 0.5f * x * (1.0f + erff(x * INV_SQRT2));
    return x <= 0.f ? 0.f : x;  // NaN stays NaN (x > 0 ? x : 0 compiles to max, which drops it)
}

__device__ __forceinline__ float unary_b(int op, float x, float dy) {
    if (op == 0) {
        float cdf = 0.5f * (1.0f + erff(x * INV_SQRT2));
        float pdf = expf(-0.5f * x * x) * INV_SQRT_2PI;
        return dy * (cdf + x * pdf);
    }
    return x > 0.f ? dy : 0.f;
}

// op 0: exact GELU x·Φ(x); op 1: ReLU. d may be x.
extern "C" __global__ void ew_unary(int op, void* d, int dtd, const void* x, int dtx, i64 n) {
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        float4 v = ld4(x, dtx, 4 * i);
        v.x = unary_f(op, v.x); v.y = unary_f(op, v.y); v.z = unary_f(op, v.z); v.w = unary_f(op, v.w);
        st4(d, dtd, 4 * i, v);
    }
    TAIL(i, n) { st1(d, dtd, i, unary_f(op, ld1(x, dtx, i))); }
}

// dx = dy·op'(x)
extern "C" __global__ void ew_unary_bwd(int op, void* dx, int dtdx, const void* x, int dtx, const void* dy, int dtdy,
                                        i64 n) {
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        float4 v = ld4(x, dtx, 4 * i), g = ld4(dy, dtdy, 4 * i);
        v.x = unary_b(op, v.x, g.x); v.y = unary_b(op, v.y, g.y);
        v.z = unary_b(op, v.z, g.z); v.w = unary_b(op, v.w, g.w);
        st4(dx, dtdx, 4 * i, v);
    }
    TAIL(i, n) { st1(dx, dtdx, i, unary_b(op, ld1(x, dtx, i), ld1(dy, dtdy, i))); }
}

// fp32 -> fp16, round to nearest even.
extern "C" __global__ void cast_f32_f16(__half* __restrict__ d, const float* __restrict__ s, i64 n) {
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        float4 v = ((const float4*)s)[i];
        __half2 lo = __floats2half2_rn(v.x, v.y), hi = __floats2half2_rn(v.z, v.w);
        uint2 u;
        u.x = *(uint32_t*)&lo;
        u.y = *(uint32_t*)&hi;
        ((uint2*)d)[i] = u;
    }
    TAIL(i, n) { d[i] = __float2half_rn(s[i]); }
}

// fp16 -> fp32
extern "C" __global__ void cast_f16_f32(float* __restrict__ d, const __half* __restrict__ s, i64 n) {
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        uint2 u = ((const uint2*)s)[i];
        float2 lo = __half22float2(*(__half2*)&u.x), hi = __half22float2(*(__half2*)&u.y);
        ((float4*)d)[i] = make_float4(lo.x, lo.y, hi.x, hi.y);
    }
    TAIL(i, n) { d[i] = __half2float(s[i]); }
}

// AdamW (torch.optim.AdamW, single tensor, no amsgrad): p *= decay
// (1−lr·wd); m, v updated; p −= step·m/(√v·invBC2 + eps) with step =
// lr/(1−β1ᵗ), invBC2 = 1/√(1−β2ᵗ).
__device__ __forceinline__ void adamw1(float& p, float g, float& m, float& v, float decay, float step, float b1,
                                       float b2, float invbc2, float eps) {
    p *= decay;
    m = b1 * m + (1.f - b1) * g;
    v = b2 * v + (1.f - b2) * g * g;
    p -= step * m / (sqrtf(v) * invbc2 + eps);
}

extern "C" __global__ void opt_adamw(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                                     float* __restrict__ v, float decay, float step, float b1, float b2,
                                     float invbc2, float eps, i64 n) {
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        float4 P = ((float4*)p)[i], G = ((const float4*)g)[i], M = ((float4*)m)[i], V = ((float4*)v)[i];
        adamw1(P.x, G.x, M.x, V.x, decay, step, b1, b2, invbc2, eps);
        adamw1(P.y, G.y, M.y, V.y, decay, step, b1, b2, invbc2, eps);
        adamw1(P.z, G.z, M.z, V.z, decay, step, b1, b2, invbc2, eps);
        adamw1(P.w, G.w, M.w, V.w, decay, step, b1, b2, invbc2, eps);
        ((float4*)p)[i] = P;
        ((float4*)m)[i] = M;
        ((float4*)v)[i] = V;
    }
    TAIL(i, n) { adamw1(p[i], g[i], m[i], v[i], decay, step, b1, b2, invbc2, eps); }
}

// SGD with momentum (dampening 0, no Nesterov): d = g + wd·p; buf = first ?
// d : mom·buf + d; p −= lr·buf. With mom 0, buf is not touched (may be null).
__device__ __forceinline__ void sgd1(float& p, float g, float* buf, float lr, float mom, float wd, int first) {
    float d = g + wd * p;
    if (mom != 0.f) {
        float b = first ? d : mom * *buf + d;
        *buf = b;
        d = b;
    }
    p -= lr * d;
}

extern "C" __global__ void opt_sgd(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ buf,
                                   float lr, float mom, float wd, int first, i64 n) {
    GRID_STRIDE(i, n) {
        float P = p[i];
        sgd1(P, g[i], buf + (buf ? i : 0), lr, mom, wd, first);
        p[i] = P;
    }
}

// d = a·d + b·s (a = m, b = 1−m)
extern "C" __global__ void opt_ema(float* __restrict__ d, const float* __restrict__ s, float a, float b, i64 n) {
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        float4 x = ((float4*)d)[i], y = ((const float4*)s)[i];
        x.x = a * x.x + b * y.x; x.y = a * x.y + b * y.y; x.z = a * x.z + b * y.z; x.w = a * x.w + b * y.w;
        ((float4*)d)[i] = x;
    }
    TAIL(i, n) { d[i] = a * d[i] + b * s[i]; }
}

// opt_ema_multi and ew_scale_multi: opt_ema and ew_scale (in place, fp32)
// over many tensors in one launch, as opt_adamw_multi: block b takes chunk b
// of a table of three 64-bit words per chunk (dst and src pointers advanced
// to the chunk's first element, a multiple of 16384 elements; its length;
// src unused by ew_scale_multi). Launch: grid = chunks, block 256. (One
// launch per tensor was 157 EMA and 166 scale launches of a ViT-S/16 MoCo
// v3 step on an H100, 1.8 ms, nearly all launch overhead.)
extern "C" __global__ void opt_ema_multi(const i64* __restrict__ tab, float a, float b) {
    const i64* e = tab + 3 * (i64)blockIdx.x;
    float* d = (float*)e[0];
    const float* s = (const float*)e[1];
    const i64 n = e[2], n4 = n >> 2;
    for (i64 i = threadIdx.x; i < n4; i += blockDim.x) {
        float4 x = ((float4*)d)[i], y = ((const float4*)s)[i];
        x.x = a * x.x + b * y.x; x.y = a * x.y + b * y.y; x.z = a * x.z + b * y.z; x.w = a * x.w + b * y.w;
        ((float4*)d)[i] = x;
    }
    for (i64 i = (n & ~(i64)3) + threadIdx.x; i < n; i += blockDim.x) d[i] = a * d[i] + b * s[i];
}

extern "C" __global__ void ew_scale_multi(const i64* __restrict__ tab, float alpha) {
    const i64* e = tab + 3 * (i64)blockIdx.x;
    float* d = (float*)e[0];
    const i64 n = e[2], n4 = n >> 2;
    for (i64 i = threadIdx.x; i < n4; i += blockDim.x) {
        float4 x = ((float4*)d)[i];
        x.x *= alpha; x.y *= alpha; x.z *= alpha; x.w *= alpha;
        ((float4*)d)[i] = x;
    }
    for (i64 i = (n & ~(i64)3) + threadIdx.x; i < n; i += blockDim.x) d[i] *= alpha;
}

// permute6: dst is dense with dims d0..d5 (leading ones padded with 1);
// source offset of a destination index is Σ idx_k·s_k (the source strides of
// the permuted axes). One destination element per thread iteration. The
// index arithmetic is 32-bit when n fits (every index and offset then
// does): a 64-bit division is a long software sequence on the GPU, and
// five per element would make the copy issue-bound.
template <typename I>
__device__ __forceinline__ void permute6_body(void* __restrict__ dst, int dtd, const void* __restrict__ src, int dts,
                                              i64 n, I d1, I d2, I d3, I d4, I d5, I s0, I s1, I s2, I s3, I s4,
                                              I s5) {
    GRID_STRIDE(i, n) {
        I r = (I)i, off = 0, c;
        c = r % d5; r /= d5; off += c * s5;
        c = r % d4; r /= d4; off += c * s4;
        c = r % d3; r /= d3; off += c * s3;
        c = r % d2; r /= d2; off += c * s2;
        c = r % d1; r /= d1; off += c * s1;
        off += r * s0;
        if (dtd == dts && dtd != DT_F32)
            ((unsigned short*)dst)[i] = ((const unsigned short*)src)[off];  // fp16 or bf16: bit copy
        else
            st1(dst, dtd, i, ld1(src, dts, (i64)off));
    }
}

extern "C" __global__ void permute6(void* __restrict__ dst, int dtd, const void* __restrict__ src, int dts, i64 n,
                                    i64 d0, i64 d1, i64 d2, i64 d3, i64 d4, i64 d5, i64 s0, i64 s1, i64 s2, i64 s3,
                                    i64 s4, i64 s5) {
    (void)d0;
    if (n <= 0x7fffffff)
        permute6_body<unsigned>(dst, dtd, src, dts, n, d1, d2, d3, d4, d5, s0, s1, s2, s3, s4, s5);
    else
        permute6_body<i64>(dst, dtd, src, dts, n, d1, d2, d3, d4, d5, s0, s1, s2, s3, s4, s5);
}

// copy_axis: dst viewed as [outer, dAxis, inner], src as [outer, sAxis,
// inner]; copies (or adds, acc ≠ 0) count slices from sOff to dOff.
extern "C" __global__ void copy_axis(void* __restrict__ dst, int dtd, i64 dAxis, i64 dOff,
                                     const void* __restrict__ src, int dts, i64 sAxis, i64 sOff, i64 outer,
                                     i64 count, i64 inner, int acc) {
    const i64 blk = count * inner, n = outer * blk;
    const bool narrow = n <= 0x7fffffff;  // 32-bit division (see permute6)
    GRID_STRIDE(i, n) {
        i64 o = narrow ? (i64)((unsigned)i / (unsigned)blk) : i / blk, r = i - o * blk;
        float v = ld1(src, dts, (o * sAxis + sOff) * inner + r);
        i64 p = (o * dAxis + dOff) * inner + r;
        if (acc) v += ld1(dst, dtd, p);
        st1(dst, dtd, p, v);
    }
}

// cast_f32_f16_s: d = fp16(s·sc[0]) (sc from amax_final).
extern "C" __global__ void cast_f32_f16_s(__half* __restrict__ d, const float* __restrict__ s,
                                          const float* __restrict__ sc, i64 n) {
    const float k = sc[0];
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        float4 v = ((const float4*)s)[i];
        __half2 lo = __floats2half2_rn(v.x * k, v.y * k), hi = __floats2half2_rn(v.z * k, v.w * k);
        uint2 u;
        u.x = *(uint32_t*)&lo;
        u.y = *(uint32_t*)&hi;
        ((uint2*)d)[i] = u;
    }
    TAIL(i, n) { d[i] = __float2half_rn(s[i] * k); }
}

// unscale2: d = s·ka·kb + beta·d with ka = sa[1], kb = sb[1] (1 where the
// pointer is null), beta 0: d not read; d may be s. The product of two
// scaled operands brought back (or a plain fp32 product moved into an fp16
// C), plus the old C.
extern "C" __global__ void unscale2(void* d, int dtd, const float* s, const float* __restrict__ sa,
                                    const float* __restrict__ sb, float beta, i64 n) {
    // The factors are powers of two (amax_final): their exponents are
    // added and applied at once, exact, overflowing only where the result
    // does (v·ka alone could overflow for a loss-scaled gradient times an
    // activation, or their product leave fp32's range).
    const int e = (sa ? ilogbf(sa[1]) : 0) + (sb ? ilogbf(sb[1]) : 0);
    const i64 n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        float4 v = ((const float4*)s)[i];
        v.x = ldexpf(v.x, e); v.y = ldexpf(v.y, e); v.z = ldexpf(v.z, e); v.w = ldexpf(v.w, e);
        if (beta != 0.f) {
            float4 o = ld4(d, dtd, 4 * i);
            v.x += beta * o.x; v.y += beta * o.y; v.z += beta * o.z; v.w += beta * o.w;
        }
        st4(d, dtd, 4 * i, v);
    }
    TAIL(i, n) { st1(d, dtd, i, ldexpf(s[i], e) + (beta != 0.f ? beta * ld1(d, dtd, i) : 0.f)); }
}

// opt_adamw_multi: AdamW over many tensors in one launch. Block b updates
// chunk b of a table the host uploads: per chunk five 64-bit words, the
// param, grad, m and v pointers already advanced to the chunk's first
// element (chunks start at multiples of 16384 elements, so 16-byte aligned)
// and its length. Same scalars as opt_adamw. Launch: grid = chunks, block 256.
extern "C" __global__ void opt_adamw_multi(const i64* __restrict__ tab, float decay, float step, float b1, float b2,
                                           float invbc2, float eps) {
    const i64* e = tab + 5 * (i64)blockIdx.x;
    float* p = (float*)e[0];
    const float* g = (const float*)e[1];
    float* m = (float*)e[2];
    float* v = (float*)e[3];
    const i64 n = e[4], n4 = n >> 2;
    for (i64 i = threadIdx.x; i < n4; i += blockDim.x) {
        float4 P = ((float4*)p)[i], G = ((const float4*)g)[i], M = ((float4*)m)[i], V = ((float4*)v)[i];
        adamw1(P.x, G.x, M.x, V.x, decay, step, b1, b2, invbc2, eps);
        adamw1(P.y, G.y, M.y, V.y, decay, step, b1, b2, invbc2, eps);
        adamw1(P.z, G.z, M.z, V.z, decay, step, b1, b2, invbc2, eps);
        adamw1(P.w, G.w, M.w, V.w, decay, step, b1, b2, invbc2, eps);
        ((float4*)p)[i] = P;
        ((float4*)m)[i] = M;
        ((float4*)v)[i] = V;
    }
    for (i64 i = (n & ~(i64)3) + threadIdx.x; i < n; i += blockDim.x)
        adamw1(p[i], g[i], m[i], v[i], decay, step, b1, b2, invbc2, eps);
}
