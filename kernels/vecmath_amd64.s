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

// func geluFwdAVX2(y, x *float32, n int)
TEXT ·geluFwdAVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (SI), Y0
	PHI
	VMULPS  Y0, Y4, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func geluBwdAVX2(dx, x, dy *float32, n int)
TEXT ·geluBwdAVX2(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (SI), Y0
	PHI
	VMULPS  Y1, Y1, Y2
	VXORPS  signMask<>(SB), Y2, Y2
	EXP(Y2, Y6, Y7, Y8, Y9)
	VMULPS  invSqrt2Pi<>(SB), Y2, Y2
	VFMADD231PS Y2, Y0, Y4
	VMULPS  (DX), Y4, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET
