package data

// The blur kernels in blur_amd64.s. n (a count of outputs) is a
// positive multiple of 8; the Go wrappers in ops.go do the rest and
// check the bounds.

// hBoxRowAVX2 writes out[x] = (in[x+1] + … + in[x+2r+1])·ww +
// (in[x] + in[x+2r+2])·fw for x < n, the sums left to right; it reads
// in[0 : n+2r+2].
//
//go:noescape
func hBoxRowAVX2(out, in *float32, n, r int, ww, fw float32)

// vBoxRowAVX2 writes out[x] = (row0[x] + … + row2r[x])·ww +
// (row2r+1[x] + row2r+2[x])·fw for x < n, the sums in order, where
// rowk is in[off[k]:] (off holds 2r+3 element offsets).
//
//go:noescape
func vBoxRowAVX2(out, in *float32, off *int, n, r int, ww, fw float32)
