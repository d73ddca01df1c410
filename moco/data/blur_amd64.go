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

// vBoxPassAVX2 is vBoxPass on the columns x < n of the W×H planes
// (out and in each W·H values, H ≥ 1): out row y is (row y−r + … +
// row y+r)·ww + (row y−r−1 + row y+r+1)·fw, the sums in order, rows
// past the edges repeating the edge rows. rows is scratch for 2r+3
// row addresses, written and read within the call only.
//
//go:noescape
func vBoxPassAVX2(out, in *float32, rows *uintptr, W, H, r, n int, ww, fw float32)
