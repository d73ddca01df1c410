// gemm_mma_tma_sm90a.cu: fp16 and bf16 GEMM on Hopper with mma.sync
// tensor-core instructions fed by TMA, for the Linear-layer layout
//
//   C = act(alpha · A · Bᵀ + bias) + beta · C,   A m×k, B n×k (both k-contiguous)
//
// (gemm_f16.cu's epilogue, flags and conventions; direct stores).
//
// Why. Issue 4 asks for mma.sync at 0.7× cuBLAS at 4096³. The cp.async
// kernels reach 0.38–0.45× on an H100 (gemm_f16 128×128 with 8 warps of
// 64×32; _w 128×256 with 8 warps of 64×64 at one block an SM; mma4 with 4
// warps of 64×64 at two blocks an SM). All three stop every warp of a block
// at a __syncthreads per k-tile and spend issue slots on cp.async address
// arithmetic. This kernel keeps the 64×64 warp tiles of _w (128 bytes of
// ldmatrix reads per mma, 48 of stage writes: under an SM's 128 bytes a
// clock at mma.sync's measured peak) and takes those two costs away: a
// producer warp loads each stage with two TMA boxes, and every consumer warp
// waits only for the stage it reads (an mbarrier) and releases it alone.
//
// Block tile 128×256×64, 256 threads: 8 warps, a 2×4 grid of 64×64 warp
// tiles. 4 stages of 48 KB: A as a box of 64 k × 128 rows, B as 64 k × 256
// rows, both in TMA's 128-byte swizzle (the 16-byte chunk c of row r at
// chunk c ^ (r mod 8)), out-of-range elements zero-filled by the TMA unit,
// so M, N and K are arbitrary. Per k16 step a warp reads its A (4
// ldmatrix.x4) and B (4 ldmatrix.x4) fragments, double-buffered: the next
// step's while the 32 mma of this one run; before the last step's mma a
// warp releases the stage (fence.proxy.async, __syncwarp, then one arrival
// a warp: the empty barrier counts 8), and after them it waits for the
// next stage's full barrier and loads its first fragments. There is no producer warp: ptxas 12.4 holds every thread of a block
// of more than 256 threads to 168 registers on sm_90 (65536 / 384), and
// this warp tile needs about 200. Thread 0 loads the first stages; then,
// once the block has released a stage, it loads the stage's next k-tile
// (warp 0 waits for the other warps there, with three stages of slack).
//
// Kernel: gemm_<t>_nt_mt(tmA, tmB, C, bias, M, N, K, ldc, alpha, beta,
// flags), as gemm_f16_nt_tma (tensor maps: A {K, M} box {64, 128}, B {K,
// N} box {64, 256}, 128-byte swizzle). Launch: grid ceil(M/128)·ceil(N/256)
// (the grouped tile order), block 256, dynamic shared memory 4·49152 + 1024
// + 128.

#include "mma_sm80.cuh"
#include "tma_sm90a.cuh"

#define MT_BM 128
#define MT_BN 256
#define MT_BK 64
#define MT_S 4
#define MT_A_BYTES (MT_BM * 128)
#define MT_STAGE (MT_A_BYTES + MT_BN * 128)
#define MT_WARPS 8

// MtLane is a consumer lane's ldmatrix addressing in a stage: warp (wm,
// wn) = (warp/4, warp mod 4) owns rows 64·wm and columns 64·wn of the
// 128×256 tile. A lane's ldmatrix rows: A rows 64·wm + (lane mod 16) +
// 16·mi, in 16-byte chunk 2·kk + lane/16 (the x4's matrices: rows 0–7 and
// 8–15, k 0–7 and 8–15); B rows 64·wn + (lane mod 8) + 8·(lane/16) + 16·nj,
// chunk 2·kk + (lane/8 mod 2) (n 0–7 and 8–15, k 0–7 and 8–15). Every row
// a lane reads is ≡ lane (mod 8), so the 128-byte swizzle XORs its chunk
// with lane mod 8.
struct MtLane {
    uint32_t a0, b0;  // the lane's first A and B row in a stage
    int ca, cb, sw;   // its chunk within a k16 step's two, and its swizzle
    __device__ __forceinline__ MtLane(int warp, int lane)
        : a0(((warp >> 2) * 64 + (lane & 15)) * 128),
          b0(MT_A_BYTES + ((warp & 3) * 64 + (lane & 7) + ((lane >> 4) << 3)) * 128),
          ca(lane >> 4),
          cb((lane >> 3) & 1),
          sw(lane & 7) {}
    // a is the lane's address for A's 16-row piece mi of k16 step kk in the
    // stage at byte address stage; b, for B's 16-column piece nj.
    __device__ __forceinline__ uint32_t a(uint32_t stage, int mi, int kk) const {
        return stage + a0 + mi * 16 * 128 + (uint32_t)(((2 * kk + ca) ^ sw) << 4);
    }
    __device__ __forceinline__ uint32_t b(uint32_t stage, int nj, int kk) const {
        return stage + b0 + nj * 16 * 128 + (uint32_t)(((2 * kk + cb) ^ sw) << 4);
    }
};

// mt_load_frags loads k16 step kk of the stage at stage: A's four 16-row
// pieces into fa, B's eight 8-column pieces into fb.
__device__ __forceinline__ void mt_load_frags(uint32_t (&fa)[4][4], uint32_t (&fb)[8][2], const MtLane& ln,
                                              uint32_t stage, int kk) {
#pragma unroll
    for (int mi = 0; mi < 4; mi++) ldsm_x4(fa[mi][0], fa[mi][1], fa[mi][2], fa[mi][3], ln.a(stage, mi, kk));
#pragma unroll
    for (int nj = 0; nj < 4; nj++)
        ldsm_x4(fb[2 * nj][0], fb[2 * nj][1], fb[2 * nj + 1][0], fb[2 * nj + 1][1], ln.b(stage, nj, kk));
}

// mt_zero clears a warp's 64×64 accumulators (4×8 m16n8 tiles).
__device__ __forceinline__ void mt_zero(float (&acc)[4][8][4]) {
#pragma unroll
    for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int ni = 0; ni < 8; ni++) acc[mi][ni][0] = acc[mi][ni][1] = acc[mi][ni][2] = acc[mi][ni][3] = 0.f;
}

// mt_consume_ktile runs one k-tile of the main loop gemm_mt_body and
// gemm_mtl_body share, from the stage at byte address stage: four k16
// steps, each step's mma on the fragments in buffer kk mod 2 while load
// fills the other with the next step's. Before the last step's mma the
// warp releases the stage: the fence orders its ldmatrix reads (generic
// proxy) before the TMA refill (async proxy) the release allows, and
// __syncwarp comes before lane 0's arrival on the empty barrier at empty.
// after(last) runs once each step's mma are issued (last: the k-tile's
// fourth step, after which buffer 0 is free for the next k-tile's first
// step).
template <typename T, typename Load, typename After>
__device__ __forceinline__ void mt_consume_ktile(float (&acc)[4][8][4], const uint32_t (&fa)[2][4][4],
                                                 const uint32_t (&fb)[2][8][2], Load& load, uint32_t stage,
                                                 uint32_t empty, int lane, After&& after) {
#pragma unroll
    for (int kk = 0; kk < MT_BK / 16; kk++) {
        const int f = kk & 1;  // the buffer holding step kk
        const bool last = kk + 1 == MT_BK / 16;
        if (!last) {
            load(f ^ 1, stage, kk + 1);
        } else {
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncwarp();
            if (lane == 0) mbar_arrive(empty);
        }
#pragma unroll
        for (int mi = 0; mi < 4; mi++)
#pragma unroll
            for (int ni = 0; ni < 8; ni++) mma16816<T>(acc[mi][ni], fa[f][mi], fb[f][ni][0], fb[f][ni][1]);
        after(last);
    }
}

template <typename T>
__device__ __forceinline__ void gemm_mt_body(const TmaDesc* tmA, const TmaDesc* tmB, void* C,
                                             const float* __restrict__ bias, int M, int N, int K, int ldc,
                                             float alpha, float beta, int flags) {
    extern __shared__ __align__(16) unsigned char smem_mt[];
    const uint32_t base = (smem_u32(smem_mt) + 1023) & ~1023u;
    const uint32_t bars = base + MT_S * MT_STAGE;  // full[s] at bars+8s, empty[s] at bars+8(S+s)
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    int m0, n0;
    grouped_tile<MT_BM, MT_BN>(blockIdx.x, M, N, m0, n0);
    const int KT = (K + MT_BK - 1) / MT_BK;

    // fill(kt): thread 0 loads k-tile kt into its stage.
    auto fill = [&](int kt) {
        const int s = kt % MT_S;
        const uint32_t full = bars + 8 * s;
        mbar_expect_tx(full, MT_STAGE);
        tma_load_2d(base + s * MT_STAGE, tmA, kt * MT_BK, m0, full);
        tma_load_2d(base + s * MT_STAGE + MT_A_BYTES, tmB, kt * MT_BK, n0, full);
    };
    if (tid == 0) {
        tma_ring_init<MT_S>(bars, MT_WARPS);
        mbar_init_fence();
        for (int kt = 0; kt < min(KT, MT_S); kt++) fill(kt);
    }
    __syncthreads();

    // Warp (wm, wn): rows 64·wm, columns 64·wn of the block tile (MtLane).
    const int wm = warp >> 2, wn = warp & 3;
    const MtLane ln(warp, lane);
    uint32_t fa[2][4][4], fb[2][8][2];
    float acc[4][8][4];
    mt_zero(acc);

    // load(f, stage, kk): the fragments of k16 step kk of the stage at
    // byte address stage into buffer f.
    auto load = [&](int f, uint32_t stage, int kk) { mt_load_frags(fa[f], fb[f], ln, stage, kk); };

    if (KT > 0) {
        mbar_wait(bars, 0);
        load(0, base, 0);
    }
    for (int kt = 0; kt < KT; kt++) {
        const int s = kt % MT_S;
        mt_consume_ktile<T>(acc, fa, fb, load, base + s * MT_STAGE, bars + 8 * (MT_S + s), lane, [&](bool last) {
            if (!last) return;
            // With the k-tile's mma issued: thread 0 refills the stage once
            // every warp has released it, then each warp waits for the next
            // stage and loads its first step.
            if (tid == 0 && kt + MT_S < KT) {
                mbar_wait(bars + 8 * (MT_S + s), (kt / MT_S) & 1);
                fill(kt + MT_S);
            }
            __syncwarp();
            if (kt + 1 < KT) {
                const int s2 = (kt + 1) % MT_S;
                mbar_wait(bars + 8 * s2, ((kt + 1) / MT_S) & 1);
                load(0, base + s2 * MT_STAGE, 0);
            }
        });
    }

    mma_store_warp<T, 4, 8>(acc, C, m0 + wm * 64, n0 + wn * 64, M, N, ldc, alpha, bias, flags & GEMM_GELU,
                            flags & GEMM_OUT_F16, beta, lane);
}

// GEMM_MT_KERNEL instantiates body (gemm_mt_body, gemm_mtp_body,
// gemm_mtl_body) for operand type T as the extern "C" kernel name, in
// blocks of threads.
#define GEMM_MT_KERNEL(name, T, body, threads)                                                                   \
    extern "C" __global__ void __launch_bounds__(threads, 1)                                                     \
        name(const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmB, void* C,                  \
             const float* __restrict__ bias, int M, int N, int K, int ldc, float alpha, float beta, int flags) { \
        body<T>(&tmA, &tmB, C, bias, M, N, K, ldc, alpha, beta, flags);                                          \
    }
GEMM_MT_KERNEL(gemm_f16_nt_mt, half, gemm_mt_body, 32 * MT_WARPS)
GEMM_MT_KERNEL(gemm_bf16_nt_mt, bf16, gemm_mt_body, 32 * MT_WARPS)

// The stage layout the persistent kernels' loads (tma_load_ktile,
// tma_produce_ktiles) write must be the one their consumers read.
static_assert(MT_BM == T_BM && MT_BK == T_BK && MT_A_BYTES == T_A_BYTES && MT_STAGE == T_A_BYTES + MT_BN * 128,
              "the TMA loads' stage layout is not the consumers'");

// MtRing is what the persistent kernels' bodies share: the ring in dynamic
// shared memory (S stages from the 1024-aligned base; full[s] at bars +
// 8s, empty[s] at bars + 8(S + s)), the grid of 128×256 tiles, and the
// k-tiles of a tile.
struct MtRing {
    uint32_t base, bars;
    int tilesM, tilesN, tiles, KT;
    __device__ __forceinline__ MtRing(int M, int N, int K) {
        extern __shared__ __align__(16) unsigned char smem_mt[];
        base = (smem_u32(smem_mt) + 1023) & ~1023u;
        bars = base + MT_S * MT_STAGE;
        tilesM = (M + MT_BM - 1) / MT_BM;
        tilesN = (N + MT_BN - 1) / MT_BN;
        tiles = tilesM * tilesN;
        KT = (K + MT_BK - 1) / MT_BK;
    }
};

// gemm_<t>_nt_mtp: the same mma.sync main loop, warp-specialised and
// persistent (GemmMMATMAPersistent).
//
// Why. gemm_<t>_nt_mt reached 0.44× cuBLAS at 4096³ on an H100 (274
// TFLOP/s, the eleventh session), 45% of the rate its own warps could
// issue: per SM sub-partition, 2 warps × 4 k16 steps × 32 mma of 6.2 clocks
// is about 1580 clocks a k-tile, against the 3500 it took. Two of its
// costs stop the tensor cores that the ldmatrix probe (peak_mma_ldsm_f16,
// the same 8 warps of 64×64 with the same fragment double-buffering: 2700
// FLOP per SM per clock, mma.sync's peak) does not have:
//   - thread 0 both computes and refills: after its warp's last mma of a
//     k-tile it waits until all eight warps have released that stage, so
//     warp 0 is held to the slowest warp every k-tile, and the others soon
//     wait for the stages warp 0 refills late;
//   - one tile a block, one block an SM (192 KB of ring): each tile starts
//     with an empty ring (a TMA round trip before the first mma) and ends
//     with an epilogue that nothing overlaps.
// Here a ninth warp produces: one lane walks the block's tiles and k-tiles
// (tma_produce, as the persistent wgmma kernels), waiting only on the empty
// barriers, so no consumer warp ever waits for another; and the block is
// persistent (grid min(tiles, SMs), tiles blockIdx.x, +gridDim.x, …, in
// tile_origin's grouped order), so while the consumers store one tile's
// results the producer already fills the ring with the next tile's first
// k-tiles. 288 threads: nine warps put three on some sub-partition, whose
// 16384 registers then allow 170 a thread, and ptxas 12.4 allocates 168
// (setmaxnreg does not change that: tried, it spills). The 128
// accumulators leave no room for gemm_mt_body's two full buffers of
// fragments (64 registers), so each k16 step loads its A fragments (16
// registers) and then B 16 columns at a time, double-buffered (8
// registers): the B ldmatrix for columns 16·(nj+1) on is issued before
// the 8 mma of columns 16·nj, and the other consumer warp on the same
// sub-partition covers the wait on each step's A. 168 registers, no spills.
//
// The ring position it counts k-tiles over the block's life (as
// tma_consume_ktiles does); the release is mt_consume_ktile's fence.proxy.async,
// __syncwarp and one arrival a warp (the empty barriers count 8), after
// the last k16 step's mma are issued: by then the step's ldmatrix have
// long completed, so the fence's memory barrier costs nothing. The
// producer's other 31 lanes return at once; no block barrier follows the
// split.
//
// Kernel: gemm_<t>_nt_mtp, the arguments of gemm_<t>_nt_mt. Launch: grid
// min(ceil(M/128)·ceil(N/256), SMs), block 288, dynamic shared memory
// 4·49152 + 1024 + 128.
#define MTP_THREADS (32 * (MT_WARPS + 1))

template <typename T>
__device__ __forceinline__ void gemm_mtp_body(const TmaDesc* tmA, const TmaDesc* tmB, void* C,
                                              const float* __restrict__ bias, int M, int N, int K, int ldc,
                                              float alpha, float beta, int flags) {
    const MtRing ring(M, N, K);
    const uint32_t base = ring.base, bars = ring.bars;
    const int tilesM = ring.tilesM, tilesN = ring.tilesN, tiles = ring.tiles, KT = ring.KT;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

    if (tid == 0) {
        tma_ring_init<MT_S>(bars, MT_WARPS);
        mbar_init_fence();
    }
    __syncthreads();
    if (warp == MT_WARPS) {
        if (lane == 0)
            tma_produce<false, false, MT_BN, 1, MT_S>(tmA, tmB, base, bars, blockIdx.x, tiles, gridDim.x, tilesM,
                                                      tilesN, 0, M, N, 0, KT);
        return;
    }

    // The consumer warps' fragment addressing is gemm_mt_body's (MtLane).
    // A k16 step's A fragments are single-buffered and B's loaded 16
    // columns at a time (the header says why); the other consumer warp on
    // the same sub-partition issues its mma while this one waits for its
    // ldmatrix.
    const int wm = warp >> 2, wn = warp & 3;
    const MtLane ln(warp, lane);
    uint32_t fa[4][4];
    float acc[4][8][4];

    int it = 0;  // k-tiles consumed so far, over all of this block's tiles
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int m0, n0;
        tile_origin<1, MT_BN>(tile, tilesM, tilesN, 0, m0, n0);
        mt_zero(acc);
        for (int kt = 0; kt < KT; kt++, it++) {
            const int s = it % MT_S;
            const uint32_t stage = base + s * MT_STAGE;
            mbar_wait(bars + 8 * s, (it / MT_S) & 1);
#pragma unroll
            for (int kk = 0; kk < MT_BK / 16; kk++) {
#pragma unroll
                for (int mi = 0; mi < 4; mi++) ldsm_x4(fa[mi][0], fa[mi][1], fa[mi][2], fa[mi][3], ln.a(stage, mi, kk));
                uint32_t fb[2][2][2];  // B for 16 columns, two buffers
                ldsm_x4(fb[0][0][0], fb[0][0][1], fb[0][1][0], fb[0][1][1], ln.b(stage, 0, kk));
#pragma unroll
                for (int nj = 0; nj < 4; nj++) {
                    const int f = nj & 1;
                    if (nj + 1 < 4)
                        ldsm_x4(fb[f ^ 1][0][0], fb[f ^ 1][0][1], fb[f ^ 1][1][0], fb[f ^ 1][1][1],
                                ln.b(stage, nj + 1, kk));
#pragma unroll
                    for (int mi = 0; mi < 4; mi++)
#pragma unroll
                        for (int h = 0; h < 2; h++)
                            mma16816<T>(acc[mi][2 * nj + h], fa[mi], fb[f][h][0], fb[f][h][1]);
                }
            }
            // Every fragment of this stage has been read into registers
            // (the mma above consumed them): release it. The fence orders
            // this warp's ldmatrix reads (generic proxy) before the TMA
            // refill (async proxy) the arrival allows; the arrival has
            // release semantics.
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncwarp();
            if (lane == 0) mbar_arrive(bars + 8 * (MT_S + s));
        }
        mma_store_warp<T, 4, 8>(acc, C, m0 + wm * 64, n0 + wn * 64, M, N, ldc, alpha, bias, flags & GEMM_GELU,
                                flags & GEMM_OUT_F16, beta, lane);
    }
}

GEMM_MT_KERNEL(gemm_f16_nt_mtp, half, gemm_mtp_body, MTP_THREADS)
GEMM_MT_KERNEL(gemm_bf16_nt_mtp, bf16, gemm_mtp_body, MTP_THREADS)

// gemm_<t>_nt_mtl: gemm_mt_body's eight warps and full fragment
// double-buffering (220 registers, which a 256-thread block allows and a
// 288-thread one does not), persistent, with the refills polled
// (GemmMMATMAPolled): the other answer to the cost gemm_<t>_nt_mtp takes
// away with a ninth warp.
//
// Thread 0 still issues every load, but never blocks on a release: poll()
// issues, in order, each next k-tile whose stage every warp has released
// (mbarrier.test_wait on its empty barrier, which does not wait, where
// try_wait may suspend the thread a while), and stops at the first that is
// not free. Thread 0 polls after each k16 step's mma of its warp; and when
// its warp must wait for a k-tile that is not yet issued, thread 0 polls
// (with a short sleep between tries, so as not to take the issue slots of
// the warp beside it) until it is, and then the warp waits for it to land
// as the others do. So warp 0 is no longer held to the slowest warp each
// k-tile, and while warp 0 is in its main loop a stage is refilled at most
// one k16 step of warp 0 after its last release, instead of after warp 0's
// own last mma of it. (While warp 0 stores a tile's C nobody polls; the
// ring has its S k-tiles of slack.)
//
// The loads run on over the block's tiles as the consumers' ring position
// does: load f is k-tile f mod KT of the block's tile f div KT (tile
// blockIdx.x + (f div KT)·gridDim.x, tile_origin's order), kept as running
// counters, so during the last k-tiles of a tile the polls already fill
// the ring with the next tile's first ones.
//
// Why this cannot deadlock. After the first __syncthreads no warp waits
// for another anywhere but on the ring's barriers. Load f needs every warp
// to have released load f − S. A warp that has not is at a ring position
// ≤ f − S < f: waiting for a load already issued (freed when it lands),
// computing, or storing C, all of which end. Warp 0, when it waits for
// load f, has released every earlier load itself and polls until f is
// issued. And warp 0 leaves only after consuming every load, so every
// load is issued, and lands, before the block ends.
//
// The parity a poll asks of empty barrier f mod S is that of its phase
// f div S − 1 (the releases of load f − S): when load f is polled, the
// phases of that barrier completed so far number f div S − 1 (load f − 2S
// was released, or load f − S could not have been issued) or f div S (load
// f itself is not yet issued, so not released), so the parity tells them
// apart.
//
// Kernel: gemm_<t>_nt_mtl, the arguments of gemm_<t>_nt_mt. Launch: grid
// min(ceil(M/128)·ceil(N/256), SMs), block 256, dynamic shared memory
// 4·49152 + 1024 + 128.
template <typename T>
__device__ __forceinline__ void gemm_mtl_body(const TmaDesc* tmA, const TmaDesc* tmB, void* C,
                                              const float* __restrict__ bias, int M, int N, int K, int ldc,
                                              float alpha, float beta, int flags) {
    const MtRing ring(M, N, K);
    const uint32_t base = ring.base, bars = ring.bars;
    const int tilesM = ring.tilesM, tilesN = ring.tilesN, tiles = ring.tiles, KT = ring.KT;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

    // Thread 0's loads: issued so far and in all, and the next one's
    // k-tile, tile and ring stage, kept as running counters (no division a
    // load).
    int issued = 0, fkt = 0, ftile = blockIdx.x, fs = 0, fm0 = 0, fn0 = 0;
    const int loads = KT * ((tiles - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x);
    if (tid == 0 && loads > 0) tile_origin<1, MT_BN>(ftile, tilesM, tilesN, 0, fm0, fn0);
    auto poll = [&]() {
        while (issued < loads &&
               (issued < MT_S || mbar_test_wait(bars + 8 * (MT_S + fs), ((issued / MT_S) - 1) & 1))) {
            tma_load_ktile<false, false, MT_BN, 1>(tmA, tmB, base + fs * MT_STAGE, bars + 8 * fs, fm0, fn0, fkt * MT_BK,
                                                   0, M, N);
            issued++;
            fs = fs + 1 == MT_S ? 0 : fs + 1;
            if (++fkt == KT && issued < loads) {
                fkt = 0;
                ftile += gridDim.x;
                tile_origin<1, MT_BN>(ftile, tilesM, tilesN, 0, fm0, fn0);
            }
        }
    };
    // wait_full waits for the k-tile at ring position it. In warp 0, thread
    // 0 first polls until that k-tile is issued (a few hundred nanoseconds
    // apart: the warp beside warp 0 keeps the issue slots; a wait past about
    // 2 s traps, as mbar_wait), while its other lanes wait at __syncwarp.
    auto wait_full = [&](int it) {
        if (warp == 0) {
            if (tid == 0) {
                const long long start = clock64();
                for (poll(); issued <= it; poll()) {
                    __nanosleep(100);
                    if (clock64() - start > 4000000000LL) __trap();
                }
            }
            __syncwarp();
        }
        mbar_wait(bars + 8 * (it % MT_S), (it / MT_S) & 1);
    };
    if (tid == 0) {
        tma_ring_init<MT_S>(bars, MT_WARPS);
        mbar_init_fence();
        poll();  // the first S loads
    }
    __syncthreads();

    const int wm = warp >> 2, wn = warp & 3;
    const MtLane ln(warp, lane);
    uint32_t fa[2][4][4], fb[2][8][2];
    float acc[4][8][4];
    auto load = [&](int f, uint32_t stage, int kk) { mt_load_frags(fa[f], fb[f], ln, stage, kk); };

    int it = 0;  // k-tiles consumed so far, over all of this block's tiles
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int m0, n0;
        tile_origin<1, MT_BN>(tile, tilesM, tilesN, 0, m0, n0);
        mt_zero(acc);
        if (KT > 0) {
            wait_full(it);
            load(0, base + (it % MT_S) * MT_STAGE, 0);
        }
        for (int kt = 0; kt < KT; kt++, it++) {
            const int s = it % MT_S;
            mt_consume_ktile<T>(acc, fa, fb, load, base + s * MT_STAGE, bars + 8 * (MT_S + s), lane, [&](bool last) {
                if (warp == 0) {
                    // Thread 0 polls; the warp meets again before its next
                    // ldmatrix and mma (.aligned: the whole warp at once).
                    if (tid == 0) poll();
                    __syncwarp();
                }
                if (last && kt + 1 < KT) {
                    wait_full(it + 1);
                    load(0, base + ((it + 1) % MT_S) * MT_STAGE, 0);
                }
            });
        }
        mma_store_warp<T, 4, 8>(acc, C, m0 + wm * 64, n0 + wn * 64, M, N, ldc, alpha, bias, flags & GEMM_GELU,
                                flags & GEMM_OUT_F16, beta, lane);
    }
}

GEMM_MT_KERNEL(gemm_f16_nt_mtl, half, gemm_mtl_body, 32 * MT_WARPS)
GEMM_MT_KERNEL(gemm_bf16_nt_mtl, bf16, gemm_mtl_body, 32 * MT_WARPS)
