//go:build cuda

package main

import (
	"fmt"

	"github.com/mocogo/mocogo/engine/cuda"
)

// peakBench (group peak) times the tensor-core peak probes
// (cuda.PeakProbes): mma.sync m16n8k16 and, on Hopper, wgmma m64n256k16,
// on fp16 and bf16 operands with fp32 accumulation, one wave of blocks on
// every SM and no memory traffic: the ceilings of the kernels built on each
// instruction. Keys, per probe:
//
//	peak_<probe>                  TFLOP/s (CUDA events, median)
//	peak_<probe>_flop_per_sm_clk  FLOPs per SM per clock cycle (clock64 spans of the last run, median over SMs)
//	peak_<probe>_mhz              the SM clock the run saw: the longest SM span over the median time
//
// Every accumulator of the last run is checked to be exact (a probe that
// did less than it claims is an error, not a number).
func (b *gpuBench) peakBench() error {
	for _, p := range b.d.PeakProbes() {
		key := "peak_" + p.Name
		if !b.wants(key) {
			continue
		}
		r, err := b.d.NewPeakRun(p, p.Iters)
		if err != nil {
			return err
		}
		ms, st, err := b.timeProbe(r)
		if err != nil {
			return err
		}
		fmt.Printf("peak %s: %d blocks on %d SMs (%d–%d each), %d iterations, longest SM span %d cycles\n",
			p.Name, r.Blocks(), st.SMs, st.MinBlocks, st.MaxBlocks, p.Iters, st.MaxCycles)
		result(key, r.FLOPs()/ms/1e9, "TFLOP/s", ms)
		result(key+"_flop_per_sm_clk", st.PerSMClock, "FLOP/clk", ms)
		result(key+"_mhz", float64(st.MaxCycles)/ms/1e3, "MHz", ms)
	}
	return b.bulkLoadBench()
}

// bulkLoadBench (group peak, compute capability 9.0 only) times the TMA bulk-load probe
// (cuda.BulkLoadRun): one block an SM streaming 16 KB chunks into shared
// memory by cp.async.bulk, from a 16 MiB footprint (L2-resident after the
// warm-up runs) and from a 2 GiB one (each block its own slice of it,
// once: DRAM). Keys:
//
//	peak_bulk_<l2|dram>                      GB/s into shared memory (CUDA events, median)
//	peak_bulk_<l2|dram>_bytes_per_sm_clk     bytes per SM per clock cycle (clock64 spans of the last run, median over SMs)
//
// A TMA GEMM whose tiles need more bytes per SM clock than the L2 figure
// to keep its tensor cores busy is bound by L2: per 64-deep k-tile a
// 128×bn tile loads (128+bn)·128 bytes for 2·128·bn·64 FLOPs. (The probe's
// contiguous copies are a ceiling for a GEMM's 2-D boxes: needing less
// does not prove a GEMM is not L2-bound.)
func (b *gpuBench) bulkLoadBench() error {
	if major, minor := b.d.ComputeCapability(); major != 9 || minor != 0 {
		return nil
	}
	for _, c := range []struct {
		key   string
		span  int64
		iters int
	}{
		{"peak_bulk_l2", 16 << 20, 4096},
		{"peak_bulk_dram", 2 << 30, 960}, // under a block's share (992 chunks on 132 SMs, more on fewer): no chunk read twice
	} {
		if !b.wants(c.key) {
			continue
		}
		r, err := b.d.NewBulkLoadRun(c.span, c.iters)
		if err != nil {
			return err
		}
		ms, st, err := b.timeProbe(r)
		if err != nil {
			return err
		}
		fmt.Printf("peak %s: %d blocks on %d SMs (%d–%d each), %d chunks of 16 KB each, longest SM span %d cycles\n",
			c.key, r.Blocks(), st.SMs, st.MinBlocks, st.MaxBlocks, c.iters, st.MaxCycles)
		result(c.key, r.Bytes()/ms/1e6, "GB/s", ms)
		result(c.key+"_bytes_per_sm_clk", st.PerSMClock, "B/clk", ms)
	}
	return b.tileLoadBench()
}

// tileLoadBench (group peak, compute capability 9.0 only) times the
// tile-load probe (cuda.TileLoadRun): the qkv weight gradient's split-K
// loads (ViT-S/16, batch 256: 128×192 tiles of two MN-major operands, 5
// stages of 40 KB) without their wgmmas, with the partials' two-dimensional
// 64×64 boxes (2d) and the wide boxes' three-dimensional ones (3d), in
// the default 7 splits (126 blocks) and in one (18 blocks, all of K each),
// the maps' L2 promotion the kernels' 128 bytes or (_l2p256) 256, and
// (_look8) with the partials' look-ahead of 8 k-tiles (SetGemmLookahead).
// Keys:
//
//	peak_tileload_qkvdw_<2d|3d>[_nosplit|_l2p256|_look8]                    GB/s into shared memory
//	peak_tileload_qkvdw_<2d|3d>[_nosplit|_l2p256|_look8]_bytes_per_sm_clk   bytes a block (an SM) per clock
//	peak_tileload_qkvdw_<2d|3d>[_nosplit|_l2p256|_look8]_clk_per_ktile      clocks a 40 KB k-tile
//
// The partials themselves took about 1700 clocks a k-tile at 126 blocks in
// the eleventh session's runs: near that here, the loads are what holds
// them; well under it, the wgmmas' side is. _look8 well under the plain
// form says DRAM's latency sets the loads' pace.
func (b *gpuBench) tileLoadBench() error {
	for _, c := range []struct {
		key           string
		wide, l2p256  bool
		splits, ahead int
	}{
		{"peak_tileload_qkvdw_2d", false, false, 7, 0},
		{"peak_tileload_qkvdw_3d", true, false, 7, 0},
		{"peak_tileload_qkvdw_2d_nosplit", false, false, 1, 0},
		{"peak_tileload_qkvdw_3d_nosplit", true, false, 1, 0},
		{"peak_tileload_qkvdw_2d_l2p256", false, true, 7, 0},
		{"peak_tileload_qkvdw_3d_l2p256", true, true, 7, 0},
		{"peak_tileload_qkvdw_2d_look8", false, false, 7, 8},
		{"peak_tileload_qkvdw_3d_look8", true, false, 7, 8},
	} {
		if !b.wants(c.key) {
			continue
		}
		r, err := b.d.NewTileLoadRun(c.wide, c.l2p256, c.splits)
		if err != nil {
			return err
		}
		r.SetLookahead(c.ahead)
		ktiles := r.KTiles()
		ms, st, err := b.timeProbe(r)
		if err != nil {
			return err
		}
		fmt.Printf("peak %s: %d blocks on %d SMs (%d–%d each), %d k-tiles of 40 KB each, longest SM span %d cycles\n",
			c.key, r.Blocks(), st.SMs, st.MinBlocks, st.MaxBlocks, ktiles, st.MaxCycles)
		result(c.key, r.Bytes()/ms/1e6, "GB/s", ms)
		result(c.key+"_bytes_per_sm_clk", st.PerSMClock, "B/clk", ms)
		if st.PerSMClock > 0 {
			result(c.key+"_clk_per_ktile", 40960/st.PerSMClock, "clk", ms)
		}
	}
	return nil
}

// probeRun is a peak probe set up on the device: cuda.PeakRun or
// cuda.BulkLoadRun.
type probeRun interface {
	Launch() error
	Check() error
	Stats() (cuda.PeakStats, error)
	Free()
}

// timeProbe times r's runs (median milliseconds), checks the last run's
// results (a probe that did less than it claims is an error, not a number),
// reads its clock records and frees it.
func (b *gpuBench) timeProbe(r probeRun) (float64, cuda.PeakStats, error) {
	defer r.Free()
	ms, err := b.time(r.Launch)
	if err == nil {
		err = r.Check()
	}
	if err != nil {
		return 0, cuda.PeakStats{}, err
	}
	st, err := r.Stats()
	return ms, st, err
}
