//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"unsafe"
)

// The bulk-load probe's shape (BW_CHUNK and BW_STAGES of
// kernels/cuda/peak_bw_sm90a.cu).
const (
	bulkChunk  = 16384
	bulkStages = 8
)

// BulkLoadRun is the TMA bulk-load bandwidth probe of
// kernels/cuda/peak_bw_sm90a.cu set up on a device (compute capability 9.0:
// an H100 or H200): one block on every SM, each streaming 16 KB chunks of a footprint
// in global memory into a ring of shared memory by cp.async.bulk, 128 KB in
// flight an SM. A footprint well under the L2 measures how fast L2 feeds
// the SMs' shared memory, the ceiling on how fast a TMA GEMM can take its
// operands; one well over it, DRAM's read bandwidth as those kernels see
// it.
type BulkLoadRun struct {
	d      *Device
	iters  int
	chunks int64
	src    *Buffer
	loadRecords
}

// loadRecords are what the load probes' blocks leave: out[b] = (wrong
// words << 32) | words or chunks checked, and each block's clock span and
// SM (clocks[3b .. 3b+2], peak_record).
type loadRecords struct {
	name   string // the probe, for errors
	blocks int
	out    *Buffer
	clocks *Buffer
}

// newLoadRecords allocates blocks' records, poisoned.
func (d *Device) newLoadRecords(name string, blocks int) (loadRecords, error) {
	l := loadRecords{name: name, blocks: blocks}
	var err error
	if l.out, err = d.Alloc(8 * int64(blocks)); err == nil {
		if l.clocks, err = d.Alloc(3 * 8 * int64(blocks)); err == nil {
			err = l.poison()
		}
	}
	if err != nil {
		l.free()
	}
	return l, err
}

// poison sets every block's record to all ones, which no run leaves: a
// block that did not run cannot pass check.
func (l loadRecords) poison() error {
	if err := l.out.Fill32(^uint32(0)); err != nil {
		return err
	}
	return l.clocks.Fill32(0)
}

// check reads the records back and reports an error unless every block
// checked want of them (what: "chunks", "words") and found none wrong.
func (l loadRecords) check(want uint64, what string) error {
	rec := make([]uint64, l.blocks)
	if err := l.out.copyOut(unsafe.Pointer(&rec[0]), 8*int64(len(rec)), l.name+" records"); err != nil {
		return fmt.Errorf("cuda: %s: %w", l.name, err)
	}
	for b, v := range rec {
		if wrong, checked := v>>32, v&(1<<32-1); wrong != 0 || checked != want {
			return fmt.Errorf("cuda: %s, block %d of %d: %d of %d %s checked, %d wrong", l.name, b, l.blocks, checked, want, what, wrong)
		}
	}
	return nil
}

// stats reads the clock records of the last run, each block having moved
// bytesPerBlock: PerSMClock is bytes per SM per clock.
func (l loadRecords) stats(bytesPerBlock float64) (PeakStats, error) {
	rec := make([]int64, 3*l.blocks)
	if err := l.clocks.copyOut(unsafe.Pointer(&rec[0]), 8*int64(len(rec)), l.name+" clocks"); err != nil {
		return PeakStats{}, fmt.Errorf("cuda: %s: %w", l.name, err)
	}
	return peakStats(rec, bytesPerBlock), nil
}

// Blocks is the grid size.
func (l loadRecords) Blocks() int { return l.blocks }

func (l loadRecords) free() {
	for _, b := range []*Buffer{l.out, l.clocks} {
		if b != nil {
			b.Free()
		}
	}
}

// fillIndex fills the first words 32-bit words of p with their indices
// (peak_fill_index), so that a probe can check where each word it loaded
// came from.
func (d *Device) fillIndex(p *Buffer, words int64) error {
	return d.Launch("peak_bw_sm90a", "peak_fill_index", D1(int(min((words+255)/256, int64(8*d.sms)))), D1(256), 0, p, words)
}

// NewBulkLoadRun allocates the probe for a footprint of span bytes (a
// multiple of 16 KB, at most 16 GiB) and iters chunks an SM: the footprint
// filled with its 32-bit word indices on the device, the outputs poisoned.
// It needs compute capability 9.0 (an H100 or H200).
func (d *Device) NewBulkLoadRun(span int64, iters int) (*BulkLoadRun, error) {
	if !d.sm90() {
		return nil, fmt.Errorf("cuda: the bulk-load probe needs compute capability 9.0, %s has %d.%d", d.name, d.major, d.minor)
	}
	if span <= 0 || span%bulkChunk != 0 || span/4 > 1<<32 || iters < 0 || iters > math.MaxInt32 {
		panic(fmt.Sprintf("cuda.NewBulkLoadRun: a footprint of %d bytes, %d iterations", span, iters))
	}
	r := &BulkLoadRun{d: d, iters: iters, chunks: span / bulkChunk}
	var err error
	if r.src, err = d.Alloc(span); err == nil {
		if err = d.fillIndex(r.src, span/4); err == nil {
			r.loadRecords, err = d.newLoadRecords("bulk-load probe", d.sms)
		}
	}
	if err != nil {
		r.Free()
		return nil, fmt.Errorf("cuda: bulk-load probe: %w", err)
	}
	return r, nil
}

// Launch runs the probe once (asynchronously, on the default stream).
func (r *BulkLoadRun) Launch() error {
	return r.d.Launch("peak_bw_sm90a", "peak_bulk_load", D1(r.blocks), D1(32), bulkStages*bulkChunk+8*bulkStages,
		r.src, r.chunks, int32(r.iters), r.out, r.clocks)
}

// Bytes is what one run loads into shared memory.
func (r *BulkLoadRun) Bytes() float64 { return float64(r.blocks) * float64(r.iters) * bulkChunk }

// Check reads the blocks' records back and reports an error unless every
// block checked all its chunks and found each one's sampled word right.
func (r *BulkLoadRun) Check() error { return r.check(uint64(r.iters), "chunks") }

// Stats reads the clock records of the last run: PerSMClock is bytes
// loaded per SM per clock.
func (r *BulkLoadRun) Stats() (PeakStats, error) { return r.stats(float64(r.iters) * bulkChunk) }

// Free releases the buffers.
func (r *BulkLoadRun) Free() {
	if r.src != nil {
		r.src.Free()
	}
	r.free()
}

// The tile-load probe's shape: the weight gradients' split-K partials
// (gemm_<t>_tn_tma_p192[w]) at ViT-S/16's qkv weight gradient, batch 256:
// A is dY (50432×1152), B is X (50432×384), both stored K×M and K×N, in
// 128×192 tiles, a ring of 5 stages of 40 KB (TL_STAGES, TL_STAGE of
// kernels/cuda/peak_bw_sm90a.cu).
const (
	tileLoadM, tileLoadN, tileLoadK = 1152, 384, 50432
	tileLoadStages                  = 5
	tileLoadStage                   = 128*128 + 192*128
)

// TileLoadRun is the tile-load probe of kernels/cuda/peak_bw_sm90a.cu set
// up on a device of compute capability 9.0: the operand loads of the qkv
// weight gradient's split-K partials without their wgmmas. With splits 7,
// its 18 tiles × 7 splits = 126 blocks run as the partials do by default;
// with splits 1, 18 blocks each walk all of K. Its rate, bytes a block
// loads per clock, set beside the partials' own (a 40 KB k-tile in about
// 1700 clocks, some 24 a clock, in the eleventh session), says whether the
// loads are what holds them back, and with wide, whether the
// three-dimensional boxes load faster.
type TileLoadRun struct {
	d          *Device
	wide       bool
	promo      l2Promotion
	nkt        int
	ahead      int // the look-ahead in k-tiles past the ring (SetLookahead)
	a, b       *Buffer
	mapA, mapB [128]byte
	loadRecords
}

// NewTileLoadRun allocates the probe's operands (filled with their 32-bit
// word indices on the device), tensor maps and records (poisoned), the K
// dimension cut into splits (1 to 788) of equal whole k-tiles. With wide
// the maps are the wide boxes' three-dimensional ones; with l2p256 their
// L2 promotion is 256 bytes instead of the kernels' 128 (a miss fetches the
// neighbouring line of DRAM too). It needs compute capability 9.0.
func (d *Device) NewTileLoadRun(wide, l2p256 bool, splits int) (*TileLoadRun, error) {
	if !d.sm90() {
		return nil, fmt.Errorf("cuda: the tile-load probe needs compute capability 9.0, %s has %d.%d", d.name, d.major, d.minor)
	}
	if splits < 1 || splits > tileLoadK/64 {
		panic(fmt.Sprintf("cuda.NewTileLoadRun: %d splits of %d k-tiles", splits, tileLoadK/64))
	}
	tiles := (tileLoadM / 128) * (tileLoadN / 192)
	r := &TileLoadRun{d: d, wide: wide, promo: l2Promote128, nkt: tileLoadK / 64 / splits}
	if l2p256 {
		r.promo = l2Promote256
	}
	err := func() error {
		var err error
		// Each operand: filled with its word indices, then mapped as the
		// partials map it (wide: the _p192w kernels' three-dimensional
		// boxes of the tile's 64-wide chunks; else 64×64 boxes).
		for _, op := range []struct {
			p    **Buffer
			m    *[128]byte
			cols int // M or N, and the row stride
			tile int // the tile's width: 128 or 192
			name string
		}{{&r.a, &r.mapA, tileLoadM, 128, "A"}, {&r.b, &r.mapB, tileLoadN, 192, "B"}} {
			words := int64(tileLoadK) * int64(op.cols) / 2
			if *op.p, err = d.Alloc(4 * words); err != nil {
				return err
			}
			if err = d.fillIndex(*op.p, words); err != nil {
				return err
			}
			if wide {
				*op.m, err = tensorMapMN3DL2(false, (*op.p).ptr, tileLoadK, op.cols, op.cols, op.tile/64, r.promo)
			} else {
				*op.m, err = tensorMapL2(tmapFloat16, 2, (*op.p).ptr, tileLoadK, op.cols, op.cols, 64, 64, r.promo)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", op.name, err)
			}
		}
		r.loadRecords, err = d.newLoadRecords("tile-load probe", tiles*splits)
		return err
	}()
	if err != nil {
		r.Free()
		return nil, fmt.Errorf("cuda: tile-load probe: %w", err)
	}
	return r, nil
}

// SetLookahead sets the look-ahead the probe's producers make beside their
// loads, as the partials do under Device.SetGemmLookahead: 0 (none, the
// default), 4, 8 or 16 k-tiles past the ring. Whether the loads alone then
// run faster tells whether DRAM's latency sets their pace. It panics on
// another distance.
func (r *TileLoadRun) SetLookahead(k int) {
	if !lookaheadOK(k) {
		panic(fmt.Sprintf("cuda.TileLoadRun.SetLookahead(%d): want 0, 4, 8 or 16", k))
	}
	r.ahead = k
}

// Launch runs the probe once (asynchronously, on the default stream).
func (r *TileLoadRun) Launch() error {
	kernel := "peak_tile_load"
	if r.wide {
		kernel += "_w"
	}
	const smem = tileLoadStages*tileLoadStage + 1024 + 8*2*tileLoadStages
	return r.d.do(func() error {
		fn, err := r.d.functionSmem("peak_bw_sm90a", kernel, smem)
		if err != nil {
			return err
		}
		params := [][]byte{r.mapA[:], r.mapB[:], u64(tileLoadM), u64(tileLoadN), u64(tileLoadM), u64(tileLoadN),
			u64(uint64(r.nkt)), u64(uint64(r.ahead)), u64(uint64(r.out.ptr)), u64(uint64(r.clocks.ptr))}
		if err := launchRaw(fn.f, D1(r.blocks), D1(64), smem, params); err != nil {
			return fmt.Errorf("cuda: launch peak_bw_sm90a.%s grid (%d,1,1) block (64,1,1) smem %d: %w", kernel, r.blocks, smem, err)
		}
		return nil
	})
}

// Bytes is what one run loads into shared memory.
func (r *TileLoadRun) Bytes() float64 {
	return float64(r.blocks) * float64(r.nkt) * tileLoadStage
}

// KTiles is the k-tiles each block loads.
func (r *TileLoadRun) KTiles() int { return r.nkt }

// Check reads the blocks' records back and reports an error unless every
// block checked two words of each of its k-tiles and found them right.
func (r *TileLoadRun) Check() error { return r.check(2*uint64(r.nkt), "words") }

// Stats reads the clock records of the last run: PerSMClock is bytes
// loaded per SM per clock (one block an SM at most).
func (r *TileLoadRun) Stats() (PeakStats, error) { return r.stats(float64(r.nkt) * tileLoadStage) }

// Free releases the buffers.
func (r *TileLoadRun) Free() {
	for _, b := range []*Buffer{r.a, r.b} {
		if b != nil {
			b.Free()
		}
	}
	r.free()
}
