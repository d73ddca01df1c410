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
	pa, pb := 128/64, bn/64
	if wide {
		pa, pb = 1, 1
	}
	nA := tilesM * pa
	total := nA + tilesN*pb
	var out []lookaheadBox
	for i := ((j-t*total)%blocks + blocks) % blocks; i < total; i += blocks {
		if i < nA {
			r, c := i/pa, i%pa
			if wide {
				out = append(out, lookaheadBox{'A', 0, k, r * (128 / 64), 3})
			} else if r*128+64*c < m {
				out = append(out, lookaheadBox{'A', r*128 + 64*c, k, 0, 2})
			}
		} else {
			r, c := (i-nA)/pb, (i-nA)%pb
			if wide {
				out = append(out, lookaheadBox{'B', 0, k, r * (bn / 64), 3})
			} else if r*bn+64*c < n {
				out = append(out, lookaheadBox{'B', r*bn + 64*c, k, 0, 2})
			}
		}
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
			// Over any window of `blocks` k-tiles the boxes dealt number
			// blocks·n (a whole number of rounds), so each block's share
			// differs from another's only by the boxes left out past M
			// or N.
			pa, pb := 2, c.bn/64
			if c.wide {
				pa, pb = 1, 1
			}
			total := tilesM*pa + tilesN*pb
			skipped := total - len(loadedBoxes(tilesM, tilesN, c.bn, c.m, c.n, 0, c.wide))
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

// TestLookaheadModelFollowsKernel pins the statements of tma_lookahead_ktile
// and its call sites that modelLookahead and TestLookaheadDeal follow, so
// that a change to the kernel's dealing fails here until the model
// follows it.
func TestLookaheadModelFollowsKernel(t *testing.T) {
	src, err := os.ReadFile("../../kernels/cuda/tma_sm90a.cuh")
	require.NoError(t, err)
	text := string(src)
	for _, line := range []string{
		"constexpr int PA = A_MN && !WIDE ? T_BM / 64 : 1;",
		"constexpr int PB = B_MN && !WIDE ? BN / 64 : 1;",
		"const int nA = la.tilesM * PA, n = nA + la.tilesN * PB;",
		"for (int i = ((la.j - t * n) % la.blocks + la.blocks) % la.blocks; i < n; i += la.blocks) {",
		"const int r = i / PA, c = i % PA;",
		"tma_prefetch_3d(tmA, 0, k, r * (T_BM / 64));",
		"else if (A_MN && r * T_BM + 64 * c < M)",
		"tma_prefetch_2d(tmA, r * T_BM + 64 * c, k);",
		"const int r = (i - nA) / PB, c = (i - nA) % PB;",
		"tma_prefetch_3d(tmB, 0, k, r * (BN / 64));",
		"else if (B_MN && r * BN + 64 * c < N)",
		"tma_prefetch_2d(tmB, r * BN + 64 * c, k);",
		// Block j of `blocks`, one tile each: the launch's units.
		"const Lookahead la{CM == 1 && unit_step == units ? ahead : 0, first_unit, units, tilesM, tilesN};",
		// k-tile number t is the k-tile's place in the block's k-range.
		"tma_lookahead_ktile<A_MN, B_MN, BN, WIDE>(tmA, tmB, k0 + p * T_BK, p, la, M, N);",
		"tma_lookahead_ktile<A_MN, B_MN, BN, WIDE>(tmA, tmB, k0 + (kt + lead) * T_BK, kt + lead, la, M, N);",
	} {
		assert.True(t, strings.Contains(text, line), "tma_sm90a.cuh no longer has %q: update modelLookahead", line)
	}
}
