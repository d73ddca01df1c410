package data

// The colour ops' AVX2 kernels (color_amd64.s). Each takes n values, a
// multiple of 8, from each of its planes; the Go callers do the tails.

// affineClampAVX2 sets p[i] = clamp01(f·p[i] + add).
//
//go:noescape
func affineClampAVX2(p *float32, n int, f, add float32)

// saturationAVX2 is saturation's loop with omf = 1 − f.
//
//go:noescape
func saturationAVX2(pr, pg, pb *float32, n int, f, omf float32)

// grayscaleAVX2 is grayscale's loop.
//
//go:noescape
func grayscaleAVX2(pr, pg, pb *float32, n int)

// hueAVX2 is hue's loop, with df and dI as hue computes them and the
// tables of hueTab.
//
//go:noescape
func hueAVX2(pr, pg, pb *float32, n int, df float32, dI int, tab *hueTables)

// solarizeAVX2 sets p[i] = 1 − p[i] where p[i] ≥ thr.
//
//go:noescape
func solarizeAVX2(p *float32, n int, thr float32)

// normalizeAVX2 sets dst[i] = (src[i] − m)·inv.
//
//go:noescape
func normalizeAVX2(dst, src *float32, n int, m, inv float32)

// normalizeFlipAVX2 writes (src[i] − m)·inv for the n values from src
// in reverse order, ending at dstEnd[7]: the first value lands in
// dstEnd[7], the 8th in dstEnd[0], the 9th in dstEnd[-1], and so on.
//
//go:noescape
func normalizeFlipAVX2(dstEnd, src *float32, n int, m, inv float32)
