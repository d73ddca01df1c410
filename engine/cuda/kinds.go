package cuda

import "fmt"

// The GEMM kernel kinds and schedule settings, outside the cuda build so
// that the routing rules (route.go) and their tests run on every machine.

// GemmKernel names the kernel GemmF16 uses for the NT layout (A m×k, B n×k:
// the Linear forward) with aligned operands.
type GemmKernel int

const (
	// GemmAuto (the default, the zero value) picks the kernel by device
	// and shape: on compute capability 9.0 the TMA-store kernels for
	// outputs with a tile for every SM, split-K over the TMA kernels for
	// weight gradients (TN, long K, few tiles), autoSM90 for other NT
	// products (gemmRouter.kernelFor); GemmMMA otherwise.
	GemmAuto GemmKernel = iota
	// GemmMMA is the mma.sync kernel (sm_80 and later), used for every
	// layout.
	GemmMMA
	// GemmWGMMA128 is the sm_90a wgmma kernel with 128×128 tiles.
	GemmWGMMA128
	// GemmWGMMA256 is the sm_90a wgmma kernel with 128×256 tiles.
	GemmWGMMA256
	// GemmTMA is the sm_90a kernel with TMA loads, mbarriers and a producer
	// warpgroup beside two wgmma consumer warpgroups (128×256 tiles).
	GemmTMA
	// GemmTMAPersistent is GemmTMA on a persistent grid (one block per SM
	// walking the tiles), so that the loads of a block's next tile overlap
	// the epilogue of its current one.
	GemmTMAPersistent
	// GemmMMAWide is mma.sync with 128×256 block tiles (warp tiles 64×64),
	// for every layout and any GPU of sm_80 or later.
	GemmMMAWide
	// GemmTMAStore is GemmTMAPersistent with the epilogue through shared
	// memory and TMA stores (whole 128-byte lines, overlapping the next
	// tile's main loop) wherever beta is 0 and C's rows start and end on
	// 16-byte boundaries; GemmTMAPersistent otherwise. Every layout.
	GemmTMAStore
	// GemmTMACluster is GemmTMAStore with clusters of two blocks on
	// vertically adjacent tiles sharing their B tile by TMA multicast (fp16
	// NT and NN; the other products on GemmTMAStore's kernels).
	GemmTMACluster
	// GemmMMA4 is mma.sync with 128×128 block tiles of four warps, each
	// owning 64×64 (8 ldmatrix.x4 per 32 mma), fragments double-buffered
	// across the k16 steps, two blocks per SM (kernels/cuda/gemm_mma4.cu),
	// for every layout and any GPU of sm_80 or later; split-K by its own
	// partial-product kernels.
	GemmMMA4
	// GemmTune picks, per product shape, the fastest kind and schedule
	// settings (GemmChoice: the ping-pong kernels, the L2 prefetch, the
	// staggered consumers, the deep store, narrow tiles and stream-K among
	// them on an H100) whose result
	// agrees with GemmAuto's, measured on the first product of that shape
	// (tune.go), as cuDNN's benchmark mode does for convolutions (with
	// beta ≠ 0, on copies of C). The device's schedule settings do not
	// apply to the products it tunes; the staged store does. Products with
	// unaligned operands, which every kind serves with the same kernel, use
	// GemmAuto with the device's settings.
	GemmTune
	// GemmTMAPingpong is GemmTMAStore with the ping-pong schedule: each
	// consumer warpgroup owns whole 128×128 tiles and the two take turns at
	// the tensor cores, so that one's epilogue runs beside the other's main
	// loop (kernels/cuda/gemm_pingpong_sm90a.cu). Every layout; where the
	// TMA store cannot write C, GemmTMAPersistent; products with too few
	// tiles for the SMs and a long K are split over the TMA partial
	// products, as under the other TMA kinds. On an H100 (the eleventh
	// session) it passed the GPU tests and was slower than GemmTMAStore at
	// the bench's ViT-S/16 shapes (qkv forward 0.77× cuBLAS against 0.87),
	// but GemmTune chose it for four of the step's n = 384 products, by up
	// to 10%.
	GemmTMAPingpong
	// GemmTMAPingpong192 is GemmTMAPingpong with 128×192 tiles a
	// warpgroup, in blocks of the two consumer warpgroups alone, which load
	// the ring themselves: ptxas gives such a 256-thread kernel the 254
	// registers the 192 accumulators a thread need, where it gives a
	// 384-thread one 168. On an H100 it passed the GPU tests and was slower
	// than GemmTMAPingpong nearly everywhere (the eleventh session).
	GemmTMAPingpong192
	// GemmMMATMA is mma.sync fed by TMA (kernels/cuda/gemm_mma_tma_sm90a.cu,
	// Hopper only, the NT layout; the others use GemmMMA): 128×256 tiles of
	// eight 64×64 warp tiles, a 4-stage ring of TMA boxes in the 128-byte
	// swizzle read by ldmatrix, mbarriers instead of a block barrier a
	// k-tile. For the mma.sync rate at 4096³. 0.44× cuBLAS at
	// 4096³ on an H100 (the eleventh session).
	GemmMMATMA
	// GemmMMATMAPersistent is GemmMMATMA warp-specialised and persistent
	// (gemm_<t>_nt_mtp): a ninth warp loads the ring, so no consumer warp
	// waits for another, and each block walks several tiles, so the ring
	// fills for the next tile while the last one's results are stored.
	// Hopper, NT only, like GemmMMATMA; the other layouts use GemmMMA. Not
	// yet run on a GPU.
	GemmMMATMAPersistent
	// GemmMMATMAPolled is GemmMMATMA persistent, its eight warps keeping
	// their full fragment double-buffering, with thread 0 polling for free
	// stages instead of waiting for them (gemm_<t>_nt_mtl): the other way
	// to stop holding warp 0 to the slowest warp. Hopper, NT only. Not yet
	// run on a GPU.
	GemmMMATMAPolled
)

// autoSM90 is the NT kernel GemmAuto picks on Hopper for an m×n×k product,
// among those that have passed every test on an H100 (2026-11-27), by the
// timings of that run: the TMA kernel (128×256 tiles) at 4096³ (473 TFLOP/s
// against 404 for wgmma128 and 272 for mma.sync) when n fills its 256-wide
// tiles and k is long enough for its pipeline; wgmma128 otherwise (ViT-S
// Linear shapes, k = 384 or 1536, n = 384 or 1152: 1.2–1.6× mma.sync, while
// 128×256 tiles waste a quarter of the work at n = 384).
func autoSM90(m, n, k int) GemmKernel {
	if n%256 == 0 && k >= 1024 {
		return GemmTMA
	}
	return GemmWGMMA128
}

// UsesTMA reports whether k's kernels are the TMA ones (GemmTMA,
// GemmTMAPersistent, GemmTMAStore, GemmTMACluster, GemmTMAPingpong,
// GemmTMAPingpong192): they serve every layout, split K over TMA partial
// products, and keep their own epilogue (no staged store, SetGemmStaged).
func (k GemmKernel) UsesTMA() bool {
	switch k {
	case GemmTMA, GemmTMAPersistent, GemmTMAStore, GemmTMACluster, GemmTMAPingpong, GemmTMAPingpong192:
		return true
	}
	return false
}

func (k GemmKernel) String() string {
	switch k {
	case GemmMMA:
		return "mma"
	case GemmWGMMA128:
		return "wgmma128"
	case GemmWGMMA256:
		return "wgmma256"
	case GemmTMA:
		return "tma"
	case GemmTMAPersistent:
		return "tmap"
	case GemmAuto:
		return "auto"
	case GemmMMAWide:
		return "mmaw"
	case GemmTMAStore:
		return "tmas"
	case GemmTMACluster:
		return "tmac"
	case GemmMMA4:
		return "mma4"
	case GemmTune:
		return "tune"
	case GemmTMAPingpong:
		return "tmapp"
	case GemmTMAPingpong192:
		return "tmapp192"
	case GemmMMATMA:
		return "mmatma"
	case GemmMMATMAPersistent:
		return "mmatmap"
	case GemmMMATMAPolled:
		return "mmatmal"
	}
	return fmt.Sprintf("GemmKernel(%d)", int(k))
}

// GemmChoice is one way to run a product: a kernel kind and the schedule
// settings, which change its timing and never its result. The device's
// settings (SetGemmKernel, SetGemmStagger, SetGemmPrefetch, SetGemmStreamK,
// SetGemmDeepStore, SetGemmNarrowTiles, SetGemmClusterSplitK,
// SetGemmWideBoxes, SetGemmEarlyRelease, SetGemmLookahead) make one
// choice for every product; GemmTune makes one per product shape
// (GemmTuning).
type GemmChoice struct {
	Kernel   GemmKernel
	Stagger  bool // the persistent TMA kernels' consumers staggered (SetGemmStagger)
	Prefetch bool // the persistent TMA kernels' L2 prefetch of the next tile's A (SetGemmPrefetch)
	StreamK  bool // weight gradients stream-K instead of split-K (SetGemmStreamK)
	// DeepStore: the 128×192 TMA-store kernels stage a warpgroup's whole
	// piece of a half C (SetGemmDeepStore).
	DeepStore bool
	// Narrow: the TMA-store kernels take 128×192 tiles where they would
	// take 128×256 (SetGemmNarrowTiles).
	Narrow bool
	// ClusterSplit: weight gradients split K over clusters of two blocks
	// sharing B (SetGemmClusterSplitK).
	ClusterSplit bool
	// WideBoxes: the weight gradients' split-K (and stream-K) partials
	// load each operand's tile as one three-dimensional box
	// (SetGemmWideBoxes).
	WideBoxes bool
	// EarlyRelease: the persistent TMA kernels' consumers release a stage
	// before they wait for the next k-tile (SetGemmEarlyRelease).
	EarlyRelease bool
	// Lookahead: the k-tiles past its ring that the producer of the
	// split-K partials asks L2 for, 0 for none (SetGemmLookahead).
	Lookahead int
}

// String is the kind's name with a +setting for each setting on, e.g.
// "tmas+prefetch".
func (c GemmChoice) String() string {
	s := c.Kernel.String()
	for _, o := range []struct {
		on   bool
		name string
	}{{c.Stagger, "stagger"}, {c.Prefetch, "prefetch"}, {c.StreamK, "streamk"}, {c.DeepStore, "deepstore"}, {c.Narrow, "narrow"}, {c.ClusterSplit, "clustersplit"}, {c.WideBoxes, "wideboxes"}, {c.EarlyRelease, "early"}} {
		if o.on {
			s += "+" + o.name
		}
	}
	if c.Lookahead > 0 {
		s += fmt.Sprintf("+look%d", c.Lookahead)
	}
	return s
}

// scheduleFlags is the kernels' flag bits for c's stagger, prefetch and
// early-release settings (gemmStagger, gemmPrefetch, gemmEarlyRelease),
// which the persistent TMA kernels read.
func (c GemmChoice) scheduleFlags() int {
	f := 0
	if c.EarlyRelease {
		f |= gemmEarlyRelease
	}
	if c.Stagger {
		f |= gemmStagger
	}
	if c.Prefetch {
		f |= gemmPrefetch
	}
	return f
}

// trainingModules names the PTX modules that a training step under
// half-precision autocast (bf16: bf16) loads with the default settings, on
// an H100 or H200 (hopper) or another GPU: on Hopper the TMA-store GEMMs
// (the products with a tile for every SM: the blocks' forward and input
// gradients, the heads' larger weight gradients), gemm_f16_tma_sm90a (the
// weight gradients' split-K partials, the heads' larger NT products, the
// products whose C the TMA store cannot write), the cp.async wgmma kernels
// of the heads' smaller NT products, and gemm_f16 for split-K's reduce and
// the heads' other small products; elsewhere gemm_f16 for every GEMM.
// Each GEMM module is the one of the step's type (typedModule). Then
// attention, LayerNorm, the element-wise and the row and column kernels.
// TestTrainingModules checks the GEMM modules against the routes of a
// MoCo v3 ViT-S/16 step's products. A module missing here is compiled when
// first used; one too many costs only its compile time.
func trainingModules(hopper, bf16 bool) []string {
	var mods []string
	if hopper {
		for _, m := range []string{"gemm_tma_store_sm90a", "gemm_f16_tma_sm90a", "gemm_f16_sm90a"} {
			mods = append(mods, typedModule(m, bf16))
		}
	}
	attention := "attention"
	if bf16 {
		attention = "attention_bf16"
	}
	return append(mods, typedModule("gemm_f16", bf16), attention, "layernorm", "elementwise", "rowcol")
}
