//go:build cuda

package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"gorgonia.org/cu"
)

// Epilogue says what GemmF16 and GemmBF16 do to each output element after
// the product: add a per-column fp32 bias, apply the exact GELU, and store
// fp16 (GemmF16 with OutF16) or bf16 (GemmBF16 with OutBF16) rather than
// fp32. C's half type is always the operands' type.
type Epilogue struct {
	Bias    *Buffer // N float32 values, or nil
	GELU    bool
	OutF16  bool // GemmF16 only
	OutBF16 bool // GemmBF16 only
	// Residual, when not nil, is added last: C = act(alpha·op(A)·op(B) +
	// bias) + R, R an m×n matrix of C's type with C's row stride ldc, not
	// C itself (beta must be 0). With SetGemmResidual on, on an H100, the
	// ping-pong kernels add it in their epilogue (gemm_<t>_<ab>_tma_ppr:
	// NT and NN products with a 128×128 tile for every SM), reading R once;
	// otherwise R is copied into C and the product added with beta 1.
	Residual *Buffer
}

// SetGemmKernel selects the kernel for aligned operands and reports whether
// the device can run it (the wgmma and TMA kernels need sm_90); when it
// cannot, nothing changes. The wgmma kernels and GemmMMATMA serve the NT
// layout only (the others use mma.sync); GemmTMA, GemmTMAPersistent,
// GemmTMAStore, GemmTMACluster, GemmTMAPingpong, GemmTMAPingpong192,
// GemmMMAWide and GemmMMA4 serve every layout. GemmAuto restores the
// default choice.
func (d *Device) SetGemmKernel(k GemmKernel) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if k != GemmMMA && k != GemmAuto && k != GemmMMAWide && k != GemmMMA4 && k != GemmTune && d.major != 9 {
		return false
	}
	d.gemmNT = k
	return true
}

// SetGemmStaged selects how the mma.sync and wgmma GEMM kernels store C
// and returns the previous setting. With on (the default), each block
// stages its finished output tile in shared memory and writes it out row
// by row in 16-byte pieces (whole 128-byte lines); otherwise every thread
// stores its accumulator pairs straight to C. The kernels use the staged
// store only when beta is 0 and C and ldc allow 16-byte stores, and the
// direct one otherwise; the TMA kernels keep their own epilogue. The
// environment variable MOCOGO_GEMM_STAGED=0 turns it off when the device is
// opened.
//
// The staged store is the default since the seventh session, on the
// evidence of the fifth session's three H100 runs (2026-11-27,
// docs/BENCHMARKS.md): it passed every GPU test there, and it was faster
// than the direct store for the mma.sync and wgmma kernels at every
// forward, input-gradient and 4096³ shape timed but one (1.02–1.03× for
// the 128×128 mma.sync kernel at 4096³, 1.09–1.34× for it at the ViT-S/16
// shapes, up to 2.8× for mma4; 0.96–1.00× for the 128×256 mma.sync kernel
// at fc1's forward, which GemmAuto does not use); at the weight gradients,
// mma4's split-K partials ran at 0.98–1.02×.
func (d *Device) SetGemmStaged(on bool) bool { return d.swapSetting(&d.gemmStaged, on) }

// SetGemmStagger sets whether the persistent TMA GEMM kernels (GemmAuto's
// TMA-store kernels, GemmTMAPersistent, GemmTMAStore, GemmTMACluster) start
// their second consumer warpgroup two k-tiles behind the first, so that one
// warpgroup's epilogue overlaps the other's wgmmas instead of both leaving
// the tensor cores idle at once (kernels/cuda/tma_sm90a.cuh), and returns
// the previous setting. It applies where a block walks several tiles (not
// GemmTMA's one-tile blocks, nor the split-K partial products). It passed
// the GPU tests on an H100 and came within 4% of the default either way
// (the eleventh session), so it is off by default;
// MOCOGO_GEMM_STAGGER=1 turns it on when the device is opened. GemmTune
// chooses it per product shape instead. The results
// are the same either way: each warpgroup's arithmetic is unchanged.
func (d *Device) SetGemmStagger(on bool) bool { return d.swapSetting(&d.gemmStagger, on) }

// SetGemmResidual sets whether GemmF16 and GemmBF16 add an
// Epilogue.Residual in the epilogue of the ping-pong kernels (on an H100,
// NT and NN, aligned operands; gemm_<t>_<ab>_tma_ppr), which read it once
// beside the product, instead of copying it into C and adding the product
// with beta 1; and returns the previous setting. Through the engine
// (Backend.GemmBiasResidual) it fuses a Linear layer's residual add, which
// otherwise is a separate pass (Axpy). Off by default: on an H100 the step
// with it and SetGemmGELUGrad ran at 2168 img/s against 2396 without (the
// eleventh session: the ping-pong kernels' GEMM time 71.6 ms against the
// default's 48.0); MOCOGO_GEMM_RESIDUAL=1 turns it on when the device is
// opened.
func (d *Device) SetGemmResidual(on bool) bool { return d.swapSetting(&d.gemmResidualOn, on) }

// GemmResidual reports whether SetGemmResidual is on.
func (d *Device) GemmResidual() bool { return d.flagIf(&d.gemmResidualOn, 1) != 0 }

// settingsChoice is the choice the device's settings make for kind k.
func (d *Device) settingsChoice(k GemmKernel) GemmChoice {
	d.mu.Lock()
	defer d.mu.Unlock()
	return GemmChoice{Kernel: k, Stagger: d.gemmStagger, Prefetch: d.gemmPrefetch, StreamK: d.gemmStreamKOn, DeepStore: d.gemmDeepStore, Narrow: d.gemmNarrow,
		ClusterSplit: d.gemmClusterSK, WideBoxes: d.gemmWideBoxes, EarlyRelease: d.gemmEarly, Lookahead: d.gemmLookahead}
}

// SetGemmLookahead sets how many k-tiles past its ring the producer of
// each weight gradient's split-K partials (the TN layout, plain or wide
// boxes, where the splits' blocks fit the SMs; not the clusters, not
// stream-K) asks L2 for: 0 (none, the default), 4, 8 or 16.
// Each block asks for an equal share of every tile's boxes of that
// k-tile (tma_lookahead_ktile), so that the ring's loads find their
// boxes in L2 rather than each waiting on DRAM: every byte of a weight
// gradient's operands is new to L2 when the blocks of its k-range first
// ask for it. The eleventh session's look-ahead left the asking to the
// first block of each tile row and column and lost 12–15%; this one deals it
// out evenly. The results are the same either way (a hint to L2). It
// returns the previous setting and panics on another distance. Off by
// default until it has passed the GPU tests and won;
// MOCOGO_GEMM_LOOKAHEAD=4, 8 or 16 sets it when the device is opened.
// GemmTune tries 8.
func (d *Device) SetGemmLookahead(k int) int {
	if !lookaheadOK(k) {
		panic(fmt.Sprintf("cuda.SetGemmLookahead(%d): want 0, 4, 8 or 16", k))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.gemmLookahead
	d.gemmLookahead = k
	return old
}

// SetGemmEarlyRelease sets whether the consumer warpgroups of the
// persistent TMA GEMM kernels (GemmAuto's TMA-store kernels and the weight
// gradients' split-K partials, GemmTMAPersistent, GemmTMAStore,
// GemmTMACluster, the cluster split-K and wide-box partials) release the
// previous k-tile's stage before they wait for the next k-tile, when that
// one has not landed yet, and returns the previous setting. Without it a
// starved consumer holds a stage it has finished with until the next
// k-tile lands, and the producer has one stage fewer to load into: the
// weight gradients' partials, which wait on their loads (36% of their
// warps' stall samples sat on that wait in the eleventh session's profile),
// keep four of their five stages in flight instead of five. The results
// are the same either way (the same wgmmas in the same order). Off by
// default until it has passed the GPU tests and won on an H100;
// MOCOGO_GEMM_EARLY_RELEASE=1 turns it on when the device is opened.
// GemmTune chooses it per product shape instead.
func (d *Device) SetGemmEarlyRelease(on bool) bool { return d.swapSetting(&d.gemmEarly, on) }

// SetGemmWideBoxes sets whether the weight gradients' split-K (or, with
// SetGemmStreamK, stream-K) partials on an H100 (A transposed, B not: both
// operands stored MN-major) load each operand's tile as one box of a
// three-dimensional tensor map, two TMA loads a k-tile instead of five or
// six (kernels gemm_<t>_tn_tma_p[192]w and gemm_<t>_tn_tma_sk[192]w), where
// M is a multiple of 128 and N of the tile width; and returns the previous
// setting. In the eleventh session's H100 runs each k-tile of the
// partials took about 1 µs however few blocks ran, an L2 look-ahead that
// added TMA operations slowed them, and the forward products, whose
// K-major operands need two loads a k-tile, moved 30% more bytes per SM.
// The same bytes land in the same places: the results are the same bit for
// bit. Off by default until it has won on an H100;
// MOCOGO_GEMM_WIDE_BOXES=1 turns it on when the device is opened. GemmTune
// chooses it per product shape instead.
func (d *Device) SetGemmWideBoxes(on bool) bool { return d.swapSetting(&d.gemmWideBoxes, on) }

// SetGemmPrefetch sets whether the producer warpgroup of the persistent TMA
// GEMM kernels (GemmAuto's TMA-store kernels, GemmTMAPersistent,
// GemmTMAStore, GemmTMACluster, GemmTMAPingpong), as it starts a tile, asks
// L2 to fetch A for the block's next tile (cp.async.bulk.prefetch.tensor,
// up to 8 k-tiles), and returns the previous setting. At K = 384 (the
// ViT-S/16 forward and input-gradient products, 6 k-tiles a tile) every
// tile's A panel is new to L2 and the ring issues a tile's first loads only
// a few k-tiles ahead; the prefetch starts them a tile ahead. A hint: the
// results are the same either way. Off by default: on an H100 it gained
// nothing and cost 9% at fc2's forward (the eleventh session);
// MOCOGO_GEMM_PREFETCH=1 turns it on when the device is opened.
// GemmTune chooses it per product shape instead.
func (d *Device) SetGemmPrefetch(on bool) bool { return d.swapSetting(&d.gemmPrefetch, on) }

// SetGemmDeepStore sets whether the TMA-store kernels with 128×192 tiles
// (those tmaTile picks for n where they waste less than 256-wide ones:
// GemmAuto's and GemmTMAStore's at the ViT-S/16 n = 384 and 1152) stage a
// consumer warpgroup's whole 64×192 piece of a half C in shared memory,
// three 8 KB buffers instead of two
// (kernels/cuda/gemm_tma_store_deep_sm90a.cu), and returns the previous
// setting. With two, a tile's third box waits for the
// first's TMA store to leave shared memory, while every SM stores at about
// the same moment; with three, the stores drain during the next tile's
// main loop. Off by default: on an H100 it ran within noise of the default
// (the eleventh session: qkv forward 0.88× cuBLAS against 0.87–0.92);
// MOCOGO_GEMM_DEEP_STORE=1 turns it on when the device is opened. GemmTune
// chooses it per product shape instead. The results are the same either
// way.
func (d *Device) SetGemmDeepStore(on bool) bool { return d.swapSetting(&d.gemmDeepStore, on) }

// SetGemmNarrowTiles sets whether the TMA-store kernels (GemmAuto's for
// outputs with a tile for every SM, GemmTMAStore's, GemmTMACluster's) take
// 128×192 tiles where tmaTile would give them 128×256 ones (n = 1536: fc1's
// forward and fc2's input gradient at ViT-S/16), and returns the previous
// setting. A 192-wide tile loads about 13% more from L2 per FLOP, but
// leaves room in shared memory for SetGemmDeepStore's third staging
// buffer, which a 256-wide one does not. Off by default: with the deep
// store it was the best at proj's forward on an H100 (1.20× cuBLAS) but
// worse at 4096³ NN and TN (0.88 and 0.81; the eleventh session);
// MOCOGO_GEMM_NARROW=1 turns it on when the device is opened. GemmTune
// chooses it per product shape instead. The results are the same either
// way.
func (d *Device) SetGemmNarrowTiles(on bool) bool { return d.swapSetting(&d.gemmNarrow, on) }

// SetGemmClusterSplitK sets whether weight gradients (A transposed, B not)
// that split K over the TMA partial products on an H100 do so over
// clusters of two blocks on vertically adjacent tiles, each loading half of
// B's boxes and multicasting them into both (gemm_splitk_cluster_sm90a: 28
// KB a block per 64-deep k-tile instead of 40 for 128×192 tiles), where
// the tile rows pair up evenly; and returns the previous setting. It is
// for products bound by L2's delivery of operands. Stream-K, where asked
// for and applicable, comes first. Off by default and not among
// GemmTune's choices: on an H100 it passed the GPU tests but ran no faster
// than split-K (fc1's weight gradient, the eleventh session);
// MOCOGO_GEMM_CLUSTER_SPLITK=1 turns it on when the device is opened. The
// results are the same either way.
func (d *Device) SetGemmClusterSplitK(on bool) bool { return d.swapSetting(&d.gemmClusterSK, on) }

// stagedFlag is the flag bit that asks the kernels for the staged store
// when SetGemmStaged has turned it on, else 0.
func (d *Device) stagedFlag() int { return d.flagIf(&d.gemmStaged, gemmStaged) }

// swapSetting sets the device setting *p to on under d.mu and returns its
// previous value.
func (d *Device) swapSetting(p *bool, on bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := *p
	*p = on
	return old
}

// flagIf returns bit when the device setting *p is on (read under d.mu),
// else 0.
func (d *Device) flagIf(p *bool, bit int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if *p {
		return bit
	}
	return 0
}

// gemmSetting is what SetGemmKernel last set.
func (d *Device) gemmSetting() GemmKernel {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gemmNT
}

// GemmF16 computes C = act(alpha·op(A)·op(B) + bias) + beta·C on the GPU for
// row-major matrices: op(A) is m×k (A stored m×k, or k×m when transA), op(B)
// is k×n (B stored k×n, or n×k when transB), lda/ldb/ldc are row strides in
// elements. A and B hold fp16, C holds fp32 (or fp16 with ep.OutF16); the
// products are accumulated in fp32 on the tensor cores. When beta is 0, C is
// not read.
//
// Any m, n, k are accepted. The fast path copies 16 bytes at a time and
// needs lda and ldb multiples of 8 and A, B 16-byte aligned; otherwise an
// element-wise (slower) loader is used.
func (d *Device) GemmF16(transA, transB bool, m, n, k int, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, beta float32, c *Buffer, ldc int, ep Epilogue) error {
	if ep.OutBF16 {
		panic("cuda.GemmF16: Epilogue.OutBF16 (an fp16 GEMM stores fp32 or fp16)")
	}
	return d.gemmEpilogue(false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep, ep.OutF16)
}

// GemmBF16 is GemmF16 on bf16 operands: A and B hold bf16, C holds fp32 (or
// bf16 with ep.OutBF16, rounded to nearest even), fp32 accumulation. Every
// kernel and path of GemmF16 (SetGemmKernel, split-K) has a bf16 twin: the
// same source instantiated for bf16 (kernels/cuda/gemm_types.cuh).
func (d *Device) GemmBF16(transA, transB bool, m, n, k int, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, beta float32, c *Buffer, ldc int, ep Epilogue) error {
	if ep.OutF16 {
		panic("cuda.GemmBF16: Epilogue.OutF16 (a bf16 GEMM stores fp32 or bf16)")
	}
	return d.gemmEpilogue(true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep, ep.OutBF16)
}

// gemmEpilogue is GemmF16 and GemmBF16: gemmHalf, with ep.Residual added
// in the ping-pong kernels' epilogue where SetGemmResidual allows it and
// they can (gemmResidual), else copied into C first and the product added
// to it (beta 1).
func (d *Device) gemmEpilogue(bf, transA, transB bool, m, n, k int, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, beta float32, c *Buffer, ldc int, ep Epilogue, outHalf bool) error {
	r := ep.Residual
	if r == nil {
		return d.gemmHalf(bf, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep.Bias, ep.GELU, outHalf)
	}
	api := "cuda.GemmF16"
	if bf {
		api = "cuda.GemmBF16"
	}
	checkGemmArgs(api, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, ep.Bias, outHalf)
	if beta != 0 {
		panic(fmt.Sprintf("%s: Epilogue.Residual with beta %g (the residual takes beta's place)", api, beta))
	}
	celem := cElem(outHalf)
	if m == 0 || n == 0 {
		return nil
	}
	span := int64((m-1)*ldc+n) * int64(celem) // bytes of C, and of R, from their first element
	if r.bytes < span {
		panic(fmt.Sprintf("%s: Epilogue.Residual has %d bytes, %d×%d with stride %d needs %d", api, r.bytes, m, n, ldc, span))
	}
	if overlaps(r, span, c, span) {
		panic(fmt.Sprintf("%s: Epilogue.Residual overlaps C (add to C with beta 1 instead)", api))
	}
	if done, err := d.gemmResidual(bf, transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc, ep, outHalf); done || err != nil {
		return err
	}
	// C ← R, row by row where C's rows have gaps (ldc > n), then the
	// product added to it.
	pitch := int64(ldc * celem)
	if err := copy2D(c, pitch, r, pitch, int64(n*celem), m); err != nil {
		return fmt.Errorf("%s: residual into C: %w", api, err)
	}
	return d.gemmHalf(bf, transA, transB, m, n, k, alpha, a, lda, b, ldb, 1, c, ldc, ep.Bias, ep.GELU, outHalf)
}

// residualRoute is the route of the ping-pong kernels with R in their
// epilogue for a product C = act(alpha·op(A)·op(B) + bias) + R
// (srcEpilogueRoute) and what routing read of the product, and whether
// gemmResidual takes it: SetGemmResidual on and the kernels able to run it.
func (d *Device) residualRoute(bf, transA, transB bool, m, n, k int, a *Buffer, lda int, b *Buffer, ldb int, c *Buffer, ldc int, r *Buffer, gelu, outHalf bool) (gemmRoute, gemmProduct, bool) {
	p := srcProduct(bf, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, gelu, outHalf)
	if d.flagIf(&d.gemmResidualOn, 1) == 0 {
		return gemmRoute{}, p, false
	}
	rt, ok := d.router().srcEpilogueRoute(p, true, r.ptr%16 == 0)
	return rt, p, ok
}

// srcProduct is what routing reads of a product whose epilogue reads a
// source beside it (beta 1 switches the source on, not a C read).
func srcProduct(bf, transA, transB bool, m, n, k int, a *Buffer, lda int, b *Buffer, ldb int, c *Buffer, ldc int, gelu, outHalf bool) gemmProduct {
	p := gemmProduct{bf: bf, transA: transA, transB: transB, m: m, n: n, k: k,
		aligned:  lda%8 == 0 && ldb%8 == 0 && (a == nil || a.ptr%16 == 0) && (b == nil || b.ptr%16 == 0),
		cAligned: c.ptr%16 == 0, ldc: ldc}
	if gelu {
		p.flags |= gemmGELU
	}
	if outHalf {
		p.flags |= gemmOutF16
	}
	return p
}

// gemmGELUGrad runs C = (A·B) ⊙ GELU′(H) (the NN layout), the gradient
// through an exact GELU of its input H (of C's type and layout), on the
// ping-pong kernels with H as their epilogue source (_tma_ppg), and reports
// whether it did: only with SetGemmGELUGrad on and where srcEpilogueRoute
// allows. Otherwise the caller forms the product and applies GELU′ itself
// (Backend.GemmGELUGrad).
func (d *Device) gemmGELUGrad(bf bool, m, n, k int, a *Buffer, lda int, b *Buffer, ldb int, h, c *Buffer, ldc int, outHalf bool) (bool, error) {
	if d.flagIf(&d.gemmGELUGradOn, 1) == 0 {
		return false, nil
	}
	const api = "cuda.Backend.GemmGELUGrad"
	// The arguments first, so that a bad one is named, not dereferenced.
	checkGemmArgs(api, false, false, m, n, k, a, lda, b, ldb, c, ldc, nil, outHalf)
	if h == nil {
		panic(api + ": nil H")
	}
	p := srcProduct(bf, false, false, m, n, k, a, lda, b, ldb, c, ldc, false, outHalf)
	rt, ok := d.router().srcEpilogueRoute(p, false, h.ptr%16 == 0)
	if !ok {
		return false, nil
	}
	span := int64((m-1)*ldc+n) * int64(p.celem())
	if h.bytes < span {
		panic(fmt.Sprintf("%s: H has %d bytes, %d×%d with stride %d needs %d", api, h.bytes, m, n, ldc, span))
	}
	return true, d.launchSrcEpilogue(rt, p, 1, a, lda, b, ldb, h, c, ldc, nil)
}

// launchSrcEpilogue launches rt, a srcEpilogueRoute for p, with src read
// beside the product: beta 1 switches the source on (the _tma_ppr kernels
// add it, the _tma_ppg kernels multiply by GELU′ of it).
func (d *Device) launchSrcEpilogue(rt gemmRoute, p gemmProduct, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, src, c *Buffer, ldc int, bias *Buffer) error {
	l := tmaLaunch{module: rt.module, kernel: rt.kernel, bn: rt.bn, store: true, pingpong: true, src: src, cluster: rt.cluster, units: rt.units}
	return d.launchTMA(l, p.transA, p.transB, p.m, p.n, p.k, alpha, a, lda, b, ldb, 1, c, ldc, bias, rt.flags)
}

// SetGemmGELUGrad sets whether Backend.GemmGELUGrad (a FeedForward's
// hidden-layer gradient, the product of the output gradient and the second
// weight times GELU′ of the pre-activation) applies GELU′ in the epilogue
// of the ping-pong kernels, reading the pre-activation beside the product,
// instead of a pass of its own over the product; and returns the previous
// setting. Off by default: on an H100 the step with it and
// SetGemmResidual was slower (SetGemmResidual);
// MOCOGO_GEMM_GELU_GRAD=1 turns it on when the device is opened.
func (d *Device) SetGemmGELUGrad(on bool) bool { return d.swapSetting(&d.gemmGELUGradOn, on) }

// overlaps reports whether the first na bytes of a and the first nb bytes
// of b share an address.
func overlaps(a *Buffer, na int64, b *Buffer, nb int64) bool {
	return a.ptr < b.ptr+cu.DevicePtr(nb) && b.ptr < a.ptr+cu.DevicePtr(na)
}

// gemmResidual runs C = act(alpha·op(A)·op(B) + bias) + R (R = ep.Residual)
// on the ping-pong kernels with the residual in their epilogue where
// residualRoute allows it, and reports whether it did.
func (d *Device) gemmResidual(bf, transA, transB bool, m, n, k int, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, c *Buffer, ldc int, ep Epilogue, outHalf bool) (bool, error) {
	rt, p, ok := d.residualRoute(bf, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, ep.Residual, ep.GELU, outHalf)
	if !ok {
		return false, nil
	}
	return true, d.launchSrcEpilogue(rt, p, alpha, a, lda, b, ldb, ep.Residual, c, ldc, ep.Bias)
}

// checkGemmArgs panics, naming api, unless the sizes are not negative and
// A, B, C (and bias) are present and large enough for an m×n×k product with
// their strides (C of the operand type when outHalf, else fp32).
func checkGemmArgs(api string, transA, transB bool, m, n, k int, a *Buffer, lda int, b *Buffer, ldb int, c *Buffer, ldc int, bias *Buffer, outHalf bool) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("%s: negative size m=%d n=%d k=%d", api, m, n, k))
	}
	if m == 0 || n == 0 {
		return
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	need := func(name string, buf *Buffer, rows, cols, ld, elem int) {
		if rows == 0 || cols == 0 {
			return
		}
		if buf == nil {
			panic(fmt.Sprintf("%s: %s is nil", api, name))
		}
		if ld < cols {
			panic(fmt.Sprintf("%s: %s stride %d < %d columns", api, name, ld, cols))
		}
		if buf.ptr%cu.DevicePtr(elem) != 0 {
			panic(fmt.Sprintf("%s: %s starts %d bytes past a %d-byte element boundary", api, name, buf.ptr%cu.DevicePtr(elem), elem))
		}
		if want := int64((rows-1)*ld+cols) * int64(elem); buf.bytes < want {
			panic(fmt.Sprintf("%s: %s has %d bytes, %d×%d with stride %d needs %d", api, name, buf.bytes, rows, cols, ld, want))
		}
	}
	need("A", a, ar, ac, lda, 2)
	need("B", b, br, bc, ldb, 2)
	need("C", c, m, n, ldc, cElem(outHalf))
	if bias != nil && bias.bytes < 4*int64(n) {
		panic(fmt.Sprintf("%s: bias has %d bytes, need %d", api, bias.bytes, 4*n))
	}
}

// gemmHalf is GemmF16 (bf false) and GemmBF16 (bf true); outHalf stores C in
// the operands' type. It launches the route (route.go) of the device's
// choice, or under GemmTune of the choice tuned for the product's shape.
func (d *Device) gemmHalf(bf, transA, transB bool, m, n, k int, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, beta float32, c *Buffer, ldc int, bias *Buffer, gelu, outHalf bool) error {
	api := "cuda.GemmF16"
	if bf {
		api = "cuda.GemmBF16"
	}
	checkGemmArgs(api, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, bias, outHalf)
	if m == 0 || n == 0 {
		return nil
	}
	if pairBytes := cu.DevicePtr(2 * cElem(outHalf)); c.ptr%pairBytes != 0 {
		return d.gemmUnpairedC(bf, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, gelu, outHalf)
	}
	p := gemmProduct{bf: bf, transA: transA, transB: transB, m: m, n: n, k: k,
		aligned:  lda%8 == 0 && ldb%8 == 0 && (a == nil || a.ptr%16 == 0) && (b == nil || b.ptr%16 == 0),
		cAligned: c.ptr%16 == 0, ldc: ldc, beta: beta != 0, staged: d.stagedFlag()}
	if gelu {
		p.flags |= gemmGELU
	}
	if outHalf {
		p.flags |= gemmOutF16 // "C holds the operand type", fp16 or bf16
	}
	r := d.router()
	run := func(rt gemmRoute, c *Buffer) error {
		return d.launchRoute(rt, p, alpha, a, lda, b, ldb, beta, c, ldc, bias)
	}
	sel := d.gemmSetting()
	if sel != GemmTune {
		return run(r.route(d.settingsChoice(sel), p), c)
	}
	ch := d.settingsChoice(GemmAuto)
	// Tuned where the candidates' routes can differ: aligned operands and
	// k > 0. With beta ≠ 0 they run on copies of C.
	if p.aligned && k > 0 {
		// The staged store is a setting GemmTune keeps (it changes the
		// mma.sync and wgmma kernels' timings: a choice is kept per
		// setting); the schedule settings are among what it chooses.
		key := tuneKey{bf, transA, transB, m, n, k, lda, ldb, ldc, p.flags | p.staged, bias != nil, p.cAligned, p.beta}
		var err error
		if ch, err = d.tunedChoice(key, func(ch GemmChoice) gemmRoute { return r.route(ch, p) }, c, run); err != nil {
			return fmt.Errorf("%s: tuning %v: %w", api, key, err)
		}
	}
	return run(r.route(ch, p), c)
}

// gemmUnpairedC is gemmHalf for a C whose first element does not start an
// aligned pair (an fp32 C 4 bytes past an 8-byte boundary, a half C 2 bytes
// past a 4-byte one). Every kernel's direct epilogue stores a row's two
// adjacent results as one access wherever their offset from C is even,
// which then faults as misaligned; so the product goes into an aligned
// buffer of its own (C copied in first when beta ≠ 0) and is copied into C
// after, rows of n elements, C's padding untouched. Slower, and rare: no
// tensor of the engine starts there.
func (d *Device) gemmUnpairedC(bf, transA, transB bool, m, n, k int, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, beta float32, c *Buffer, ldc int, bias *Buffer, gelu, outHalf bool) error {
	celem := cElem(outHalf)
	rowBytes, pitch := int64(n*celem), int64(ldc*celem)
	tmp, err := d.Alloc(int64(m) * rowBytes)
	if err != nil {
		return err
	}
	// The default stream orders the copy out before any later user of
	// tmp's memory, so it can go back to the cache at once.
	defer tmp.Free()
	if beta != 0 {
		if err := copy2D(tmp, rowBytes, c, pitch, rowBytes, m); err != nil {
			return fmt.Errorf("C into an aligned buffer: %w", err)
		}
	}
	if err := d.gemmHalf(bf, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, tmp, n, bias, gelu, outHalf); err != nil {
		return err
	}
	if err := copy2D(c, pitch, tmp, rowBytes, rowBytes, m); err != nil {
		return fmt.Errorf("product from an aligned buffer into C: %w", err)
	}
	return nil
}

// copy2D copies rows pieces of width bytes from src, a row every spitch
// bytes, to dst, a row every dpitch bytes (device to device): a driver copy
// a row, or one where both are contiguous. (cu's Memcpy2D cannot serve:
// its parameter conversion dereferences the CUDA arrays a device copy does
// not have, a nil-pointer panic on the eleventh session's H100.)
func copy2D(dst *Buffer, dpitch int64, src *Buffer, spitch int64, width int64, rows int) error {
	if rows == 0 || width == 0 {
		return nil
	}
	need := func(pitch int64) int64 { return int64(rows-1)*pitch + width }
	if width > dpitch || width > spitch || need(dpitch) > dst.bytes || need(spitch) > src.bytes {
		panic(fmt.Sprintf("cuda: 2D copy of %d rows of %d bytes (pitches %d and %d) between buffers of %d and %d bytes",
			rows, width, spitch, dpitch, src.bytes, dst.bytes))
	}
	if dpitch == width && spitch == width {
		width, rows = width*int64(rows), 1 // one piece
	}
	return dst.d.do(func() error {
		for i := range int64(rows) {
			if err := cu.MemcpyDtoD(dst.ptr+cu.DevicePtr(i*dpitch), src.ptr+cu.DevicePtr(i*spitch), width); err != nil {
				return fmt.Errorf("cuda: cuMemcpyDtoD(row %d of %d, %d bytes): %w", i, rows, width, err)
			}
		}
		return nil
	})
}

// router is what routing reads of the device and its settings, now.
func (d *Device) router() gemmRouter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return gemmRouter{sms: d.sms, hopper: d.sm90(), splitMode: d.gemmSplit, noTMASplitDW: d.noTMASplitDW}
}

// launchRoute launches the product p, of the operands and C given, the way
// rt says (gemmRouter.route).
func (d *Device) launchRoute(rt gemmRoute, p gemmProduct, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, beta float32, c *Buffer, ldc int, bias *Buffer) error {
	switch rt.path {
	case pathTMA:
		l := tmaLaunch{module: rt.module, kernel: rt.kernel, bn: rt.bn, grid: D1(rt.blocks),
			store: rt.store, cluster: rt.cluster, units: rt.units, pingpong: rt.pingpong, deep: rt.deep}
		if rt.store {
			beta = 0 // C is not read (tmaStoreOK: beta is 0, or −0)
		}
		return d.launchTMA(l, p.transA, p.transB, p.m, p.n, p.k, alpha, a, lda, b, ldb, beta, c, ldc, bias, rt.flags)
	case pathSplitMMA:
		return d.gemmSplitK(rt, p, alpha, a, lda, b, ldb, beta, c, ldc, bias)
	case pathSplitTMA:
		if rt.streamK {
			// Without room for its slots, split-K's smaller workspace.
			if ws, err := d.Alloc(rt.plan.workspaceFloats(rt.bn) * 4); err == nil {
				// The default stream orders the reduce before any later
				// user of the workspace's memory, so it can go back to the
				// cache at once.
				defer ws.Free()
				return d.gemmStreamK(rt, ws, p, alpha, a, lda, b, ldb, beta, c, ldc, bias)
			}
		}
		return d.gemmTMASplitK(rt, p, alpha, a, lda, b, ldb, beta, c, ldc, bias)
	}
	return d.Launch(rt.module, rt.kernel, D1(rt.blocks), D1(rt.threads), rt.smem,
		a, b, c, bias, int32(p.m), int32(p.n), int32(p.k), int32(lda), int32(ldb), int32(ldc), alpha, beta, int32(rt.flags))
}

// SetGemmSplitK sets GemmF16's split-K policy for aligned operands: 0 (the
// default) splits K automatically when the output has too few tiles to fill
// the GPU and K is long (weight gradients); 1 never splits; n ≥ 2 splits K
// into up to n chunks whenever K has at least two 32-deep slices (for tests
// and benchmarks). It returns the previous setting.
func (d *Device) SetGemmSplitK(n int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.gemmSplit
	d.gemmSplit = max(n, 0)
	return old
}

// gemmSplitK runs mma.sync's split-K route rt: each chunk of K writes its
// fp32 partial product into a workspace (rt.kernel, <name>_sk of gemm_f16
// or gemm_bf16, or gemm_mma4's <name>_q_sk, whose flags ask only for the
// staged store),
// then rt.reduce sums them in a fixed order and applies the epilogue.
func (d *Device) gemmSplitK(rt gemmRoute, p gemmProduct, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, beta float32, c *Buffer, ldc int, bias *Buffer) error {
	// Rows of the partial products padded to 16 bytes: the kernel's
	// epilogue stores pairs, so every slice and row must start aligned.
	ldw := (p.n + 3) &^ 3
	ws, err := d.Alloc(int64(rt.splits) * int64(p.m) * int64(ldw) * 4)
	if err != nil {
		return err
	}
	// The default stream orders the reduce before any later user of the
	// workspace's memory, so it can go back to the cache at once.
	defer ws.Free()
	if err := d.Launch(rt.module, rt.kernel, Dim3{X: rt.blocks, Y: rt.splits, Z: 1}, D1(rt.threads), rt.smem,
		a, b, ws, int32(p.m), int32(p.n), int32(p.k), int32(lda), int32(ldb), int32(rt.kchunk), int32(ldw), int32(rt.flags)); err != nil {
		return err
	}
	return d.splitKReduce(p.bf, rt.reduce, ws, rt.splits, p.m, p.n, ldw, alpha, beta, c, ldc, bias, p.flags)
}

// gemmTMASplitK is gemmSplitK with the partial products by a TMA kernel
// (grid: rt.blocks × splits, in clusters of rt.cluster blocks; kchunk a
// multiple of 64).
func (d *Device) gemmTMASplitK(rt gemmRoute, p gemmProduct, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, beta float32, c *Buffer, ldc int, bias *Buffer) error {
	ws, err := d.Alloc(int64(rt.splits) * int64(p.m) * int64(p.n) * 4)
	if err != nil {
		return err
	}
	defer ws.Free()
	l := tmaLaunch{module: rt.module, kernel: rt.kernel, bn: rt.bn, kchunk: rt.kchunk, cluster: rt.cluster,
		grid: Dim3{rt.blocks, rt.splits, 1}, wide: rt.wide}
	if err := d.launchTMA(l, p.transA, p.transB, p.m, p.n, p.k, 1, a, lda, b, ldb, 0, ws, p.n, nil, rt.flags); err != nil {
		return err
	}
	return d.splitKReduce(p.bf, rt.reduce, ws, rt.splits, p.m, p.n, p.n, alpha, beta, c, ldc, bias, p.flags)
}

// SetGemmStreamK sets whether GemmF16 and GemmBF16 on an H100 compute the
// weight-gradient layout (A transposed, B not) stream-K where they would
// split K over fewer blocks than the GPU has SMs, and returns the previous
// setting. Split-K gives each output tile the same number of K chunks: the
// ViT-S/16 weight gradients' 24 or 18 tiles keep 120 or 126 of an H100's 132
// SMs busy. Stream-K deals the product's k-tiles out evenly over one block
// per SM, each block storing a partial product of every tile its share
// touches; a reduction sums them in a fixed order, so the result does not
// depend on scheduling (kernels/cuda/gemm_streamk_sm90a.cu). Off by
// default: on an H100 it passed the GPU tests and beat split-K at fc1's
// weight gradient (0.77× cuBLAS against 0.72, three times), but lost badly
// at qkv's and fc2's (0.53–0.56; the eleventh session);
// MOCOGO_GEMM_STREAMK=1 turns it on when the device is opened. GemmTune
// chooses it per product shape instead (it chose it for fc1's).
func (d *Device) SetGemmStreamK(on bool) bool { return d.swapSetting(&d.gemmStreamKOn, on) }

// gemmStreamK runs the weight-gradient product C = act(alpha·Aᵀ·B + bias) +
// beta·C on the stream-K schedule rt.plan: the partial products of
// gemm_<t>_tn_tma_sk[192] (128×rt.bn tiles) into ws, a workspace of the
// plan's slots (plan.workspaceFloats(bn) floats), then
// gemm_streamk_reduce[_bf16] into C (streamKKernels).
func (d *Device) gemmStreamK(rt gemmRoute, ws *Buffer, p gemmProduct, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, beta float32, c *Buffer, ldc int, bias *Buffer) error {
	kernel, reduce := streamKKernels(p.bf, rt.bn, rt.wide)
	plan := rt.plan
	l := tmaLaunch{module: streamKModule, kernel: kernel, bn: rt.bn, grid: D1(plan.blocks), streamK: &plan, wide: rt.wide}
	if err := d.launchTMA(l, true, false, p.m, p.n, p.k, 1, a, lda, b, ldb, 0, ws, rt.bn, nil, 0); err != nil {
		return err
	}
	quads := p.m * ((p.n + 3) / 4)
	blocks := min((quads+255)/256, 8*d.sms)
	return d.Launch(streamKModule, reduce, D1(blocks), D1(256), 0,
		ws, c, bias, int32(p.m), int32(p.n), int32(ldc), alpha, beta, int32(p.flags), int32(rt.bn), int32(plan.kt), int32(plan.blocks), int32(plan.maxSeg))
}

// splitKReduce sums the splits fp32 m×n slices of ws (rows of stride ldw)
// in order into C with the epilogue, by the kernel reduce of the gemm_f16
// module for operands of type bf16 (bf) or fp16 (splitKReduceKernel: its C
// has the operands' type when half).
func (d *Device) splitKReduce(bf bool, reduce string, ws *Buffer, splits, m, n, ldw int, alpha, beta float32, c *Buffer, ldc int, bias *Buffer, flags int) error {
	quads := (m*n + 3) / 4
	blocks := min((quads+255)/256, 8*d.sms)
	return d.Launch(typedModule("gemm_f16", bf), reduce, D1(blocks), D1(256), 0,
		ws, c, bias, int32(m), int32(n), int32(splits), int32(ldc), alpha, beta, int32(flags), int32(ldw))
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, v)
	return b
}

// bf16Kernel reports whether a GEMM kernel name is a bf16 instantiation
// (gemm_bf16_*) rather than an fp16 one (gemm_f16_*).
func bf16Kernel(name string) bool { return strings.HasPrefix(name, "gemm_bf16_") }

// tmaLaunch describes a launch of a kernel of the TMA modules:
// gemm_f16_tma_sm90a, (store) gemm_tma_store_sm90a or (store and deep)
// gemm_tma_store_deep_sm90a, (store and pingpong) gemm_pingpong_sm90a
// (for bf16 operands, the twins typedModule names), (streamK)
// gemm_streamk_sm90a, or gemm_mma_tma_sm90a.
type tmaLaunch struct {
	module string
	kernel string
	bn     int  // tile width: 256 or 192; 128 or 192 for the ping-pong kernels
	grid   Dim3 // blocks (kernels without a TMA-store epilogue)
	kchunk int  // split-K chunk (_tma_p kernels), else 0
	// store: the kernel stores C through a tensor map (_tma_s, _tma_c,
	// _tma_pp[192|r]); kchunk is then 0, and beta too unless src is set.
	// Its grid is units work items of a cluster, at most as many clusters
	// as fit on the GPU at once (one block per SM), times cluster blocks.
	store   bool
	cluster int
	units   int
	// pingpong: a ping-pong kernel (gemm_pingpong_sm90a), store set too:
	// with bn 128, 6 stages of 32 KB and a producer warpgroup (384
	// threads), or none (256 threads) with src; with bn 192, 4 stages of
	// 40 KB and none (256 threads).
	pingpong bool
	// deep: a _tma_s192d kernel (gemm_tma_store_deep_sm90a), store set
	// too: three 8 KB staging buffers per consumer (SetGemmDeepStore).
	deep bool
	// wide: a _tn_tma_p[192]w or _tn_tma_sk[192]w kernel, whose operands
	// (A transposed, B not) come as three-dimensional tensor maps, a
	// tile's chunks in one box (SetGemmWideBoxes).
	wide bool
	// streamK: a stream-K partial-product kernel (gemm_streamk_sm90a) on
	// this schedule; C is the workspace of its slots. Its parameters are
	// the tensor maps, W, M, N, K and the plan's slots a block.
	streamK *streamKPlan
	// src: the epilogue's source (_tma_ppr: C = … + beta·src), passed as
	// the kernel's C parameter with C's row stride.
	src *Buffer
}

// launchTMA launches l.kernel of l.module, one of the TMA modules: tensor
// maps for A, B (and C for the TMA-store and ping-pong kernels) passed by
// value, so it goes through launchRaw rather than cu. An operand stored k-contiguous is mapped as
// {K, rows} with a box of 64 k × 128 (A) or bn (B; bn/2 when a cluster of
// two shares it) rows; one stored m- or n-contiguous as {M or N, K} with
// 64 × 64 boxes; C as {N, M} with boxes of 128 bytes × 64 rows.
func (d *Device) launchTMA(l tmaLaunch, transA, transB bool, m, n, k int, alpha float32, a *Buffer, lda int, b *Buffer, ldb int, beta float32, c *Buffer, ldc int, bias *Buffer, flags int) error {
	threads, smem := tmaShape(l.module, l.kernel, l.bn, l.store, l.pingpong, l.deep, l.src != nil)
	block := D1(threads)
	var ap, bp, biasp cu.DevicePtr
	if a != nil {
		ap = a.ptr
	}
	if b != nil {
		bp = b.ptr
	}
	if bias != nil {
		biasp = bias.ptr
	}
	kk := max(k, 1) // a tensor map needs every dimension ≥ 1
	grid, module := l.grid, l.module
	err := d.do(func() error {
		fn, err := d.functionSmem(module, l.kernel, smem)
		if err != nil {
			return err
		}
		if l.store {
			grid = D1(l.cluster * min(l.units, d.clusterSlots(fn, l.cluster, smem)))
		}
		if ap == 0 || bp == 0 {
			return fmt.Errorf("nil operand")
		}
		if l.wide && !wideBoxesOK(transA, transB, m, n, l.bn) {
			return fmt.Errorf("wide boxes for a %d×%d product with A transposed %v, B %v (they need A transposed, B not, and whole tiles)", m, n, transA, transB)
		}
		var ta, tb, tc [128]byte
		bf := bf16Kernel(l.kernel)
		switch {
		case l.wide:
			// The _p[192]w kernels: both operands MN-major, each tile one
			// three-dimensional box.
			ta, err = tensorMapMN3D(bf, ap, kk, m, lda, 128/64)
		case transA:
			ta, err = tensorMap16(bf, ap, kk, m, lda, 64, 64)
		default:
			ta, err = tensorMap16(bf, ap, m, kk, lda, 128, 64)
		}
		if err != nil {
			return fmt.Errorf("A: %w", err)
		}
		switch {
		case l.wide:
			tb, err = tensorMapMN3D(bf, bp, kk, n, ldb, l.bn/64)
		case transB:
			tb, err = tensorMap16(bf, bp, n, kk, ldb, l.bn/max(l.cluster, 1), 64)
		default:
			tb, err = tensorMap16(bf, bp, kk, n, ldb, 64, 64)
		}
		if err != nil {
			return fmt.Errorf("B: %w", err)
		}
		params := [][]byte{ta[:], tb[:]}
		if l.store {
			dtype, elem := tmapFloat32, 4
			if flags&gemmOutF16 != 0 {
				dtype, elem = tmapFloat16, 2
				if bf {
					dtype = tmapBFloat16
				}
			}
			if tc, err = tensorMap(dtype, elem, c.ptr, m, n, ldc, 64, 128/elem); err != nil {
				return fmt.Errorf("C: %w", err)
			}
			params = append(params, tc[:])
		}
		if l.streamK != nil {
			params = append(params, u64(uint64(c.ptr)), u64(uint64(uint32(m))), u64(uint64(uint32(n))),
				u64(uint64(uint32(k))), u64(uint64(uint32(l.streamK.maxSeg))))
			return d.launchProfiled(fn, module, l.kernel, grid, block, smem, params)
		}
		cp := c.ptr // the C parameter: C, or the epilogue's source (l.src)
		if l.src != nil {
			cp = l.src.ptr
		}
		params = append(params, u64(uint64(cp)), u64(uint64(biasp)),
			u64(uint64(uint32(m))), u64(uint64(uint32(n))), u64(uint64(uint32(k))), u64(uint64(uint32(ldc))),
			u64(uint64(math.Float32bits(alpha))), u64(uint64(math.Float32bits(beta))), u64(uint64(uint32(flags))))
		if tmaTakesKChunk(l.kernel) {
			params = append(params, u64(uint64(uint32(l.kchunk))))
		}
		return d.launchProfiled(fn, module, l.kernel, grid, block, smem, params)
	})
	if err != nil {
		return fmt.Errorf("cuda: launch %s.%s grid (%d,%d,1) block (%d,1,1) smem %d: %w", module, l.kernel, grid.X, grid.Y, block.X, smem, err)
	}
	return nil
}

// launchProfiled launches fn (module.kernel) with raw parameters inside
// the step profiler's events. Runs on the context's thread (inside d.do).
func (d *Device) launchProfiled(fn *function, module, kernel string, grid, block Dim3, smem int, params [][]byte) error {
	start, err := d.profileBegin()
	if err != nil {
		return err
	}
	if err := launchRaw(fn.f, grid, block, smem, params); err != nil {
		d.profileAbort(start)
		return err
	}
	return d.profileEnd(start, module, kernel, grid)
}

// clusterSlots is how many clusters of size blocks of fn fit on the GPU at
// once (cuOccupancyMaxActiveClusters, asked once per kernel), for a
// persistent grid: launching more would leave the extra clusters to run
// after the others, doubling the tail. Without the driver's answer: one
// block per SM. Runs on the context's thread (inside d.do).
func (d *Device) clusterSlots(fn *function, size, smem int) int {
	if size <= 1 {
		return d.sms
	}
	if fn.clusters == 0 {
		fn.clusters = d.sms / size
		if n, err := maxActiveClusters(fn.f, size*(d.sms/size), 384, smem); err == nil && n > 0 {
			fn.clusters = n
		}
	}
	return fn.clusters
}
