//go:build !amd64

package kernels

// Stubs so the dispatching code compiles; useAVX2 is always false here.

const noAsm = "kernels: no AVX2 on this architecture"

func sumAVX2(x *float32, n int) float32                           { panic(noAsm) }
func sumSqDevAVX2(x *float32, n int, mu float32) float32          { panic(noAsm) }
func maxAVX2(x *float32, n int) float32                           { panic(noAsm) }
func dotAVX2(x, y *float32, n int) float32                        { panic(noAsm) }
func scaleAVX2(y *float32, n int, s float32)                      { panic(noAsm) }
func expShiftSumAVX2(y, x *float32, n int, shift float32) float32 { panic(noAsm) }
func expShiftSumAVX512(y, x *float32, n int, shift float32) float32 {
	panic(noAsm)
}
func softmaxBwdApplyAVX2(dx, y, dy *float32, n int, s float32) { panic(noAsm) }
func lnApplyAVX2(y, x, gamma, beta *float32, n int, mu, rs float32) {
	panic(noAsm)
}
func lnBwdReduceAVX2(dy, x, gamma, dg, db *float32, n int, mu, rs float32) (sg, sgx float32) {
	panic(noAsm)
}
func lnBwdApplyAVX2(dx, dy, x, gamma *float32, n int, mu, rs, a, b float32) {
	panic(noAsm)
}
func axpyAVX2(y, x *float32, n int, a float32)                 { panic(noAsm) }
func colSum64AVX2(acc *float64, src *float32, ld, rows, n int) { panic(noAsm) }
