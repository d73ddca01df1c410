package kernels

// Row primitives in rowops_amd64.s; n is a multiple of 8 (>= 8 for maxAVX2).

//go:noescape
func sumAVX2(x *float32, n int) float32

//go:noescape
func sumSqDevAVX2(x *float32, n int, mu float32) float32

//go:noescape
func maxAVX2(x *float32, n int) float32

//go:noescape
func dotAVX2(x, y *float32, n int) float32

//go:noescape
func scaleAVX2(y *float32, n int, s float32)

//go:noescape
func expShiftSumAVX2(y, x *float32, n int, shift float32) float32

// expShiftSumAVX512 is expShiftSumAVX2 with the exponentials on zmm
// registers, the same bits (see rowops_avx512_amd64.s).
//
//go:noescape
func expShiftSumAVX512(y, x *float32, n int, shift float32) float32

//go:noescape
func softmaxBwdApplyAVX2(dx, y, dy *float32, n int, s float32)

//go:noescape
func lnApplyAVX2(y, x, gamma, beta *float32, n int, mu, rs float32)

//go:noescape
func lnBwdReduceAVX2(dy, x, gamma, dg, db *float32, n int, mu, rs float32) (sg, sgx float32)

//go:noescape
func lnBwdApplyAVX2(dx, dy, x, gamma *float32, n int, mu, rs, a, b float32)

//go:noescape
func axpyAVX2(y, x *float32, n int, a float32)

//go:noescape
func colSum64AVX2(acc *float64, src *float32, ld, rows, n int)
