package cuda

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// The ring protocols of the persistent TMA-fed mma.sync kernels
// (kernels/cuda/gemm_mma_tma_sm90a.cu), run on a model of mbarriers under
// random interleavings of the block's warps and of the TMA loads' landing:
//
//   - gemm_<t>_nt_mtp: a producer warp walks the block's tiles and k-tiles
//     (tma_produce), waiting on each stage's empty barrier before its
//     refill; eight consumer warps wait on the full barriers and release.
//   - gemm_<t>_nt_mtl: no producer warp; thread 0 of warp 0 polls the empty
//     barriers without waiting (poll), after each k16 step's mma and, when
//     its warp needs a k-tile not yet issued, until it is.
//
// Each must end (no deadlock), never issue a load into a stage before all
// eight warps have released the stage's previous k-tile, never let a warp
// read a k-tile before it has landed, and hand every warp the k-tile
// (tile, kt) its own walk expects, across tile boundaries and however the
// k-tiles a tile fall against the ring. The loops below follow the
// kernels' statement for statement; a step is where a warp could be
// overtaken.
func TestMMATMARingModel(t *testing.T) {
	for _, polled := range []bool{false, true} {
		name := "mtp"
		if polled {
			name = "mtl"
		}
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 11))
			for c := range 3000 {
				grid := 1 + r.IntN(6)
				tiles := grid + r.IntN(4*grid) // grid is min(tiles, SMs): every block has a tile
				block := r.IntN(grid)
				kt := r.IntN(10)
				if err := runRingModel(r.Uint64(), polled, tiles, grid, block, kt); err != nil {
					t.Fatalf("case %d (%d tiles, grid %d, block %d, %d k-tiles a tile): %v", c, tiles, grid, block, kt, err)
				}
			}
		})
	}
}

// TestMMATMARingModelCatches checks that the model fails protocols that are
// wrong: the consumers' full-barrier parity off by one, and (polled) warp
// 0 waiting for a k-tile without polling for it.
func TestMMATMARingModelCatches(t *testing.T) {
	for _, bug := range []string{"parity", "nopoll"} {
		failed := 0
		r := rand.New(rand.NewPCG(3, 5))
		for range 200 {
			grid := 1 + r.IntN(4)
			if err := runRingModelBug(r.Uint64(), true, grid+r.IntN(3*grid), grid, r.IntN(grid), 1+r.IntN(9), bug); err != nil {
				failed++
			}
		}
		if failed == 0 {
			t.Errorf("the model passed every case of the %q bug", bug)
		}
	}
}

// ringBar models an mbarrier: arrivals and transaction bytes outstanding
// in the current phase, and the phases completed. A wait for the phase of
// parity p is over when the completed phases' parity differs from p.
type ringBar struct{ count, pending, tx, phase int }

func (b *ringBar) arrive()          { b.pending--; b.check() }
func (b *ringBar) expectTx(n int)   { b.tx += n; b.arrive() }
func (b *ringBar) completeTx(n int) { b.tx -= n; b.check() }
func (b *ringBar) done(parity int) bool {
	return b.phase&1 != parity
}
func (b *ringBar) check() {
	if b.pending == 0 && b.tx == 0 {
		b.phase++
		b.pending = b.count
	}
}

// newRingBars is the mbarriers of a ring of stages stages: full[s],
// completed by the producer's expect_tx arrival and the load's bytes, and
// empty[s], by releasers releases.
func newRingBars(stages, releasers int) (full, empty []ringBar) {
	full, empty = make([]ringBar, stages), make([]ringBar, stages)
	for s := range stages {
		full[s] = ringBar{count: 1, pending: 1}
		empty[s] = ringBar{count: releasers, pending: releasers}
	}
	return full, empty
}

func runRingModel(seed uint64, polled bool, tiles, grid, block, kt int) error {
	return runRingModelBug(seed, polled, tiles, grid, block, kt, "")
}

// runRingModelBug runs one block's ring to the end under a random
// schedule; bug names a deliberate mistake (TestMMATMARingModelCatches).
func runRingModelBug(seed uint64, polled bool, tiles, grid, block, KT int, bug string) error {
	const S, W = 4, 8 // MT_S, MT_WARPS
	r := rand.New(rand.NewPCG(seed, 1))
	full, empty := newRingBars(S, W)
	type load struct{ tile, kt int }
	var (
		issuedAs []load // load f's (tile, kt), in issue order
		landed   []bool // load f has landed
		released []int  // warps that have released load f
		inFlight []int  // loads not yet landed
		err      error  // the first violation
		fail     = func(format string, a ...any) {
			if err == nil {
				err = fmt.Errorf(format, a...)
			}
		}
	)
	// issue is a TMA load of (tile, kt) into ring position f.
	issue := func(f, tile, kt int) {
		if f >= S && released[f-S] != W {
			fail("load %d issued with %d of %d warps' releases of load %d", f, released[f-S], W, f-S)
		}
		issuedAs = append(issuedAs, load{tile, kt})
		landed = append(landed, false)
		released = append(released, 0)
		full[f%S].expectTx(1)
		inFlight = append(inFlight, f)
	}

	sched := newRingSched(r)
	defer sched.close()
	spawn := sched.spawn

	// The tile walk every warp shares: tiles block, block+grid, … .
	tileCount := (tiles - block + grid - 1) / grid
	loads := KT * tileCount

	// gemm_mtl_body's thread 0: poll() and its running counters.
	issued, fkt, ftile, fs := 0, 0, block, 0
	poll := func() {
		for issued < loads && (issued < S || empty[fs].done(((issued/S)-1)&1)) {
			issue(issued, ftile, fkt)
			issued++
			fs = (fs + 1) % S
			if fkt++; fkt == KT && issued < loads {
				fkt = 0
				ftile += grid
			}
		}
	}

	if !polled {
		// tma_produce: the producer lane of gemm_mtp_body.
		spawnRingProducer(sched, empty, block, tiles, grid, KT, issue)
	} else {
		poll() // the first S loads, before __syncthreads
	}
	for w := range W {
		spawn(func(step func()) {
			waitFull := func(it int) {
				if polled && w == 0 && bug != "nopoll" {
					for poll(); issued <= it; poll() {
						step()
					}
				}
				parity := (it / S) & 1
				if bug == "parity" {
					parity ^= 1
				}
				for !full[it%S].done(parity) {
					step()
				}
			}
			it := 0
			for tile := block; tile < tiles; tile += grid {
				for kt := 0; kt < KT; kt, it = kt+1, it+1 {
					waitFull(it)
					switch {
					case it >= len(issuedAs) || !landed[it]:
						fail("warp %d read load %d before it landed", w, it)
					case issuedAs[it] != load{tile, kt}:
						fail("warp %d at tile %d, k-tile %d read load %d, which holds tile %d, k-tile %d", w, tile, kt, it, issuedAs[it].tile, issuedAs[it].kt)
					}
					for kk := range 4 {
						if kk == 3 { // the release, then the last step's mma
							empty[it%S].arrive()
							released[it]++
						}
						step()
						if polled && w == 0 {
							poll()
						}
					}
				}
				for range r.IntN(4) { // the epilogue: no polls
					step()
				}
			}
			if polled && w == 0 && issued != loads {
				fail("warp 0 left with %d of %d loads issued", issued, loads)
			}
		})
	}

	// A load lands (in any order), or an actor takes a step.
	sched.run(func() int { return len(inFlight) }, func(i int) {
		f := inFlight[i]
		inFlight = append(inFlight[:i], inFlight[i+1:]...)
		landed[f] = true
		full[f%S].completeTx(1)
	}, func(steps int) bool {
		if err == nil && steps > ringModelMaxSteps {
			err = fmt.Errorf("no end after %d steps: deadlock (%d of %d loads issued, %d in flight)", steps, len(issuedAs), loads, len(inFlight))
		}
		return err != nil
	})
	if err == nil && len(issuedAs) != loads {
		err = fmt.Errorf("%d of %d loads issued", len(issuedAs), loads)
	}
	return err
}

// ringModelMaxSteps bounds a run: every correct one of the test's cases
// ends in under 5000 steps.
const ringModelMaxSteps = 50000

// ringSched runs a model's actors, goroutines that each run only while
// they hold the turn and hand it back at each step (where another could
// overtake them), and its asynchronous events (a load landing, a group of
// wgmmas finishing), in a random order: the interleavings a block's warps
// and the hardware could produce.
type ringSched struct {
	r      *rand.Rand
	actors []*ringActor
	back   chan bool     // an actor's step is over; true: it finished
	quit   chan struct{} // closed at the end: actors still waiting for a turn leave
}

type ringActor struct {
	turn chan struct{}
	done bool
}

func newRingSched(r *rand.Rand) *ringSched {
	return &ringSched{r: r, back: make(chan bool), quit: make(chan struct{})}
}

// spawn adds an actor running body, which calls step wherever it could be
// overtaken.
func (s *ringSched) spawn(body func(step func())) {
	a := &ringActor{turn: make(chan struct{})}
	s.actors = append(s.actors, a)
	wait := func() {
		select {
		case <-a.turn:
		case <-s.quit:
			runtime.Goexit()
		}
	}
	go func() {
		wait()
		body(func() { s.back <- false; wait() })
		s.back <- true
	}()
}

// run gives the turn to a live actor, or fires one of the pending()
// asynchronous events (fire(i), i < pending()), at random, until no actor
// is live and no event pending, or stop(steps) says to stop (a violation,
// or too many steps).
func (s *ringSched) run(pending func() int, fire func(i int), stop func(steps int) bool) {
	for steps := 0; !stop(steps); steps++ {
		var live []*ringActor
		for _, a := range s.actors {
			if !a.done {
				live = append(live, a)
			}
		}
		n := pending()
		if len(live) == 0 && n == 0 {
			return
		}
		if n > 0 && (len(live) == 0 || s.r.IntN(len(live)+1) == 0) {
			fire(s.r.IntN(n))
			continue
		}
		a := live[s.r.IntN(len(live))]
		a.turn <- struct{}{}
		a.done = <-s.back
	}
}

// close ends the actors still waiting for a turn.
func (s *ringSched) close() { close(s.quit) }

// spawnRingProducer adds tma_produce's producer thread to sched: it walks
// the block's tiles (block, block + grid, … below tiles), KT k-tiles each,
// through a ring of len(empty) stages, waiting before each refill until
// the stage's empty barrier has completed the phase of its previous
// k-tile's releases, and issues each load (issue(f, tile, kt): load f of
// the block).
func spawnRingProducer(sched *ringSched, empty []ringBar, block, tiles, grid, KT int, issue func(f, tile, kt int)) {
	S := len(empty)
	sched.spawn(func(step func()) {
		it := 0
		for tile := block; tile < tiles; tile += grid {
			for kt := 0; kt < KT; kt, it = kt+1, it+1 {
				s := it % S
				if it >= S {
					for !empty[s].done(((it / S) - 1) & 1) {
						step()
					}
				}
				issue(it, tile, kt)
				step()
			}
		}
	})
}
