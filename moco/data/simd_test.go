package data

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireAVX2 skips t where the AVX2 kernels cannot run.
func requireAVX2(t *testing.T) {
	t.Helper()
	if !useAVX2 {
		t.Skip("no AVX2 on this machine (or not amd64): the assembly kernels are not used")
	}
}

// withGoLoops runs f with the plain Go loops selected, then restores
// the AVX2 kernels.
func withGoLoops(f func()) {
	saved := useAVX2
	useAVX2 = false
	defer func() { useAVX2 = saved }()
	f()
}

// benchPaths runs f as the sub-benchmarks name/go (the Go loops) and
// name/avx2 (skipped without AVX2); report, if not nil, adds metrics to
// each at its end.
func benchPaths(b *testing.B, name string, f func(), report func(*testing.B)) {
	for _, path := range []string{"go", "avx2"} {
		b.Run(name+"/"+path, func(b *testing.B) {
			if path == "avx2" && !useAVX2 {
				b.Skip("no AVX2")
			}
			run := func() {
				for b.Loop() {
					f()
				}
			}
			if path == "go" {
				withGoLoops(run)
			} else {
				run()
			}
			if report != nil {
				report(b)
			}
		})
	}
}

// TestAugmentViewSameWithoutAVX2: whole views, every op on in some draws
// and off in others, at 224 px from a photo-sized image and at small
// odd sizes, are the same bits with the AVX2 kernels and without them.
func TestAugmentViewSameWithoutAVX2(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(31, 32))
	var s1, s2 Scratch
	for it := range 60 {
		c := 3
		if it%9 == 4 {
			c = 1
		}
		w, h, out := 8+r.IntN(120), 8+r.IntN(120), []int{7, 16, 31, 33, 57}[r.IntN(5)]
		if it < 6 {
			w, h, out = 500, 375, 224
		}
		img := randImage(r, w, h, c)
		p := MoCoV3View1
		if it%2 == 1 {
			p = MoCoV3View2
		}
		p.JitterP, p.GrayP, p.BlurP, p.SolarizeP = r.Float64(), r.Float64()/2, r.Float64(), r.Float64()/2
		got, want := make([]float32, 3*out*out), make([]float32, 3*out*out)
		var r1, r2 RNG
		r1.SampleRNG(5, 1, uint64(it))
		r2.SampleRNG(5, 1, uint64(it))
		tg := AugmentView(got, &img, out, &p, ImageNetMean, ImageNetStd, &r1, &s1)
		var tw ViewTrace
		withGoLoops(func() { tw = AugmentView(want, &img, out, &p, ImageNetMean, ImageNetStd, &r2, &s2) })
		require.Equal(t, tw, tg)
		requireSameBits(t, want, got, "view %d: %dx%dx%d → %d, %+v", it, w, h, c, out, tg)
	}
}
