// attention.cu: fused multi-head attention forward in the FlashAttention-2
// manner, for head dims 32 and 64 and any sequence length, on fp16 or bf16.
//
//   qkv [B, N, 3, H, D] T  →  out [B, N, H, D] T,  lse [B, H, N] fp32
//   out = softmax(Q·Kᵀ/√D)·V per (batch, head); lse = log Σ exp(Q·Kᵀ/√D) per
//   query row (natural log), saved for the backward pass.
//
// Element type T: every kernel body below is a template on T, IEEE half or
// bfloat16, instantiated once per type (the ATT_* macros at the end of each
// section): the fp16 kernels keep their names (attn_fwd_d32, ...), their
// bf16 twins add the suffix _bf16 (attn_fwd_d32_bf16, attn_bwd_dq_d64_bf16,
// attn_fwd_head_w4_d32_bf16, ...) and take the same parameters with T =
// bf16. Only the tensor-core instruction's type suffix (mma16816<T>, its
// PTX written once), the rounding of fp32 values to T (P and dS for the
// products, the stored out and dqkv: GemmT<T> of gemm_types.cuh, nearest
// even) and the widening of T to fp32 (the backward's row dots) depend on
// T; cp.async, ldmatrix and the shared-memory layouts move 16-bit elements
// whatever they encode. Scores, the online-softmax statistics, lse, the row
// dots and every accumulator are fp32 in both. bf16 has fp32's exponent
// range (8 significant bits against fp16's 11): q, k, v and outputs past
// fp16's 65504 are fine. The fp16 instantiations compile to the PTX they
// had before the templating (the shared-memory array is still declared
// half and viewed as T; the bf16 twins come after every fp16 kernel).
//
// A block of 4 warps takes 64 query rows of one (batch, head); each warp
// owns 16 rows. Keys and values stream through shared memory 64 rows at a
// time, double-buffered with cp.async (rows past N are zero-filled). Scores
// S = Q·Kᵀ are accumulated in fp32 by mma.sync m16n8k16, masked past N, and
// folded into a running row max and row sum (online softmax in base 2); the
// probabilities are rounded to T and fed straight from the score
// registers as the A operand of P·V (the accumulator layout of two adjacent
// n8 tiles is the A layout of one k16 step), V through ldmatrix.trans.
// Nothing of size N×N touches memory.
//
// Kernel names: attn_fwd_d32, attn_fwd_d64 (and their _bf16 twins). Launch:
// grid (ceil(N/64), B·H), block 128, dynamic shared memory 5·64·(D+8)·2
// bytes (≤ 46 KB). Parameters:
// qkv, out, lse, B, N, H, scale_log2 = log2(e)/√D, skip (1: warps whose
// rows all lie past N skip the arithmetic, and only the 16-key groups that
// hold keys below N enter the products; 0: every tile computed in full).
//
// Backward (dout [B, N, H, D] T → dqkv [B, N, 3, H, D] T), without
// atomics, in three kernels:
//   attn_bwd_dot_d<D>: dvec[b,h,n] = Σ_d dout·out (fp32), 8 elements a thread.
//     Grid ceil(B·N·H·D/8/256), block 256.
//   attn_bwd_dkdv_d<D>: a block owns 64 keys of one (batch, head), each warp
//     16 of them, and streams all queries past them (Q and dO double-buffered
//     in shared memory): Sᵀ = K·Qᵀ, Pᵀ = exp(Sᵀ/√D − lse), dV += Pᵀ·dO,
//     dPᵀ = V·dOᵀ, dSᵀ = Pᵀ∘(dPᵀ − dvec), dK += dSᵀ·Q/√D.
//   attn_bwd_dq_d<D>: a block owns 64 queries and streams all keys:
//     S, P, dP = dO·Vᵀ, dS = P∘(dP − dvec), dQ += dS·K/√D.
//   Both: grid (ceil(N/64), B·H), block 128, dynamic shared memory
//   6·64·(D+8)·2 bytes (55 KB for D = 64: needs the >48 KB attribute).
//   Parameters: qkv, dout, lse, dvec, dqkv, B, N, H, scale_log2, scale, skip
//   (as in the forward).
// Recomputing S and dP in the dQ kernel costs two more products than the
// FlashAttention-2 backward with atomic dQ updates, and keeps the result
// deterministic.

#include <cuda_fp16.h>
#include <stdint.h>

#include "gemm_types.cuh"
#include "mma_sm80.cuh"

// ldsm_x4 / ldsm_x4_t into a fragment array (mma_sm80.cuh has them into
// four registers).
__device__ __forceinline__ void ldsm_x4(uint32_t* r, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t* r, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}

// pack2<T>: two fp32 values rounded to T (nearest even) in one 32-bit
// register, the low one first: an A-operand register of mma16816<T>.
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    typename GemmT<T>::T2 h = GemmT<T>::pack(lo, hi);
    return *(uint32_t*)&h;
}

// widen2: a pair of T as two fp32 values (exact).
__device__ __forceinline__ float2 widen2(half2 x) { return __half22float2(x); }
__device__ __forceinline__ float2 widen2(__nv_bfloat162 x) { return __bfloat1622float2(x); }

#define ATT_BR 64
#define ATT_BC 64
#define ATT_THREADS 128

// load_rows copies rows r0..r0+63 of one of Q, K, V (which = 0, 1, 2) of one
// (batch, head) into s (row stride D+8 elements), zero-filling rows ≥ N.
template <int D, typename T>
__device__ __forceinline__ void load_rows(T* s, const T* __restrict__ base, size_t tok_stride, int r0, int N,
                                          int tid) {
    constexpr int CH = D / 8;
    constexpr int LD = D + 8;
#pragma unroll
    for (int c = tid; c < 64 * CH; c += ATT_THREADS) {
        int row = c / CH, col = (c % CH) * 8;
        int n = r0 + row;
        const T* src = n < N ? base + (size_t)n * tok_stride + col : base;
        cp_async16(smem_u32(s + row * LD + col), src, n < N ? 16 : 0);
    }
}

template <int D, typename T>
__device__ __forceinline__ void attn_fwd(const T* __restrict__ qkv, T* __restrict__ out, float* __restrict__ lse,
                                         int B, int N, int H, float scale_log2, int skip) {
    constexpr int LD = D + 8;
    constexpr int TILE = 64 * LD;
    extern __shared__ __align__(16) half sm[];  // viewed as T
    T* const st = (T*)sm;
    T* sQ = st;
    T* sK = st + TILE;          // two buffers
    T* sV = st + 3 * TILE;      // two buffers
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int qb = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H;
    const size_t tok_stride = (size_t)3 * H * D;
    const T* base = qkv + (size_t)b * N * tok_stride + (size_t)h * D;
    const T* qbase = base;
    const T* kbase = base + (size_t)H * D;
    const T* vbase = base + (size_t)2 * H * D;

    load_rows<D>(sQ, qbase, tok_stride, qb * ATT_BR, N, tid);
    load_rows<D>(sK, kbase, tok_stride, 0, N, tid);
    load_rows<D>(sV, vbase, tok_stride, 0, N, tid);
    cp_async_commit();

    const int nkv = (N + ATT_BC - 1) / ATT_BC;
    float o[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    uint32_t qf[D / 16][4];

    for (int j = 0; j < nkv; j++) {
        if (j + 1 < nkv) {
            int nb = (j + 1) & 1;
            load_rows<D>(sK + nb * TILE, kbase, tok_stride, (j + 1) * ATT_BC, N, tid);
            load_rows<D>(sV + nb * TILE, vbase, tok_stride, (j + 1) * ATT_BC, N, tid);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        // With skip: a warp whose 16 query rows all lie past N does no
        // arithmetic (it still loads and meets the barriers), and only the
        // 16-key groups holding keys below N enter the products (nv of 4);
        // the masking below still covers every key past N.
        const int nv = skip ? min(4, (N - j * ATT_BC + 15) >> 4) : 4;
        if (skip && qb * ATT_BR + warp * 16 >= N) {
            __syncthreads();
            continue;
        }
        if (j == 0) {
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++)
                ldsm_x4(qf[kk], smem_u32(sQ + (warp * 16 + (lane & 15)) * LD + kk * 16 + (lane >> 4) * 8));
        }
        const T* k_s = sK + (j & 1) * TILE;
        const T* v_s = sV + (j & 1) * TILE;

        // S = Q·Kᵀ for this warp's 16 rows and 64 keys.
        float s[8][4];
#pragma unroll
        for (int i = 0; i < 8; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
#pragma unroll
            for (int nj = 0; nj < 4; nj++) {
                if (nj >= nv) break;
                int i = lane >> 3;
                uint32_t r[4];
                ldsm_x4(r, smem_u32(k_s + (nj * 16 + (lane & 7) + (i >> 1) * 8) * LD + kk * 16 + (i & 1) * 8));
                mma16816<T>(s[2 * nj], qf[kk], r[0], r[1]);
                mma16816<T>(s[2 * nj + 1], qf[kk], r[2], r[3]);
            }
        }
        // Mask keys past N (only the last block has any).
        if ((j + 1) * ATT_BC > N) {
#pragma unroll
            for (int ni = 0; ni < 8; ni++) {
                int key = j * ATT_BC + ni * 8 + 2 * t;
                if (key >= N) s[ni][0] = s[ni][2] = -INFINITY;
                if (key + 1 >= N) s[ni][1] = s[ni][3] = -INFINITY;
            }
        }
        // Online softmax, rows g (r = 0) and g+8 (r = 1).
        uint32_t pa[4][4];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float mx = -INFINITY;
#pragma unroll
            for (int ni = 0; ni < 8; ni++) mx = fmaxf(mx, fmaxf(s[ni][2 * r], s[ni][2 * r + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float mnew = fmaxf(m[r], mx * scale_log2);
            const float alpha = exp2f(m[r] - mnew);
            m[r] = mnew;
            float sum = 0.f;
#pragma unroll
            for (int ni = 0; ni < 8; ni++) {
                float p0 = exp2f(s[ni][2 * r] * scale_log2 - mnew);
                float p1 = exp2f(s[ni][2 * r + 1] * scale_log2 - mnew);
                s[ni][2 * r] = p0;
                s[ni][2 * r + 1] = p1;
                sum += p0 + p1;
            }
            l[r] = l[r] * alpha + sum;
#pragma unroll
            for (int dn = 0; dn < D / 8; dn++) {
                o[dn][2 * r] *= alpha;
                o[dn][2 * r + 1] *= alpha;
            }
        }
        // P as the A operand: k16 step kk covers score tiles 2kk and 2kk+1.
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            pa[kk][0] = pack2<T>(s[2 * kk][0], s[2 * kk][1]);
            pa[kk][1] = pack2<T>(s[2 * kk][2], s[2 * kk][3]);
            pa[kk][2] = pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[kk][3] = pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
        }
        // O += P·V.
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            if (kk >= nv) break;
#pragma unroll
            for (int dj = 0; dj < D / 16; dj++) {
                int i = lane >> 3;
                uint32_t r[4];
                ldsm_x4_t(r, smem_u32(v_s + (kk * 16 + (lane & 7) + (i & 1) * 8) * LD + dj * 16 + (i >> 1) * 8));
                mma16816<T>(o[2 * dj], pa[kk], r[0], r[1]);
                mma16816<T>(o[2 * dj + 1], pa[kk], r[2], r[3]);
            }
        }
        __syncthreads();
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        float sum = l[r];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const float inv = 1.0f / sum;
        const int q = qb * ATT_BR + warp * 16 + g + 8 * r;
        if (q < N) {
            T* orow = out + (((size_t)b * N + q) * H + h) * D;
#pragma unroll
            for (int dn = 0; dn < D / 8; dn++)
                *(typename GemmT<T>::T2*)(orow + dn * 8 + 2 * t) = GemmT<T>::pack(o[dn][2 * r] * inv, o[dn][2 * r + 1] * inv);
            if (t == 0) lse[((size_t)b * H + h) * N + q] = (m[r] + log2f(sum)) * 0.69314718055994531f;
        }
    }
}

// ATT_FWD instantiates attn_fwd for element type T as the kernel
// attn_fwd_d<D><SUF> (SUF empty for half, _bf16 for bf16).
#define ATT_FWD(T, SUF, D, MINB)                                                                                   \
    extern "C" __global__ void __launch_bounds__(ATT_THREADS, MINB)                                               \
        attn_fwd_d##D##SUF(const T* qkv, T* out, float* lse, int B, int N, int H, float scale_log2, int skip) {   \
        attn_fwd<D>(qkv, out, lse, B, N, H, scale_log2, skip);                                                     \
    }

// ---------------------------------------------------------------- backward

template <int D, typename T>
__device__ __forceinline__ void attn_bwd_dot(const T* __restrict__ out, const T* __restrict__ dout,
                                             float* __restrict__ dvec, int B, int N, int H) {
    constexpr int TPR = D / 8;  // threads per row (4 or 8), each 8 elements
    const size_t gid = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    const size_t row = gid / TPR;
    const bool ok = row < (size_t)B * N * H;
    float s = 0.f;
    if (ok) {
        uint4 a = *(const uint4*)(out + gid * 8);
        uint4 c = *(const uint4*)(dout + gid * 8);
        const typename GemmT<T>::T2* ah = (const typename GemmT<T>::T2*)&a;
        const typename GemmT<T>::T2* ch = (const typename GemmT<T>::T2*)&c;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float2 x = widen2(ah[i]), y = widen2(ch[i]);
            s += x.x * y.x + x.y * y.y;
        }
    }
#pragma unroll
    for (int o = TPR / 2; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (ok && (threadIdx.x % TPR) == 0) {
        // row = (b·N + n)·H + h  →  dvec[(b·H + h)·N + n]
        const int h = row % H;
        const size_t bn = row / H;
        const int n = bn % N, b = bn / N;
        dvec[((size_t)b * H + h) * N + n] = s;
    }
}

// Packs the scores of two adjacent n8 accumulator tiles as one k16 A operand.
template <typename T>
__device__ __forceinline__ void acc_to_a(uint32_t* a, const float* lo, const float* hi) {
    a[0] = pack2<T>(lo[0], lo[1]);
    a[1] = pack2<T>(lo[2], lo[3]);
    a[2] = pack2<T>(hi[0], hi[1]);
    a[3] = pack2<T>(hi[2], hi[3]);
}

// rows_x_rowsT: acc[8][4] (16×64) += A(16×D, fragments af) · Bᵀ where B is
// 64 rows × D in shared memory (row stride LD).
// Only the first nv of the four 16-row groups of B are used (the others lie
// past N; their accumulators stay as they were).
template <int D, typename T>
__device__ __forceinline__ void rows_x_rowsT(float (*acc)[4], const uint32_t (*af)[4], const T* bs, int lane,
                                             int nv) {
    constexpr int LD = D + 8;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
#pragma unroll
        for (int nj = 0; nj < 4; nj++) {
            if (nj >= nv) break;
            int i = lane >> 3;
            uint32_t r[4];
            ldsm_x4(r, smem_u32(bs + (nj * 16 + (lane & 7) + (i >> 1) * 8) * LD + kk * 16 + (i & 1) * 8));
            mma16816<T>(acc[2 * nj], af[kk], r[0], r[1]);
            mma16816<T>(acc[2 * nj + 1], af[kk], r[2], r[3]);
        }
    }
}

// p_x_rows: acc[D/8][4] (16×D) += P(16×64, A fragments pa) · B where B is 64
// rows × D in shared memory.
// Only the first nv 16-row groups of B (k steps) are used: P is zero past
// them.
template <int D, typename T>
__device__ __forceinline__ void p_x_rows(float (*acc)[4], const uint32_t (*pa)[4], const T* bs, int lane, int nv) {
    constexpr int LD = D + 8;
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
        if (kk >= nv) break;
#pragma unroll
        for (int dj = 0; dj < D / 16; dj++) {
            int i = lane >> 3;
            uint32_t r[4];
            ldsm_x4_t(r, smem_u32(bs + (kk * 16 + (lane & 7) + (i & 1) * 8) * LD + dj * 16 + (i >> 1) * 8));
            mma16816<T>(acc[2 * dj], pa[kk], r[0], r[1]);
            mma16816<T>(acc[2 * dj + 1], pa[kk], r[2], r[3]);
        }
    }
}

template <int D, typename T>
__device__ __forceinline__ void load_frags(uint32_t (*f)[4], const T* s, int warp, int lane) {
    constexpr int LD = D + 8;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
        ldsm_x4(f[kk], smem_u32(s + (warp * 16 + (lane & 15)) * LD + kk * 16 + (lane >> 4) * 8));
}

// store_rows writes a warp's 16×D fp32 accumulator, times mul, as T rows
// of one slot of dqkv.
template <int D, typename T>
__device__ __forceinline__ void store_rows(T* __restrict__ dst, size_t tok_stride, const float (*acc)[4], int r0,
                                           int N, float mul, int lane) {
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int n = r0 + g + 8 * r;
        if (n < N) {
            T* row = dst + (size_t)n * tok_stride;
#pragma unroll
            for (int dn = 0; dn < D / 8; dn++)
                *(typename GemmT<T>::T2*)(row + dn * 8 + 2 * t) = GemmT<T>::pack(acc[dn][2 * r] * mul, acc[dn][2 * r + 1] * mul);
        }
    }
}

template <int D, typename T>
__device__ __forceinline__ void attn_bwd_dkdv(const T* __restrict__ qkv, const T* __restrict__ dout,
                                              const float* __restrict__ lse, const float* __restrict__ dvec,
                                              T* __restrict__ dqkv, int B, int N, int H, float scale_log2,
                                              float scale, int skip) {
    constexpr int LD = D + 8;
    constexpr int TILE = 64 * LD;
    extern __shared__ __align__(16) half sm[];  // viewed as T
    T* const st = (T*)sm;
    T* sK = st;
    T* sV = st + TILE;
    T* sQ = st + 2 * TILE;   // two buffers
    T* sdO = st + 4 * TILE;  // two buffers
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int t = lane & 3;
    const int kb = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H;
    const size_t tok = (size_t)3 * H * D, otok = (size_t)H * D;
    const T* base = qkv + (size_t)b * N * tok + (size_t)h * D;
    const T* obase = dout + (size_t)b * N * otok + (size_t)h * D;
    const float* lse_bh = lse + ((size_t)b * H + h) * N;
    const float* dvec_bh = dvec + ((size_t)b * H + h) * N;

    load_rows<D>(sK, base + (size_t)H * D, tok, kb * 64, N, tid);
    load_rows<D>(sV, base + (size_t)2 * H * D, tok, kb * 64, N, tid);
    load_rows<D>(sQ, base, tok, 0, N, tid);
    load_rows<D>(sdO, obase, otok, 0, N, tid);
    cp_async_commit();

    float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; i++)
#pragma unroll
        for (int e = 0; e < 4; e++) dk[i][e] = dv[i][e] = 0.f;
    uint32_t kf[D / 16][4], vf[D / 16][4];
    const int nq = (N + 63) / 64;
    for (int i = 0; i < nq; i++) {
        if (i + 1 < nq) {
            int nb = (i + 1) & 1;
            load_rows<D>(sQ + nb * TILE, base, tok, (i + 1) * 64, N, tid);
            load_rows<D>(sdO + nb * TILE, obase, otok, (i + 1) * 64, N, tid);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        // With skip: warps whose 16 keys all lie past N do no arithmetic,
        // and only the 16-query groups holding queries below N are used.
        const int nv = skip ? min(4, (N - i * 64 + 15) >> 4) : 4;
        if (skip && kb * 64 + warp * 16 >= N) {
            __syncthreads();
            continue;
        }
        if (i == 0) {
            load_frags<D>(kf, sK, warp, lane);
            load_frags<D>(vf, sV, warp, lane);
        }
        const T* q_s = sQ + (i & 1) * TILE;
        const T* do_s = sdO + (i & 1) * TILE;
        float s[8][4], dp[8][4];
#pragma unroll
        for (int a = 0; a < 8; a++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[a][e] = dp[a][e] = 0.f;
        rows_x_rowsT<D>(s, kf, q_s, lane, nv);    // Sᵀ: 16 keys × 64 queries
        rows_x_rowsT<D>(dp, vf, do_s, lane, nv);  // dPᵀ
#pragma unroll
        for (int ni = 0; ni < 8; ni++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                int q = i * 64 + ni * 8 + 2 * t + e;
                bool ok = q < N;
                float L = ok ? lse_bh[q] * 1.4426950408889634f : 0.f;
                float Dv = ok ? dvec_bh[q] : 0.f;
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    float p = ok ? exp2f(s[ni][2 * r + e] * scale_log2 - L) : 0.f;
                    s[ni][2 * r + e] = p;
                    dp[ni][2 * r + e] = p * (dp[ni][2 * r + e] - Dv);
                }
            }
        }
        uint32_t pa[4][4], da[4][4];
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            acc_to_a<T>(pa[kk], s[2 * kk], s[2 * kk + 1]);
            acc_to_a<T>(da[kk], dp[2 * kk], dp[2 * kk + 1]);
        }
        p_x_rows<D>(dv, pa, do_s, lane, nv);  // dV += Pᵀ·dO
        p_x_rows<D>(dk, da, q_s, lane, nv);   // dK += dSᵀ·Q
        __syncthreads();
    }
    T* dbase = dqkv + (size_t)b * N * tok + (size_t)h * D;
    store_rows<D>(dbase + (size_t)H * D, tok, dk, kb * 64 + warp * 16, N, scale, lane);
    store_rows<D>(dbase + (size_t)2 * H * D, tok, dv, kb * 64 + warp * 16, N, 1.0f, lane);
}

template <int D, typename T>
__device__ __forceinline__ void attn_bwd_dq(const T* __restrict__ qkv, const T* __restrict__ dout,
                                            const float* __restrict__ lse, const float* __restrict__ dvec,
                                            T* __restrict__ dqkv, int B, int N, int H, float scale_log2,
                                            float scale, int skip) {
    constexpr int LD = D + 8;
    constexpr int TILE = 64 * LD;
    extern __shared__ __align__(16) half sm[];  // viewed as T
    T* const st = (T*)sm;
    T* sQ = st;
    T* sdO = st + TILE;
    T* sK = st + 2 * TILE;  // two buffers
    T* sV = st + 4 * TILE;  // two buffers
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int qb = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H;
    const size_t tok = (size_t)3 * H * D, otok = (size_t)H * D;
    const T* base = qkv + (size_t)b * N * tok + (size_t)h * D;
    const T* kbase = base + (size_t)H * D;
    const T* vbase = base + (size_t)2 * H * D;
    const T* obase = dout + (size_t)b * N * otok + (size_t)h * D;
    const float* lse_bh = lse + ((size_t)b * H + h) * N;
    const float* dvec_bh = dvec + ((size_t)b * H + h) * N;

    load_rows<D>(sQ, base, tok, qb * 64, N, tid);
    load_rows<D>(sdO, obase, otok, qb * 64, N, tid);
    load_rows<D>(sK, kbase, tok, 0, N, tid);
    load_rows<D>(sV, vbase, tok, 0, N, tid);
    cp_async_commit();

    float Lr[2], Dr[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int q = qb * 64 + warp * 16 + g + 8 * r;
        Lr[r] = q < N ? lse_bh[q] * 1.4426950408889634f : 0.f;
        Dr[r] = q < N ? dvec_bh[q] : 0.f;
    }
    float dq[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; i++) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;
    uint32_t qf[D / 16][4], of[D / 16][4];
    const int nkv = (N + 63) / 64;
    for (int j = 0; j < nkv; j++) {
        if (j + 1 < nkv) {
            int nb = (j + 1) & 1;
            load_rows<D>(sK + nb * TILE, kbase, tok, (j + 1) * 64, N, tid);
            load_rows<D>(sV + nb * TILE, vbase, tok, (j + 1) * 64, N, tid);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        // With skip: warps whose 16 queries all lie past N do no arithmetic,
        // and only the 16-key groups holding keys below N are used.
        const int nv = skip ? min(4, (N - j * 64 + 15) >> 4) : 4;
        if (skip && qb * 64 + warp * 16 >= N) {
            __syncthreads();
            continue;
        }
        if (j == 0) {
            load_frags<D>(qf, sQ, warp, lane);
            load_frags<D>(of, sdO, warp, lane);
        }
        const T* k_s = sK + (j & 1) * TILE;
        const T* v_s = sV + (j & 1) * TILE;
        float s[8][4], dp[8][4];
#pragma unroll
        for (int a = 0; a < 8; a++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[a][e] = dp[a][e] = 0.f;
        rows_x_rowsT<D>(s, qf, k_s, lane, nv);   // S: 16 queries × 64 keys
        rows_x_rowsT<D>(dp, of, v_s, lane, nv);  // dP = dO·Vᵀ
#pragma unroll
        for (int ni = 0; ni < 8; ni++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                bool ok = j * 64 + ni * 8 + 2 * t + e < N;
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    float p = ok ? exp2f(s[ni][2 * r + e] * scale_log2 - Lr[r]) : 0.f;
                    dp[ni][2 * r + e] = p * (dp[ni][2 * r + e] - Dr[r]);
                }
            }
        }
        uint32_t da[4][4];
#pragma unroll
        for (int kk = 0; kk < 4; kk++) acc_to_a<T>(da[kk], dp[2 * kk], dp[2 * kk + 1]);
        p_x_rows<D>(dq, da, k_s, lane, nv);  // dQ += dS·K
        __syncthreads();
    }
    store_rows<D>(dqkv + (size_t)b * N * tok + (size_t)h * D, tok, dq, qb * 64 + warp * 16, N, scale, lane);
}

// ATT_BWD instantiates the tiled backward for element type T as
// attn_bwd_{dot,dkdv,dq}_d<D><SUF>.
#define ATT_BWD(T, SUF, D, MINB)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256)                                                            \
        attn_bwd_dot_d##D##SUF(const T* out, const T* dout, float* dvec, int B, int N, int H) {                  \
        attn_bwd_dot<D>(out, dout, dvec, B, N, H);                                                                \
    }                                                                                                             \
    extern "C" __global__ void __launch_bounds__(ATT_THREADS, MINB)                                              \
        attn_bwd_dkdv_d##D##SUF(const T* qkv, const T* dout, const float* lse, const float* dvec, T* dqkv, int B, \
                                int N, int H, float scale_log2, float scale, int skip) {                         \
        attn_bwd_dkdv<D>(qkv, dout, lse, dvec, dqkv, B, N, H, scale_log2, scale, skip);                           \
    }                                                                                                             \
    extern "C" __global__ void __launch_bounds__(ATT_THREADS, MINB)                                              \
        attn_bwd_dq_d##D##SUF(const T* qkv, const T* dout, const float* lse, const float* dvec, T* dqkv, int B,   \
                              int N, int H, float scale_log2, float scale, int skip) {                           \
        attn_bwd_dq<D>(qkv, dout, lse, dvec, dqkv, B, N, H, scale_log2, scale, skip);                             \
    }

// ------------------------------------------------ head-resident variants
//
// One block per (batch, head) holds the whole sequence of that head in
// shared memory and its warps take 16-row work units from a shared counter
// until none are left. Rows are stored unpadded (D elements each) with the
// 16-byte chunks XOR-swizzled, so that ldmatrix reads 8 rows without bank
// conflicts: chunk c of row r sits at chunk c ^ ((r >> 1) & 3) for D = 32
// (64-byte rows) and c ^ (r & 7) for D = 64 (128-byte rows). Rows from N to
// NP = ceil(N/16)·16 are zero-filled. The global layouts are those of the
// tiled kernels above.
//
// attn_fwd_head_w<W>_d<D>: Q, K, V resident (3·NP·D·2 bytes: 39 KB for
//   N = 197, D = 32). Unit u = query rows 16u..16u+15, all keys in chunks of
//   64 (only the 16-key groups below N enter the products), online softmax
//   as in attn_fwd. Grid B·H, block 32·W. Parameters: qkv, out, lse, B, N,
//   H, scale_log2.
// attn_bwd_head_w<W>_d<D>: Q, K, V, dO resident, with lse·log2(e) (+inf past
//   N) and dvec = rowsum(dO∘O) (computed here from O: no separate kernel) in
//   two fp32 arrays of NL = ceil(N/32)·32: 4·NP·D·2 + 8·NL + 16 bytes (55 KB
//   for N = 197, D = 32; 108 KB for D = 64). Units 0..G-1 (G = NP/16): a warp
//   owns 16 keys and sweeps all queries 32 at a time: Sᵀ = K·Qᵀ, dPᵀ =
//   V·dOᵀ, Pᵀ = exp2(Sᵀ·scale_log2 − lse₂), dSᵀ = Pᵀ∘(dPᵀ − dvec),
//   dV += Pᵀ·dO, dK += dSᵀ·Q, stored as dK·scale and dV. Units G..2G-1: a
//   warp owns 16 queries and sweeps all keys 32 at a time: S, dP, dS again,
//   dQ += dS·K, stored as dQ·scale. The key units come first (four products
//   each against three). No atomics on global memory, no second kernel:
//   each element of dqkv is written once by one warp. Grid B·H, block 32·W.
//   Parameters: qkv, out, dout, lse, dqkv, B, N, H, scale_log2, scale.

template <int D>
__device__ __forceinline__ int sw_off(int row, int chunk) {
    constexpr int CH = D / 8;
    const int x = CH == 4 ? ((row >> 1) & 3) : (row & 7);
    return row * D + ((chunk ^ x) << 3);
}

// load_head copies rows 0..NP-1 of one slot (row stride tok_stride) into s,
// swizzled, zero-filling rows ≥ N.
template <int D, int NT, typename T>
__device__ __forceinline__ void load_head(T* s, const T* __restrict__ base, size_t tok_stride, int N, int NP,
                                          int tid) {
    constexpr int CH = D / 8;
    for (int c = tid; c < NP * CH; c += NT) {
        int row = c / CH, ch = c % CH;
        const T* src = row < N ? base + (size_t)row * tok_stride + ch * 8 : base;
        cp_async16(smem_u32(s + sw_off<D>(row, ch)), src, row < N ? 16 : 0);
    }
}

// A-operand fragments of rows r0..r0+15 (all D columns) of a swizzled matrix.
template <int D, typename T>
__device__ __forceinline__ void frags_sw(uint32_t (*f)[4], const T* s, int r0, int lane) {
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) ldsm_x4(f[kk], smem_u32(s + sw_off<D>(r0 + (lane & 15), 2 * kk + (lane >> 4))));
}

// acc[2·NJ][4] (16 × 16·NJ) += A(16×D) · Bᵀ, B = rows r0.. of a swizzled
// matrix; 16-row groups nj ≥ nv are skipped.
template <int D, int NJ, typename T>
__device__ __forceinline__ void a_x_rowsT_sw(float (*acc)[4], const uint32_t (*af)[4], const T* bs, int r0, int lane,
                                             int nv) {
    const int i = lane >> 3;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
#pragma unroll
        for (int nj = 0; nj < NJ; nj++) {
            if (nj >= nv) break;
            uint32_t r[4];
            ldsm_x4(r, smem_u32(bs + sw_off<D>(r0 + nj * 16 + (lane & 7) + (i >> 1) * 8, 2 * kk + (i & 1))));
            mma16816<T>(acc[2 * nj], af[kk], r[0], r[1]);
            mma16816<T>(acc[2 * nj + 1], af[kk], r[2], r[3]);
        }
    }
}

// acc[D/8][4] (16×D) += P(16 × 16·NK, A fragments pa) · B, B = rows r0.. of a
// swizzled matrix; k steps kk ≥ nv are skipped.
template <int D, int NK, typename T>
__device__ __forceinline__ void p_x_rows_sw(float (*acc)[4], const uint32_t (*pa)[4], const T* bs, int r0, int lane,
                                            int nv) {
    const int i = lane >> 3;
#pragma unroll
    for (int kk = 0; kk < NK; kk++) {
        if (kk >= nv) break;
#pragma unroll
        for (int dj = 0; dj < D / 16; dj++) {
            uint32_t r[4];
            ldsm_x4_t(r, smem_u32(bs + sw_off<D>(r0 + kk * 16 + (lane & 7) + (i & 1) * 8, 2 * dj + (i >> 1))));
            mma16816<T>(acc[2 * dj], pa[kk], r[0], r[1]);
            mma16816<T>(acc[2 * dj + 1], pa[kk], r[2], r[3]);
        }
    }
}

// next_unit hands the calling warp the next work unit of the block.
__device__ __forceinline__ int next_unit(int* counter, int lane) {
    int u = 0;
    if (lane == 0) u = atomicAdd(counter, 1);
    return __shfl_sync(0xffffffffu, u, 0);
}

template <int D, int W, typename T>
__device__ __forceinline__ void attn_fwd_head(const T* __restrict__ qkv, T* __restrict__ out,
                                              float* __restrict__ lse, int B, int N, int H, float scale_log2) {
    constexpr int NT = 32 * W;
    extern __shared__ __align__(16) half sm[];  // viewed as T
    T* const st = (T*)sm;
    const int NP = (N + 15) & ~15;
    T* sQ = st;
    T* sK = st + NP * D;
    T* sV = st + 2 * NP * D;
    int* counter = (int*)(st + 3 * NP * D);
    const int tid = threadIdx.x, lane = tid & 31;
    const int g = lane >> 2, t = lane & 3;
    const int bh = blockIdx.x, b = bh / H, h = bh % H;
    const size_t tok = (size_t)3 * H * D;
    const T* base = qkv + (size_t)b * N * tok + (size_t)h * D;
    load_head<D, NT>(sQ, base, tok, N, NP, tid);
    load_head<D, NT>(sK, base + (size_t)H * D, tok, N, NP, tid);
    load_head<D, NT>(sV, base + (size_t)2 * H * D, tok, N, NP, tid);
    cp_async_commit();
    if (tid == 0) *counter = 0;
    cp_async_wait<0>();
    __syncthreads();
    const int G = NP / 16;
    for (int u = next_unit(counter, lane); u < G; u = next_unit(counter, lane)) {
        const int q0 = u * 16;
        uint32_t qf[D / 16][4];
        frags_sw<D>(qf, sQ, q0, lane);
        float o[D / 8][4];
#pragma unroll
        for (int i = 0; i < D / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
        float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
        for (int k0 = 0; k0 < N; k0 += 64) {
            const int nv = min(4, (N - k0 + 15) >> 4);
            float s[8][4];
#pragma unroll
            for (int i = 0; i < 8; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
            a_x_rowsT_sw<D, 4>(s, qf, sK, k0, lane, nv);
            if (k0 + 64 > N) {
#pragma unroll
                for (int ni = 0; ni < 8; ni++) {
                    int key = k0 + ni * 8 + 2 * t;
                    if (key >= N) s[ni][0] = s[ni][2] = -INFINITY;
                    if (key + 1 >= N) s[ni][1] = s[ni][3] = -INFINITY;
                }
            }
#pragma unroll
            for (int r = 0; r < 2; r++) {
                float mx = -INFINITY;
#pragma unroll
                for (int ni = 0; ni < 8; ni++) mx = fmaxf(mx, fmaxf(s[ni][2 * r], s[ni][2 * r + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float mnew = fmaxf(m[r], mx * scale_log2);
                const float alpha = exp2f(m[r] - mnew);
                m[r] = mnew;
                float sum = 0.f;
#pragma unroll
                for (int ni = 0; ni < 8; ni++) {
                    float p0 = exp2f(s[ni][2 * r] * scale_log2 - mnew);
                    float p1 = exp2f(s[ni][2 * r + 1] * scale_log2 - mnew);
                    s[ni][2 * r] = p0;
                    s[ni][2 * r + 1] = p1;
                    sum += p0 + p1;
                }
                l[r] = l[r] * alpha + sum;
#pragma unroll
                for (int dn = 0; dn < D / 8; dn++) {
                    o[dn][2 * r] *= alpha;
                    o[dn][2 * r + 1] *= alpha;
                }
            }
            uint32_t pa[4][4];
#pragma unroll
            for (int kk = 0; kk < 4; kk++) acc_to_a<T>(pa[kk], s[2 * kk], s[2 * kk + 1]);
            p_x_rows_sw<D, 4>(o, pa, sV, k0, lane, nv);
        }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float sum = l[r];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            const float inv = 1.0f / sum;
            const int q = q0 + g + 8 * r;
            if (q < N) {
                T* orow = out + (((size_t)b * N + q) * H + h) * D;
#pragma unroll
                for (int dn = 0; dn < D / 8; dn++)
                    *(typename GemmT<T>::T2*)(orow + dn * 8 + 2 * t) = GemmT<T>::pack(o[dn][2 * r] * inv, o[dn][2 * r + 1] * inv);
                if (t == 0) lse[((size_t)b * H + h) * N + q] = (m[r] + log2f(sum)) * 0.69314718055994531f;
            }
        }
    }
}

// Pᵀ and dSᵀ (or P and dS) of one 16 × 8·NI tile: s ← exp2(s·scale_log2 − L),
// dp ← s∘(dp − Dv). Lc/Dc give L and Dv by column (keys-as-rows: the
// queries' values), Lr/Dr by row (queries-as-rows).
template <bool BY_COL, int NI>
__device__ __forceinline__ void softmax_grad(float (*s)[4], float (*dp)[4], const float* Lc, const float* Dc,
                                             const float* Lr, const float* Dr, int c0, int t, float scale_log2) {
#pragma unroll
    for (int ni = 0; ni < NI; ni++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
            float Lcol = 0.f, Dcol = 0.f;
            if (BY_COL) {
                Lcol = Lc[c0 + ni * 8 + 2 * t + e];
                Dcol = Dc[c0 + ni * 8 + 2 * t + e];
            }
#pragma unroll
            for (int r = 0; r < 2; r++) {
                const float L = BY_COL ? Lcol : Lr[r];
                const float Dv = BY_COL ? Dcol : Dr[r];
                const float p = exp2f(s[ni][2 * r + e] * scale_log2 - L);
                s[ni][2 * r + e] = p;
                dp[ni][2 * r + e] = p * (dp[ni][2 * r + e] - Dv);
            }
        }
    }
}

// store_rows_g writes a warp's 16×D fp32 accumulator times mul as T rows
// r0.. (below N) of dst (row stride tok).
template <int D, typename T>
__device__ __forceinline__ void store_rows_g(T* __restrict__ dst, size_t tok, const float (*acc)[4], int r0, int N,
                                             float mul, int lane) {
    store_rows<D>(dst, tok, acc, r0, N, mul, lane);
}

template <int D, int W, bool RELOAD, int QJ, typename T>
__device__ __forceinline__ void attn_bwd_head(const T* __restrict__ qkv, const T* __restrict__ out,
                                              const T* __restrict__ dout, const float* __restrict__ lse,
                                              T* __restrict__ dqkv, int B, int N, int H, float scale_log2,
                                              float scale) {
    constexpr int NT = 32 * W;
    constexpr int CH = D / 8;
    extern __shared__ __align__(16) half sm[];  // viewed as T
    T* const st = (T*)sm;
    const int NP = (N + 15) & ~15, NL = (N + 31) & ~31;
    T* sQ = st;
    T* sK = st + NP * D;
    T* sV = st + 2 * NP * D;
    T* sO = st + 3 * NP * D;  // dO
    float* sL = (float*)(st + 4 * NP * D);
    float* sD = sL + NL;
    int* counter = (int*)(sD + NL);
    const int tid = threadIdx.x, lane = tid & 31;
    const int g = lane >> 2, t = lane & 3;
    const int bh = blockIdx.x, b = bh / H, h = bh % H;
    const size_t tok = (size_t)3 * H * D, otok = (size_t)H * D;
    const T* base = qkv + (size_t)b * N * tok + (size_t)h * D;
    const T* dobase = dout + (size_t)b * N * otok + (size_t)h * D;
    const T* obase = out + (size_t)b * N * otok + (size_t)h * D;
    load_head<D, NT>(sQ, base, tok, N, NP, tid);
    load_head<D, NT>(sK, base + (size_t)H * D, tok, N, NP, tid);
    load_head<D, NT>(sV, base + (size_t)2 * H * D, tok, N, NP, tid);
    load_head<D, NT>(sO, dobase, otok, N, NP, tid);
    cp_async_commit();
    const float* lse_bh = lse + ((size_t)b * H + h) * N;
    for (int i = tid; i < NL; i += NT) sL[i] = i < N ? lse_bh[i] * 1.4426950408889634f : INFINITY;
    // dvec = rowsum(dO∘O): CH consecutive threads per row, 8 elements each;
    // the loop bound is uniform so that the shuffles see every lane.
    for (int c0 = 0; c0 < NL * CH; c0 += NT) {
        const int c = c0 + tid, row = c / CH;
        float s = 0.f;
        if (row < N) {
            const size_t off = (size_t)row * otok + (c % CH) * 8;
            uint4 a = *(const uint4*)(obase + off);
            uint4 d = *(const uint4*)(dobase + off);
            const typename GemmT<T>::T2* ah = (const typename GemmT<T>::T2*)&a;
            const typename GemmT<T>::T2* dh = (const typename GemmT<T>::T2*)&d;
#pragma unroll
            for (int i = 0; i < 4; i++) {
                float2 x = widen2(ah[i]), y = widen2(dh[i]);
                s += x.x * y.x + x.y * y.y;
            }
        }
#pragma unroll
        for (int o = CH / 2; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (c % CH == 0 && row < NL) sD[row] = s;
    }
    if (tid == 0) *counter = 0;
    cp_async_wait<0>();
    __syncthreads();

    const int G = NP / 16;
    T* dbase = dqkv + (size_t)b * N * tok + (size_t)h * D;
    for (int u = next_unit(counter, lane); u < 2 * G; u = next_unit(counter, lane)) {
        if (u < G) {
            // dK, dV for keys 16u..16u+15.
            const int k0 = u * 16;
            // At D = 64 the K and V fragments (32 registers) are read again
            // for every chunk, to stay within 128 registers.
            uint32_t kf[D / 16][4], vf[D / 16][4];
            if (!RELOAD) {
                frags_sw<D>(kf, sK, k0, lane);
                frags_sw<D>(vf, sV, k0, lane);
            }
            float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
            for (int i = 0; i < D / 8; i++)
#pragma unroll
                for (int e = 0; e < 4; e++) dk[i][e] = dv[i][e] = 0.f;
            for (int q0 = 0; q0 < N; q0 += 16 * QJ) {
                const int nv = min(QJ, (N - q0 + 15) >> 4);
                float s[2 * QJ][4], dp[2 * QJ][4];
#pragma unroll
                for (int a = 0; a < 2 * QJ; a++)
#pragma unroll
                    for (int e = 0; e < 4; e++) s[a][e] = dp[a][e] = 0.f;
                if (RELOAD) frags_sw<D>(kf, sK, k0, lane);
                a_x_rowsT_sw<D, QJ>(s, kf, sQ, q0, lane, nv);
                if (RELOAD) frags_sw<D>(vf, sV, k0, lane);
                a_x_rowsT_sw<D, QJ>(dp, vf, sO, q0, lane, nv);
                softmax_grad<true, 2 * QJ>(s, dp, sL, sD, nullptr, nullptr, q0, t, scale_log2);
                uint32_t pa[QJ][4], da[QJ][4];
#pragma unroll
                for (int kk = 0; kk < QJ; kk++) {
                    acc_to_a<T>(pa[kk], s[2 * kk], s[2 * kk + 1]);
                    acc_to_a<T>(da[kk], dp[2 * kk], dp[2 * kk + 1]);
                }
                p_x_rows_sw<D, QJ>(dv, pa, sO, q0, lane, nv);
                p_x_rows_sw<D, QJ>(dk, da, sQ, q0, lane, nv);
            }
            store_rows_g<D>(dbase + (size_t)H * D, tok, dk, k0, N, scale, lane);
            store_rows_g<D>(dbase + (size_t)2 * H * D, tok, dv, k0, N, 1.0f, lane);
        } else {
            // dQ for queries 16(u−G)..+15.
            const int q0 = (u - G) * 16;
            uint32_t qf[D / 16][4], of[D / 16][4];
            if (!RELOAD) {
                frags_sw<D>(qf, sQ, q0, lane);
                frags_sw<D>(of, sO, q0, lane);
            }
            float Lr[2], Dr[2];
#pragma unroll
            for (int r = 0; r < 2; r++) {
                Lr[r] = sL[q0 + g + 8 * r];
                Dr[r] = sD[q0 + g + 8 * r];
            }
            float dq[D / 8][4];
#pragma unroll
            for (int i = 0; i < D / 8; i++) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;
            for (int k0 = 0; k0 < N; k0 += 16 * QJ) {
                const int nv = min(QJ, (N - k0 + 15) >> 4);
                float s[2 * QJ][4], dp[2 * QJ][4];
#pragma unroll
                for (int a = 0; a < 2 * QJ; a++)
#pragma unroll
                    for (int e = 0; e < 4; e++) s[a][e] = dp[a][e] = 0.f;
                if (RELOAD) frags_sw<D>(qf, sQ, q0, lane);
                a_x_rowsT_sw<D, QJ>(s, qf, sK, k0, lane, nv);
                if (RELOAD) frags_sw<D>(of, sO, q0, lane);
                a_x_rowsT_sw<D, QJ>(dp, of, sV, k0, lane, nv);
                softmax_grad<false, 2 * QJ>(s, dp, nullptr, nullptr, Lr, Dr, k0, t, scale_log2);
                // Keys past N have zero K and V rows (so zero dP), but a
                // nonzero P: mask their dS, although their K rows would add
                // nothing to dQ anyway.
                if (k0 + 16 * QJ > N) {
#pragma unroll
                    for (int ni = 0; ni < 2 * QJ; ni++) {
                        int key = k0 + ni * 8 + 2 * t;
                        if (key >= N) dp[ni][0] = dp[ni][2] = 0.f;
                        if (key + 1 >= N) dp[ni][1] = dp[ni][3] = 0.f;
                    }
                }
                uint32_t da[QJ][4];
#pragma unroll
                for (int kk = 0; kk < QJ; kk++) acc_to_a<T>(da[kk], dp[2 * kk], dp[2 * kk + 1]);
                p_x_rows_sw<D, QJ>(dq, da, sK, k0, lane, nv);
            }
            store_rows_g<D>(dbase, tok, dq, q0, N, scale, lane);
        }
    }
}

// ATT_HEAD instantiates the head-resident kernels for element type T as
// attn_{fwd,bwd}_head_w<W>_d<D><SUF>. At D = 64 with 8 warps the backward
// reloads the K/V (Q/dO) fragments per chunk and sweeps 16 rows at a time,
// to stay within 128 registers.
#define ATT_HEAD(T, SUF, D, W, MINB)                                                                               \
    extern "C" __global__ void __launch_bounds__(32 * W, MINB)                                                    \
        attn_fwd_head_w##W##_d##D##SUF(const T* qkv, T* out, float* lse, int B, int N, int H, float scale_log2) { \
        attn_fwd_head<D, W>(qkv, out, lse, B, N, H, scale_log2);                                                   \
    }                                                                                                              \
    extern "C" __global__ void __launch_bounds__(32 * W, MINB)                                                    \
        attn_bwd_head_w##W##_d##D##SUF(const T* qkv, const T* out, const T* dout, const float* lse, T* dqkv, int B, \
                                       int N, int H, float scale_log2, float scale) {                             \
        attn_bwd_head<D, W, (D == 64 && W == 8), (D == 64 && W == 8) ? 1 : 2>(qkv, out, dout, lse, dqkv, B, N, H, \
                                                                              scale_log2, scale);                 \
    }

// ------------------------------------------------------------ the kernels
//
// One PTX module per element type: this file compiled by itself gives the
// fp16 kernels (attention.ptx); attention_bf16.cu defines ATT_BF16 and
// includes it for the bf16 twins (attention_bf16.ptx). Kept apart, the fp16
// module is the one the source gave before the templating, byte for byte:
// with the bf16 twins in the same module, nvcc 12.4 merges the two fp32
// shared-memory loads of lse of the head-resident backward
// (softmax_grad<true>) into one ld.shared.v2 in attn_bwd_head_w4_d64 where
// the fp16-only module has two ld.shared.f32 (its load vectoriser is
// sensitive to the rest of the module; it also varies from run to run).
#ifndef ATT_BF16
ATT_FWD(half, , 32, 4)
ATT_FWD(half, , 64, 3)
ATT_BWD(half, , 32, 3)
ATT_BWD(half, , 64, 2)
ATT_HEAD(half, , 32, 4, 4)
ATT_HEAD(half, , 32, 8, 2)
ATT_HEAD(half, , 64, 4, 2)
ATT_HEAD(half, , 64, 8, 2)
#else
ATT_FWD(bf16, _bf16, 32, 4)
ATT_FWD(bf16, _bf16, 64, 3)
ATT_BWD(bf16, _bf16, 32, 3)
ATT_BWD(bf16, _bf16, 64, 2)
ATT_HEAD(bf16, _bf16, 32, 4, 4)
ATT_HEAD(bf16, _bf16, 32, 8, 2)
ATT_HEAD(bf16, _bf16, 64, 4, 2)
ATT_HEAD(bf16, _bf16, 64, 8, 2)
#endif
