//go:build linux

package data

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJPEGAVX2StaysInBounds: the kernels read and write only within
// the rows they are given (a byte past faults), and give the Go loops'
// bytes there.
func TestJPEGAVX2StaysInBounds(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(37, 38))
	for _, w := range rowWidths {
		if w < 32 {
			continue
		}
		for _, atEnd := range []bool{false, true} {
			ys, cb, cr := newRandBytes(r, w), newRandBytes(r, w), newRandBytes(r, w)
			want := make([]uint8, 3*w)
			withGoLoops(func() { jpegRowToRGB(want, ys, cb, cr) })
			got := guarded(t, make([]uint8, 3*w), atEnd)
			jpegRowToRGB(got, guarded(t, ys, atEnd), guarded(t, cb, atEnd), guarded(t, cr, atEnd))
			require.Equal(t, want, []uint8(got), "4:4:4, width %d", w)

			for off := range 2 {
				n := (off + w + 1) / 2
				cbN, cbF, crN, crF := newRandBytes(r, n), newRandBytes(r, n), newRandBytes(r, n), newRandBytes(r, n)
				withGoLoops(func() { fancyRowToRGB(want, ys, cbN, cbF, crN, crF, off, 8, 7) })
				got := guarded(t, make([]uint8, 3*w), atEnd)
				g := func(p []uint8) []uint8 { return guarded(t, p, atEnd) }
				fancyRowToRGB(got, g(ys), g(cbN), g(cbF), g(crN), g(crF), off, 8, 7)
				require.Equal(t, want, []uint8(got), "fancy, width %d, off %d", w, off)
			}
		}
	}
}
