#include "textflag.h"

// idctAVX2: the islow inverse DCT of idct (idct.go) on eight columns,
// then eight rows, at once: one int32 lane each, the same integer
// operations, so the same samples. The workspace lives in Y0–Y7,
// transposed between the passes and back before the bytes are packed.

// Offsets of the constants (idctK, each broadcast to 8 lanes).
#define K0541 0
#define K1847 32
#define K0765 64
#define K1175 96
#define K0298 128
#define K2053 160
#define K3072 192
#define K1501 224
#define KN0899 256
#define KN2562 288
#define KN1961 320
#define KN0390 352
#define KRND1 384
#define KRND2 416
#define K128 448

// IDCT1D: the 1-D transform of inputs i0…i7 in Y0…Y7, its eight outputs
// (rounding constant at rnd added, not yet shifted) into Y0…Y7.
// Y8–Y13 are clobbered.
#define IDCT1D(rnd) \
	VPADDD  Y6, Y2, Y8; \
	VPMULLD K0541(DX), Y8, Y8; \
	VPMULLD K1847(DX), Y6, Y9; \
	VPSUBD  Y9, Y8, Y9; \
	VPMULLD K0765(DX), Y2, Y10; \
	VPADDD  Y10, Y8, Y10; \
	VPADDD  Y4, Y0, Y11; \
	VPSLLD  $13, Y11, Y11; \
	VPSUBD  Y4, Y0, Y12; \
	VPSLLD  $13, Y12, Y12; \
	VPADDD  rnd(DX), Y11, Y11; \
	VPADDD  rnd(DX), Y12, Y12; \
	VPADDD  Y10, Y11, Y0; \
	VPSUBD  Y10, Y11, Y6; \
	VPADDD  Y9, Y12, Y2; \
	VPSUBD  Y9, Y12, Y4; \
	VPADDD  Y1, Y7, Y8; \
	VPADDD  Y3, Y5, Y9; \
	VPADDD  Y3, Y7, Y10; \
	VPADDD  Y1, Y5, Y11; \
	VPADDD  Y11, Y10, Y12; \
	VPMULLD K1175(DX), Y12, Y12; \
	VPMULLD K0298(DX), Y7, Y7; \
	VPMULLD K2053(DX), Y5, Y5; \
	VPMULLD K3072(DX), Y3, Y3; \
	VPMULLD K1501(DX), Y1, Y1; \
	VPMULLD KN0899(DX), Y8, Y8; \
	VPMULLD KN2562(DX), Y9, Y9; \
	VPMULLD KN1961(DX), Y10, Y10; \
	VPADDD  Y12, Y10, Y10; \
	VPMULLD KN0390(DX), Y11, Y11; \
	VPADDD  Y12, Y11, Y11; \
	VPADDD  Y10, Y8, Y13; \
	VPADDD  Y13, Y7, Y7; \
	VPADDD  Y11, Y9, Y13; \
	VPADDD  Y13, Y5, Y5; \
	VPADDD  Y10, Y9, Y13; \
	VPADDD  Y13, Y3, Y3; \
	VPADDD  Y11, Y8, Y13; \
	VPADDD  Y13, Y1, Y1; \
	VPSUBD  Y1, Y0, Y8; \
	VPADDD  Y1, Y0, Y0; \
	VPSUBD  Y3, Y2, Y9; \
	VPADDD  Y3, Y2, Y1; \
	VPSUBD  Y5, Y4, Y10; \
	VPADDD  Y5, Y4, Y2; \
	VPSUBD  Y7, Y6, Y4; \
	VPADDD  Y7, Y6, Y3; \
	VMOVDQU Y10, Y5; \
	VMOVDQU Y9, Y6; \
	VMOVDQU Y8, Y7

// SHIFT8 shifts Y0…Y7 right (arithmetic) by n.
#define SHIFT8(n) \
	VPSRAD $n, Y0, Y0; \
	VPSRAD $n, Y1, Y1; \
	VPSRAD $n, Y2, Y2; \
	VPSRAD $n, Y3, Y3; \
	VPSRAD $n, Y4, Y4; \
	VPSRAD $n, Y5, Y5; \
	VPSRAD $n, Y6, Y6; \
	VPSRAD $n, Y7, Y7

// TRANSPOSE8 transposes the 8×8 int32 matrix whose rows are Y0…Y7, in
// place; Y8–Y15 are clobbered.
#define TRANSPOSE8 \
	VPUNPCKLDQ Y1, Y0, Y8; \
	VPUNPCKHDQ Y1, Y0, Y9; \
	VPUNPCKLDQ Y3, Y2, Y10; \
	VPUNPCKHDQ Y3, Y2, Y11; \
	VPUNPCKLDQ Y5, Y4, Y12; \
	VPUNPCKHDQ Y5, Y4, Y13; \
	VPUNPCKLDQ Y7, Y6, Y14; \
	VPUNPCKHDQ Y7, Y6, Y15; \
	VPUNPCKLQDQ Y10, Y8, Y0; \
	VPUNPCKHQDQ Y10, Y8, Y1; \
	VPUNPCKLQDQ Y11, Y9, Y2; \
	VPUNPCKHQDQ Y11, Y9, Y3; \
	VPUNPCKLQDQ Y14, Y12, Y4; \
	VPUNPCKHQDQ Y14, Y12, Y5; \
	VPUNPCKLQDQ Y15, Y13, Y6; \
	VPUNPCKHQDQ Y15, Y13, Y7; \
	VPERM2I128 $0x20, Y4, Y0, Y8; \
	VPERM2I128 $0x31, Y4, Y0, Y12; \
	VPERM2I128 $0x20, Y5, Y1, Y9; \
	VPERM2I128 $0x31, Y5, Y1, Y13; \
	VPERM2I128 $0x20, Y6, Y2, Y10; \
	VPERM2I128 $0x31, Y6, Y2, Y14; \
	VPERM2I128 $0x20, Y7, Y3, Y11; \
	VPERM2I128 $0x31, Y7, Y3, Y15; \
	VMOVDQU Y8, Y0; \
	VMOVDQU Y9, Y1; \
	VMOVDQU Y10, Y2; \
	VMOVDQU Y11, Y3; \
	VMOVDQU Y12, Y4; \
	VMOVDQU Y13, Y5; \
	VMOVDQU Y14, Y6; \
	VMOVDQU Y15, Y7

// func idctAVX2(dst *byte, stride int, blk *[64]int32, k *[15][8]int32)
TEXT ·idctAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), BX
	MOVQ blk+16(FP), SI
	MOVQ k+24(FP), DX
	VMOVDQU 0(SI), Y0
	VMOVDQU 32(SI), Y1
	VMOVDQU 64(SI), Y2
	VMOVDQU 96(SI), Y3
	VMOVDQU 128(SI), Y4
	VMOVDQU 160(SI), Y5
	VMOVDQU 192(SI), Y6
	VMOVDQU 224(SI), Y7
	// Columns: lane c of Yi is row i, column c.
	IDCT1D(KRND1)
	SHIFT8(11)
	TRANSPOSE8
	// Rows: lane r of Yk is row r, column k.
	IDCT1D(KRND2)
	SHIFT8(18)
	TRANSPOSE8
	// Level shift, saturate to bytes: row r in Yr.
	VPADDD K128(DX), Y0, Y0
	VPADDD K128(DX), Y1, Y1
	VPADDD K128(DX), Y2, Y2
	VPADDD K128(DX), Y3, Y3
	VPADDD K128(DX), Y4, Y4
	VPADDD K128(DX), Y5, Y5
	VPADDD K128(DX), Y6, Y6
	VPADDD K128(DX), Y7, Y7
	VPACKSSDW Y1, Y0, Y0 // per 128-bit lane: r0[0:4] r1[0:4] | r0[4:8] r1[4:8]
	VPACKSSDW Y3, Y2, Y2
	VPACKSSDW Y5, Y4, Y4
	VPACKSSDW Y7, Y6, Y6
	VPERMQ $0xd8, Y0, Y0 // r0 | r1, 16 bits a sample
	VPERMQ $0xd8, Y2, Y2
	VPERMQ $0xd8, Y4, Y4
	VPERMQ $0xd8, Y6, Y6
	VPACKUSWB Y2, Y0, Y0 // r0 r2 | r1 r3, bytes
	VPACKUSWB Y6, Y4, Y4 // r4 r6 | r5 r7
	VEXTRACTI128 $1, Y0, X1
	VEXTRACTI128 $1, Y4, X5
	LEAQ (BX)(BX*2), CX // 3·stride
	VMOVQ X0, (DI)
	VMOVQ X1, (DI)(BX*1)
	VPEXTRQ $1, X0, (DI)(BX*2)
	VPEXTRQ $1, X1, (DI)(CX*1)
	LEAQ (DI)(BX*4), DI
	VMOVQ X4, (DI)
	VMOVQ X5, (DI)(BX*1)
	VPEXTRQ $1, X4, (DI)(BX*2)
	VPEXTRQ $1, X5, (DI)(CX*1)
	VZEROUPPER
	RET
