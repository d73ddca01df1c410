package cuda

import "sort"

// PeakStats is what the clock records of one peak probe run (PeakRun,
// BulkLoadRun) say about the SMs that ran it.
type PeakStats struct {
	SMs        int     // SMs that ran at least one block
	MinBlocks  int     // fewest blocks an SM ran
	MaxBlocks  int     // most blocks an SM ran
	MaxCycles  int64   // the longest SM span, in that SM's clock cycles
	PerSMClock float64 // median over SMs of the work (FLOPs, or bytes loaded) an SM did per clock cycle of its span
}

// peakStats reads a probe's clock records, three int64 per block (clock64
// at the block's start and end, and its SM id), for blocks that each did
// workPerBlock of the probe's work (FLOPs, or bytes loaded). The blocks of one SM share its clock counter, so an
// SM's span runs from the earliest start to the latest end among its
// blocks; counters of different SMs are not comparable, so spans are never
// formed across SMs. The median over SMs keeps one slow or early SM from
// moving the figure.
func peakStats(rec []int64, workPerBlock float64) PeakStats {
	type span struct {
		start, end int64
		blocks     int
	}
	bySM := map[int64]*span{}
	for i := 0; i+2 < len(rec); i += 3 {
		s := bySM[rec[i+2]]
		if s == nil {
			s = &span{start: rec[i], end: rec[i+1]}
			bySM[rec[i+2]] = s
		}
		s.start = min(s.start, rec[i])
		s.end = max(s.end, rec[i+1])
		s.blocks++
	}
	var st PeakStats
	rates := make([]float64, 0, len(bySM))
	for _, s := range bySM {
		cycles := s.end - s.start
		if st.SMs == 0 || s.blocks < st.MinBlocks {
			st.MinBlocks = s.blocks
		}
		st.MaxBlocks = max(st.MaxBlocks, s.blocks)
		st.MaxCycles = max(st.MaxCycles, cycles)
		st.SMs++
		if cycles > 0 {
			rates = append(rates, float64(s.blocks)*workPerBlock/float64(cycles))
		}
	}
	if len(rates) > 0 {
		sort.Float64s(rates)
		st.PerSMClock = rates[len(rates)/2]
	}
	return st
}
