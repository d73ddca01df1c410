package data

// The JPEG colour conversion's AVX2 kernels (jpegconv_amd64.s). Each
// writes exactly the bytes of its Go loop in jpeg.go; the Go callers
// keep the rows' edges and short rows.

// jpegRowAVX2 is jpegRowToRGB on n ≥ 32 pixels: 3·n bytes at dst from n
// bytes at ys, pcb and pcr. A last group of fewer than 32 is done as
// the 32 that end the row, rewriting some bytes with the same values.
//
//go:noescape
func jpegRowAVX2(dst, ys, pcb, pcr *uint8, n int)

// fancyRowAVX2 is fancyRowToRGB's loop on cols ≥ 32 chroma columns
// (64 pixels a step): the 2·cols pixels of columns 0 … cols−1 of the
// pointers, written as 6·cols bytes at dst from 2·cols bytes at ys. It
// reads the near and far rows from index −1 to cols (each column's
// neighbours), so the first column must not be the plane's first nor
// the last its last. A last group of fewer than 32 columns is done as
// the 32 that end the span.
//
//go:noescape
func fancyRowAVX2(dst, ys, cbn, cbf, crn, crf *uint8, cols int, biasEven, biasOdd int32)
