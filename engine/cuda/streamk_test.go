package cuda

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStreamKTileOrder checks that tileIndex and tileOrigin, the
// reduction's and the kernels' views of the grouped tile order, are
// inverse bijections, with tile grids that do and do not fill their last
// group of 8 rows.
func TestStreamKTileOrder(t *testing.T) {
	for _, tm := range []int{1, 3, 8, 9, 12, 17, 394} {
		for _, tn := range []int{1, 2, 6, 7} {
			p := streamKPlan{tilesM: tm, tilesN: tn}
			seen := make([]bool, tm*tn)
			for mt := 0; mt < tm; mt++ {
				for nt := 0; nt < tn; nt++ {
					i := p.tileIndex(mt, nt)
					require.True(t, i >= 0 && i < tm*tn && !seen[i], "%d×%d tiles: (%d,%d) → %d", tm, tn, mt, nt, i)
					seen[i] = true
					gm, gn := p.tileOrigin(i)
					require.Equal(t, [2]int{mt, nt}, [2]int{gm, gn}, "%d×%d tiles, tile %d", tm, tn, i)
				}
			}
		}
	}
}

// TestStreamKSchedule walks each block's range as the kernel does (a
// segment per tile it touches, stored in slots b·maxSeg + s) and checks that
// every k-tile of every tile is computed exactly once, that every block
// has work and fits its slots, and that the reduction's view (the blocks
// block(tile·kt) … block((tile+1)·kt − 1) and slot(b, tile)) finds exactly
// the slots that hold the tile's partial products.
func TestStreamKSchedule(t *testing.T) {
	type shape struct{ m, n, k, bn, sms int }
	shapes := []shape{
		{1536, 384, 50432, 192, 132}, // ViT-S/16 b256 weight gradients
		{1152, 384, 50432, 192, 132},
		{384, 1536, 50432, 256, 132},
		{384, 384, 50432, 192, 132},
		{1, 1, 1, 256, 132}, // one k-iteration: one block
		{200, 136, 5000, 192, 132},
		{37, 300, 2000, 256, 16}, // fewer SMs than tiles
		{1000, 1000, 64, 256, 132},
		{129, 257, 130, 256, 7},
	}
	for _, s := range shapes {
		t.Run(fmt.Sprintf("%dx%dx%d_bn%d_sms%d", s.m, s.n, s.k, s.bn, s.sms), func(t *testing.T) {
			p, err := newStreamKPlan(s.m, s.n, s.k, s.bn, s.sms)
			require.NoError(t, err)
			require.True(t, p.blocks >= 1 && p.blocks <= s.sms)
			tiles := p.tilesM * p.tilesN
			covered := make([]int, tiles*p.kt)
			slotOf := map[[2]int]int{} // (block, tile) → slot the kernel wrote
			for b := 0; b < p.blocks; b++ {
				beg, end := p.start(b), p.start(b+1)
				require.Less(t, beg, end, "block %d has no k-tile", b)
				seg := 0
				for i := beg; i < end; seg++ {
					tile, kt0 := i/p.kt, i%p.kt
					n := min(p.kt-kt0, end-i)
					for kt := kt0; kt < kt0+n; kt++ {
						covered[tile*p.kt+kt]++
					}
					require.Less(t, seg, p.maxSeg, "block %d", b)
					slotOf[[2]int{b, tile}] = b*p.maxSeg + seg
					i += n
				}
			}
			for i, c := range covered {
				require.Equal(t, 1, c, "k-iteration %d (tile %d, k-tile %d)", i, i/p.kt, i%p.kt)
			}
			for tile := 0; tile < tiles; tile++ {
				b0, b1 := p.block(tile*p.kt), p.block((tile+1)*p.kt-1)
				var want []int
				for b := 0; b < p.blocks; b++ {
					if _, ok := slotOf[[2]int{b, tile}]; ok {
						want = append(want, b)
					}
				}
				var got []int
				for b := b0; b <= b1; b++ {
					got = append(got, b)
					assert.Equal(t, slotOf[[2]int{b, tile}], p.slot(b, tile), "tile %d block %d", tile, b)
				}
				require.Equal(t, want, got, "tile %d", tile)
			}
			assert.Equal(t, int64(p.blocks)*int64(p.maxSeg)*128*int64(s.bn), p.workspaceFloats(s.bn))
		})
	}
}

// TestStreamKPlanViT pins the ViT-S/16 b256 weight gradients' schedules
// on an H100's 132 SMs: every SM busy (split-K keeps 120 or 126), and at
// most two slots a block.
func TestStreamKPlanViT(t *testing.T) {
	for _, s := range []struct{ m, n, bn int }{{1536, 384, 192}, {1152, 384, 192}, {384, 1536, 256}} {
		p, err := newStreamKPlan(s.m, s.n, 256*197, s.bn, 132)
		require.NoError(t, err)
		assert.Equal(t, 132, p.blocks)
		assert.Equal(t, 2, p.maxSeg, "%d×%d", s.m, s.n)
	}
}

// TestStreamKPlanRefuses checks the products the kernels' 32-bit
// arithmetic cannot take, and the empty one.
func TestStreamKPlanRefuses(t *testing.T) {
	_, err := newStreamKPlan(128, 128, 0, 256, 132)
	assert.Error(t, err)
	_, err = newStreamKPlan(1<<20, 1<<20, 1<<12, 256, 132)
	assert.Error(t, err)
}
