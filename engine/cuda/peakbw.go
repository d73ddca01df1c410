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
	blocks int
	src    *Buffer
	out    *Buffer
	clocks *Buffer
}

// NewBulkLoadRun allocates the probe for a footprint of span bytes (a
// multiple of 16 KB, at most 16 GiB) and iters chunks an SM: the footprint
// filled with its 32-bit word indices on the device, the outputs poisoned.
// It needs compute capability 9.0 (an H100 or H200).
func (d *Device) NewBulkLoadRun(span int64, iters int) (*BulkLoadRun, error) {
	if d.major != 9 || d.minor != 0 {
		return nil, fmt.Errorf("cuda: the bulk-load probe needs compute capability 9.0, %s has %d.%d", d.name, d.major, d.minor)
	}
	if span <= 0 || span%bulkChunk != 0 || span/4 > 1<<32 || iters < 0 || iters > math.MaxInt32 {
		panic(fmt.Sprintf("cuda.NewBulkLoadRun: a footprint of %d bytes, %d iterations", span, iters))
	}
	r := &BulkLoadRun{d: d, iters: iters, chunks: span / bulkChunk, blocks: d.sms}
	var err error
	if r.src, err = d.Alloc(span); err != nil {
		return nil, fmt.Errorf("cuda: bulk-load probe: %w", err)
	}
	if r.out, err = d.Alloc(8 * int64(r.blocks)); err == nil {
		r.clocks, err = d.Alloc(3 * 8 * int64(r.blocks))
	}
	if err == nil {
		words := span / 4
		err = d.Launch("peak_bw_sm90a", "peak_fill_index", D1(int(min((words+255)/256, int64(8*d.sms)))), D1(256), 0, r.src, words)
	}
	if err == nil {
		err = r.poison()
	}
	if err != nil {
		r.Free()
		return nil, fmt.Errorf("cuda: bulk-load probe: %w", err)
	}
	return r, nil
}

// poison sets every block's record to all ones, which no run leaves: a
// block that did not run cannot pass Check.
func (r *BulkLoadRun) poison() error {
	if err := r.out.Fill32(^uint32(0)); err != nil {
		return err
	}
	return r.clocks.Fill32(0)
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
func (r *BulkLoadRun) Check() error {
	rec := make([]uint64, r.blocks)
	if err := r.out.copyOut(unsafe.Pointer(&rec[0]), 8*int64(len(rec)), "bulk-load records"); err != nil {
		return fmt.Errorf("cuda: bulk-load probe: %w", err)
	}
	for b, v := range rec {
		if wrong, checked := v>>32, v&(1<<32-1); wrong != 0 || checked != uint64(r.iters) {
			return fmt.Errorf("cuda: bulk-load probe, block %d of %d: %d of %d chunks checked, %d wrong", b, r.blocks, checked, r.iters, wrong)
		}
	}
	return nil
}

// Stats reads the clock records of the last run: PerSMClock is bytes
// loaded per SM per clock.
func (r *BulkLoadRun) Stats() (PeakStats, error) {
	rec := make([]int64, 3*r.blocks)
	if err := r.clocks.copyOut(unsafe.Pointer(&rec[0]), 8*int64(len(rec)), "bulk-load clocks"); err != nil {
		return PeakStats{}, fmt.Errorf("cuda: bulk-load probe: %w", err)
	}
	return peakStats(rec, float64(r.iters)*bulkChunk), nil
}

// Blocks is the grid size: one block on every SM.
func (r *BulkLoadRun) Blocks() int { return r.blocks }

// Free releases the buffers.
func (r *BulkLoadRun) Free() {
	for _, b := range []*Buffer{r.src, r.out, r.clocks} {
		if b != nil {
			b.Free()
		}
	}
}
