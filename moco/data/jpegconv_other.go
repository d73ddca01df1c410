//go:build !amd64

package data

func jpegRowAVX2(dst, ys, pcb, pcr *uint8, n int) { panic(noAsm) }
func fancyRowAVX2(dst, ys, cbn, cbf, crn, crf *uint8, cols int, biasEven, biasOdd int32) {
	panic(noAsm)
}
