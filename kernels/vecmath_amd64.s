#include "textflag.h"
#include "vecmath_amd64.h"

// All loops here take n a multiple of 8 (n >= 0); the Go side does tails.

// func expAVX2(dst, src *float32, n int)
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (SI), Y0
	EXP(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func erfAVX2(dst, src *float32, n int)
// |x| < 0.5: odd Taylor series to x¹³; otherwise 1 − erfc(|x|); sign copied.
TEXT ·erfAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (SI), Y0
	VANDPS  absMask<>(SB), Y0, Y1
	VANDPS  signMask<>(SB), Y0, Y5
	VMOVUPS erfClamp<>(SB), Y2
	VMINPS  Y1, Y2, Y1
	ERFC(Y1, Y3, Y6, Y7, Y8, Y9, Y10)
	VMOVUPS one<>(SB), Y4
	VSUBPS  Y3, Y4, Y3
	VMULPS  Y1, Y1, Y2
	VMOVUPS erfT6<>(SB), Y4
	VFMADD213PS erfT5<>(SB), Y2, Y4
	VFMADD213PS erfT4<>(SB), Y2, Y4
	VFMADD213PS erfT3<>(SB), Y2, Y4
	VFMADD213PS erfT2<>(SB), Y2, Y4
	VFMADD213PS erfT1<>(SB), Y2, Y4
	VFMADD213PS erfT0<>(SB), Y2, Y4
	VMULPS  Y1, Y4, Y4
	VCMPPS  $1, half<>(SB), Y1, Y2
	VBLENDVPS Y2, Y4, Y3, Y3
	VORPS   Y5, Y3, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// PHI leaves Φ(x) for x in Y0 in Y4, a = min(|x|/√2, clamp) in Y1.
#define PHI \
	VMULPS  invSqrt2<>(SB), Y0, Y1; \
	VANDPS  absMask<>(SB), Y1, Y1; \
	VMOVUPS erfClamp<>(SB), Y2; \
	VMINPS  Y1, Y2, Y1; \
	ERFC(Y1, Y3, Y6, Y7, Y8, Y9, Y10); \
	VMULPS  half<>(SB), Y3, Y3; \
	VMOVUPS one<>(SB), Y4; \
	VSUBPS  Y3, Y4, Y4; \
	VBLENDVPS Y0, Y3, Y4, Y4

// PHI2 leaves Φ(x) for x in Y0 and Y8 in Y1 and Y9, two vectors
// interleaved (see ERFC2); clobbers Y2–Y6 and Y10–Y14. The clamp is a
// memory operand, so a NaN x gives a clamped a, but x·(…) is NaN anyway.
#define PHI2 \
	VMULPS  invSqrt2<>(SB), Y0, Y1; \
	VMULPS  invSqrt2<>(SB), Y8, Y9; \
	VANDPS  absMask<>(SB), Y1, Y1; \
	VANDPS  absMask<>(SB), Y9, Y9; \
	VMINPS  erfClamp<>(SB), Y1, Y1; \
	VMINPS  erfClamp<>(SB), Y9, Y9; \
	ERFC2(Y1, Y2, Y3, Y4, Y5, Y6, Y1, Y9, Y10, Y11, Y12, Y13, Y14, Y9); \
	VMULPS  half<>(SB), Y2, Y2; \
	VMULPS  half<>(SB), Y10, Y10; \
	VMOVUPS one<>(SB), Y1; \
	VMOVUPS one<>(SB), Y9; \
	VSUBPS  Y2, Y1, Y1; \
	VSUBPS  Y10, Y9, Y9; \
	VBLENDVPS Y0, Y2, Y1, Y1; \
	VBLENDVPS Y8, Y10, Y9, Y9

// func geluFwdAVX2(y, x *float32, n int)
TEXT ·geluFwdAVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
loop16:
	CMPQ CX, $16
	JLT  tail8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y8
	PHI2
	VMULPS  Y0, Y1, Y1
	VMULPS  Y8, Y9, Y9
	VMOVUPS Y1, (DI)
	VMOVUPS Y9, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  loop16
tail8:
	CMPQ CX, $8
	JLT  done
	VMOVUPS (SI), Y0
	PHI
	VMULPS  Y0, Y4, Y0
	VMOVUPS Y0, (DI)
done:
	VZEROUPPER
	RET

// func geluBwdAVX2(dx, x, dy *float32, n int)
TEXT ·geluBwdAVX2(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
loop16:
	CMPQ CX, $16
	JLT  tail8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y8
	PHI2
	VMULPS  invSqrt2<>(SB), Y0, Y2
	VMULPS  invSqrt2<>(SB), Y8, Y10
	VMULPS  Y2, Y2, Y2
	VMULPS  Y10, Y10, Y10
	VXORPS  signMask<>(SB), Y2, Y2
	VXORPS  signMask<>(SB), Y10, Y10
	EXP2(Y2, Y3, Y4, Y5, Y6, Y10, Y11, Y12, Y13, Y14)
	VMULPS  invSqrt2Pi<>(SB), Y2, Y2
	VMULPS  invSqrt2Pi<>(SB), Y10, Y10
	VFMADD231PS Y2, Y0, Y1
	VFMADD231PS Y10, Y8, Y9
	VMULPS  (DX), Y1, Y1
	VMULPS  32(DX), Y9, Y9
	VMOVUPS Y1, (DI)
	VMOVUPS Y9, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  loop16
tail8:
	CMPQ CX, $8
	JLT  done
	VMOVUPS (SI), Y0
	PHI
	VMULPS  Y1, Y1, Y2
	VXORPS  signMask<>(SB), Y2, Y2
	EXP(Y2, Y6, Y7, Y8, Y9)
	VMULPS  invSqrt2Pi<>(SB), Y2, Y2
	VFMADD231PS Y2, Y0, Y4
	VMULPS  (DX), Y4, Y4
	VMOVUPS Y4, (DI)
done:
	VZEROUPPER
	RET
