package moco

import "github.com/mocogo/mocogo/nn"

// syntheticBlock is the length of the random block SyntheticViews tiles:
// a prime, so that no image or channel boundary lines up with its period.
const syntheticBlock = 1<<20 + 7

// SyntheticViews returns two views of n images of 3×size×size float32
// values (NCHW) for measuring the training step's compute without any
// data pipeline: standard normal values, like normalised pixels, drawn
// from seed. Only 2·(2^20+7) values are drawn; the views tile them, so
// that even ViT-B batches at 224 px take a fraction of a second.
func SyntheticViews(n, size int, seed uint64) (v1, v2 []float32) {
	r := nn.NewRNG(seed)
	blk := make([]float32, 2*syntheticBlock)
	for i := range blk {
		blk[i] = float32(r.NormFloat64())
	}
	m := n * 3 * size * size
	v1, v2 = make([]float32, m), make([]float32, m)
	for off := 0; off < m; off += syntheticBlock {
		copy(v1[off:], blk[:syntheticBlock])
		copy(v2[off:], blk[syntheticBlock:])
	}
	return v1, v2
}
