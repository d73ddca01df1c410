//go:build cuda

package main

import "fmt"

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
		ms, err := b.time(r.Launch)
		if err == nil {
			err = r.Check()
		}
		if err != nil {
			r.Free()
			return err
		}
		st, err := r.Stats()
		r.Free()
		if err != nil {
			return err
		}
		fmt.Printf("peak %s: %d blocks on %d SMs (%d–%d each), %d iterations, longest SM span %d cycles\n",
			p.Name, r.Blocks(), st.SMs, st.MinBlocks, st.MaxBlocks, p.Iters, st.MaxCycles)
		result(key, r.FLOPs()/ms/1e9, "TFLOP/s", ms)
		result(key+"_flop_per_sm_clk", st.FLOPPerSMClock, "FLOP/clk", ms)
		result(key+"_mhz", float64(st.MaxCycles)/ms/1e3, "MHz", ms)
	}
	return nil
}
