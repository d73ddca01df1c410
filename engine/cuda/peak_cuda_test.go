//go:build cuda

package cuda

import (
	"fmt"
	"testing"
)

// TestPeakProbes runs every tensor-core peak probe the device has for a
// few iteration counts (the compiled loops are unrolled by 4: counts below
// 4 and odd ones take the remainder path) and checks that every
// accumulator, NaN-poisoned first, ends at exactly the iteration count
// times what one iteration adds, and that the clock records of the longest
// run cover every SM with the blocks per SM the probe meant: the bench's
// TFLOP/s and FLOPs per SM per clock rest on both.
func TestPeakProbes(t *testing.T) {
	for _, p := range dev.PeakProbes() {
		for _, iters := range []int{1, 3, 64, 1001} {
			t.Run(fmt.Sprintf("%s/iters%d", p.Name, iters), func(t *testing.T) {
				r, err := dev.NewPeakRun(p, iters)
				must(t, err)
				defer r.Free()
				// Each run must write every accumulator.
				checkProbe(t, r, r.out.PoisonF32, "FLOP", iters >= 1000, p.perSM)
			})
		}
	}
}

// checkProbe runs probe r, its outputs poisoned before each run, and
// checks its results (every run) and its clock records; with layout, also
// that its blocks ran perSM on every SM. Another process's kernels on the
// GPU (run.sh runs tests side by side) can delay the placement of some
// blocks and let a freed slot take them: the layout must come out right in
// one of three runs. Short runs may end before the last blocks are placed,
// so the layout is asserted on long ones only. unit names the work the
// probe counts per SM clock.
func checkProbe(t *testing.T, r interface {
	Launch() error
	Check() error
	Stats() (PeakStats, error)
	Blocks() int
}, poison func() error, unit string, layout bool, perSM int) {
	t.Helper()
	for try := 1; ; try++ {
		must(t, poison())
		must(t, r.Launch())
		must(t, dev.Synchronize())
		must(t, r.Check())
		st, err := r.Stats()
		must(t, err)
		t.Logf("%d blocks on %d SMs (%d–%d each), longest span %d cycles, %.1f %s/SM/clock",
			r.Blocks(), st.SMs, st.MinBlocks, st.MaxBlocks, st.MaxCycles, st.PerSMClock, unit)
		if st.MaxCycles <= 0 {
			t.Fatalf("no clock span recorded (longest %d cycles)", st.MaxCycles)
		}
		if !layout || st.SMs == dev.SMs() && st.MinBlocks == perSM && st.MaxBlocks == perSM {
			return
		}
		if try == 3 {
			t.Fatalf("%d blocks ran on %d SMs, %d–%d each, in three runs; want %d on each of %d",
				r.Blocks(), st.SMs, st.MinBlocks, st.MaxBlocks, perSM, dev.SMs())
		}
	}
}

// TestTileLoadProbe runs the tile-load probe (an H100 only: the qkv weight
// gradient's split-K loads without their wgmmas), with two- and
// three-dimensional boxes, at K-tile counts a block from one to all (the
// partials' own 7 splits with L2 promotion 256B, as the bench's _l2p256
// variants, the others with the kernels' 128B): every
// block must check two sampled words of every k-tile it loaded and find
// them right (the records are poisoned first, and each sampled word of a
// stage is poisoned before the load that must write it); and with the
// look-ahead of 4, 8 and 16 k-tiles (L2 prefetches, which must change
// nothing the probe checks) at 112, 7 and 4 k-tiles a block. Not yet run
// on hardware.
func TestTileLoadProbe(t *testing.T) {
	if !dev.sm90() {
		t.Skip("the tile-load probe needs compute capability 9.0")
	}
	// K-tiles a block: 1, 4 (under the ring's 5 stages), 7 (the ring
	// wraps once), 112 (7 splits, as the partials' 113, 113, …, 110) and
	// all 788.
	for _, wide := range []bool{false, true} {
		for _, splits := range []int{788, 197, 112, 7, 1} {
			t.Run(fmt.Sprintf("wide%v/splits%d", wide, splits), func(t *testing.T) {
				r, err := dev.NewTileLoadRun(wide, splits == 7, splits)
				must(t, err)
				defer r.Free()
				checkProbe(t, r, r.poison, "bytes", false, 1)
			})
		}
		for _, ahead := range []int{4, 8, 16} {
			for _, splits := range []int{197, 112, 7} {
				t.Run(fmt.Sprintf("wide%v/splits%d/look%d", wide, splits, ahead), func(t *testing.T) {
					r, err := dev.NewTileLoadRun(wide, false, splits)
					must(t, err)
					defer r.Free()
					r.SetLookahead(ahead)
					checkProbe(t, r, r.poison, "bytes", false, 1)
				})
			}
		}
	}
}

// TestBulkLoadProbe runs the TMA bulk-load probe (an H100 only) over a
// footprint that fits in L2 and one that does not, for a few chunk counts
// (fewer than its ring's stages, a few rounds of it, and a long run):
// every block must check every chunk it loaded and find each one's
// sampled word right (the records are poisoned first, so a block that did
// not run fails), and the long runs' clock records must cover every SM
// with one block each.
func TestBulkLoadProbe(t *testing.T) {
	if !dev.sm90() {
		t.Skip("the bulk-load probe needs compute capability 9.0")
	}
	for _, c := range []struct {
		span  int64
		iters int
	}{{16 << 20, 1}, {16 << 20, 9}, {16 << 20, 1001}, {256 << 20, 3}, {256 << 20, 1001}} {
		t.Run(fmt.Sprintf("span%dMiB/iters%d", c.span>>20, c.iters), func(t *testing.T) {
			r, err := dev.NewBulkLoadRun(c.span, c.iters)
			must(t, err)
			defer r.Free()
			checkProbe(t, r, r.poison, "bytes", c.iters >= 1000, 1)
		})
	}
}
