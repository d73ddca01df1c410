#include "textflag.h"

// JPEG YCbCr → RGB (jpeg.go's jpegRowToRGB and fancyRowToRGB), 32
// pixels a step in 16-bit lanes; jpegAVX2Consts explains the arithmetic
// and why VPACKUSWB's saturation is jpegToRGB's clamp. A step's pixels
// are held as two sets of 16 words, lo = pixels 0–7 | 16–23 and
// hi = pixels 8–15 | 24–31 (lane 0 | lane 1), the order VPUNPCKLBW and
// VPUNPCKHBW give from 32 bytes, so that VPACKUSWB(lo, hi) gives the 32
// bytes in order.
//
// Registers: DX = &jpegAVX2K, Y13 = 0, Y0–Y3 scratch.

// Offsets into jpegAVX2Consts.
#define JK_SHUF 0
#define JK_RMUL 288
#define JK_BMUL 320
#define JK_GMUL 352
#define JK_HALF 384
#define JK_C128 416
#define JK_W93 448
#define JK_W31 480

// CONVERT sets r, g and b to the words Y + rCr, Y + G's term and
// Y + bCb of the 16 pixels with words y, cb and cr (Cb−128, Cr−128).
// Y0 and Y1 are clobbered; r, g and b are apart from the inputs.
#define CONVERT(y, cb, cr, r, g, b) \
	VPMULHRSW  (JK_RMUL)(DX), cr, r; \
	VPADDW     cr, r, r; \
	VPADDW     y, r, r; \
	VPMULHRSW  (JK_BMUL)(DX), cb, b; \
	VPADDW     cb, b, b; \
	VPADDW     cb, b, b; \
	VPADDW     y, b, b; \
	VPUNPCKLWD cr, cb, Y0; \
	VPUNPCKHWD cr, cb, Y1; \
	VPMADDWD   (JK_GMUL)(DX), Y0, Y0; \
	VPMADDWD   (JK_GMUL)(DX), Y1, Y1; \
	VPADDD     (JK_HALF)(DX), Y0, Y0; \
	VPADDD     (JK_HALF)(DX), Y1, Y1; \
	VPSRAD     $16, Y0, Y0; \
	VPSRAD     $16, Y1, Y1; \
	VPACKSSDW  Y1, Y0, g; \
	VPSUBW     cr, g, g; \
	VPADDW     y, g, g

// RGB_STORE converts the 32 pixels with Y bytes at SI and chroma words
// Y4 (cb lo), Y5 (cb hi), Y6 (cr lo), Y7 (cr hi) and writes their 96
// interleaved RGB bytes at DI. Y0–Y12 are clobbered.
//
// With R, G and B as bytes in order, shuf[j][c] puts channel c's bytes
// of output bytes 16j … 16j+15 of each lane's 16 pixels in place: the
// ORs make the lanes' bytes 0–15 | 48–63, 16–31 | 64–79, 32–47 | 80–95.
#define RGB_STORE \
	VMOVDQU    (SI), Y0; \
	VPUNPCKLBW Y13, Y0, Y8; \
	VPUNPCKHBW Y13, Y0, Y9; \
	CONVERT(Y8, Y4, Y6, Y10, Y11, Y12); \
	CONVERT(Y9, Y5, Y7, Y4, Y6, Y8); \
	VPACKUSWB  Y4, Y10, Y10; \
	VPACKUSWB  Y6, Y11, Y11; \
	VPACKUSWB  Y8, Y12, Y12; \
	VPSHUFB    (JK_SHUF+0)(DX), Y10, Y0; \
	VPSHUFB    (JK_SHUF+32)(DX), Y11, Y1; \
	VPOR       Y1, Y0, Y0; \
	VPSHUFB    (JK_SHUF+64)(DX), Y12, Y1; \
	VPOR       Y1, Y0, Y0; \
	VPSHUFB    (JK_SHUF+96)(DX), Y10, Y2; \
	VPSHUFB    (JK_SHUF+128)(DX), Y11, Y1; \
	VPOR       Y1, Y2, Y2; \
	VPSHUFB    (JK_SHUF+160)(DX), Y12, Y1; \
	VPOR       Y1, Y2, Y2; \
	VPSHUFB    (JK_SHUF+192)(DX), Y10, Y3; \
	VPSHUFB    (JK_SHUF+224)(DX), Y11, Y1; \
	VPOR       Y1, Y3, Y3; \
	VPSHUFB    (JK_SHUF+256)(DX), Y12, Y1; \
	VPOR       Y1, Y3, Y3; \
	VPERM2I128 $0x20, Y2, Y0, Y1; \
	VMOVDQU    Y1, (DI); \
	VPBLENDD   $0xf0, Y0, Y3, Y1; \
	VMOVDQU    Y1, 32(DI); \
	VPERM2I128 $0x31, Y3, Y2, Y1; \
	VMOVDQU    Y1, 64(DI)

// func jpegRowAVX2(dst, ys, pcb, pcr *uint8, n int)
TEXT ·jpegRowAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ys+8(FP), SI
	MOVQ pcb+16(FP), R8
	MOVQ pcr+24(FP), R10
	MOVQ n+32(FP), CX
	LEAQ ·jpegAVX2K(SB), DX
	VPXOR Y13, Y13, Y13
	VMOVDQU (JK_C128)(DX), Y15

loop:
	VMOVDQU    (R8), Y0
	VPUNPCKLBW Y13, Y0, Y4
	VPUNPCKHBW Y13, Y0, Y5
	VPSUBW     Y15, Y4, Y4
	VPSUBW     Y15, Y5, Y5
	VMOVDQU    (R10), Y0
	VPUNPCKLBW Y13, Y0, Y6
	VPUNPCKHBW Y13, Y0, Y7
	VPSUBW     Y15, Y6, Y6
	VPSUBW     Y15, Y7, Y7
	RGB_STORE
	SUBQ $32, CX
	JZ   done

	// Step min(CX, 32) pixels: fewer than 32 left are done as the 32
	// that end the row.
	MOVQ    $32, AX
	CMPQ    CX, AX
	CMOVQLT CX, AX
	ADDQ    AX, SI
	ADDQ    AX, R8
	ADDQ    AX, R10
	LEAQ    (AX)(AX*2), BX
	ADDQ    BX, DI
	MOVQ    $32, AX
	CMPQ    CX, AX
	CMOVQLT AX, CX
	JMP     loop

done:
	VZEROUPPER
	RET

// PAIRS sets d to the (near, far) byte pairs of the 16 columns from
// disp on, in column order (8 a lane); t and u are clobbered. The
// rows' 16 bytes are read into both lanes and each lane keeps its half
// of them unpacked, so nothing past column disp+15 is read.
#define PAIRS(disp, np, fp, d, t, u) \
	VBROADCASTI128 disp(np), d; \
	VBROADCASTI128 disp(fp), t; \
	VPUNPCKHBW     t, d, u; \
	VPUNPCKLBW     t, d, d; \
	VPBLENDD       $0xf0, u, d, d

// CHROMA sets lo and hi to one plane's chroma − 128 of the 32 pixels of
// the 16 columns at np (near row) and fp (far row). With column k's sum
// 3·near + far, pixel 2k is (3·sum k + sum k−1 + biasEven) >> 4 and
// pixel 2k+1 (3·sum k + sum k+1 + biasOdd) >> 4: VPMADDUBSW of the
// pairs with (9, 3) gives 3·sum k, with (3, 1) the neighbours' sums
// (below 4096 all, no saturation). Y14 = biasEven − 2048 and Y15 =
// biasOdd − 2048, so that the arithmetic shift gives the value − 128.
// Even and odd in column order, unpacked, are the pixels in the lo and
// hi order. Y0–Y3 are clobbered, and lo before it is set.
#define CHROMA(np, fp, lo, hi) \
	PAIRS(0, np, fp, Y0, Y1, Y2); \
	VPMADDUBSW (JK_W93)(DX), Y0, Y0; \
	PAIRS(-1, np, fp, Y1, Y2, Y3); \
	VPMADDUBSW (JK_W31)(DX), Y1, Y1; \
	VPADDW     Y0, Y1, Y1; \
	VPADDW     Y14, Y1, Y1; \
	VPSRAW     $4, Y1, Y1; \
	PAIRS(1, np, fp, Y2, Y3, lo); \
	VPMADDUBSW (JK_W31)(DX), Y2, Y2; \
	VPADDW     Y0, Y2, Y2; \
	VPADDW     Y15, Y2, Y2; \
	VPSRAW     $4, Y2, Y2; \
	VPUNPCKLWD Y2, Y1, lo; \
	VPUNPCKHWD Y2, Y1, hi

// func fancyRowAVX2(dst, ys, cbn, cbf, crn, crf *uint8, cols int, biasEven, biasOdd int32)
TEXT ·fancyRowAVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ ys+8(FP), SI
	MOVQ cbn+16(FP), R8
	MOVQ cbf+24(FP), R9
	MOVQ crn+32(FP), R10
	MOVQ crf+40(FP), R11
	MOVQ cols+48(FP), CX
	MOVL biasEven+56(FP), AX
	SUBL $2048, AX
	VMOVD AX, X14
	VPBROADCASTW X14, Y14
	MOVL biasOdd+60(FP), AX
	SUBL $2048, AX
	VMOVD AX, X15
	VPBROADCASTW X15, Y15
	LEAQ ·jpegAVX2K(SB), DX
	VPXOR Y13, Y13, Y13

fancy:
	CHROMA(R8, R9, Y4, Y5)
	CHROMA(R10, R11, Y6, Y7)
	RGB_STORE
	SUBQ $16, CX
	JZ   fancyDone

	// Step min(CX, 16) columns: fewer than 16 left are done as the 16
	// that end the span.
	MOVQ    $16, AX
	CMPQ    CX, AX
	CMOVQLT CX, AX
	ADDQ    AX, R8
	ADDQ    AX, R9
	ADDQ    AX, R10
	ADDQ    AX, R11
	LEAQ    (SI)(AX*2), SI
	LEAQ    (AX)(AX*2), BX
	LEAQ    (DI)(BX*2), DI
	MOVQ    $16, AX
	CMPQ    CX, AX
	CMOVQLT AX, CX
	JMP     fancy

fancyDone:
	VZEROUPPER
	RET
