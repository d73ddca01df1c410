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
// y += a·x, rounded after the product and after the sum, as the plain Go
// loop y[i] += a*x[i] rounds (no FMA), so that both give the same bits.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y2
	SHRQ $3, CX
	JZ   done
loop:
	VMULPS (SI), Y2, Y0
	VADDPS (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func colSum64AVX2(acc *float64, src *float32, ld, rows, n int)
// acc[j] += src[r·ld+j] for r = 0, 1, …, rows−1 in turn, in float64, for
// j < n (a multiple of 4): the columns of a block of rows summed exactly as
// a plain loop over the rows sums them, 16 columns (four accumulators of
// four) at a time, then 4.
TEXT ·colSum64AVX2(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), DX
	SHLQ $2, DX
	MOVQ rows+24(FP), R8
	MOVQ n+32(FP), CX
strip16:
	CMPQ CX, $16
	JLT  strip4
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3
	MOVQ SI, AX
	MOVQ R8, BX
	TESTQ BX, BX
	JZ   store16
rows16:
	VCVTPS2PD (AX), Y4
	VCVTPS2PD 16(AX), Y5
	VCVTPS2PD 32(AX), Y6
	VCVTPS2PD 48(AX), Y7
	VADDPD Y4, Y0, Y0
	VADDPD Y5, Y1, Y1
	VADDPD Y6, Y2, Y2
	VADDPD Y7, Y3, Y3
	ADDQ DX, AX
	DECQ BX
	JNZ  rows16
store16:
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $16, CX
	JMP  strip16
strip4:
	CMPQ CX, $4
	JLT  done
	VMOVUPD (DI), Y0
	MOVQ SI, AX
	MOVQ R8, BX
	TESTQ BX, BX
	JZ   store4
rows4:
	VCVTPS2PD (AX), Y4
	VADDPD Y4, Y0, Y0
	ADDQ DX, AX
	DECQ BX
	JNZ  rows4
store4:
	VMOVUPD Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $4, CX
	JMP  strip4
done:
	VZEROUPPER
	RET
