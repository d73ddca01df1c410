package data

// The resize kernels in resize_amd64.s. n (a count of pixels, outputs
// or columns) is a positive multiple of 8; the Go wrappers in ops.go do
// the rest and check the bounds.

// grayRowAVX2 writes f[i] = float32(src[i])/255 for i < n.
//
//go:noescape
func grayRowAVX2(f *float32, src *uint8, n int)

// rgbRowAVX2 writes f0[i], f1[i], f2[i] = float32(src[3i+c])/255 for
// i < n, reading src[0 : 3n] only.
//
//go:noescape
func rgbRowAVX2(f0, f1, f2 *float32, src *uint8, n int)

// hResampleAVX2 writes out[x] = Σ_{j<taps} wt[j·ldw+x]·in[start[x]+j]
// for x < n, the sum in order (w0·p0, then + wj·pj); taps ≥ 1.
//
//go:noescape
func hResampleAVX2(out, in *float32, start *int32, wt *float32, n, taps, ldw int)

// vResampleAVX2 writes out[x] = Σ_{j<taps} w[j]·rows[j·ld+x] for x < n,
// the sum in order (w0·row0, then + wj·rowj); taps ≥ 1.
//
//go:noescape
func vResampleAVX2(out, rows, w *float32, taps, ld, n int)

// hResampleWinAVX2 is hResampleAVX2 for 1 ≤ taps ≤ 8 without gathers;
// it reads in[start[x] : start[x]+4] (taps ≤ 4) or in[start[x] :
// start[x]+8] for each x < n.
//
//go:noescape
func hResampleWinAVX2(out, in *float32, start *int32, wt *float32, n, taps, ldw int)
