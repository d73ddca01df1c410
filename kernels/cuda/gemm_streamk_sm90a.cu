// gemm_streamk_sm90a.cu: stream-K partial products for Hopper (TMA loads,
// wgmma, the ring and roles of the _tma_p kernels in tma_sm90a.cuh), and
// the reduction that sums them into C in a fixed order.
//
// Why. A weight gradient of a ViT-S/16 step (M×N = 1536×384, 1152×384 or
// 384×1536, K = 50432 tokens) has 18–24 output tiles for 132 SMs, so K is
// split. Split-K gives every tile the same number of chunks: 24 tiles × 5
// chunks keep 120 SMs busy, 18 × 7 keep 126, and the others idle for the
// whole product. Stream-K (Osama et al., PPoPP 2023) instead deals the
// product's k-tiles out evenly: the tiles' k-tiles, tile by tile, form one
// sequence of tiles·KT k-iterations, and block b of G takes iterations
// [⌊b·total/G⌋, ⌊(b+1)·total/G⌋). A block's range crosses tile boundaries:
// it computes a partial product of each tile it touches (a segment) and
// stores it, fp32, into its own slot of the workspace.
//
// gemm_<t>_tn_tma_sk[192](tmA, tmB, W, M, N, K, maxseg): the weight-gradient
// layout (A stored K×M, B stored K×N, both m/n-contiguous, as _tma_p's
// "tn"), 128×256 (or 128×192) tiles, 384 threads (a producer warpgroup and
// two consumers of 64 rows), the tensor maps and shared memory of
// gemm_<t>_tn_tma_p[192]. Block b's segment s (its tiles in order) goes to
// slot b·maxseg + s of W, a 128×BN row-major fp32 tile at W + slot·128·BN.
// Rows and columns past M and N hold whatever the stages held there (the
// loads skip 64-wide chunks that start past M or N): the reduction reads
// no row past M and keeps no column past N. Launch: grid G ≤ tiles·KT
// (every block gets at least one k-tile), one block per SM; maxseg at
// least the most segments of any block (streamKPlan in engine/cuda computes
// both; GemmF16 takes stream-K only where a block's share is under half a
// tile's k-tiles, so maxseg is 2 there).
//
// gemm_streamk_reduce[_bf16](W, C, bias, M, N, ldc, alpha, beta, flags, BN,
// KT, G, maxseg): C[r, c] = act(alpha · Σ_b P_b[r, c] + bias[c]) + beta ·
// C[r, c], the sum over the blocks b that computed part of the tile holding
// (r, c), in increasing b: the result does not depend on scheduling. flags:
// GEMM_GELU, GEMM_OUT_F16 (C holds the operand type, fp16 or bf16). Each
// thread takes four consecutive columns of a row. Launch: any 1-D grid
// (grid-stride), block 256.
//
// The index arithmetic (sk_start, sk_block, the grouped tile order) is
// mirrored in engine/cuda/streamk.go, whose tests check that the segments
// cover every k-tile once and that the reduction finds each one.

#include "tma_sm90a.cuh"

// sk_start is the first k-iteration of block b of G over total.
__device__ __forceinline__ int sk_start(int b, int total, int G) { return (int)((long long)b * total / G); }

// sk_block is the block of G whose range holds k-iteration p of total.
__device__ __forceinline__ int sk_block(int p, int total, int G) {
    return (int)(((long long)(p + 1) * G - 1) / total);
}

template <typename T, bool A_MN, bool B_MN, int BN, bool WIDE = false>
__device__ __forceinline__ void gemm_tma_sk_body(const TmaDesc* tmA, const TmaDesc* tmB, float* W, int M, int N,
                                                 int K, int maxseg) {
    constexpr int S = BN == 256 ? 4 : 5;  // stages, as gemm_tma_p_body's
    constexpr int STAGE = T_A_BYTES + BN * 128;
    extern __shared__ __align__(16) unsigned char smem_k[];
    const uint32_t base = (smem_u32(smem_k) + 1023) & ~1023u;
    const uint32_t bars = base + S * STAGE;  // full[s] at bars+8s, empty[s] at bars+8(S+s)
    const int tid = threadIdx.x, wg = tid >> 7;

    const int tilesM = (M + T_BM - 1) / T_BM, tilesN = (N + BN - 1) / BN;
    const int KT = (K + T_BK - 1) / T_BK;
    const int total = tilesM * tilesN * KT;
    const int beg = sk_start(blockIdx.x, total, gridDim.x), end = sk_start(blockIdx.x + 1, total, gridDim.x);

    if (tid == 0) {
        tma_ring_init<S>(bars, 2);
        mbar_init_fence();
    }
    __syncthreads();

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        if (tid == 0) {
            int it = 0;  // k-tiles loaded so far
            for (int p = beg; p < end;) {
                const int tile = p / KT, kt0 = p % KT, n = min(KT - kt0, end - p);
                int m0, n0;
                tile_origin<1, BN>(tile, tilesM, tilesN, 0, m0, n0);
                tma_produce_ktiles<A_MN, B_MN, BN, 1, S, WIDE>(tmA, tmB, base, bars, it, m0, n0, kt0 * T_BK, n, 0, M,
                                                               N);
                p += n;
            }
        }
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int c = wg - 1;
        const bool leader = (tid & 127) == 0;
        int it = 0;  // k-tiles consumed so far
        float* slot = W + (size_t)blockIdx.x * maxseg * (T_BM * BN);
        for (int p = beg; p < end; slot += T_BM * BN) {
            const int n = min(KT - p % KT, end - p);
            float d[BN / 2];
            tma_consume_ktiles<T, A_MN, B_MN, BN, 1, S>(d, base, bars, it, n, c, leader, false, 0, 0, false);
            // The raw partial product: rows c·64 on of the slot, every column.
            wgmma_epilogue<T, BN>(d, slot, nullptr, T_BM, BN, BN, c * 64, 0, 1.0f, 0.0f, 0);
            p += n;
        }
    }
}

#define GEMM_TMA_SK_KERNEL(name, T, AMN, BMN, BN)                                                             \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                    \
        name(const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmB, float* W, int M, int N, \
             int K, int maxseg) {                                                                           \
        gemm_tma_sk_body<T, AMN, BMN, BN>(&tmA, &tmB, W, M, N, K, maxseg);                                  \
    }
GEMM_TMA_SK_KERNEL(gemm_f16_tn_tma_sk, half, true, true, 256)
GEMM_TMA_SK_KERNEL(gemm_f16_tn_tma_sk192, half, true, true, 192)
GEMM_TMA_SK_KERNEL(gemm_bf16_tn_tma_sk, bf16, true, true, 256)
GEMM_TMA_SK_KERNEL(gemm_bf16_tn_tma_sk192, bf16, true, true, 192)

template <typename T>
__device__ __forceinline__ void streamk_reduce(const float* __restrict__ W, void* C, const float* __restrict__ bias,
                                               int M, int N, int ldc, float alpha, float beta, int flags, int BN,
                                               int KT, int G, int maxseg) {
    const bool gelu = flags & GEMM_GELU, out16 = flags & GEMM_OUT_F16;
    const int tilesM = (M + T_BM - 1) / T_BM, tilesN = (N + BN - 1) / BN;
    const int total = tilesM * tilesN * KT;
    const int nq = (N + 3) / 4;  // column quads a row
    const size_t quads = (size_t)M * nq, slotSize = (size_t)T_BM * BN;
    for (size_t q = (size_t)blockIdx.x * blockDim.x + threadIdx.x; q < quads; q += (size_t)gridDim.x * blockDim.x) {
        const int row = (int)(q / nq), col = 4 * (int)(q % nq);
        const int mt = row / T_BM, nt = col / BN;
        // The tile's place in tile_origin's order: groups of 8 tile rows,
        // column by column within a group.
        const int first = mt / 8 * 8, gsize = min(tilesM - first, 8);
        const int tile = first * tilesN + nt * gsize + (mt - first);
        const int b0 = sk_block(tile * KT, total, G), b1 = sk_block((tile + 1) * KT - 1, total, G);
        // The quad's offset in a slot: 16-byte aligned, since BN and col −
        // nt·BN are multiples of 4; a quad past N stays inside the slot.
        const size_t off = (size_t)(row - mt * T_BM) * BN + (col - nt * BN);
        float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int b = b0; b <= b1; b++) {
            const int seg = tile - sk_start(b, total, G) / KT;
            const float4 w = *(const float4*)(W + ((size_t)b * maxseg + seg) * slotSize + off);
            v[0] += w.x;
            v[1] += w.y;
            v[2] += w.z;
            v[3] += w.w;
        }
#pragma unroll
        for (int j = 0; j < 4; j++)
            if (col + j < N) reduce_store<T>(C, row, col + j, ldc, v[j], alpha, bias, gelu, out16, beta);
    }
}

#define GEMM_STREAMK_REDUCE(name, T)                                                                             \
    extern "C" __global__ void __launch_bounds__(256)                                                            \
        name(const float* __restrict__ W, void* C, const float* __restrict__ bias, int M, int N, int ldc,         \
             float alpha, float beta, int flags, int BN, int KT, int G, int maxseg) {                            \
        streamk_reduce<T>(W, C, bias, M, N, ldc, alpha, beta, flags, BN, KT, G, maxseg);                         \
    }
GEMM_STREAMK_REDUCE(gemm_streamk_reduce, half)
GEMM_STREAMK_REDUCE(gemm_streamk_reduce_bf16, bf16)

// gemm_<t>_tn_tma_sk[192]w: gemm_<t>_tn_tma_sk[192] with each operand's
// tile one box of a three-dimensional tensor map (SetGemmWideBoxes; tensor
// maps and conditions as gemm_<t>_tn_tma_p[192]w in gemm_f16_tma_sm90a.cu).
// Last in the file, so that the PTX of the kernels above stays as measured.
#define GEMM_TMA_SKW_KERNEL(name, T, BN)                                                                       \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                    \
        name(const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmB, float* W, int M, int N, \
             int K, int maxseg) {                                                                           \
        gemm_tma_sk_body<T, true, true, BN, true>(&tmA, &tmB, W, M, N, K, maxseg);                          \
    }
GEMM_TMA_SKW_KERNEL(gemm_f16_tn_tma_skw, half, 256)
GEMM_TMA_SKW_KERNEL(gemm_f16_tn_tma_sk192w, half, 192)
GEMM_TMA_SKW_KERNEL(gemm_bf16_tn_tma_skw, bf16, 256)
GEMM_TMA_SKW_KERNEL(gemm_bf16_tn_tma_sk192w, bf16, 192)
