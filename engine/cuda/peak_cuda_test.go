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
				// Another process's kernels on the GPU (run.sh runs tests
				// side by side) can delay the placement of some blocks and
				// let a freed slot take them: the layout must come out
				// right in one of three runs. The values must in every one.
				for try := 1; ; try++ {
					must(t, r.out.PoisonF32()) // each run must write every accumulator
					must(t, r.Launch())
					must(t, dev.Synchronize())
					must(t, r.Check())
					st, err := r.Stats()
					must(t, err)
					t.Logf("%d blocks on %d SMs (%d–%d each), longest span %d cycles, %.0f FLOP/SM/clock",
						r.Blocks(), st.SMs, st.MinBlocks, st.MaxBlocks, st.MaxCycles, st.PerSMClock)
					if st.MaxCycles <= 0 {
						t.Fatalf("no clock span recorded (longest %d cycles)", st.MaxCycles)
					}
					// Short runs may end before the last blocks are placed,
					// and a freed slot can take another SM's share: the
					// layout is asserted on the long run only.
					if iters < 1000 || st.SMs == dev.SMs() && st.MinBlocks == p.perSM && st.MaxBlocks == p.perSM {
						break
					}
					if try == 3 {
						t.Fatalf("%d blocks ran on %d SMs, %d–%d each, in three runs; want %d on each of %d",
							r.Blocks(), st.SMs, st.MinBlocks, st.MaxBlocks, p.perSM, dev.SMs())
					}
				}
			})
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
	if dev.major != 9 || dev.minor != 0 {
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
			for try := 1; ; try++ {
				must(t, r.poison())
				must(t, r.Launch())
				must(t, dev.Synchronize())
				must(t, r.Check())
				st, err := r.Stats()
				must(t, err)
				t.Logf("%d blocks on %d SMs (%d–%d each), longest span %d cycles, %.1f bytes/SM/clock",
					r.Blocks(), st.SMs, st.MinBlocks, st.MaxBlocks, st.MaxCycles, st.PerSMClock)
				if st.MaxCycles <= 0 {
					t.Fatalf("no clock span recorded (longest %d cycles)", st.MaxCycles)
				}
				if c.iters < 1000 || st.SMs == dev.SMs() && st.MinBlocks == 1 && st.MaxBlocks == 1 {
					break
				}
				if try == 3 {
					t.Fatalf("%d blocks ran on %d SMs, %d–%d each, in three runs; want one on each of %d",
						r.Blocks(), st.SMs, st.MinBlocks, st.MaxBlocks, dev.SMs())
				}
			}
		})
	}
}
