#include "textflag.h"

// func sgemmPack4AVX(dst, src *float32, ld, stride, kc8 int)
//
// Transposes 4 rows of src (row stride ld elements), columns [0, kc8) with
// kc8 a multiple of 8, into dst[p*stride + r] for r < 4. Eight columns at a
// time: one ymm load per row, two in-lane 4×4 transposes, and the 16-byte
// halves stored to the eight destination groups.
TEXT ·sgemmPack4AVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), BX
	SHLQ $2, BX
	MOVQ stride+24(FP), DX
	SHLQ $2, DX
	MOVQ kc8+32(FP), CX
	SHRQ $3, CX
	JEQ  done
	LEAQ (SI)(BX*2), R10       // row 2
	LEAQ (DX)(DX*2), R11       // 3·stride
	LEAQ (DI)(DX*4), R12       // dst + 4·stride

loop:
	PREFETCHT0 512(SI)
	PREFETCHT0 512(SI)(BX*1)
	PREFETCHT0 512(R10)
	PREFETCHT0 512(R10)(BX*1)
	VMOVUPS (SI), Y0           // row 0: p0..p7
	VMOVUPS (SI)(BX*1), Y1     // row 1
	VMOVUPS (R10), Y2          // row 2
	VMOVUPS (R10)(BX*1), Y3    // row 3
	VUNPCKLPS Y1, Y0, Y4       // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS Y1, Y0, Y5       // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS Y3, Y2, Y6       // c0 d0 c1 d1 | ...
	VUNPCKHPS Y3, Y2, Y7       // c2 d2 c3 d3 | ...
	VUNPCKLPD Y6, Y4, Y0       // p0 | p4
	VUNPCKHPD Y6, Y4, Y1       // p1 | p5
	VUNPCKLPD Y7, Y5, Y2       // p2 | p6
	VUNPCKHPD Y7, Y5, Y3       // p3 | p7
	VMOVUPS X0, (DI)
	VMOVUPS X1, (DI)(DX*1)
	VMOVUPS X2, (DI)(DX*2)
	VMOVUPS X3, (DI)(R11*1)
	VEXTRACTF128 $1, Y0, (R12)
	VEXTRACTF128 $1, Y1, (R12)(DX*1)
	VEXTRACTF128 $1, Y2, (R12)(DX*2)
	VEXTRACTF128 $1, Y3, (R12)(R11*1)
	ADDQ $32, SI
	ADDQ $32, R10
	LEAQ (DI)(DX*8), DI
	LEAQ (R12)(DX*8), R12
	DECQ CX
	JNE  loop

done:
	VZEROUPPER
	RET

// func sgemmPackRowsAVX(dst, src *float32, ld, width, nsl, kc int)
//
// Cuts each of kc rows of src (row stride ld elements) into nsl runs of
// width values (width a multiple of 4) and stores run s of row p at
// dst[s*width*kc + p*width]: rows of a stored matrix into packed slivers.
// It prefetches the row 8 rows ahead as it goes.
TEXT ·sgemmPackRowsAVX(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), BX
	SHLQ $2, BX
	MOVQ width+24(FP), R8
	SHLQ $2, R8                // width in bytes
	MOVQ nsl+32(FP), R9
	MOVQ kc+40(FP), CX
	MOVQ R8, R10
	IMULQ CX, R10              // bytes between slivers in dst
	TESTQ R9, R9
	JEQ  done
	TESTQ CX, CX
	JEQ  done
	LEAQ (BX)(BX*1), R15
	SHLQ $2, R15               // 8 rows ahead, in bytes

row:
	MOVQ SI, R11               // src cursor
	MOVQ DI, R12               // dst cursor: sliver 0, this row
	MOVQ R9, DX                // slivers left

sliver:
	PREFETCHT0 (R11)(R15*1)
	MOVQ R8, AX                // bytes left in this run
	XORQ R13, R13

chunk32:
	CMPQ AX, $32
	JLT  chunk16
	VMOVUPS (R11)(R13*1), Y0
	VMOVUPS Y0, (R12)(R13*1)
	ADDQ $32, R13
	SUBQ $32, AX
	JMP  chunk32

chunk16:
	TESTQ AX, AX
	JEQ  next
	VMOVUPS (R11)(R13*1), X0
	VMOVUPS X0, (R12)(R13*1)

next:
	ADDQ R8, R11
	ADDQ R10, R12
	DECQ DX
	JNE  sliver
	ADDQ BX, SI
	ADDQ R8, DI
	DECQ CX
	JNE  row

done:
	VZEROUPPER
	RET
