package cuda

// How a GEMM product runs: which kernels, on which path, with which flags,
// for a kernel kind and its schedule settings (a GemmChoice). One function,
// gemmRouter.route, decides it: GemmF16 and GemmBF16 launch the route it
// returns, and GemmTune times each distinct route once, so the launch path
// and the tuner cannot disagree about what a choice runs. The rules live
// outside the cuda build so that their tests (route_test.go) run on every
// machine, against the kernels the embedded PTX defines.

import "strings"

// The shapes of the gemm_f16 and gemm_mma4 kernels' launches.
const (
	gemmSmem = 4 * 2 * 128 * 40 * 2 // STAGES · (A+B tiles) · 128 rows · 40 halves · 2 bytes
	gemmTile = 128

	gemmSmemWide = 4 * (128 + 256) * 40 * 2 // the _w kernels: 128×256 tiles

	// gemmSmemMMA4 is GEMM_Q_SMEM_BYTES of the gemm_mma4 kernels: 4 stages
	// of a 128×32 A and a 32×128 B tile, rows padded (10 KB each).
	gemmSmemMMA4 = 4 * 2 * 128 * 40 * 2
)

// gemmRouter is what routing reads of a device and its settings.
type gemmRouter struct {
	sms    int  // streaming multiprocessors
	hopper bool // compute capability 9.0: the wgmma and TMA kernels
	// splitMode is SetGemmSplitK's policy: 0 automatic, 1 never, n ≥ 2
	// forced.
	splitMode int
	// noTMASplitDW (MOCOGO_GEMM_DW_TMA=0) keeps GemmAuto's weight
	// gradients on mma.sync's split-K.
	noTMASplitDW bool
}

// gemmProduct is what routing reads of one product C = act(alpha·op(A)·
// op(B) + bias) + beta·C.
type gemmProduct struct {
	bf, transA, transB bool // bf16 operands (else fp16); the layout
	m, n, k            int
	// aligned: lda and ldb multiples of 8 and A, B 16-byte aligned, as
	// the kernels' 16-byte loads need (else the element-wise loader).
	aligned  bool
	cAligned bool // C 16-byte aligned
	ldc      int
	beta     bool // beta ≠ 0: C is read
	flags    int  // gemmGELU, gemmOutF16
	staged   int  // gemmStaged when SetGemmStaged is on, else 0
}

// celem is the bytes of one element of C.
func (p gemmProduct) celem() int { return cElem(p.flags&gemmOutF16 != 0) }

// prefix is the kernels' name prefix for the operand type: gemm_f16_ or
// gemm_bf16_.
func (p gemmProduct) prefix() string {
	if p.bf {
		return "gemm_bf16_"
	}
	return "gemm_f16_"
}

// name is the layout's kernel name, e.g. gemm_f16_nt.
func (p gemmProduct) name() string {
	t := map[bool]string{false: "n", true: "t"}
	return p.prefix() + t[p.transA] + t[p.transB]
}

// gemmPath is how a route launches.
type gemmPath int

const (
	// pathDirect: one kernel with gemm_f16's parameters (A, B, C, bias,
	// M, N, K, lda, ldb, ldc, alpha, beta, flags) on blocks blocks of
	// threads threads: mma.sync, mma4 and the cp.async-fed wgmma kernels.
	pathDirect gemmPath = iota
	// pathTMA: one kernel of the TMA modules, its operands (and C, for a
	// TMA-store epilogue) passed as tensor maps (launchTMA).
	pathTMA
	// pathSplitMMA: K split over mma.sync's partial products (blocks ×
	// splits blocks of threads threads), then reduce.
	pathSplitMMA
	// pathSplitTMA: K split over the TMA kernels' partial products (blocks
	// × splits blocks; with cluster 2, pairs sharing B), then reduce; with
	// streamK, stream-K's partial products and reduction instead
	// (streamKKernels) wherever their workspace can be had.
	pathSplitTMA
)

// gemmRoute is what one choice launches for one product. Two choices with
// equal routes launch the same kernels with the same parameters, so the
// route is also GemmTune's key for timing each distinct launch once.
type gemmRoute struct {
	path   gemmPath
	module string // the PTX module of kernel
	kernel string // the kernel that forms the product, or its partial products
	flags  int    // the flag bits kernel receives: those of its epilogue and schedule that it reads

	// The grid of kernel (pathDirect; pathSplitMMA and pathSplitTMA: times
	// splits; pathTMA without a TMA-store epilogue), its threads a block
	// and its dynamic shared memory (for the TMA modules, tmaShape's, which
	// launchTMA computes again).
	blocks, threads, smem int

	// The TMA kernels: 128×bn tiles. Without a TMA-store epilogue, blocks
	// blocks; with one (store), units work items of clusters of cluster
	// blocks, on as many clusters as fit on the GPU at once; pingpong and
	// deep name the modules of gemm_pingpong_sm90a and
	// gemm_tma_store_deep_sm90a.
	bn                    int
	store, pingpong, deep bool
	cluster, units        int
	// src: the epilogue reads a source of C's type and layout beside the
	// product (srcEpilogueRoute).
	src bool
	// wide: pathSplitTMA's partials on a _tn_tma_p[192]w kernel (stream-K:
	// _tn_tma_sk[192]w, streamKKernels), each operand's tile one box of a
	// three-dimensional tensor map (wideBoxesOK).
	wide bool

	// The split paths: K in splits chunks of kchunk; reduce sums the
	// partial products into C in a fixed order and applies the epilogue.
	// With streamK, module, kernel and reduce are split-K's, the fallback
	// where stream-K's workspace cannot be had; streamKKernels names the
	// kernels that run otherwise.
	splits, kchunk int
	reduce         string // a kernel of typedModule("gemm_f16", the operands' type)
	streamK        bool   // pathSplitTMA on plan's stream-K schedule
	plan           streamKPlan
}

// route returns what ch runs for the product p, in the module that holds
// the kernel for p's operand type (typedModule).
func (r gemmRouter) route(ch GemmChoice, p gemmProduct) gemmRoute {
	rt := r.routeKernel(ch, p)
	rt.module = typedModule(rt.module, p.bf)
	return rt
}

// typedModule is the PTX module holding the kernels of module's source
// for operands of type bf16 (bf) or else fp16. The four GEMM modules a
// training step loads, and the ping-pong kernels', are compiled once per
// type (gemm_bf16.cu and its siblings in kernels/cuda), since the driver
// compiles a whole module when it loads one: a run then compiles only its
// own type's kernels. Their fp16 modules keep their names; the other GEMM
// modules hold both types.
func typedModule(module string, bf bool) string {
	if bf {
		switch module {
		case "gemm_f16":
			return "gemm_bf16"
		case "gemm_f16_sm90a":
			return "gemm_bf16_sm90a"
		case "gemm_f16_tma_sm90a":
			return "gemm_bf16_tma_sm90a"
		case "gemm_tma_store_sm90a":
			return "gemm_bf16_tma_store_sm90a"
		case "gemm_pingpong_sm90a":
			return "gemm_bf16_pingpong_sm90a"
		}
	}
	return module
}

// routeKernel is route with every kernel in the fp16 module of its source.
func (r gemmRouter) routeKernel(ch GemmChoice, p gemmProduct) gemmRoute {
	prefix, name := p.prefix(), p.name()
	tiles := ceilDiv(p.m, gemmTile) * ceilDiv(p.n, gemmTile)
	direct := func(module, kernel string, blocks, threads, smem int) gemmRoute {
		return gemmRoute{path: pathDirect, module: module, kernel: kernel, flags: p.flags | p.staged,
			blocks: blocks, threads: threads, smem: smem}
	}
	if !p.aligned {
		return direct("gemm_f16", name+"_u", tiles, 256, gemmSmem)
	}
	if p.k == 0 {
		return direct("gemm_f16", name, tiles, 256, gemmSmem)
	}
	sel := ch.Kernel
	kind := r.kernelFor(sel, p.transA, p.transB, p.m, p.n, p.k)
	// Split-K for few tiles and long K: over the TMA kernels' partial
	// products (one block per SM) when the choice is a TMA kind, and for
	// GemmAuto's weight gradients on an H100 (splitsOnTMA), with
	// ClusterSplit on pairs of blocks sharing B; else over
	// mma.sync's (two per SM: GemmMMA4's own kernels under it, gemm_f16's
	// otherwise). Under GemmAuto the TMA split-K path ran at 0.97–1.11×
	// cuBLAS on an H100 (fifth session, run 3) against 0.58–0.62× for
	// mma.sync split-K, and passed every test there (run 4); where it does
	// not split, mma.sync's split-K may.
	if r.splitsOnTMA(sel, p.transA, p.transB) {
		bn, kernel := tmaTile(name, p.n)
		tmaTiles := ceilDiv(p.m, 128) * ceilDiv(p.n, bn)
		if splits, kchunk := r.splitK(p.m, p.n, p.k, tmaTiles, r.sms, 64); splits > 1 {
			// The partials store raw fp32 products: of the flags, only the
			// early release and the look-ahead reach them (stream-K's own
			// kernels take none, the clusters no look-ahead). The
			// look-ahead deals every tile's boxes over the blocks of a
			// k-range, which must then run at once: only the weight
			// gradients (TN), and only where the splits' blocks fit the
			// SMs (always, unless SetGemmSplitK forces more).
			look := 0
			if p.transA && !p.transB && tmaTiles*splits <= r.sms {
				look = lookaheadBits(ch.Lookahead)
			}
			rt := gemmRoute{path: pathSplitTMA, module: "gemm_f16_tma_sm90a", kernel: kernel, bn: bn, blocks: tmaTiles,
				flags: ch.scheduleFlags()&gemmEarlyRelease | look, splits: splits, kchunk: kchunk,
				reduce: splitKReduceKernel(p.bf)}
			rt.threads, rt.smem = tmaShape(rt.module, rt.kernel, bn, false, false, false, false)
			if plan, ok := r.streamKPlanFor(p.transA, p.transB, p.m, p.n, p.k, bn, tmaTiles, splits); ch.StreamK && ok {
				rt.streamK, rt.plan = true, plan
			} else if ch.ClusterSplit && clusterSplitKernels(p.transA, p.transB) && ceilDiv(p.m, 128)%2 == 0 {
				// Pairs of tile rows sharing B, where the rows pair up
				// evenly: an odd last row would leave one block of a pair
				// idle but for its share of B, and fewer splits would fit
				// the SMs. With even rows the blocks and splits are those
				// above.
				rt.module, rt.kernel, rt.cluster = "gemm_splitk_cluster_sm90a", name+"_tma_pc", 2
				rt.flags &^= gemmLookaheadMask
				if bn == 192 {
					rt.kernel += "192"
				}
			}
			if ch.WideBoxes && rt.cluster < 2 && wideBoxesOK(p.transA, p.transB, p.m, p.n, bn) {
				// Each operand's tile in one three-dimensional box: the
				// split-K partials (stream-K's fallback too), and
				// stream-K's own (streamKKernels).
				rt.kernel += "w"
				rt.wide = true
			}
			return rt
		}
	}
	if !sel.UsesTMA() {
		if splits, kchunk := r.splitK(p.m, p.n, p.k, tiles, 2*r.sms, 32); splits > 1 {
			rt := gemmRoute{path: pathSplitMMA, module: "gemm_f16", kernel: name + "_sk", flags: p.staged,
				blocks: tiles, threads: 256, smem: gemmSmem,
				splits: splits, kchunk: kchunk, reduce: splitKReduceKernel(p.bf)}
			if kind == GemmMMA4 {
				rt.module, rt.kernel, rt.threads, rt.smem = "gemm_mma4", name+"_q_sk", 128, gemmSmemMMA4
			}
			return rt
		}
	}
	tiles256 := ceilDiv(p.m, 128) * ceilDiv(p.n, 256)
	switch kind {
	case GemmMMA4:
		return direct("gemm_mma4", name+"_q", tiles, 128, gemmSmemMMA4)
	case GemmMMAWide:
		return direct("gemm_wide", name+"_w", tiles256, 256, gemmSmemWide)
	case GemmWGMMA128:
		return direct("gemm_f16_sm90a", prefix+"nt_sm90", tiles, 256, 3*32768+1024)
	case GemmWGMMA256:
		return direct("gemm_f16_sm90a", prefix+"nt_sm90_n256", tiles256, 256, 4*49152+1024)
	case GemmMMATMA:
		rt := gemmRoute{path: pathTMA, module: "gemm_mma_tma_sm90a", kernel: prefix + "nt_mt", flags: p.flags, bn: 256, blocks: tiles256}
		rt.threads, rt.smem = tmaShape(rt.module, rt.kernel, rt.bn, false, false, false, false)
		return rt
	case GemmMMATMAPersistent, GemmMMATMAPolled:
		rt := gemmRoute{path: pathTMA, module: "gemm_mma_tma_sm90a", kernel: prefix + "nt_mtp", flags: p.flags, bn: 256,
			blocks: min(tiles256, r.sms)}
		if kind == GemmMMATMAPolled {
			rt.kernel = prefix + "nt_mtl"
		}
		rt.threads, rt.smem = tmaShape(rt.module, rt.kernel, rt.bn, false, false, false, false)
		return rt
	case GemmTMAStore, GemmTMACluster, GemmTMAPingpong, GemmTMAPingpong192:
		if tmaStoreOK(p.cAligned, p.ldc, p.n, p.celem(), p.beta) {
			return tmaStoreRoute(kind, ch, p)
		}
		fallthrough // the persistent kernels with the direct store
	case GemmTMA, GemmTMAPersistent:
		bn, kernel := tmaTile(name, p.n)
		rt := gemmRoute{path: pathTMA, module: "gemm_f16_tma_sm90a", kernel: kernel, flags: p.flags, bn: bn,
			blocks: ceilDiv(p.m, 128) * ceilDiv(p.n, bn)}
		if kind != GemmTMA {
			// Persistent: a block walks several tiles, on the schedule
			// settings.
			rt.blocks = min(rt.blocks, r.sms)
			rt.flags |= ch.scheduleFlags()
		} else if !p.transA && p.transB && bn == 256 {
			rt.kernel = prefix + "nt_tma" // the first TMA kernel, one tile a block
		}
		rt.threads, rt.smem = tmaShape(rt.module, rt.kernel, bn, false, false, false, false)
		return rt
	}
	return direct("gemm_f16", name, tiles, 256, gemmSmem)
}

// tmaStoreRoute is the route of the kernels whose epilogue stores C by TMA
// (C as tmaStoreOK requires): the ping-pong kernels for their kinds; else
// gemm_<t>_<ab>_tma_s[192], or with GemmTMACluster their twins on clusters
// of two blocks sharing B by multicast (_tma_c[192]) where they exist; with
// ch.Narrow in 128×192 tiles wherever tmaTile would pick 128×256 ones; with
// ch.DeepStore, for 128×192 tiles of a half C without clusters, through
// three staging buffers a warpgroup (_tma_s192d, deepStoreOK).
func tmaStoreRoute(kind GemmKernel, ch GemmChoice, p gemmProduct) gemmRoute {
	name := p.name()
	rt := gemmRoute{path: pathTMA, store: true, cluster: 1}
	switch kind {
	case GemmTMAPingpong:
		// Its warpgroups take turns by design (no stagger); its producer
		// warpgroup prefetches.
		rt.module, rt.kernel, rt.bn, rt.pingpong = "gemm_pingpong_sm90a", name+"_tma_pp", 128, true
		rt.flags = p.flags | ch.scheduleFlags()&gemmPrefetch
	case GemmTMAPingpong192:
		// No producer warpgroup: neither setting reaches it.
		rt.module, rt.kernel, rt.bn, rt.pingpong = "gemm_pingpong_sm90a", name+"_tma_pp192", 192, true
		rt.flags = p.flags
	default:
		rt.module, rt.kernel, rt.bn = "gemm_tma_store_sm90a", name+"_tma_s", storeTile(p.n, ch.Narrow)
		rt.flags = p.flags | ch.scheduleFlags()
		if kind == GemmTMACluster && clusterKernels(p.bf, p.transA) {
			rt.kernel, rt.cluster = name+"_tma_c", 2
		}
		if rt.bn == 192 {
			rt.kernel += "192"
		}
		if ch.DeepStore && deepStoreOK(rt.bn, rt.cluster, rt.flags) {
			rt.module, rt.kernel, rt.deep = "gemm_tma_store_deep_sm90a", rt.kernel+"d", true
		}
	}
	rt.threads, rt.smem = tmaShape(rt.module, rt.kernel, rt.bn, true, rt.pingpong, rt.deep, false)
	rt.units = ceilDiv(ceilDiv(p.m, 128), rt.cluster) * ceilDiv(p.n, rt.bn)
	return rt
}

// srcEpilogueRoute is the route of the ping-pong kernels whose epilogue
// reads a source S of C's type and layout beside the product (128×128
// tiles, no producer warpgroup): with residual,
// gemm_<t>_n<b>_tma_ppr, C = act(alpha·A·op(B) + bias) + S, a Linear
// layer's residual add; else gemm_<t>_nn_tma_ppg, C = (A·B) ⊙ GELU′(S),
// the gradient through a GELU. ok reports whether they can run p with a
// source that is 16-byte aligned or not (srcAligned): an H100, A not
// transposed (and for _tma_ppg B neither), A and B aligned for 16-byte
// loads, k > 0, C and the source admitted by the TMA store's rule, and a
// 128×128 tile for every SM (smaller products keep the kernels GemmAuto
// picks for them).
func (r gemmRouter) srcEpilogueRoute(p gemmProduct, residual, srcAligned bool) (rt gemmRoute, ok bool) {
	if !r.hopper || p.transA || !residual && p.transB || !p.aligned || p.k == 0 ||
		!tmaStoreOK(p.cAligned, p.ldc, p.n, p.celem(), false) || !srcAligned ||
		ceilDiv(p.m, 128)*ceilDiv(p.n, 128) < r.sms {
		return gemmRoute{}, false
	}
	suffix := "_tma_ppg"
	if residual {
		suffix = "_tma_ppr"
	}
	rt = gemmRoute{path: pathTMA, module: typedModule("gemm_pingpong_sm90a", p.bf), kernel: p.name() + suffix, flags: p.flags,
		bn: 128, store: true, pingpong: true, src: true, cluster: 1, units: ceilDiv(p.m, 128) * ceilDiv(p.n, 128)}
	rt.threads, rt.smem = tmaShape(rt.module, rt.kernel, rt.bn, true, true, false, true)
	return rt, true
}

// mmaTMAProducerThreads is the block of gemm_<t>_nt_mtp: eight consumer
// warps and the producer warp.
const mmaTMAProducerThreads = 288

// tmaTakesKChunk reports whether a kernel of the TMA modules takes the
// split-K chunk as its last parameter: all but the one-tile NT kernel
// (_nt_tma) and the TMA-fed mma.sync kernels (_nt_mt, _nt_mtp, _nt_mtl).
func tmaTakesKChunk(kernel string) bool {
	for _, s := range []string{"_nt_tma", "_nt_mt", "_nt_mtp", "_nt_mtl"} {
		if strings.HasSuffix(kernel, s) {
			return false
		}
	}
	return true
}

// tmaShape is the threads a block and the dynamic shared memory of a
// kernel of the TMA modules with 128×bn tiles: a TMA-store epilogue
// (store), a ping-pong kernel (pingpong) with or without an epilogue
// source (src), a deep-store kernel (deep). Each has a producer warpgroup
// beside two consumer warpgroups (384 threads) but the TMA-fed mma.sync
// kernels (eight consumer warps: 256; with a producer warp, the
// kernel's name ending _nt_mtp, 288) and the ping-pong kernels without a
// producer (128×192 tiles, or an epilogue source), 256. The shared memory
// is the ring of k-tile stages (128×64 of A and bn×64 of B each), the
// staging buffers of the TMA store, 1 KB for alignment and 128 bytes of
// mbarriers.
func tmaShape(module, kernel string, bn int, store, pingpong, deep, src bool) (threads, smem int) {
	threads = 384
	switch {
	case strings.HasSuffix(kernel, "_nt_mtp"):
		threads = mmaTMAProducerThreads
	case module == "gemm_mma_tma_sm90a" || pingpong && (bn == 192 || src):
		threads = 256
	}
	const align = 1024 + 128
	switch {
	case pingpong && bn == 192:
		return threads, 4*40960 + 32768 + align // 4 stages, two 8 KB staging buffers per consumer
	case pingpong:
		return threads, 6*32768 + 32768 + align // 6 stages of 128×64 A and B, two 8 KB staging buffers per consumer
	case deep:
		return threads, 4*40960 + 49152 + align // 4 stages, three 8 KB staging buffers per consumer
	case store && bn == 192:
		return threads, 4*40960 + 32768 + align
	case store:
		return threads, 4*49152 + 32768 + align
	case bn == 192:
		return threads, 5*40960 + align
	}
	return threads, 4*49152 + align // 4 stages of 128×64 A and 256×64 B
}

// splitKReduceKernel is the kernel of typedModule("gemm_f16", bf) that sums
// split-K's partial products into C of the operands' type bf16 (bf) or
// fp16.
func splitKReduceKernel(bf bool) string {
	if bf {
		return "gemm_splitk_reduce_bf16"
	}
	return "gemm_splitk_reduce"
}

// streamKKernels are the stream-K partial-product kernel of 128×bn tiles
// (with wide, its twin that loads each operand's tile as one
// three-dimensional box) and the reduction (module streamKModule) for
// operands of type bf16 (bf) or fp16.
func streamKKernels(bf bool, bn int, wide bool) (partial, reduce string) {
	partial, reduce = "gemm_f16_tn_tma_sk", "gemm_streamk_reduce"
	if bf {
		partial, reduce = "gemm_bf16_tn_tma_sk", "gemm_streamk_reduce_bf16"
	}
	if bn == 192 {
		partial += "192"
	}
	if wide {
		partial += "w"
	}
	return partial, reduce
}

// streamKModule is the PTX module of the stream-K kernels.
const streamKModule = "gemm_streamk_sm90a"

// kernelFor is the kind sel (a SetGemmKernel choice, not GemmTune) runs
// for an aligned m×n×k product in the given layout, GemmAuto resolved: the
// wgmma kernels and the GemmMMATMA kinds serve only the NT layout
// (mma.sync the others), the TMA kernels every layout. GemmAuto on an H100
// uses the TMA-store kernels (GemmTMAStore, or the persistent ones where C
// rules the TMA store out) for every layout wherever the output has a tile
// for every SM: in the fifth session's run they were 1.4–2.4× the kernels
// GemmAuto used before at every ViT-S/16 b256 forward and input-gradient
// shape and at 4096³, and they passed every test once their rows end on
// 16-byte boundaries. Smaller outputs (the projector and predictor at
// batch 256) keep autoSM90 for NT and mma.sync for the other layouts,
// which were faster there; weight gradients (TN) are split over the TMA
// partial products first (route).
func (r gemmRouter) kernelFor(sel GemmKernel, transA, transB bool, m, n, k int) GemmKernel {
	nt := !transA && transB
	switch sel {
	case GemmAuto:
		if r.hopper {
			bn, _ := tmaTile("", n)
			if ceilDiv(m, 128)*ceilDiv(n, bn) >= r.sms {
				return GemmTMAStore
			}
			if nt {
				return autoSM90(m, n, k)
			}
		}
		return GemmMMA
	case GemmTMA, GemmTMAPersistent, GemmTMAStore, GemmTMACluster, GemmTMAPingpong, GemmTMAPingpong192, GemmMMAWide, GemmMMA4:
		return sel
	}
	if nt {
		return sel
	}
	return GemmMMA
}

// splitsOnTMA reports whether products of kind sel in this layout split K
// over the TMA partial products when they split: every TMA kind's do, and
// GemmAuto's weight gradients (A transposed, B not) on an H100 unless
// MOCOGO_GEMM_DW_TMA=0 keeps them on mma.sync.
func (r gemmRouter) splitsOnTMA(sel GemmKernel, transA, transB bool) bool {
	return sel.UsesTMA() || sel == GemmAuto && transA && !transB && r.hopper && !r.noTMASplitDW
}

// gemmSplitMaxBytes bounds the fp32 workspace of one split-K product.
const gemmSplitMaxBytes = 256 << 20

// splitK picks the number of K chunks (and their length, a multiple of
// gran) for an m×n×k product with the given count of output tiles when
// slots blocks run at once; 1 means no split.
func (r gemmRouter) splitK(m, n, k, tiles, slots, gran int) (splits, kchunk int) {
	slices := (k + gran - 1) / gran
	switch {
	case r.splitMode == 1 || k == 0:
		return 1, k
	case r.splitMode >= 2:
		splits = min(r.splitMode, slices)
	default:
		// Fill one wave of blocks with whole splits, when the tiles alone
		// fill less than half of it, and give each split at least 16
		// slices of K so that its pipeline runs.
		if 2*tiles > slots {
			return 1, k
		}
		splits = min(slots/tiles, slices/16)
	}
	if splits < 2 {
		return 1, k
	}
	kchunk = gran * ((slices + splits - 1) / splits)
	splits = (k + kchunk - 1) / kchunk
	for splits > 1 && int64(splits)*int64(m)*int64(n)*4 > gemmSplitMaxBytes {
		splits--
		kchunk = gran * ((slices + splits - 1) / splits)
		splits = (k + kchunk - 1) / kchunk
	}
	if splits < 2 {
		return 1, k
	}
	return splits, kchunk
}

// streamKPlanFor returns the stream-K schedule of an m×n×k product that
// split-K would split into splits chunks over tiles output tiles of width
// bn, and whether stream-K may take it: the weight gradients' layout (A
// transposed, B not), where the split leaves SMs idle and every block gets
// at least 16 k-tiles, as each split does.
func (r gemmRouter) streamKPlanFor(transA, transB bool, m, n, k, bn, tiles, splits int) (streamKPlan, bool) {
	if !transA || transB || tiles*splits >= r.sms {
		return streamKPlan{}, false
	}
	plan, err := newStreamKPlan(m, n, k, bn, r.sms)
	if err != nil || plan.total() < 16*plan.blocks {
		return streamKPlan{}, false
	}
	return plan, true
}

// tuneSettings are the schedule settings GemmTune tries with each kind:
// every combination of the stagger, the prefetch, the deep store and the
// narrow tiles; stream-K and the wide boxes (which reach only the split
// products, which those four do not); the early release alone, with the
// wide boxes and with the narrow tiles; and the look-ahead of 8 k-tiles,
// alone, with the wide boxes and with the early release (it reaches only
// the split partials). A setting that does not change a kind's route for
// a product is not timed again.
var tuneSettings = func() []GemmChoice {
	var out []GemmChoice
	for i := range 16 {
		out = append(out, GemmChoice{Stagger: i&1 != 0, Prefetch: i&2 != 0, DeepStore: i&4 != 0, Narrow: i&8 != 0})
	}
	return append(out, GemmChoice{StreamK: true}, GemmChoice{WideBoxes: true}, GemmChoice{StreamK: true, WideBoxes: true},
		GemmChoice{EarlyRelease: true}, GemmChoice{EarlyRelease: true, WideBoxes: true}, GemmChoice{EarlyRelease: true, Narrow: true},
		GemmChoice{Lookahead: 8}, GemmChoice{Lookahead: 8, WideBoxes: true}, GemmChoice{Lookahead: 8, EarlyRelease: true})
}()

// tuneCandidates are the choices GemmTune tries, GemmAuto without
// settings first (the reference the others must agree with): each kind
// with each of tuneSettings. On an H100 the kinds include the ping-pong
// kernels; the GemmMMATMA kinds (which exist for the mma.sync
// rate at 4096³) and GemmTMA (which GemmAuto itself takes at 4096³) are
// not among them.
func (r gemmRouter) tuneCandidates() []GemmChoice {
	kinds := []GemmKernel{GemmAuto, GemmMMA4, GemmMMAWide}
	if r.hopper {
		kinds = []GemmKernel{GemmAuto, GemmMMA, GemmMMA4, GemmWGMMA128, GemmTMAPersistent, GemmTMAStore, GemmTMACluster, GemmTMAPingpong, GemmTMAPingpong192}
	}
	var out []GemmChoice
	for _, k := range kinds {
		for _, s := range tuneSettings {
			s.Kernel = k
			out = append(out, s)
		}
	}
	return out
}

// ceilDiv is ⌈a/b⌉ for a ≥ 0, b > 0.
func ceilDiv(a, b int) int { return (a + b - 1) / b }
