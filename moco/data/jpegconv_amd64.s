#include "textflag.h"

// JPEG YCbCr → RGB (jpeg.go's jpegRowToRGB and fancyRowToRGB) in 16-bit
// lanes, 32 pixels a step (jpegRowAVX2) or 64 (fancyRowAVX2);
// jpegAVX2Consts explains the arithmetic and why VPACKUSWB's saturation
// is jpegToRGB's clamp. 32 pixels are held as two sets of 16 words,
// lo = pixels 0–7 | 16–23 and hi = pixels 8–15 | 24–31 (lane 0 | lane
// 1), the order VPUNPCKLBW and VPUNPCKHBW give from 32 bytes, so that
// VPACKUSWB(lo, hi) gives the 32 bytes in order.
//
// Registers: DX = &jpegAVX2K, Y0–Y3 scratch; in jpegRowAVX2 Y13 = 0.

// Offsets into jpegAVX2Consts.
#define JK_SHUF 0
#define JK_RMUL 288
#define JK_BMUL 320
#define JK_GMUL 352
#define JK_HALF 384
#define JK_C128 416
#define JK_W93 448
#define JK_W31 480
#define JK_W39 512
#define JK_W13 544
#define JK_ZERO 576

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

// INTERLEAVE sets dst to output piece j (bytes 16j … 16j+15 of each
// lane) of the R, G and B bytes in r, g, b, by shuf[j]; t is clobbered.
#define INTERLEAVE(j, r, g, b, dst, t) \
	VPSHUFB (JK_SHUF+96*j)(DX), r, dst; \
	VPSHUFB (JK_SHUF+96*j+32)(DX), g, t; \
	VPOR    t, dst, dst; \
	VPSHUFB (JK_SHUF+96*j+64)(DX), b, t; \
	VPOR    t, dst, dst

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
	INTERLEAVE(0, Y10, Y11, Y12, Y0, Y1); \
	INTERLEAVE(1, Y10, Y11, Y12, Y2, Y1); \
	INTERLEAVE(2, Y10, Y11, Y12, Y3, Y1); \
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

// CHROMA64 sets a, b, c and d to one plane's chroma − 128 of the 64
// pixels of the 32 columns at np (near row) and fp (far row), in the
// order of the 4 sets of 16: a = pixels 0–7 | 32–39, b = 8–15 | 40–47,
// c = 16–23 | 48–55, d = 24–31 | 56–63. With column k's sum 3·near +
// far, pixel 2k is (3·sum k + sum k−1 + biasEven) >> 4 and pixel 2k+1
// (3·sum k + sum k+1 + biasOdd) >> 4; the frame holds biasEven − 2048
// and biasOdd − 2048 (be, bo), so that the arithmetic shift gives the
// value − 128.
//
// VPMADDUBSW on a row's 32 bytes from column j pairs columns j+2i and
// j+2i+1 (word i: i = 0–7 in lane 0, 8–15 in lane 1): from column −1
// by (3, 9) it is 3·near k−1 + 9·near k for the even columns k = 2i;
// from column 0 by (9, 3) 9·near k + 3·near k+1 for the even ones and
// by (3, 9) the first for the odd ones k = 2i+1; from column 1 by
// (9, 3) the second for the odd ones; far's by (1, 3) and (3, 1). The
// sums stay below 4096 (no saturation). Column 2i's pixels are 4i and
// 4i+1, column 2i+1's 4i+2 and 4i+3: unpacking words then dwords puts
// them in order. Y0–Y3 are clobbered, and a before it is set.
#define CHROMA64(np, fp, a, b, c, d) \
	VMOVDQU    -1(np), Y0; \
	VPMADDUBSW (JK_W39)(DX), Y0, Y0; \
	VMOVDQU    -1(fp), Y1; \
	VPMADDUBSW (JK_W13)(DX), Y1, Y1; \
	VPADDW     Y1, Y0, Y0; \
	VPADDW     be-64(SP), Y0, Y0; \
	VPSRAW     $4, Y0, Y0; \
	VMOVDQU    (np), Y2; \
	VMOVDQU    (fp), Y3; \
	VPMADDUBSW (JK_W93)(DX), Y2, Y1; \
	VPMADDUBSW (JK_W31)(DX), Y3, a; \
	VPADDW     a, Y1, Y1; \
	VPADDW     bo-32(SP), Y1, Y1; \
	VPSRAW     $4, Y1, Y1; \
	VPMADDUBSW (JK_W39)(DX), Y2, Y2; \
	VPMADDUBSW (JK_W13)(DX), Y3, Y3; \
	VPADDW     Y3, Y2, Y2; \
	VPADDW     be-64(SP), Y2, Y2; \
	VPSRAW     $4, Y2, Y2; \
	VMOVDQU    1(np), Y3; \
	VPMADDUBSW (JK_W93)(DX), Y3, Y3; \
	VMOVDQU    1(fp), a; \
	VPMADDUBSW (JK_W31)(DX), a, a; \
	VPADDW     a, Y3, Y3; \
	VPADDW     bo-32(SP), Y3, Y3; \
	VPSRAW     $4, Y3, Y3; \
	VPUNPCKLWD Y1, Y0, a; \
	VPUNPCKHWD Y1, Y0, b; \
	VPUNPCKLWD Y3, Y2, Y0; \
	VPUNPCKHWD Y3, Y2, Y1; \
	VPUNPCKLDQ Y1, b, c; \
	VPUNPCKHDQ Y1, b, d; \
	VPUNPCKHDQ Y0, a, b; \
	VPUNPCKLDQ Y0, a, a

// RGB_HALVES converts the 32 pixels off … off+15 and off+32 … off+47 of
// the 64 at SI, their chroma in cb0, cr0 (the first 8 of each 16) and
// cb1, cr1, and writes their RGB bytes at 3·off and 3·off + 96 from DI.
// Y0–Y3 and Y12–Y15 are clobbered, and cb0.
#define RGB_HALVES(off, cb0, cb1, cr0, cr1) \
	VMOVDQU     off(SI), X0; \
	VINSERTI128 $1, off+32(SI), Y0, Y0; \
	VPUNPCKLBW  (JK_ZERO)(DX), Y0, Y12; \
	VPUNPCKHBW  (JK_ZERO)(DX), Y0, Y13; \
	CONVERT(Y12, cb0, cr0, Y14, Y15, Y2); \
	CONVERT(Y13, cb1, cr1, Y3, Y12, cb0); \
	VPACKUSWB   Y3, Y14, Y14; \
	VPACKUSWB   Y12, Y15, Y15; \
	VPACKUSWB   cb0, Y2, Y2; \
	INTERLEAVE(0, Y14, Y15, Y2, Y0, Y1); \
	VMOVDQU     X0, (3*off)(DI); \
	VEXTRACTI128 $1, Y0, (3*off+96)(DI); \
	INTERLEAVE(1, Y14, Y15, Y2, Y0, Y1); \
	VMOVDQU     X0, (3*off+16)(DI); \
	VEXTRACTI128 $1, Y0, (3*off+112)(DI); \
	INTERLEAVE(2, Y14, Y15, Y2, Y0, Y1); \
	VMOVDQU     X0, (3*off+32)(DI); \
	VEXTRACTI128 $1, Y0, (3*off+128)(DI)

// func fancyRowAVX2(dst, ys, cbn, cbf, crn, crf *uint8, cols int, biasEven, biasOdd int32)
TEXT ·fancyRowAVX2(SB), NOSPLIT, $64-64
	MOVQ dst+0(FP), DI
	MOVQ ys+8(FP), SI
	MOVQ cbn+16(FP), R8
	MOVQ cbf+24(FP), R9
	MOVQ crn+32(FP), R10
	MOVQ crf+40(FP), R11
	MOVQ cols+48(FP), CX
	MOVL biasEven+56(FP), AX
	SUBL $2048, AX
	VMOVD AX, X0
	VPBROADCASTW X0, Y0
	VMOVDQU Y0, be-64(SP)
	MOVL biasOdd+60(FP), AX
	SUBL $2048, AX
	VMOVD AX, X0
	VPBROADCASTW X0, Y0
	VMOVDQU Y0, bo-32(SP)
	LEAQ ·jpegAVX2K(SB), DX

fancy:
	CHROMA64(R8, R9, Y4, Y5, Y6, Y7)
	CHROMA64(R10, R11, Y8, Y9, Y10, Y11)
	RGB_HALVES(0, Y4, Y5, Y8, Y9)
	RGB_HALVES(16, Y6, Y7, Y10, Y11)
	SUBQ $32, CX
	JZ   fancyDone

	// Step min(CX, 32) columns: fewer than 32 left are done as the 32
	// that end the span.
	MOVQ    $32, AX
	CMPQ    CX, AX
	CMOVQLT CX, AX
	ADDQ    AX, R8
	ADDQ    AX, R9
	ADDQ    AX, R10
	ADDQ    AX, R11
	LEAQ    (SI)(AX*2), SI
	LEAQ    (AX)(AX*2), BX
	LEAQ    (DI)(BX*2), DI
	MOVQ    $32, AX
	CMPQ    CX, AX
	CMOVQLT AX, CX
	JMP     fancy

fancyDone:
	VZEROUPPER
	RET
