#include "textflag.h"
#include "vecmath_amd64.h"
#include "vecmath_avx512_amd64.h"

// func expShiftSumAVX512(y, x *float32, n int, shift float32) float32
//
// expShiftSumAVX2 with its exponentials 32 at a time on zmm registers
// (EXPZ2, each lane EXP's bits): y[i] = exp(x[i] − shift), and the sum
// accumulated 8 wide in the AVX2 loop's order, one 8-element chunk after
// another, so that the sum has its bits too. n is a multiple of 8; the
// chunks past the last 32 run as in the AVX2 loop.
TEXT ·expShiftSumAVX512(SB), NOSPLIT, $0-36
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
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
	VMOVSS X5, ret+32(FP)
	VZEROUPPER
	RET
