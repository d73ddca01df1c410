package cuda

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lookaheadBox is one box a look-ahead asks L2 for: an operand ('A' or
// 'B') and the box's coordinates in that operand's tensor map (for the
// two-dimensional maps of MN-major operands {m or n, k}; for the wide
// boxes' three-dimensional maps {0, k, chunk}).
type lookaheadBox struct {
	op      byte
	c0, c1  int
	c2, dim int
}

// modelLookahead is tma_lookahead_ktile (kernels/cuda/tma_sm90a.cuh) for
// both operands MN-major (the weight gradients' partials), statement for
// statement: the boxes block j of `blocks` asks for at element k of K, k-tile
// number t, over tilesM × tilesN tiles of 128 × bn. TestLookaheadModelFollowsKernel
// pins the lines it follows.
func modelLookahead(j, blocks, tilesM, tilesN, bn, m, n, k, t int, wide bool) []lookaheadBox {
	nA := tilesM * modelBoxesATile(wide, 128)
	total := nA + tilesN*modelBoxesATile(wide, bn)
	var out []lookaheadBox
	for i := ((j-t*total)%blocks + blocks) % blocks; i < total; i += blocks {
		if i < nA {
			out = modelPrefetchBox(out, 'A', wide, 128, i, k, m)
		} else {
			out = modelPrefetchBox(out, 'B', wide, bn, i-nA, k, n)
		}
	}
	return out
}

// modelBoxesATile is tma_boxes_a_tile for an MN-major operand.
func modelBoxesATile(wide bool, tile int) int {
	if !wide {
		return tile / 64
	}
	return 1
}

// modelPrefetchBox is tma_prefetch_box for an MN-major operand: it appends
// box b of operand op's k-tile at k, if it asks for one.
func modelPrefetchBox(out []lookaheadBox, op byte, wide bool, tile, b, k, extent int) []lookaheadBox {
	p := modelBoxesATile(wide, tile)
	r, c := b/p, b%p
	if wide {
		return append(out, lookaheadBox{op, 0, k, r * (tile / 64), 3})
	} else if r*tile+64*c < extent {
		return append(out, lookaheadBox{op, r*tile + 64*c, k, 0, 2})
	}
	return out
}

// loadedBoxes is what tma_load_ktile loads at element k of K for every
// tile of an m × n product of 128 × bn tiles, both operands MN-major: the
// boxes the look-ahead must have asked L2 for.
func loadedBoxes(tilesM, tilesN, bn, m, n, k int, wide bool) map[lookaheadBox]int {
	want := map[lookaheadBox]int{}
	for r := range tilesM {
		if wide {
			want[lookaheadBox{'A', 0, k, r * 2, 3}]++
			continue
		}
		for c := range 2 {
			if r*128+64*c < m {
				want[lookaheadBox{'A', r*128 + 64*c, k, 0, 2}]++
			}
		}
	}
	for r := range tilesN {
		if wide {
			want[lookaheadBox{'B', 0, k, r * (bn / 64), 3}]++
			continue
		}
		for c := range bn / 64 {
			if r*bn+64*c < n {
				want[lookaheadBox{'B', r*bn + 64*c, k, 0, 2}]++
			}
		}
	}
	return want
}

// TestLookaheadDeal checks GEMM_LOOKAHEAD's dealing (modelLookahead) on the
// ViT-S/16 weight gradients and on odd sizes: at every k-tile the blocks
// together ask for each box their tiles load exactly once, and none
// other; and over any `blocks` consecutive k-tiles every block asks for
// the same number of boxes, so that no block's TMA unit carries more of
// the look-ahead than another's (the eleventh session's look-ahead gave
// it all to the first block of each tile row and column).
func TestLookaheadDeal(t *testing.T) {
	for _, c := range []struct {
		m, n, bn int
		wide     bool
	}{
		{1152, 384, 192, false}, {1536, 384, 192, false}, {384, 1536, 192, false}, {384, 384, 192, false},
		{1152, 384, 192, true}, {1536, 384, 192, true}, {384, 1536, 192, true},
		{1000, 200, 192, false}, {130, 70, 256, false}, {64, 64, 192, false}, {1536, 512, 256, false},
	} {
		t.Run(fmt.Sprintf("%dx%d_bn%d_wide%v", c.m, c.n, c.bn, c.wide), func(t *testing.T) {
			tilesM, tilesN := ceilDiv(c.m, 128), ceilDiv(c.n, c.bn)
			blocks := tilesM * tilesN
			per := make([]int, blocks)
			const kts = 97
			counts := make([][]int, kts)
			for kt := range kts {
				k := 64 * kt
				got := map[lookaheadBox]int{}
				counts[kt] = make([]int, blocks)
				for j := range blocks {
					boxes := modelLookahead(j, blocks, tilesM, tilesN, c.bn, c.m, c.n, k, kt, c.wide)
					counts[kt][j] = len(boxes)
					per[j] += len(boxes)
					for _, b := range boxes {
						got[b]++
					}
				}
				require.Equal(t, loadedBoxes(tilesM, tilesN, c.bn, c.m, c.n, k, c.wide), got, "k-tile %d", kt)
			}
			// The boxes dealt so far are consecutive numbers t·n + i, so
			// where none is left out (past M or N) every block's running
			// total is within one of every other's at every k-tile: no
			// block runs ahead of the others in prefetches, even over a
			// few k-tiles.
			pa, pb := 2, c.bn/64
			if c.wide {
				pa, pb = 1, 1
			}
			total := tilesM*pa + tilesN*pb
			skipped := total - len(loadedBoxes(tilesM, tilesN, c.bn, c.m, c.n, 0, c.wide))
			if skipped == 0 {
				run := make([]int, blocks)
				for kt := range kts {
					lo, hi := 1<<30, 0
					for j := range blocks {
						run[j] += counts[kt][j]
						lo, hi = min(lo, run[j]), max(hi, run[j])
					}
					require.LessOrEqual(t, hi-lo, 1, "after k-tile %d the blocks' totals run %d…%d", kt, lo, hi)
				}
			}
			// Over any window of `blocks` k-tiles the boxes dealt number
			// blocks·n (a whole number of rounds), so each block's share
			// differs from another's only by the boxes left out.
			for start := 0; start+blocks <= kts; start += 7 {
				lo, hi := 1<<30, 0
				for j := range blocks {
					s := 0
					for kt := start; kt < start+blocks; kt++ {
						s += counts[kt][j]
					}
					lo, hi = min(lo, s), max(hi, s)
				}
				assert.LessOrEqual(t, hi-lo, skipped, "k-tiles %d…%d: shares %d…%d", start, start+blocks-1, lo, hi)
				if skipped == 0 {
					assert.Equal(t, total, hi, "k-tiles %d…%d: each block asks for n boxes", start, start+blocks-1)
				}
			}
		})
	}
}

// lookaheadEvent is one step of the producer's walk in modelProducer: the
// load of k-tile kt, or (prefetch) the look-ahead's request for its share
// of k-tile kt.
type lookaheadEvent struct {
	prefetch bool
	kt       int
}

// modelProducer is tma_produce_ktiles's walk (kernels/cuda/tma_sm90a.cuh)
// over a block's nkt k-tiles with an S-stage ring and a look-ahead of
// ahead k-tiles, statement for statement, as the sequence of its loads and
// look-ahead requests (the waits on the ring left out).
func modelProducer(S, nkt, ahead int) []lookaheadEvent {
	var out []lookaheadEvent
	lead := S + ahead
	pf := S
	for kt := 0; kt < nkt; kt++ {
		out = append(out, lookaheadEvent{false, kt})
		if ahead > 0 && kt >= S-1 {
			for ; pf < nkt && pf <= kt+lead; pf++ {
				out = append(out, lookaheadEvent{true, pf})
			}
		}
	}
	return out
}

// TestLookaheadWalk checks the producer's walk with the look-ahead
// (modelProducer) for rings of 4 and 5 stages, each distance and every
// block length up to 60 k-tiles: every k-tile is loaded once, in order, as
// without the look-ahead; the look-ahead asks for exactly the k-tiles S …
// nkt − 1 (the first S are the ring's first loads, asked for at once),
// each once, in order, none before the ring's first S loads are out, each
// before its own load and at most S + ahead k-tiles past the last load.
func TestLookaheadWalk(t *testing.T) {
	for _, S := range []int{4, 5} {
		for _, ahead := range []int{0, 4, 8, 16} {
			for nkt := 0; nkt <= 60; nkt++ {
				ev := modelProducer(S, nkt, ahead)
				loaded, next := -1, S
				for _, e := range ev {
					if !e.prefetch {
						require.Equal(t, loaded+1, e.kt, "S %d ahead %d nkt %d: loads out of order", S, ahead, nkt)
						loaded = e.kt
						continue
					}
					require.NotZero(t, ahead, "S %d nkt %d: a look-ahead request with the look-ahead off", S, nkt)
					require.Equal(t, next, e.kt, "S %d ahead %d nkt %d: look-ahead requests out of order", S, ahead, nkt)
					next++
					require.GreaterOrEqual(t, loaded, S-1, "S %d ahead %d nkt %d: k-tile %d asked for before the ring's first loads", S, ahead, nkt, e.kt)
					require.Greater(t, e.kt, loaded, "S %d ahead %d nkt %d: k-tile %d asked for after its load", S, ahead, nkt, e.kt)
					require.LessOrEqual(t, e.kt-loaded, S+ahead, "S %d ahead %d nkt %d: k-tile %d asked for too early", S, ahead, nkt, e.kt)
				}
				require.Equal(t, nkt-1, loaded, "S %d ahead %d nkt %d: loads", S, ahead, nkt)
				if ahead > 0 {
					require.Equal(t, max(nkt, S), next, "S %d ahead %d nkt %d: the look-ahead did not reach k-tile %d", S, ahead, nkt, nkt-1)
				}
			}
		}
	}
}

// TestLookaheadModelFollowsKernel pins the statements of tma_lookahead_ktile,
// tma_produce_ktiles and gemm_tma_p_body that modelLookahead,
// modelProducer and TestLookaheadBits follow, so that a change to the
// kernel's dealing, walk or decoding fails here until the models follow it.
func TestLookaheadModelFollowsKernel(t *testing.T) {
	src, err := os.ReadFile("../../kernels/cuda/tma_sm90a.cuh")
	require.NoError(t, err)
	text := string(src)
	for _, line := range []string{
		"const int nA = la.tilesM * tma_boxes_a_tile<A_MN, WIDE, T_BM>();",
		"const int n = nA + la.tilesN * tma_boxes_a_tile<B_MN, WIDE, BN>();",
		"for (int i = ((la.j - t * n) % la.blocks + la.blocks) % la.blocks; i < n; i += la.blocks) {",
		"tma_prefetch_box<A_MN, WIDE, T_BM>(tmA, i, k, M);",
		"tma_prefetch_box<B_MN, WIDE, BN>(tmB, i - nA, k, N);",
		"return MN && !WIDE ? TILE / 64 : 1;",
		"const int r = b / P, c = b % P;",
		"if (MN && WIDE)\n        tma_prefetch_3d(map, 0, k, r * (TILE / 64));",
		"else if (MN && r * TILE + 64 * c < extent)\n        tma_prefetch_2d(map, r * TILE + 64 * c, k);",
		// Block j of `blocks`, one tile each: the launch's units.
		"const Lookahead la{CM == 1 && unit_step == units ? ahead : 0, first_unit, units, tilesM, tilesN};",
		// The producer's walk (modelProducer); k-tile number t is the
		// k-tile's place in the block's k-range.
		"const int lead = S + la.ahead;",
		"int pf = S;",
		"for (int kt = 0; kt < nkt; kt++, it++) {",
		"if (la.ahead > 0 && kt >= S - 1)",
		"for (; pf < nkt && pf <= kt + lead; pf++)",
		"tma_lookahead_ktile<A_MN, B_MN, BN, WIDE>(tmA, tmB, k0 + pf * T_BK, pf, la, M, N);",
		// The distance from the flags: 2 << 1, 2, 3 = 4, 8, 16 (TestLookaheadBits).
		"const int look = (flags >> GEMM_LOOKAHEAD_SHIFT) & 3;",
		"const int ahead = CM == 1 && !TSTORE && look ? 2 << look : 0;",
	} {
		assert.True(t, strings.Contains(text, line), "tma_sm90a.cuh no longer has %q: update modelLookahead", line)
	}
}
