package cuda

import "testing"

func TestPeakStats(t *testing.T) {
	// SM 5: two blocks, spans [100, 1100) and [150, 1300): 1200 cycles for
	// 2·600 FLOPs. SM 7: one block of 600 cycles at a counter far from SM
	// 5's. SM 2: one block of 300 cycles.
	rec := []int64{
		100, 1100, 5,
		1_000_000, 1_000_600, 7,
		150, 1300, 5,
		40, 340, 2,
	}
	st := peakStats(rec, 600)
	want := PeakStats{SMs: 3, MinBlocks: 1, MaxBlocks: 2, MaxCycles: 1200, PerSMClock: 1}
	if st != want {
		t.Errorf("peakStats = %+v, want %+v", st, want)
	}
	if st := peakStats(nil, 1); st != (PeakStats{}) {
		t.Errorf("peakStats(nil) = %+v, want zero", st)
	}
}
