package cuda

import "fmt"

// The stream-K schedule of the weight-gradient products
// (kernels/cuda/gemm_streamk_sm90a.cu). A product of tiles output tiles,
// each of kt k-tiles, is the sequence of tiles·kt k-iterations, tile by
// tile in the kernels' grouped tile order; block b of g takes iterations
// [streamKStart(b), streamKStart(b+1)). Each block stores one partial
// product (a slot of the workspace) per tile its range touches, and the
// reduction sums a tile's slots in block order. The functions here are the
// kernels' index arithmetic, written once more in Go so that the host can
// size the workspace and the tests can check the schedule; the CUDA
// functions of the same names must compute the same.

// streamKPlan is the schedule of one stream-K product.
type streamKPlan struct {
	tilesM, tilesN int // output tiles down and across
	kt             int // k-tiles a tile
	blocks         int // g: blocks of the grid, one per SM
	maxSeg         int // the most tiles any block's range touches: slots a block
}

// newStreamKPlan plans an m×n×k product in 128×bn tiles of 64-deep k-tiles
// over at most sms blocks (fewer where there are fewer k-iterations, so
// that every block has one). It fails where the k-iterations do not fit
// the kernels' 32-bit arithmetic.
func newStreamKPlan(m, n, k, bn, sms int) (streamKPlan, error) {
	p := streamKPlan{tilesM: (m + 127) / 128, tilesN: (n + bn - 1) / bn, kt: (k + 63) / 64}
	total := int64(p.tilesM) * int64(p.tilesN) * int64(p.kt)
	if total == 0 || total >= 1<<31-1 || int64(sms)*total >= 1<<62 {
		return p, fmt.Errorf("stream-K: %d×%d×%d has %d k-iterations", m, n, k, total)
	}
	p.blocks = int(min(int64(sms), total))
	for b := 0; b < p.blocks; b++ {
		first, last := p.start(b)/p.kt, (p.start(b+1)-1)/p.kt
		p.maxSeg = max(p.maxSeg, last-first+1)
	}
	return p, nil
}

// total is the product's k-iterations, tiles·kt.
func (p streamKPlan) total() int { return p.tilesM * p.tilesN * p.kt }

// start is block b's first k-iteration (sk_start); start(blocks) is total.
func (p streamKPlan) start(b int) int { return int(int64(b) * int64(p.total()) / int64(p.blocks)) }

// block is the block whose range holds k-iteration i (sk_block).
func (p streamKPlan) block(i int) int {
	return int((int64(i+1)*int64(p.blocks) - 1) / int64(p.total()))
}

// tileIndex is the place of the tile at tile row mt and column nt in the
// kernels' order (tile_origin with one block a cluster): groups of 8 tile
// rows, column by column within a group.
func (p streamKPlan) tileIndex(mt, nt int) int {
	first := mt / 8 * 8
	gsize := min(p.tilesM-first, 8)
	return first*p.tilesN + nt*gsize + (mt - first)
}

// tileOrigin is tile_origin's inverse of tileIndex: the tile row and
// column of the tile-th tile.
func (p streamKPlan) tileOrigin(tile int) (mt, nt int) {
	perGroup := 8 * p.tilesN
	first := tile / perGroup * 8
	gsize := min(p.tilesM-first, 8)
	return first + tile%perGroup%gsize, tile % perGroup / gsize
}

// slot is where block b stored its partial product of tile (which its
// range must touch): the slot's index in the workspace.
func (p streamKPlan) slot(b, tile int) int { return b*p.maxSeg + tile - p.start(b)/p.kt }

// workspaceFloats is the size of the workspace of 128×bn fp32 slots.
func (p streamKPlan) workspaceFloats(bn int) int64 {
	return int64(p.blocks) * int64(p.maxSeg) * 128 * int64(bn)
}
