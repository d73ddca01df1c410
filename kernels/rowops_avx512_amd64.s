#include "textflag.h"
#include "vecmath_amd64.h"
#include "vecmath_avx512_amd64.h"

// func expShiftSumAVX512(y, x *float32, n int, shift float32) float32
//
// rowExpShiftSum's AVX2 path in one call, with its exponentials 32 at a
// time on zmm registers (EXPZ2, each lane EXP's bits): y[i] = exp(x[i] −
// shift) for i < n (n >= 1), and the sum accumulated 8 wide in the AVX2
// loop's order, one 8-element chunk after another, so that the sum has its
// bits too. The chunks past the last 32 run as in the AVX2 loop. The last
// n%8 elements are the AVX2 path's padded tail, read and written under a
// mask instead of through a buffer: padded with −Inf, summed on their own
// and added to the rest's sum.
TEXT ·expShiftSumAVX512(SB), NOSPLIT, $0-36
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ CX, BX
	ANDQ $7, BX
	ANDQ $-8, CX
	VBROADCASTSS shift+24(FP), Z4
	VXORPS Y5, Y5, Y5
loop32:
	CMPQ CX, $32
	JLT  loop8
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z8
	VSUBPS  Z4, Z0, Z0
	VSUBPS  Z4, Z8, Z8
	EXPZ2(Z0, Z1, Z2, Z3, Z8, Z9, Z10, Z11)
	VMOVUPS Z0, (DI)
	VMOVUPS Z8, 64(DI)
	VADDPS  Y0, Y5, Y5
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS  Y1, Y5, Y5
	VADDPS  Y8, Y5, Y5
	VEXTRACTF32X8 $1, Z8, Y9
	VADDPS  Y9, Y5, Y5
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  loop32
loop8:
	CMPQ CX, $8
	JLT  done
	VMOVUPS (SI), Y0
	VSUBPS  Y4, Y0, Y0
	EXP(Y0, Y1, Y2, Y3, Y6)
	VMOVUPS Y0, (DI)
	VADDPS  Y0, Y5, Y5
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8
done:
	HSUM(Y5, X5, X1)
	TESTQ BX, BX
	JZ   out
	MOVL $1, AX
	MOVQ BX, CX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K3
	VBROADCASTSS negInf<>(SB), Y0
	VMOVUPS (SI), K3, Y0
	VSUBPS  Y4, Y0, Y0
	EXP(Y0, Y1, Y2, Y3, Y6)
	VMOVUPS Y0, K3, (DI)
	HSUM(Y0, X0, X1)
	VADDSS  X0, X5, X5
out:
	VMOVSS X5, ret+32(FP)
	VZEROUPPER
	RET
