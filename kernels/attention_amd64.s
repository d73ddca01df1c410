#include "textflag.h"

// func attnKernelAVX2(a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc, k int, alpha float32)
//
// One 6×16 tile: C[r][0:16] = alpha·Σ_p A(r,p)·B[p][0:16] for r < 6, with
// A(r,p) at a[r·rsa + p·csa] (so A or Aᵀ), B row-major with stride ldb and
// C row-major with stride ldc (all strides in elements). C is overwritten.
// Twelve ymm accumulators, two B loads and six broadcasts per step.
TEXT ·attnKernelAVX2(SB), NOSPLIT, $0-68
	MOVQ a+0(FP), SI
	MOVQ rsa+8(FP), R8
	SHLQ $2, R8
	MOVQ csa+16(FP), R9
	SHLQ $2, R9
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R10
	SHLQ $2, R10
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R11
	SHLQ $2, R11
	MOVQ k+56(FP), CX
	LEAQ (R8)(R8*2), R12
	LEAQ (R8)(R8*4), R13
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JZ    store
loop:
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VBROADCASTSS (SI), Y2
	VFMADD231PS Y0, Y2, Y4
	VFMADD231PS Y1, Y2, Y5
	VBROADCASTSS (SI)(R8*1), Y3
	VFMADD231PS Y0, Y3, Y6
	VFMADD231PS Y1, Y3, Y7
	VBROADCASTSS (SI)(R8*2), Y2
	VFMADD231PS Y0, Y2, Y8
	VFMADD231PS Y1, Y2, Y9
	VBROADCASTSS (SI)(R12*1), Y3
	VFMADD231PS Y0, Y3, Y10
	VFMADD231PS Y1, Y3, Y11
	VBROADCASTSS (SI)(R8*4), Y2
	VFMADD231PS Y0, Y2, Y12
	VFMADD231PS Y1, Y2, Y13
	VBROADCASTSS (SI)(R13*1), Y3
	VFMADD231PS Y0, Y3, Y14
	VFMADD231PS Y1, Y3, Y15
	ADDQ R9, SI
	ADDQ R10, DI
	DECQ CX
	JNZ  loop
store:
	VBROADCASTSS alpha+64(FP), Y0
	VMULPS Y0, Y4, Y4
	VMULPS Y0, Y5, Y5
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ R11, DX
	VMULPS Y0, Y6, Y6
	VMULPS Y0, Y7, Y7
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	ADDQ R11, DX
	VMULPS Y0, Y8, Y8
	VMULPS Y0, Y9, Y9
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	ADDQ R11, DX
	VMULPS Y0, Y10, Y10
	VMULPS Y0, Y11, Y11
	VMOVUPS Y10, (DX)
	VMOVUPS Y11, 32(DX)
	ADDQ R11, DX
	VMULPS Y0, Y12, Y12
	VMULPS Y0, Y13, Y13
	VMOVUPS Y12, (DX)
	VMOVUPS Y13, 32(DX)
	ADDQ R11, DX
	VMULPS Y0, Y14, Y14
	VMULPS Y0, Y15, Y15
	VMOVUPS Y14, (DX)
	VMOVUPS Y15, 32(DX)
	VZEROUPPER
	RET

// func prefetchRows(p *float32, rows, stride, bytes int)
// Issues PREFETCHT0 for the first bytes (rounded up to 64) of rows rows
// that are stride elements apart.
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ stride+16(FP), R8
	SHLQ $2, R8
	MOVQ bytes+24(FP), DX
	TESTQ CX, CX
	JZ    done
row:
	XORQ AX, AX
line:
	PREFETCHT0 (SI)(AX*1)
	ADDQ $64, AX
	CMPQ AX, DX
	JLT  line
	ADDQ R8, SI
	DECQ CX
	JNZ  row
done:
	RET
