#include "textflag.h"

// The colour ops, normalisation and solarize on 8 values a step. Each
// is its Go loop's float32 arithmetic in the same order, a product
// rounded before it is added (VMULPS then VADDPS, never FMA), so the
// bits are the Go loop's. n is a multiple of 8.

// CLAMP01 is clamp01 on the bits: a negative float is a negative int32,
// a non-negative one is ordered as its value. Y14 = 0, Y15 = 1.0's bits.
#define CLAMP01(y) VPMAXSD Y14, y, y; VPMINSD Y15, y, y

#define CLAMP_CONSTS \
	VPXOR Y14, Y14, Y14; \
	MOVL $0x3f800000, AX; \
	VMOVD AX, X15; \
	VPBROADCASTD X15, Y15

// func affineClampAVX2(p *float32, n int, f, add float32)
TEXT ·affineClampAVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS f+16(FP), Y0
	VBROADCASTSS add+20(FP), Y1
	CLAMP_CONSTS
	SHRQ $3, CX
	JZ   done

loop:
	VMULPS (SI), Y0, Y2
	VADDPS Y1, Y2, Y2
	CLAMP01(Y2)
	VMOVUPS Y2, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET

// LUMA sets y to luma(r, g, b) (three products rounded, added left to
// right) with Y11–Y13 holding the coefficients; t is clobbered.
#define LUMA(r, g, b, y, t) \
	VMULPS Y11, r, y; \
	VMULPS Y12, g, t; \
	VADDPS t, y, y; \
	VMULPS Y13, b, t; \
	VADDPS t, y, y

#define LUMA_CONSTS \
	VBROADCASTSS ·lumaCoeffs+0(SB), Y11; \
	VBROADCASTSS ·lumaCoeffs+4(SB), Y12; \
	VBROADCASTSS ·lumaCoeffs+8(SB), Y13

// func saturationAVX2(pr, pg, pb *float32, n int, f, omf float32)
TEXT ·saturationAVX2(SB), NOSPLIT, $0-40
	MOVQ pr+0(FP), R8
	MOVQ pg+8(FP), R9
	MOVQ pb+16(FP), R10
	MOVQ n+24(FP), CX
	VBROADCASTSS f+32(FP), Y0
	VBROADCASTSS omf+36(FP), Y1
	LUMA_CONSTS
	CLAMP_CONSTS
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (R8), Y2
	VMOVUPS (R9), Y3
	VMOVUPS (R10), Y4
	LUMA(Y2, Y3, Y4, Y5, Y6)
	VMULPS Y1, Y5, Y5 // gr = (1 − f)·luma
	VMULPS Y0, Y2, Y2
	VADDPS Y5, Y2, Y2
	CLAMP01(Y2)
	VMULPS Y0, Y3, Y3
	VADDPS Y5, Y3, Y3
	CLAMP01(Y3)
	VMULPS Y0, Y4, Y4
	VADDPS Y5, Y4, Y4
	CLAMP01(Y4)
	VMOVUPS Y2, (R8)
	VMOVUPS Y3, (R9)
	VMOVUPS Y4, (R10)
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET

// func grayscaleAVX2(pr, pg, pb *float32, n int)
TEXT ·grayscaleAVX2(SB), NOSPLIT, $0-32
	MOVQ pr+0(FP), R8
	MOVQ pg+8(FP), R9
	MOVQ pb+16(FP), R10
	MOVQ n+24(FP), CX
	LUMA_CONSTS
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (R8), Y2
	VMOVUPS (R9), Y3
	VMOVUPS (R10), Y4
	LUMA(Y2, Y3, Y4, Y5, Y6)
	VMOVUPS Y5, (R8)
	VMOVUPS Y5, (R9)
	VMOVUPS Y5, (R10)
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET

// Offsets into hueTables.
#define HT_SIGN 0
#define HT_BASE 32
#define HT_W 64
#define HT_BIT1 256
#define HT_BIT2 288
#define HT_BIT4 320
#define HT_FIVE 352
#define HT_SIX 384

// HUE_OUT writes channel k's new value to y: maxc − (w[2k]·cr + w[2k+1]·fr)
// (w from the sector in Y5; Y6 = maxc, Y9 = cr, Y8 = fr), or keeps orig
// where the pixel is gray (mask Y12). t is clobbered.
#define HUE_OUT(k, orig, y, t) \
	VPERMPS (HT_W+64*k)(DX), Y5, y; \
	VMULPS Y9, y, y; \
	VPERMPS (HT_W+64*k+32)(DX), Y5, t; \
	VMULPS Y8, t, t; \
	VADDPS t, y, y; \
	VSUBPS y, Y6, y; \
	VBLENDVPS Y12, orig, y, y

// func hueAVX2(pr, pg, pb *float32, n int, df float32, dI int, tab *hueTables)
TEXT ·hueAVX2(SB), NOSPLIT, $0-56
	MOVQ pr+0(FP), R8
	MOVQ pg+8(FP), R9
	MOVQ pb+16(FP), R10
	MOVQ n+24(FP), CX
	VBROADCASTSS df+32(FP), Y15
	MOVQ dI+40(FP), AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	MOVQ tab+48(FP), DX
	VPXOR Y13, Y13, Y13
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (R8), Y0
	VMOVUPS (R9), Y1
	VMOVUPS (R10), Y2

	// The channel order code (R≥G) | (G≥B)<<1 | (B≥R)<<2 → sign, base.
	VCMPPS $0x1d, Y1, Y0, Y3 // R ≥ G
	VCMPPS $0x1d, Y2, Y1, Y4 // G ≥ B
	VCMPPS $0x1d, Y0, Y2, Y5 // B ≥ R
	VPAND  HT_BIT1(DX), Y3, Y3
	VPAND  HT_BIT2(DX), Y4, Y4
	VPAND  HT_BIT4(DX), Y5, Y5
	VPOR   Y4, Y3, Y3
	VPOR   Y5, Y3, Y3
	VPERMPS HT_SIGN(DX), Y3, Y4
	VPERMD  HT_BASE(DX), Y3, Y5

	// max, min and the middle value (the median, which is the value
	// the Go loop's tables pick).
	VMAXPS Y1, Y0, Y6
	VMINPS Y1, Y0, Y7
	VMINPS Y2, Y6, Y8
	VMAXPS Y8, Y7, Y8 // mid
	VMAXPS Y2, Y6, Y6 // maxc
	VMINPS Y2, Y7, Y7 // minc
	VSUBPS Y7, Y6, Y9 // cr
	VCMPPS $0, Y13, Y9, Y12 // gray: cr == 0

	// u = sign·(mid − min) + df·cr; c = (u ≥ cr) − (u < 0);
	// fr = u − c·cr.
	VSUBPS Y7, Y8, Y8
	VMULPS Y4, Y8, Y8
	VMULPS Y15, Y9, Y10
	VADDPS Y10, Y8, Y8
	VCMPPS $0x1d, Y9, Y8, Y10 // u ≥ cr: −1
	VCMPPS $0x11, Y13, Y8, Y11 // u < 0: −1
	VPSUBD Y10, Y11, Y10       // c
	VCVTDQ2PS Y10, Y11
	VMULPS Y9, Y11, Y11
	VSUBPS Y11, Y8, Y8 // fr

	// The new sector, (base + dI + c) mod 6, from [2, 15].
	VPADDD Y14, Y5, Y5
	VPADDD Y10, Y5, Y5
	VPCMPGTD HT_FIVE(DX), Y5, Y10
	VPAND    HT_SIX(DX), Y10, Y10
	VPSUBD   Y10, Y5, Y5
	VPCMPGTD HT_FIVE(DX), Y5, Y10
	VPAND    HT_SIX(DX), Y10, Y10
	VPSUBD   Y10, Y5, Y5

	HUE_OUT(0, Y0, Y3, Y4)
	HUE_OUT(1, Y1, Y7, Y4)
	HUE_OUT(2, Y2, Y10, Y4)
	VMOVUPS Y3, (R8)
	VMOVUPS Y7, (R9)
	VMOVUPS Y10, (R10)
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET

// func solarizeAVX2(p *float32, n int, thr float32)
TEXT ·solarizeAVX2(SB), NOSPLIT, $0-20
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS thr+16(FP), Y0
	MOVL $0x3f800000, AX
	VMOVD AX, X1
	VPBROADCASTD X1, Y1 // 1.0
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (SI), Y2
	VCMPPS $0x1d, Y0, Y2, Y3 // v ≥ thr
	VSUBPS Y2, Y1, Y4        // 1 − v
	VBLENDVPS Y3, Y4, Y2, Y2
	VMOVUPS Y2, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET

// func normalizeAVX2(dst, src *float32, n int, m, inv float32)
TEXT ·normalizeAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+24(FP), Y0
	VBROADCASTSS inv+28(FP), Y1
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (SI), Y2
	VSUBPS Y0, Y2, Y2
	VMULPS Y1, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET

// func normalizeFlipAVX2(dstEnd, src *float32, n int, m, inv float32)
TEXT ·normalizeFlipAVX2(SB), NOSPLIT, $0-32
	MOVQ dstEnd+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+24(FP), Y0
	VBROADCASTSS inv+28(FP), Y1
	VMOVDQU ·laneReverse(SB), Y3
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (SI), Y2
	VSUBPS Y0, Y2, Y2
	VMULPS Y1, Y2, Y2
	VPERMPS Y2, Y3, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	SUBQ $32, DI
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET
