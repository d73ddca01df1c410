#include "textflag.h"
#include "vecmath_amd64.h"

// Row primitives for LayerNorm and softmax. n is a multiple of 8 (n >= 0,
// and n >= 8 for maxAVX2); the Go wrappers do the tails.

// func sumAVX2(x *float32, n int) float32
TEXT ·sumAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
loop16:
	CMPQ CX, $16
	JLT  tail8
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  loop16
tail8:
	CMPQ CX, $8
	JLT  done
	VADDPS (SI), Y0, Y0
done:
	VADDPS Y1, Y0, Y0
	HSUM(Y0, X0, X1)
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func sumSqDevAVX2(x *float32, n int, mu float32) float32
TEXT ·sumSqDevAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS mu+16(FP), Y4
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
loop16:
	CMPQ CX, $16
	JLT  tail8
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VSUBPS Y4, Y2, Y2
	VSUBPS Y4, Y3, Y3
	VFMADD231PS Y2, Y2, Y0
	VFMADD231PS Y3, Y3, Y1
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  loop16
tail8:
	CMPQ CX, $8
	JLT  done
	VMOVUPS (SI), Y2
	VSUBPS Y4, Y2, Y2
	VFMADD231PS Y2, Y2, Y0
done:
	VADDPS Y1, Y0, Y0
	HSUM(Y0, X0, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Y0
	VMOVUPS Y0, Y1
	ADDQ $32, SI
	SUBQ $8, CX
loop16:
	CMPQ CX, $16
	JLT  tail8
	VMAXPS (SI), Y0, Y0
	VMAXPS 32(SI), Y1, Y1
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  loop16
tail8:
	CMPQ CX, $8
	JLT  done
	VMAXPS (SI), Y0, Y0
done:
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VMAXPS X1, X0, X0
	VMOVSHDUP X0, X1
	VMAXSS X1, X0, X0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func dotAVX2(x, y *float32, n int) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
loop16:
	CMPQ CX, $16
	JLT  tail8
	VMOVUPS (DI), Y2
	VMOVUPS 32(DI), Y3
	VFMADD231PS (SI), Y2, Y0
	VFMADD231PS 32(SI), Y3, Y1
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  loop16
tail8:
	CMPQ CX, $8
	JLT  done
	VMOVUPS (DI), Y2
	VFMADD231PS (SI), Y2, Y0
done:
	VADDPS Y1, Y0, Y0
	HSUM(Y0, X0, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func scaleAVX2(y *float32, n int, s float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ y+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS s+16(FP), Y2
	SHRQ $3, CX
	JZ   done
loop:
	VMULPS (DI), Y2, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func expShiftSumAVX2(y, x *float32, n int, shift float32) float32
// y = exp(x − shift); returns the sum of y.
TEXT ·expShiftSumAVX2(SB), NOSPLIT, $0-36
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y4
	VXORPS Y5, Y5, Y5
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (SI), Y0
	VSUBPS Y4, Y0, Y0
	EXP(Y0, Y1, Y2, Y3, Y6)
	VMOVUPS Y0, (DI)
	VADDPS Y0, Y5, Y5
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	HSUM(Y5, X5, X1)
	VMOVSS X5, ret+32(FP)
	VZEROUPPER
	RET

// func softmaxBwdApplyAVX2(dx, y, dy *float32, n int, s float32)
// dx = y·(dy − s); dx may alias y or dy.
TEXT ·softmaxBwdApplyAVX2(SB), NOSPLIT, $0-36
	MOVQ dx+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS s+32(FP), Y4
	XORQ AX, AX
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (DX)(AX*1), Y0
	VSUBPS Y4, Y0, Y0
	VMULPS (SI)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func lnApplyAVX2(y, x, gamma, beta *float32, n int, mu, rs float32)
// y = (x − mu)·rs·gamma + beta.
TEXT ·lnApplyAVX2(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gamma+16(FP), DX
	MOVQ beta+24(FP), BX
	MOVQ n+32(FP), CX
	VBROADCASTSS mu+40(FP), Y4
	VBROADCASTSS rs+44(FP), Y5
	XORQ AX, AX
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (SI)(AX*1), Y0
	VSUBPS Y4, Y0, Y0
	VMULPS Y5, Y0, Y0
	VMOVUPS (BX)(AX*1), Y1
	VFMADD231PS (DX)(AX*1), Y0, Y1
	VMOVUPS Y1, (DI)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func lnBwdReduceAVX2(dy, x, gamma, dg, db *float32, n int, mu, rs float32) (sg, sgx float32)
// With xh = (x − mu)·rs and g = dy·gamma: returns Σg and Σg·xh, and adds
// dy·xh into dg and dy into db.
TEXT ·lnBwdReduceAVX2(SB), NOSPLIT, $0-64
	MOVQ dy+0(FP), R8
	MOVQ x+8(FP), SI
	MOVQ gamma+16(FP), DX
	MOVQ dg+24(FP), DI
	MOVQ db+32(FP), BX
	MOVQ n+40(FP), CX
	VBROADCASTSS mu+48(FP), Y4
	VBROADCASTSS rs+52(FP), Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ AX, AX
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (R8)(AX*1), Y0
	VMOVUPS (SI)(AX*1), Y1
	VSUBPS Y4, Y1, Y1
	VMULPS Y5, Y1, Y1
	VMULPS (DX)(AX*1), Y0, Y2
	VADDPS Y2, Y6, Y6
	VFMADD231PS Y1, Y2, Y7
	VMOVUPS (DI)(AX*1), Y3
	VFMADD231PS Y1, Y0, Y3
	VMOVUPS Y3, (DI)(AX*1)
	VADDPS (BX)(AX*1), Y0, Y3
	VMOVUPS Y3, (BX)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNZ  loop
done:
	HSUM(Y6, X6, X8)
	HSUM(Y7, X7, X8)
	VMOVSS X6, sg+56(FP)
	VMOVSS X7, sgx+60(FP)
	VZEROUPPER
	RET

// func lnBwdApplyAVX2(dx, dy, x, gamma *float32, n int, mu, rs, a, b float32)
// dx = rs·(dy·gamma − a − xh·b), xh = (x − mu)·rs.
TEXT ·lnBwdApplyAVX2(SB), NOSPLIT, $0-56
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ gamma+24(FP), DX
	MOVQ n+32(FP), CX
	VBROADCASTSS mu+40(FP), Y4
	VBROADCASTSS rs+44(FP), Y5
	VBROADCASTSS a+48(FP), Y6
	VBROADCASTSS b+52(FP), Y7
	XORQ AX, AX
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (SI)(AX*1), Y1
	VSUBPS Y4, Y1, Y1
	VMULPS Y5, Y1, Y1
	VMOVUPS (R8)(AX*1), Y0
	VMULPS (DX)(AX*1), Y0, Y0
	VSUBPS Y6, Y0, Y0
	VFNMADD231PS Y7, Y1, Y0
	VMULPS Y5, Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func axpyAVX2(y, x *float32, n int, a float32)
// y += a·x, one rounding per element (FMA).
TEXT ·axpyAVX2(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y2
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (DI), Y0
	VFMADD231PS (SI), Y2, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func colSumAVX2(dst, src *float32, ld, rows, n int)
// dst[j] = Σ src[r·ld+j] over r < rows, for j < n: the columns of a block
// of rows summed, 32 columns (four accumulators) at a time, then 8. rows
// is at least 1.
TEXT ·colSumAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), DX
	SHLQ $2, DX
	MOVQ rows+24(FP), R8
	MOVQ n+32(FP), CX
strip32:
	CMPQ CX, $32
	JLT  strip8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ SI, AX
	MOVQ R8, BX
rows32:
	VADDPS (AX), Y0, Y0
	VADDPS 32(AX), Y1, Y1
	VADDPS 64(AX), Y2, Y2
	VADDPS 96(AX), Y3, Y3
	ADDQ DX, AX
	DECQ BX
	JNZ  rows32
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  strip32
strip8:
	CMPQ CX, $8
	JLT  done
	VXORPS Y0, Y0, Y0
	MOVQ SI, AX
	MOVQ R8, BX
rows8:
	VADDPS (AX), Y0, Y0
	ADDQ DX, AX
	DECQ BX
	JNZ  rows8
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  strip8
done:
	VZEROUPPER
	RET
