#include "textflag.h"
#include "vecmath_amd64.h"
#include "vecmath_avx512_amd64.h"

// AVX-512 forms of geluFwdAVX2 and geluBwdAVX2: the same operations in the
// same order on 16 lanes instead of 8, so every lane's result is bit for bit
// the AVX2 one (TestGeluAVX512SameBits). Constants are the AVX2 tables of
// vecmath_amd64.h read as broadcasts. Each loop takes 32 elements: two
// independent chains of 16, interleaved (one chain alone waits on latency).
// n is a multiple of 32; the Go side does tails. Needs AVX512F and AVX512DQ
// (VPMOVD2M).

// ERFCZ2 is ERFC2 of vecmath_amd64.h on zmm registers.
#define ERFCZ2(A, EC, T1, T2, T3, T4, A_, EC_, T1_, T2_, T3_, T4_) \
	VBROADCASTSS one<>(SB), T1; \
	VBROADCASTSS one<>(SB), T1_; \
	VFMADD231PS.BCST half<>(SB), A, T1; \
	VFMADD231PS.BCST half<>(SB), A_, T1_; \
	VBROADCASTSS one<>(SB), T2; \
	VBROADCASTSS one<>(SB), T2_; \
	VDIVPS  T1, T2, T1; \
	VDIVPS  T1_, T2_, T1_; \
	VBROADCASTSS erfc9<>(SB), EC; \
	VBROADCASTSS erfc9<>(SB), EC_; \
	VFMADD213PS.BCST erfc8<>(SB), T1, EC; \
	VFMADD213PS.BCST erfc8<>(SB), T1_, EC_; \
	VFMADD213PS.BCST erfc7<>(SB), T1, EC; \
	VFMADD213PS.BCST erfc7<>(SB), T1_, EC_; \
	VFMADD213PS.BCST erfc6<>(SB), T1, EC; \
	VFMADD213PS.BCST erfc6<>(SB), T1_, EC_; \
	VFMADD213PS.BCST erfc5<>(SB), T1, EC; \
	VFMADD213PS.BCST erfc5<>(SB), T1_, EC_; \
	VFMADD213PS.BCST erfc4<>(SB), T1, EC; \
	VFMADD213PS.BCST erfc4<>(SB), T1_, EC_; \
	VFMADD213PS.BCST erfc3<>(SB), T1, EC; \
	VFMADD213PS.BCST erfc3<>(SB), T1_, EC_; \
	VFMADD213PS.BCST erfc2<>(SB), T1, EC; \
	VFMADD213PS.BCST erfc2<>(SB), T1_, EC_; \
	VFMADD213PS.BCST erfc1<>(SB), T1, EC; \
	VFMADD213PS.BCST erfc1<>(SB), T1_, EC_; \
	VFMADD213PS.BCST erfc0<>(SB), T1, EC; \
	VFMADD213PS.BCST erfc0<>(SB), T1_, EC_; \
	VFNMADD231PS A, A, EC; \
	VFNMADD231PS A_, A_, EC_; \
	EXPZ2(EC, T2, T3, T4, EC_, T2_, T3_, T4_); \
	VMULPS  T1, EC, EC; \
	VMULPS  T1_, EC_, EC_

// PHIZ2 is PHI2 of vecmath_amd64.s: Φ(x) for x in Z0 and Z8 left in Z1
// and Z9; clobbers Z2–Z6, Z10–Z14, K1–K4.
#define PHIZ2 \
	VMULPS.BCST invSqrt2<>(SB), Z0, Z1; \
	VMULPS.BCST invSqrt2<>(SB), Z8, Z9; \
	VPANDD.BCST absMask<>(SB), Z1, Z1; \
	VPANDD.BCST absMask<>(SB), Z9, Z9; \
	VMINPS.BCST erfClamp<>(SB), Z1, Z1; \
	VMINPS.BCST erfClamp<>(SB), Z9, Z9; \
	ERFCZ2(Z1, Z2, Z3, Z4, Z5, Z6, Z9, Z10, Z11, Z12, Z13, Z14); \
	VMULPS.BCST half<>(SB), Z2, Z2; \
	VMULPS.BCST half<>(SB), Z10, Z10; \
	VBROADCASTSS one<>(SB), Z1; \
	VBROADCASTSS one<>(SB), Z9; \
	VSUBPS  Z2, Z1, Z1; \
	VSUBPS  Z10, Z9, Z9; \
	VPMOVD2M Z0, K3; \
	VPMOVD2M Z8, K4; \
	VMOVAPS Z2, K3, Z1; \
	VMOVAPS Z10, K4, Z9

// func geluFwdAVX512(y, x *float32, n int)
TEXT ·geluFwdAVX512(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $5, CX
	JZ   done
loop:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z8
	PHIZ2
	VMULPS  Z0, Z1, Z1
	VMULPS  Z8, Z9, Z9
	VMOVUPS Z1, (DI)
	VMOVUPS Z9, 64(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func geluBwdAVX512(dx, x, dy *float32, n int)
TEXT ·geluBwdAVX512(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $5, CX
	JZ   done
loop:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z8
	PHIZ2
	VMULPS.BCST invSqrt2<>(SB), Z0, Z2
	VMULPS.BCST invSqrt2<>(SB), Z8, Z10
	VMULPS  Z2, Z2, Z2
	VMULPS  Z10, Z10, Z10
	VPXORD.BCST signMask<>(SB), Z2, Z2
	VPXORD.BCST signMask<>(SB), Z10, Z10
	EXPZ2(Z2, Z3, Z4, Z5, Z10, Z11, Z12, Z13)
	VMULPS.BCST invSqrt2Pi<>(SB), Z2, Z2
	VMULPS.BCST invSqrt2Pi<>(SB), Z10, Z10
	VFMADD231PS Z2, Z0, Z1
	VFMADD231PS Z10, Z8, Z9
	VMULPS  (DX), Z1, Z1
	VMULPS  64(DX), Z9, Z9
	VMOVUPS Z1, (DI)
	VMOVUPS Z9, 64(DI)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET
