// AVX-512 macros shared by the assembly of this package; they use the
// constant tables of vecmath_amd64.h, which must be included first.

// EXPZ2 is EXP2 of vecmath_amd64.h on zmm registers. The lanes EXP2 zeroes
// by AND with a compare mask are zeroed here by a mask register (K1, K2).
// MINPS/MAXPS return their second source where either is NaN, so the
// clamps keep EXP2's operand order (a NaN x stays NaN).
#define EXPZ2(X, T1, T2, T3, X_, T1_, T2_, T3_) \
	VBROADCASTSS expLo<>(SB), T1; \
	VBROADCASTSS expLo<>(SB), T1_; \
	VCMPPS  $5, T1, X, K1; \
	VCMPPS  $5, T1_, X_, K2; \
	VMAXPS  X, T1, X; \
	VMAXPS  X_, T1_, X_; \
	VBROADCASTSS expHi<>(SB), T1; \
	VBROADCASTSS expHi<>(SB), T1_; \
	VMINPS  X, T1, X; \
	VMINPS  X_, T1_, X_; \
	VMULPS.BCST log2e<>(SB), X, T1; \
	VMULPS.BCST log2e<>(SB), X_, T1_; \
	VRNDSCALEPS $0, T1, T1; \
	VRNDSCALEPS $0, T1_, T1_; \
	VFNMADD231PS.BCST ln2Hi<>(SB), T1, X; \
	VFNMADD231PS.BCST ln2Hi<>(SB), T1_, X_; \
	VFNMADD231PS.BCST ln2Lo<>(SB), T1, X; \
	VFNMADD231PS.BCST ln2Lo<>(SB), T1_, X_; \
	VBROADCASTSS expP0<>(SB), T2; \
	VBROADCASTSS expP0<>(SB), T2_; \
	VFMADD213PS.BCST expP1<>(SB), X, T2; \
	VFMADD213PS.BCST expP1<>(SB), X_, T2_; \
	VFMADD213PS.BCST expP2<>(SB), X, T2; \
	VFMADD213PS.BCST expP2<>(SB), X_, T2_; \
	VFMADD213PS.BCST expP3<>(SB), X, T2; \
	VFMADD213PS.BCST expP3<>(SB), X_, T2_; \
	VFMADD213PS.BCST expP4<>(SB), X, T2; \
	VFMADD213PS.BCST expP4<>(SB), X_, T2_; \
	VFMADD213PS.BCST expP5<>(SB), X, T2; \
	VFMADD213PS.BCST expP5<>(SB), X_, T2_; \
	VMULPS  X, X, T3; \
	VMULPS  X_, X_, T3_; \
	VFMADD213PS X, T3, T2; \
	VFMADD213PS X_, T3_, T2_; \
	VADDPS.BCST one<>(SB), T2, T2; \
	VADDPS.BCST one<>(SB), T2_, T2_; \
	VCVTPS2DQ T1, T1; \
	VCVTPS2DQ T1_, T1_; \
	VPSRAD  $1, T1, T3; \
	VPSRAD  $1, T1_, T3_; \
	VPSUBD  T3, T1, T1; \
	VPSUBD  T3_, T1_, T1_; \
	VPADDD.BCST bias127<>(SB), T3, T3; \
	VPADDD.BCST bias127<>(SB), T3_, T3_; \
	VPSLLD  $23, T3, T3; \
	VPSLLD  $23, T3_, T3_; \
	VPADDD.BCST bias127<>(SB), T1, T1; \
	VPADDD.BCST bias127<>(SB), T1_, T1_; \
	VPSLLD  $23, T1, T1; \
	VPSLLD  $23, T1_, T1_; \
	VMULPS  T3, T2, T2; \
	VMULPS  T3_, T2_, T2_; \
	VMULPS.Z T1, T2, K1, X; \
	VMULPS.Z T1_, T2_, K2, X_
