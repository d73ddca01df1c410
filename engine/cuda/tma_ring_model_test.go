package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestTMARingModel runs the ring protocol of the persistent wgmma kernels
// and the split-K partials (kernels/cuda/tma_sm90a.cuh: tma_produce_ktiles,
// tma_consume_ktiles, one block, no cluster) on a model of mbarriers and of
// the warpgroups' wgmma groups, under random interleavings of the producer,
// the two consumer warpgroups, the loads' landing and the groups'
// completion, with and without the early release (GEMM_EARLY_RELEASE).
// Each run must end (no deadlock); no load may be issued into a stage
// before both warpgroups have released its previous k-tile, nor while a
// wgmma group of either still reads that k-tile; a warpgroup may release
// a k-tile only after its wgmmas reading it have finished, and exactly
// once; no warpgroup may read a k-tile before it lands, and each must get
// the (tile, kt) its own walk expects. The loops below follow the kernels'
// statement for statement; a warpgroup is one actor, since every decision
// it takes is the whole warpgroup's (wg_all).
func TestTMARingModel(t *testing.T) {
	for _, early := range []bool{false, true} {
		t.Run(fmt.Sprintf("early_%v", early), func(t *testing.T) {
			r := rand.New(rand.NewPCG(13, 17))
			for c := range 3000 {
				p := tmaRingCase{stages: 4 + r.IntN(2), grid: 1 + r.IntN(6), kt: r.IntN(10), early: early}
				p.tiles = p.grid + r.IntN(4*p.grid)
				p.block = r.IntN(p.grid)
				if err := runTMARingModel(r.Uint64(), p, ""); err != nil {
					t.Fatalf("case %d (%+v): %v", c, p, err)
				}
			}
		})
	}
}

// TestTMARingModelCatches checks that the model fails protocols that are
// wrong: an early release without wgmma.wait_group 0 first ("nowait"), an
// early release followed by the usual one ("twice"), and an early path
// that forgets to release ("norelease").
func TestTMARingModelCatches(t *testing.T) {
	for _, bug := range []string{"nowait", "twice", "norelease"} {
		failed := 0
		r := rand.New(rand.NewPCG(19, 23))
		for range 300 {
			p := tmaRingCase{stages: 4 + r.IntN(2), grid: 1 + r.IntN(4), kt: 2 + r.IntN(8), early: true}
			p.tiles = p.grid + r.IntN(3*p.grid)
			p.block = r.IntN(p.grid)
			if runTMARingModel(r.Uint64(), p, bug) != nil {
				failed++
			}
		}
		if failed == 0 {
			t.Errorf("the model passed every case of the %q bug", bug)
		}
	}
}

// tmaRingCase is one block's work: its place among grid blocks walking
// tiles tiles of kt k-tiles each, through a ring of stages stages.
type tmaRingCase struct {
	stages, tiles, grid, block, kt int
	early                          bool
}

// runTMARingModel runs one block's ring to the end under a random
// schedule; bug names a deliberate mistake (TestTMARingModelCatches).
func runTMARingModel(seed uint64, p tmaRingCase, bug string) error {
	const WG = 2 // consumer warpgroups
	S, KT := p.stages, p.kt
	r := rand.New(rand.NewPCG(seed, 3))
	full, empty := newRingBars(S, WG)
	type load struct{ tile, kt int }
	var (
		issuedAs []load    // load f's (tile, kt), in issue order
		landed   []bool    // load f has landed
		released [][WG]int // releases of load f by each warpgroup
		inFlight []int     // loads not yet landed
		groups   [WG][]int // each warpgroup's wgmma groups not yet finished: the loads they read, oldest first
		err      error     // the first violation
		fail     = func(format string, a ...any) {
			if err == nil {
				err = fmt.Errorf(format, a...)
			}
		}
	)
	reading := func(f int) int { // a warpgroup whose unfinished wgmmas read load f, or -1
		for c := range WG {
			for _, g := range groups[c] {
				if g == f {
					return c
				}
			}
		}
		return -1
	}
	// issue is the producer's expect_tx and TMA load of (tile, kt) into
	// ring position f.
	issue := func(f, tile, kt int) {
		if f >= S {
			if rel := released[f-S]; rel != [WG]int{1, 1} {
				fail("load %d issued with releases %v of load %d", f, rel, f-S)
			}
			if c := reading(f - S); c >= 0 {
				fail("load %d issued while warpgroup %d's wgmmas still read load %d in its stage", f, c, f-S)
			}
		}
		issuedAs = append(issuedAs, load{tile, kt})
		landed = append(landed, false)
		released = append(released, [WG]int{})
		full[f%S].expectTx(1)
		inFlight = append(inFlight, f)
	}
	// release is tma_release by warpgroup c's leader of load f.
	release := func(c, f int) {
		for _, g := range groups[c] {
			if g == f {
				fail("warpgroup %d released load %d while its wgmmas read it", c, f)
			}
		}
		if released[f][c]++; released[f][c] > 1 {
			fail("warpgroup %d released load %d twice", c, f)
		}
		empty[f%S].arrive()
	}

	sched := newRingSched(r)
	defer sched.close()

	// tma_produce: the producer thread walks the block's tiles.
	loads := KT * ((p.tiles - p.block + p.grid - 1) / p.grid)
	spawnRingProducer(sched, empty, p.block, p.tiles, p.grid, KT, issue)
	// tma_consume_ktiles, tile after tile, and the epilogue.
	for c := range WG {
		sched.spawn(func(step func()) {
			waitGroups := func(n int) { // wgmma.wait_group n
				for len(groups[c]) > n {
					step()
				}
			}
			it := 0
			for tile := p.block; tile < p.tiles; tile += p.grid {
				for kt := 0; kt < KT; kt, it = kt+1, it+1 {
					s := it % S
					released := false
					if p.early && kt > 0 {
						landedNow := full[s].done((it / S) & 1)
						step() // wg_all's barrier
						if !landedNow {
							if bug != "nowait" {
								waitGroups(0)
							}
							if bug != "norelease" {
								release(c, it-1)
							}
							released = bug != "twice"
						}
					}
					for !full[s].done((it / S) & 1) {
						step()
					}
					switch {
					case it >= len(issuedAs) || !landed[it]:
						fail("warpgroup %d read load %d before it landed", c, it)
					case issuedAs[it] != load{tile, kt}:
						fail("warpgroup %d at tile %d, k-tile %d read load %d, which holds tile %d, k-tile %d", c, tile, kt, it, issuedAs[it].tile, issuedAs[it].kt)
					}
					groups[c] = append(groups[c], it) // the wgmmas, committed
					step()
					waitGroups(1)
					if kt > 0 && !released {
						release(c, it-1)
					}
				}
				waitGroups(0)
				if KT > 0 {
					release(c, it-1)
				}
				for range r.IntN(4) { // the epilogue
					step()
				}
			}
		})
	}

	// A load lands (in any order), a warpgroup's oldest wgmma group
	// finishes, or an actor takes a step.
	busy := func() []int { // warpgroups with unfinished groups
		var b []int
		for c := range WG {
			if len(groups[c]) > 0 {
				b = append(b, c)
			}
		}
		return b
	}
	sched.run(func() int { return len(inFlight) + len(busy()) }, func(i int) {
		if i < len(inFlight) {
			f := inFlight[i]
			inFlight = append(inFlight[:i], inFlight[i+1:]...)
			landed[f] = true
			full[f%S].completeTx(1)
			return
		}
		c := busy()[i-len(inFlight)]
		groups[c] = groups[c][1:]
	}, func(steps int) bool {
		if err == nil && steps > ringModelMaxSteps {
			err = fmt.Errorf("no end after %d steps: deadlock (%d of %d loads issued, %d in flight)", steps, len(issuedAs), loads, len(inFlight))
		}
		return err != nil
	})
	if err != nil {
		return err
	}
	if len(issuedAs) != loads {
		return fmt.Errorf("%d of %d loads issued", len(issuedAs), loads)
	}
	for f, rel := range released {
		if rel != [WG]int{1, 1} {
			return fmt.Errorf("load %d released %v times by the two warpgroups", f, rel)
		}
	}
	return nil
}
