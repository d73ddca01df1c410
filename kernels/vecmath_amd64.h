// Constants and macros shared by the AVX2/FMA assembly of this package.
// Each constant is a float32 (or int32) bit pattern replicated over a ymm.

DATA one<>+0(SB)/4, $0x3f800000
DATA one<>+4(SB)/4, $0x3f800000
DATA one<>+8(SB)/4, $0x3f800000
DATA one<>+12(SB)/4, $0x3f800000
DATA one<>+16(SB)/4, $0x3f800000
DATA one<>+20(SB)/4, $0x3f800000
DATA one<>+24(SB)/4, $0x3f800000
DATA one<>+28(SB)/4, $0x3f800000
GLOBL one<>(SB), RODATA|NOPTR, $32

DATA half<>+0(SB)/4, $0x3f000000
DATA half<>+4(SB)/4, $0x3f000000
DATA half<>+8(SB)/4, $0x3f000000
DATA half<>+12(SB)/4, $0x3f000000
DATA half<>+16(SB)/4, $0x3f000000
DATA half<>+20(SB)/4, $0x3f000000
DATA half<>+24(SB)/4, $0x3f000000
DATA half<>+28(SB)/4, $0x3f000000
GLOBL half<>(SB), RODATA|NOPTR, $32

DATA absMask<>+0(SB)/4, $0x7fffffff
DATA absMask<>+4(SB)/4, $0x7fffffff
DATA absMask<>+8(SB)/4, $0x7fffffff
DATA absMask<>+12(SB)/4, $0x7fffffff
DATA absMask<>+16(SB)/4, $0x7fffffff
DATA absMask<>+20(SB)/4, $0x7fffffff
DATA absMask<>+24(SB)/4, $0x7fffffff
DATA absMask<>+28(SB)/4, $0x7fffffff
GLOBL absMask<>(SB), RODATA|NOPTR, $32

DATA signMask<>+0(SB)/4, $0x80000000
DATA signMask<>+4(SB)/4, $0x80000000
DATA signMask<>+8(SB)/4, $0x80000000
DATA signMask<>+12(SB)/4, $0x80000000
DATA signMask<>+16(SB)/4, $0x80000000
DATA signMask<>+20(SB)/4, $0x80000000
DATA signMask<>+24(SB)/4, $0x80000000
DATA signMask<>+28(SB)/4, $0x80000000
GLOBL signMask<>(SB), RODATA|NOPTR, $32

DATA negInf<>+0(SB)/4, $0xff800000
DATA negInf<>+4(SB)/4, $0xff800000
DATA negInf<>+8(SB)/4, $0xff800000
DATA negInf<>+12(SB)/4, $0xff800000
DATA negInf<>+16(SB)/4, $0xff800000
DATA negInf<>+20(SB)/4, $0xff800000
DATA negInf<>+24(SB)/4, $0xff800000
DATA negInf<>+28(SB)/4, $0xff800000
GLOBL negInf<>(SB), RODATA|NOPTR, $32

DATA expHi<>+0(SB)/4, $0x42b1999a
DATA expHi<>+4(SB)/4, $0x42b1999a
DATA expHi<>+8(SB)/4, $0x42b1999a
DATA expHi<>+12(SB)/4, $0x42b1999a
DATA expHi<>+16(SB)/4, $0x42b1999a
DATA expHi<>+20(SB)/4, $0x42b1999a
DATA expHi<>+24(SB)/4, $0x42b1999a
DATA expHi<>+28(SB)/4, $0x42b1999a
GLOBL expHi<>(SB), RODATA|NOPTR, $32

DATA expLo<>+0(SB)/4, $0xc2ae0000
DATA expLo<>+4(SB)/4, $0xc2ae0000
DATA expLo<>+8(SB)/4, $0xc2ae0000
DATA expLo<>+12(SB)/4, $0xc2ae0000
DATA expLo<>+16(SB)/4, $0xc2ae0000
DATA expLo<>+20(SB)/4, $0xc2ae0000
DATA expLo<>+24(SB)/4, $0xc2ae0000
DATA expLo<>+28(SB)/4, $0xc2ae0000
GLOBL expLo<>(SB), RODATA|NOPTR, $32

DATA log2e<>+0(SB)/4, $0x3fb8aa3b
DATA log2e<>+4(SB)/4, $0x3fb8aa3b
DATA log2e<>+8(SB)/4, $0x3fb8aa3b
DATA log2e<>+12(SB)/4, $0x3fb8aa3b
DATA log2e<>+16(SB)/4, $0x3fb8aa3b
DATA log2e<>+20(SB)/4, $0x3fb8aa3b
DATA log2e<>+24(SB)/4, $0x3fb8aa3b
DATA log2e<>+28(SB)/4, $0x3fb8aa3b
GLOBL log2e<>(SB), RODATA|NOPTR, $32

DATA ln2Hi<>+0(SB)/4, $0x3f318000
DATA ln2Hi<>+4(SB)/4, $0x3f318000
DATA ln2Hi<>+8(SB)/4, $0x3f318000
DATA ln2Hi<>+12(SB)/4, $0x3f318000
DATA ln2Hi<>+16(SB)/4, $0x3f318000
DATA ln2Hi<>+20(SB)/4, $0x3f318000
DATA ln2Hi<>+24(SB)/4, $0x3f318000
DATA ln2Hi<>+28(SB)/4, $0x3f318000
GLOBL ln2Hi<>(SB), RODATA|NOPTR, $32

DATA ln2Lo<>+0(SB)/4, $0xb95e8083
DATA ln2Lo<>+4(SB)/4, $0xb95e8083
DATA ln2Lo<>+8(SB)/4, $0xb95e8083
DATA ln2Lo<>+12(SB)/4, $0xb95e8083
DATA ln2Lo<>+16(SB)/4, $0xb95e8083
DATA ln2Lo<>+20(SB)/4, $0xb95e8083
DATA ln2Lo<>+24(SB)/4, $0xb95e8083
DATA ln2Lo<>+28(SB)/4, $0xb95e8083
GLOBL ln2Lo<>(SB), RODATA|NOPTR, $32

DATA expP0<>+0(SB)/4, $0x39506967
DATA expP0<>+4(SB)/4, $0x39506967
DATA expP0<>+8(SB)/4, $0x39506967
DATA expP0<>+12(SB)/4, $0x39506967
DATA expP0<>+16(SB)/4, $0x39506967
DATA expP0<>+20(SB)/4, $0x39506967
DATA expP0<>+24(SB)/4, $0x39506967
DATA expP0<>+28(SB)/4, $0x39506967
GLOBL expP0<>(SB), RODATA|NOPTR, $32

DATA expP1<>+0(SB)/4, $0x3ab743ce
DATA expP1<>+4(SB)/4, $0x3ab743ce
DATA expP1<>+8(SB)/4, $0x3ab743ce
DATA expP1<>+12(SB)/4, $0x3ab743ce
DATA expP1<>+16(SB)/4, $0x3ab743ce
DATA expP1<>+20(SB)/4, $0x3ab743ce
DATA expP1<>+24(SB)/4, $0x3ab743ce
DATA expP1<>+28(SB)/4, $0x3ab743ce
GLOBL expP1<>(SB), RODATA|NOPTR, $32

DATA expP2<>+0(SB)/4, $0x3c088908
DATA expP2<>+4(SB)/4, $0x3c088908
DATA expP2<>+8(SB)/4, $0x3c088908
DATA expP2<>+12(SB)/4, $0x3c088908
DATA expP2<>+16(SB)/4, $0x3c088908
DATA expP2<>+20(SB)/4, $0x3c088908
DATA expP2<>+24(SB)/4, $0x3c088908
DATA expP2<>+28(SB)/4, $0x3c088908
GLOBL expP2<>(SB), RODATA|NOPTR, $32

DATA expP3<>+0(SB)/4, $0x3d2aa9c1
DATA expP3<>+4(SB)/4, $0x3d2aa9c1
DATA expP3<>+8(SB)/4, $0x3d2aa9c1
DATA expP3<>+12(SB)/4, $0x3d2aa9c1
DATA expP3<>+16(SB)/4, $0x3d2aa9c1
DATA expP3<>+20(SB)/4, $0x3d2aa9c1
DATA expP3<>+24(SB)/4, $0x3d2aa9c1
DATA expP3<>+28(SB)/4, $0x3d2aa9c1
GLOBL expP3<>(SB), RODATA|NOPTR, $32

DATA expP4<>+0(SB)/4, $0x3e2aaaaa
DATA expP4<>+4(SB)/4, $0x3e2aaaaa
DATA expP4<>+8(SB)/4, $0x3e2aaaaa
DATA expP4<>+12(SB)/4, $0x3e2aaaaa
DATA expP4<>+16(SB)/4, $0x3e2aaaaa
DATA expP4<>+20(SB)/4, $0x3e2aaaaa
DATA expP4<>+24(SB)/4, $0x3e2aaaaa
DATA expP4<>+28(SB)/4, $0x3e2aaaaa
GLOBL expP4<>(SB), RODATA|NOPTR, $32

DATA expP5<>+0(SB)/4, $0x3f000000
DATA expP5<>+4(SB)/4, $0x3f000000
DATA expP5<>+8(SB)/4, $0x3f000000
DATA expP5<>+12(SB)/4, $0x3f000000
DATA expP5<>+16(SB)/4, $0x3f000000
DATA expP5<>+20(SB)/4, $0x3f000000
DATA expP5<>+24(SB)/4, $0x3f000000
DATA expP5<>+28(SB)/4, $0x3f000000
GLOBL expP5<>(SB), RODATA|NOPTR, $32

DATA bias127<>+0(SB)/4, $0x0000007f
DATA bias127<>+4(SB)/4, $0x0000007f
DATA bias127<>+8(SB)/4, $0x0000007f
DATA bias127<>+12(SB)/4, $0x0000007f
DATA bias127<>+16(SB)/4, $0x0000007f
DATA bias127<>+20(SB)/4, $0x0000007f
DATA bias127<>+24(SB)/4, $0x0000007f
DATA bias127<>+28(SB)/4, $0x0000007f
GLOBL bias127<>(SB), RODATA|NOPTR, $32

DATA erfClamp<>+0(SB)/4, $0x41280000
DATA erfClamp<>+4(SB)/4, $0x41280000
DATA erfClamp<>+8(SB)/4, $0x41280000
DATA erfClamp<>+12(SB)/4, $0x41280000
DATA erfClamp<>+16(SB)/4, $0x41280000
DATA erfClamp<>+20(SB)/4, $0x41280000
DATA erfClamp<>+24(SB)/4, $0x41280000
DATA erfClamp<>+28(SB)/4, $0x41280000
GLOBL erfClamp<>(SB), RODATA|NOPTR, $32

DATA erfc0<>+0(SB)/4, $0xbfa1fc4e
DATA erfc0<>+4(SB)/4, $0xbfa1fc4e
DATA erfc0<>+8(SB)/4, $0xbfa1fc4e
DATA erfc0<>+12(SB)/4, $0xbfa1fc4e
DATA erfc0<>+16(SB)/4, $0xbfa1fc4e
DATA erfc0<>+20(SB)/4, $0xbfa1fc4e
DATA erfc0<>+24(SB)/4, $0xbfa1fc4e
DATA erfc0<>+28(SB)/4, $0xbfa1fc4e
GLOBL erfc0<>(SB), RODATA|NOPTR, $32

DATA erfc1<>+0(SB)/4, $0x3f8000c7
DATA erfc1<>+4(SB)/4, $0x3f8000c7
DATA erfc1<>+8(SB)/4, $0x3f8000c7
DATA erfc1<>+12(SB)/4, $0x3f8000c7
DATA erfc1<>+16(SB)/4, $0x3f8000c7
DATA erfc1<>+20(SB)/4, $0x3f8000c7
DATA erfc1<>+24(SB)/4, $0x3f8000c7
DATA erfc1<>+28(SB)/4, $0x3f8000c7
GLOBL erfc1<>(SB), RODATA|NOPTR, $32

DATA erfc2<>+0(SB)/4, $0x3ebf88fb
DATA erfc2<>+4(SB)/4, $0x3ebf88fb
DATA erfc2<>+8(SB)/4, $0x3ebf88fb
DATA erfc2<>+12(SB)/4, $0x3ebf88fb
DATA erfc2<>+16(SB)/4, $0x3ebf88fb
DATA erfc2<>+20(SB)/4, $0x3ebf88fb
DATA erfc2<>+24(SB)/4, $0x3ebf88fb
DATA erfc2<>+28(SB)/4, $0x3ebf88fb
GLOBL erfc2<>(SB), RODATA|NOPTR, $32

DATA erfc3<>+0(SB)/4, $0x3dc636c9
DATA erfc3<>+4(SB)/4, $0x3dc636c9
DATA erfc3<>+8(SB)/4, $0x3dc636c9
DATA erfc3<>+12(SB)/4, $0x3dc636c9
DATA erfc3<>+16(SB)/4, $0x3dc636c9
DATA erfc3<>+20(SB)/4, $0x3dc636c9
DATA erfc3<>+24(SB)/4, $0x3dc636c9
DATA erfc3<>+28(SB)/4, $0x3dc636c9
GLOBL erfc3<>(SB), RODATA|NOPTR, $32

DATA erfc4<>+0(SB)/4, $0xbe3ec24c
DATA erfc4<>+4(SB)/4, $0xbe3ec24c
DATA erfc4<>+8(SB)/4, $0xbe3ec24c
DATA erfc4<>+12(SB)/4, $0xbe3ec24c
DATA erfc4<>+16(SB)/4, $0xbe3ec24c
DATA erfc4<>+20(SB)/4, $0xbe3ec24c
DATA erfc4<>+24(SB)/4, $0xbe3ec24c
DATA erfc4<>+28(SB)/4, $0xbe3ec24c
GLOBL erfc4<>(SB), RODATA|NOPTR, $32

DATA erfc5<>+0(SB)/4, $0x3e8ec7cc
DATA erfc5<>+4(SB)/4, $0x3e8ec7cc
DATA erfc5<>+8(SB)/4, $0x3e8ec7cc
DATA erfc5<>+12(SB)/4, $0x3e8ec7cc
DATA erfc5<>+16(SB)/4, $0x3e8ec7cc
DATA erfc5<>+20(SB)/4, $0x3e8ec7cc
DATA erfc5<>+24(SB)/4, $0x3e8ec7cc
DATA erfc5<>+28(SB)/4, $0x3e8ec7cc
GLOBL erfc5<>(SB), RODATA|NOPTR, $32

DATA erfc6<>+0(SB)/4, $0xbf914e5d
DATA erfc6<>+4(SB)/4, $0xbf914e5d
DATA erfc6<>+8(SB)/4, $0xbf914e5d
DATA erfc6<>+12(SB)/4, $0xbf914e5d
DATA erfc6<>+16(SB)/4, $0xbf914e5d
DATA erfc6<>+20(SB)/4, $0xbf914e5d
DATA erfc6<>+24(SB)/4, $0xbf914e5d
DATA erfc6<>+28(SB)/4, $0xbf914e5d
GLOBL erfc6<>(SB), RODATA|NOPTR, $32

DATA erfc7<>+0(SB)/4, $0x3fbe87b0
DATA erfc7<>+4(SB)/4, $0x3fbe87b0
DATA erfc7<>+8(SB)/4, $0x3fbe87b0
DATA erfc7<>+12(SB)/4, $0x3fbe87b0
DATA erfc7<>+16(SB)/4, $0x3fbe87b0
DATA erfc7<>+20(SB)/4, $0x3fbe87b0
DATA erfc7<>+24(SB)/4, $0x3fbe87b0
DATA erfc7<>+28(SB)/4, $0x3fbe87b0
GLOBL erfc7<>(SB), RODATA|NOPTR, $32

DATA erfc8<>+0(SB)/4, $0xbf527892
DATA erfc8<>+4(SB)/4, $0xbf527892
DATA erfc8<>+8(SB)/4, $0xbf527892
DATA erfc8<>+12(SB)/4, $0xbf527892
DATA erfc8<>+16(SB)/4, $0xbf527892
DATA erfc8<>+20(SB)/4, $0xbf527892
DATA erfc8<>+24(SB)/4, $0xbf527892
DATA erfc8<>+28(SB)/4, $0xbf527892
GLOBL erfc8<>(SB), RODATA|NOPTR, $32

DATA erfc9<>+0(SB)/4, $0x3e2ef945
DATA erfc9<>+4(SB)/4, $0x3e2ef945
DATA erfc9<>+8(SB)/4, $0x3e2ef945
DATA erfc9<>+12(SB)/4, $0x3e2ef945
DATA erfc9<>+16(SB)/4, $0x3e2ef945
DATA erfc9<>+20(SB)/4, $0x3e2ef945
DATA erfc9<>+24(SB)/4, $0x3e2ef945
DATA erfc9<>+28(SB)/4, $0x3e2ef945
GLOBL erfc9<>(SB), RODATA|NOPTR, $32

DATA invSqrt2<>+0(SB)/4, $0x3f3504f3
DATA invSqrt2<>+4(SB)/4, $0x3f3504f3
DATA invSqrt2<>+8(SB)/4, $0x3f3504f3
DATA invSqrt2<>+12(SB)/4, $0x3f3504f3
DATA invSqrt2<>+16(SB)/4, $0x3f3504f3
DATA invSqrt2<>+20(SB)/4, $0x3f3504f3
DATA invSqrt2<>+24(SB)/4, $0x3f3504f3
DATA invSqrt2<>+28(SB)/4, $0x3f3504f3
GLOBL invSqrt2<>(SB), RODATA|NOPTR, $32

DATA invSqrt2Pi<>+0(SB)/4, $0x3ecc422a
DATA invSqrt2Pi<>+4(SB)/4, $0x3ecc422a
DATA invSqrt2Pi<>+8(SB)/4, $0x3ecc422a
DATA invSqrt2Pi<>+12(SB)/4, $0x3ecc422a
DATA invSqrt2Pi<>+16(SB)/4, $0x3ecc422a
DATA invSqrt2Pi<>+20(SB)/4, $0x3ecc422a
DATA invSqrt2Pi<>+24(SB)/4, $0x3ecc422a
DATA invSqrt2Pi<>+28(SB)/4, $0x3ecc422a
GLOBL invSqrt2Pi<>(SB), RODATA|NOPTR, $32

DATA erfT0<>+0(SB)/4, $0x3f906ebb
DATA erfT0<>+4(SB)/4, $0x3f906ebb
DATA erfT0<>+8(SB)/4, $0x3f906ebb
DATA erfT0<>+12(SB)/4, $0x3f906ebb
DATA erfT0<>+16(SB)/4, $0x3f906ebb
DATA erfT0<>+20(SB)/4, $0x3f906ebb
DATA erfT0<>+24(SB)/4, $0x3f906ebb
DATA erfT0<>+28(SB)/4, $0x3f906ebb
GLOBL erfT0<>(SB), RODATA|NOPTR, $32

DATA erfT1<>+0(SB)/4, $0xbec093a3
DATA erfT1<>+4(SB)/4, $0xbec093a3
DATA erfT1<>+8(SB)/4, $0xbec093a3
DATA erfT1<>+12(SB)/4, $0xbec093a3
DATA erfT1<>+16(SB)/4, $0xbec093a3
DATA erfT1<>+20(SB)/4, $0xbec093a3
DATA erfT1<>+24(SB)/4, $0xbec093a3
DATA erfT1<>+28(SB)/4, $0xbec093a3
GLOBL erfT1<>(SB), RODATA|NOPTR, $32

DATA erfT2<>+0(SB)/4, $0x3de71791
DATA erfT2<>+4(SB)/4, $0x3de71791
DATA erfT2<>+8(SB)/4, $0x3de71791
DATA erfT2<>+12(SB)/4, $0x3de71791
DATA erfT2<>+16(SB)/4, $0x3de71791
DATA erfT2<>+20(SB)/4, $0x3de71791
DATA erfT2<>+24(SB)/4, $0x3de71791
DATA erfT2<>+28(SB)/4, $0x3de71791
GLOBL erfT2<>(SB), RODATA|NOPTR, $32

DATA erfT3<>+0(SB)/4, $0xbcdc1672
DATA erfT3<>+4(SB)/4, $0xbcdc1672
DATA erfT3<>+8(SB)/4, $0xbcdc1672
DATA erfT3<>+12(SB)/4, $0xbcdc1672
DATA erfT3<>+16(SB)/4, $0xbcdc1672
DATA erfT3<>+20(SB)/4, $0xbcdc1672
DATA erfT3<>+24(SB)/4, $0xbcdc1672
DATA erfT3<>+28(SB)/4, $0xbcdc1672
GLOBL erfT3<>(SB), RODATA|NOPTR, $32

DATA erfT4<>+0(SB)/4, $0x3bab2de7
DATA erfT4<>+4(SB)/4, $0x3bab2de7
DATA erfT4<>+8(SB)/4, $0x3bab2de7
DATA erfT4<>+12(SB)/4, $0x3bab2de7
DATA erfT4<>+16(SB)/4, $0x3bab2de7
DATA erfT4<>+20(SB)/4, $0x3bab2de7
DATA erfT4<>+24(SB)/4, $0x3bab2de7
DATA erfT4<>+28(SB)/4, $0x3bab2de7
GLOBL erfT4<>(SB), RODATA|NOPTR, $32

DATA erfT5<>+0(SB)/4, $0xba6016da
DATA erfT5<>+4(SB)/4, $0xba6016da
DATA erfT5<>+8(SB)/4, $0xba6016da
DATA erfT5<>+12(SB)/4, $0xba6016da
DATA erfT5<>+16(SB)/4, $0xba6016da
DATA erfT5<>+20(SB)/4, $0xba6016da
DATA erfT5<>+24(SB)/4, $0xba6016da
DATA erfT5<>+28(SB)/4, $0xba6016da
GLOBL erfT5<>(SB), RODATA|NOPTR, $32

DATA erfT6<>+0(SB)/4, $0x38fcd193
DATA erfT6<>+4(SB)/4, $0x38fcd193
DATA erfT6<>+8(SB)/4, $0x38fcd193
DATA erfT6<>+12(SB)/4, $0x38fcd193
DATA erfT6<>+16(SB)/4, $0x38fcd193
DATA erfT6<>+20(SB)/4, $0x38fcd193
DATA erfT6<>+24(SB)/4, $0x38fcd193
DATA erfT6<>+28(SB)/4, $0x38fcd193
GLOBL erfT6<>(SB), RODATA|NOPTR, $32

// EXP sets X = exp(X) for 8 float32 lanes; T1..T4 are clobbered.
// n = round(x·log2e), r = x − n·ln2 (Cody–Waite split), exp(r) by the
// Cephes expf polynomial, 2ⁿ applied as 2^(n>>1)·2^(n−n>>1). x is clamped
// to [−87, 88.8] so no step ever makes a subnormal (which would cost a
// microcode assist per lane): x > 88.72 and +Inf give +Inf, and lanes with
// x < −87 (results below ~1.6e-38, −Inf included) are flushed to 0 by mask.
// NaN stays NaN.
#define EXP(X, T1, T2, T3, T4) \
	VMOVUPS expLo<>(SB), T1; \
	VCMPPS  $5, T1, X, T4; \
	VMAXPS  X, T1, X; \
	VMOVUPS expHi<>(SB), T1; \
	VMINPS  X, T1, X; \
	VMULPS  log2e<>(SB), X, T1; \
	VROUNDPS $0, T1, T1; \
	VFNMADD231PS ln2Hi<>(SB), T1, X; \
	VFNMADD231PS ln2Lo<>(SB), T1, X; \
	VMOVUPS expP0<>(SB), T2; \
	VFMADD213PS expP1<>(SB), X, T2; \
	VFMADD213PS expP2<>(SB), X, T2; \
	VFMADD213PS expP3<>(SB), X, T2; \
	VFMADD213PS expP4<>(SB), X, T2; \
	VFMADD213PS expP5<>(SB), X, T2; \
	VMULPS  X, X, T3; \
	VFMADD213PS X, T3, T2; \
	VADDPS  one<>(SB), T2, T2; \
	VCVTPS2DQ T1, T1; \
	VPSRAD  $1, T1, T3; \
	VPSUBD  T3, T1, T1; \
	VPADDD  bias127<>(SB), T3, T3; \
	VPSLLD  $23, T3, T3; \
	VPADDD  bias127<>(SB), T1, T1; \
	VPSLLD  $23, T1, T1; \
	VMULPS  T3, T2, T2; \
	VMULPS  T1, T2, X; \
	VANDPS  T4, X, X

// ERFC sets EC = erfc(A) for A >= 0 (already clamped, NaN allowed), using
// erfc(a) = t·exp(−a² + P(t)), t = 1/(1 + a/2), with the 10-term Chebyshev
// fit P of Numerical Recipes (fractional error < 1.2e-7 for all a >= 0).
// T1 holds t afterwards; T2..T5 are clobbered.
#define ERFC(A, EC, T1, T2, T3, T4, T5) \
	VMOVUPS one<>(SB), T1; \
	VFMADD231PS half<>(SB), A, T1; \
	VMOVUPS one<>(SB), T2; \
	VDIVPS  T1, T2, T1; \
	VMOVUPS erfc9<>(SB), EC; \
	VFMADD213PS erfc8<>(SB), T1, EC; \
	VFMADD213PS erfc7<>(SB), T1, EC; \
	VFMADD213PS erfc6<>(SB), T1, EC; \
	VFMADD213PS erfc5<>(SB), T1, EC; \
	VFMADD213PS erfc4<>(SB), T1, EC; \
	VFMADD213PS erfc3<>(SB), T1, EC; \
	VFMADD213PS erfc2<>(SB), T1, EC; \
	VFMADD213PS erfc1<>(SB), T1, EC; \
	VFMADD213PS erfc0<>(SB), T1, EC; \
	VFNMADD231PS A, A, EC; \
	EXP(EC, T2, T3, T4, T5); \
	VMULPS  T1, EC, EC

// EXP2 and ERFC2 are EXP and ERFC on two independent sets of registers
// (the second set's names end in _), instruction by instruction
// interleaved: one chain alone is latency-bound.
#define EXP2(X, T1, T2, T3, T4, X_, T1_, T2_, T3_, T4_) \
	VMOVUPS expLo<>(SB), T1; \
	VMOVUPS expLo<>(SB), T1_; \
	VCMPPS  $5, T1, X, T4; \
	VCMPPS  $5, T1_, X_, T4_; \
	VMAXPS  X, T1, X; \
	VMAXPS  X_, T1_, X_; \
	VMOVUPS expHi<>(SB), T1; \
	VMOVUPS expHi<>(SB), T1_; \
	VMINPS  X, T1, X; \
	VMINPS  X_, T1_, X_; \
	VMULPS  log2e<>(SB), X, T1; \
	VMULPS  log2e<>(SB), X_, T1_; \
	VROUNDPS $0, T1, T1; \
	VROUNDPS $0, T1_, T1_; \
	VFNMADD231PS ln2Hi<>(SB), T1, X; \
	VFNMADD231PS ln2Hi<>(SB), T1_, X_; \
	VFNMADD231PS ln2Lo<>(SB), T1, X; \
	VFNMADD231PS ln2Lo<>(SB), T1_, X_; \
	VMOVUPS expP0<>(SB), T2; \
	VMOVUPS expP0<>(SB), T2_; \
	VFMADD213PS expP1<>(SB), X, T2; \
	VFMADD213PS expP1<>(SB), X_, T2_; \
	VFMADD213PS expP2<>(SB), X, T2; \
	VFMADD213PS expP2<>(SB), X_, T2_; \
	VFMADD213PS expP3<>(SB), X, T2; \
	VFMADD213PS expP3<>(SB), X_, T2_; \
	VFMADD213PS expP4<>(SB), X, T2; \
	VFMADD213PS expP4<>(SB), X_, T2_; \
	VFMADD213PS expP5<>(SB), X, T2; \
	VFMADD213PS expP5<>(SB), X_, T2_; \
	VMULPS  X, X, T3; \
	VMULPS  X_, X_, T3_; \
	VFMADD213PS X, T3, T2; \
	VFMADD213PS X_, T3_, T2_; \
	VADDPS  one<>(SB), T2, T2; \
	VADDPS  one<>(SB), T2_, T2_; \
	VCVTPS2DQ T1, T1; \
	VCVTPS2DQ T1_, T1_; \
	VPSRAD  $1, T1, T3; \
	VPSRAD  $1, T1_, T3_; \
	VPSUBD  T3, T1, T1; \
	VPSUBD  T3_, T1_, T1_; \
	VPADDD  bias127<>(SB), T3, T3; \
	VPADDD  bias127<>(SB), T3_, T3_; \
	VPSLLD  $23, T3, T3; \
	VPSLLD  $23, T3_, T3_; \
	VPADDD  bias127<>(SB), T1, T1; \
	VPADDD  bias127<>(SB), T1_, T1_; \
	VPSLLD  $23, T1, T1; \
	VPSLLD  $23, T1_, T1_; \
	VMULPS  T3, T2, T2; \
	VMULPS  T3_, T2_, T2_; \
	VMULPS  T1, T2, X; \
	VMULPS  T1_, T2_, X_; \
	VANDPS  T4, X, X; \
	VANDPS  T4_, X_, X_

#define ERFC2(A, EC, T1, T2, T3, T4, T5, A_, EC_, T1_, T2_, T3_, T4_, T5_) \
	VMOVUPS one<>(SB), T1; \
	VMOVUPS one<>(SB), T1_; \
	VFMADD231PS half<>(SB), A, T1; \
	VFMADD231PS half<>(SB), A_, T1_; \
	VMOVUPS one<>(SB), T2; \
	VMOVUPS one<>(SB), T2_; \
	VDIVPS  T1, T2, T1; \
	VDIVPS  T1_, T2_, T1_; \
	VMOVUPS erfc9<>(SB), EC; \
	VMOVUPS erfc9<>(SB), EC_; \
	VFMADD213PS erfc8<>(SB), T1, EC; \
	VFMADD213PS erfc8<>(SB), T1_, EC_; \
	VFMADD213PS erfc7<>(SB), T1, EC; \
	VFMADD213PS erfc7<>(SB), T1_, EC_; \
	VFMADD213PS erfc6<>(SB), T1, EC; \
	VFMADD213PS erfc6<>(SB), T1_, EC_; \
	VFMADD213PS erfc5<>(SB), T1, EC; \
	VFMADD213PS erfc5<>(SB), T1_, EC_; \
	VFMADD213PS erfc4<>(SB), T1, EC; \
	VFMADD213PS erfc4<>(SB), T1_, EC_; \
	VFMADD213PS erfc3<>(SB), T1, EC; \
	VFMADD213PS erfc3<>(SB), T1_, EC_; \
	VFMADD213PS erfc2<>(SB), T1, EC; \
	VFMADD213PS erfc2<>(SB), T1_, EC_; \
	VFMADD213PS erfc1<>(SB), T1, EC; \
	VFMADD213PS erfc1<>(SB), T1_, EC_; \
	VFMADD213PS erfc0<>(SB), T1, EC; \
	VFMADD213PS erfc0<>(SB), T1_, EC_; \
	VFNMADD231PS A, A, EC; \
	VFNMADD231PS A_, A_, EC_; \
	EXP2(EC, T2, T3, T4, T5, EC_, T2_, T3_, T4_, T5_); \
	VMULPS  T1, EC, EC; \
	VMULPS  T1_, EC_, EC_

// HSUM reduces the 8 lanes of Y to a scalar in the low lane of X (the xmm
// half of Y); T is an xmm temporary.
#define HSUM(Y, X, T) \
	VEXTRACTF128 $1, Y, T; \
	VADDPS  T, X, X; \
	VMOVHLPS X, X, T; \
	VADDPS  T, X, X; \
	VMOVSHDUP X, T; \
	VADDSS  T, X, X
