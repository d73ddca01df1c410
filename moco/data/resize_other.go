//go:build !amd64

package data

// Stubs so the dispatching code compiles; useAVX2 is always false here.

func grayRowAVX2(f *float32, src *uint8, n int)            { panic(noAsm) }
func rgbRowAVX2(f0, f1, f2 *float32, src *uint8, n int)    { panic(noAsm) }
func vResampleAVX2(out, rows, w *float32, taps, ld, n int) { panic(noAsm) }
func hResampleWinAVX2(out, in *float32, start *int32, wt *float32, n, taps, ldw int) {
	panic(noAsm)
}
func hResampleAVX2(out, in *float32, start *int32, wt *float32, n, taps, ldw int) {
	panic(noAsm)
}
