package data

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// RNG is the per-sample random source: a PCG-DXSM generator whose state
// comes from (seed, epoch, index) only. Its outputs are specified by this
// file, not by math/rand's helpers, so they do not change between Go
// releases.
type RNG struct{ pcg rand.PCG }

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Stream values keep the sample RNGs and the shuffle RNG apart.
const (
	streamSample  = 0x53414d504c45 // "SAMPLE"
	streamShuffle = 0x5348554646   // "SHUFF"
)

// Reset seeds r from (seed, epoch, index) in stream s.
func (r *RNG) Reset(seed, epoch, index, s uint64) {
	a := splitmix(seed ^ splitmix(s))
	b := splitmix(a ^ splitmix(epoch+0x243f6a8885a308d3))
	c := splitmix(b ^ splitmix(index+0x13198a2e03707344))
	r.pcg.Seed(b, c)
}

// SampleRNG seeds r for sample index of epoch under seed; every random
// choice of that sample's augmentation comes from it.
func (r *RNG) SampleRNG(seed, epoch, index uint64) { r.Reset(seed, epoch, index, streamSample) }

// Uint64 returns 64 random bits.
func (r *RNG) Uint64() uint64 { return r.pcg.Uint64() }

// Float64 returns a uniform value in [0, 1) with 53 random bits.
func (r *RNG) Float64() float64 { return float64(r.pcg.Uint64()>>11) * 0x1p-53 }

// Uniform returns a uniform value in [a, b), as Python's
// random.uniform computes it: the product rounded before the sum (the
// conversion keeps GOAMD64=v3 builds from fusing them).
func (r *RNG) Uniform(a, b float64) float64 { return a + float64((b-a)*r.Float64()) }

// Intn returns a uniform integer in [0, n) (Lemire's method with
// rejection, so without bias). It panics if n <= 0.
func (r *RNG) Intn(n int) int {
	if n <= 0 {
		panic("data: RNG.Intn: n <= 0")
	}
	un := uint64(n)
	for {
		hi, lo := bits.Mul64(r.pcg.Uint64(), un)
		if lo >= un || lo >= (-un)%un {
			return int(hi)
		}
	}
}

// Perm fills p with a random permutation of 0…len(p)-1 (Fisher–Yates).
func (r *RNG) Perm(p []int) {
	for i := range p {
		p[i] = i
	}
	for i := len(p) - 1; i > 0; i-- {
		j := r.Intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
}

// pyRound is Python 3's round(): half to even.
func pyRound(x float64) int { return int(math.RoundToEven(x)) }
