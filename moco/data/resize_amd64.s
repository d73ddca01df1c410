#include "textflag.h"

// The resize kernels (see resize_amd64.go). Products are rounded before
// they are added (VMULPS then VADDPS, never a fused multiply-add), the
// sums in the order of the Go loops in ops.go, so the results are the
// same bits. n is a positive multiple of 8.

// VPSHUFB mask splitting 4 RGB pixels per 128-bit lane into R, G, B
// dwords: the low lane holds bytes 0…15 of a group (pixels 0…3 at
// bytes 0…11), the high lane bytes 8…23 (pixels 4…7 at bytes 4…15).
DATA rgbShuf<>+0x00(SB)/8, $0x0a07040109060300
DATA rgbShuf<>+0x08(SB)/8, $0x808080800b080502
DATA rgbShuf<>+0x10(SB)/8, $0x0e0b08050d0a0704
DATA rgbShuf<>+0x18(SB)/8, $0x808080800f0c0906
GLOBL rgbShuf<>(SB), RODATA|NOPTR, $32

// VPERMD indices putting R0-3 R4-7 G0-3 G4-7 B0-3 B4-7 in order.
DATA rgbPerm<>+0x00(SB)/8, $0x0000000400000000
DATA rgbPerm<>+0x08(SB)/8, $0x0000000500000001
DATA rgbPerm<>+0x10(SB)/8, $0x0000000600000002
DATA rgbPerm<>+0x18(SB)/8, $0x0000000700000003
GLOBL rgbPerm<>(SB), RODATA|NOPTR, $32

// 255.0 (VDIVPS is correctly rounded, as Go's float32(v)/255).
DATA f255<>+0x00(SB)/4, $0x437f0000
GLOBL f255<>(SB), RODATA|NOPTR, $4

// func grayRowAVX2(f *float32, src *uint8, n int)
TEXT ·grayRowAVX2(SB), NOSPLIT, $0-24
	MOVQ f+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS f255<>(SB), Y15
	SHRQ $3, CX
	JZ   done
loop:
	VPMOVZXBD (SI), Y0 // 8 bytes
	VCVTDQ2PS Y0, Y0
	VDIVPS    Y15, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ $8, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func rgbRowAVX2(f0, f1, f2 *float32, src *uint8, n int)
// Each group of 8 pixels (24 bytes) is loaded as bytes 0…15 and 8…23:
// no byte past the group is read.
TEXT ·rgbRowAVX2(SB), NOSPLIT, $0-40
	MOVQ f0+0(FP), DI
	MOVQ f1+8(FP), R8
	MOVQ f2+16(FP), R9
	MOVQ src+24(FP), SI
	MOVQ n+32(FP), CX
	VMOVDQU rgbShuf<>(SB), Y13
	VMOVDQU rgbPerm<>(SB), Y14
	VBROADCASTSS f255<>(SB), Y15
	SHRQ $3, CX
	JZ   done
loop:
	VMOVDQU     (SI), X0
	VINSERTI128 $1, 8(SI), Y0, Y0
	VPSHUFB     Y13, Y0, Y0       // lane dwords: R, G, B, 0
	VPERMD      Y0, Y14, Y0       // R0-7 | G0-7 | B0-7 | 0
	VPMOVZXBD   X0, Y1
	VPSRLDQ     $8, X0, X2
	VPMOVZXBD   X2, Y2
	VEXTRACTI128 $1, Y0, X3
	VPMOVZXBD   X3, Y3
	VCVTDQ2PS   Y1, Y1
	VCVTDQ2PS   Y2, Y2
	VCVTDQ2PS   Y3, Y3
	VDIVPS      Y15, Y1, Y1
	VDIVPS      Y15, Y2, Y2
	VDIVPS      Y15, Y3, Y3
	VMOVUPS     Y1, (DI)
	VMOVUPS     Y2, (R8)
	VMOVUPS     Y3, (R9)
	ADDQ $24, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func hResampleAVX2(out, in *float32, start *int32, wt *float32, n, taps, ldw int)
// 8 outputs at a time: gather in[start[x]+j] (the base moves by one
// float per tap), times the tap-major weights wt[j*ldw+x].
TEXT ·hResampleAVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ start+16(FP), DX
	MOVQ wt+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ taps+40(FP), R9
	MOVQ ldw+48(FP), R10
	SHLQ $2, R10 // bytes between taps in wt
	SHRQ $3, CX
	JZ   done
	DECQ R9      // taps after the first
loop:
	VMOVDQU    (DX), Y1 // start[x…x+7]
	VPCMPEQD   Y2, Y2, Y2
	VXORPS     Y3, Y3, Y3
	VGATHERDPS Y2, (SI)(Y1*4), Y3
	VMULPS     (R8), Y3, Y0 // acc = w0·p0
	MOVQ SI, R11
	MOVQ R8, R12
	MOVQ R9, BX
	TESTQ BX, BX
	JZ   store
tap:
	ADDQ $4, R11
	ADDQ R10, R12
	VPCMPEQD   Y2, Y2, Y2
	VXORPS     Y3, Y3, Y3
	VGATHERDPS Y2, (R11)(Y1*4), Y3
	VMULPS     (R12), Y3, Y3
	VADDPS     Y3, Y0, Y0 // acc += wj·pj
	DECQ BX
	JNZ  tap
store:
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func vResampleAVX2(out, rows, w *float32, taps, ld, n int)
// 32 columns at a time (then 8): acc = w0·row0, then acc += wj·rowj.
TEXT ·vResampleAVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ rows+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ taps+24(FP), R9
	MOVQ ld+32(FP), R10
	MOVQ n+40(FP), CX
	SHLQ $2, R10 // bytes between rows
	DECQ R9      // taps after the first
	VBROADCASTSS (DX), Y15
loop32:
	CMPQ CX, $32
	JLT  loop8
	VMULPS (SI), Y15, Y0
	VMULPS 32(SI), Y15, Y1
	VMULPS 64(SI), Y15, Y2
	VMULPS 96(SI), Y15, Y3
	MOVQ SI, R11
	MOVQ DX, R12
	MOVQ R9, BX
	TESTQ BX, BX
	JZ   store32
tap32:
	ADDQ R10, R11
	ADDQ $4, R12
	VBROADCASTSS (R12), Y14
	VMULPS (R11), Y14, Y4
	VMULPS 32(R11), Y14, Y5
	VMULPS 64(R11), Y14, Y6
	VMULPS 96(R11), Y14, Y7
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	DECQ BX
	JNZ  tap32
store32:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  loop32
loop8:
	CMPQ CX, $8
	JLT  done
	VMULPS (SI), Y15, Y0
	MOVQ SI, R11
	MOVQ DX, R12
	MOVQ R9, BX
	TESTQ BX, BX
	JZ   store8
tap8:
	ADDQ R10, R11
	ADDQ $4, R12
	VBROADCASTSS (R12), Y14
	VMULPS (R11), Y14, Y4
	VADDPS Y4, Y0, Y0
	DECQ BX
	JNZ  tap8
store8:
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8
done:
	VZEROUPPER
	RET

// Column pairs of a 4×4 transpose within each 128-bit lane: of rows
// r0…r3 (each lane of ri the window of one output), TLO puts columns
// 0 and 1 in c0, c1 and THI columns 2 and 3 (each lane of cj the j-th
// values of the 4 outputs' windows); t0, t1 are scratch.
#define TLO(r0, r1, r2, r3, t0, t1, c0, c1) \
	VUNPCKLPS r1, r0, t0; \
	VUNPCKLPS r3, r2, t1; \
	VSHUFPS   $0x44, t1, t0, c0; \
	VSHUFPS   $0xee, t1, t0, c1

#define THI(r0, r1, r2, r3, t0, t1, c0, c1) \
	VUNPCKHPS r1, r0, t0; \
	VUNPCKHPS r3, r2, t1; \
	VSHUFPS   $0x44, t1, t0, c0; \
	VSHUFPS   $0xee, t1, t0, c1

// WIN4 loads the first 4 values of the windows of outputs i (low lane)
// and i+4 (high lane) into r (x: r's low half); WIN8 also the next 4
// into r2.
#define WIN4(i, r, x) \
	MOVLQSX (4*i)(DX), R11; \
	MOVLQSX (16+4*i)(DX), R12; \
	VMOVUPS (SI)(R11*4), x; \
	VINSERTF128 $1, (SI)(R12*4), r, r

#define WIN8(i, r, x, r2, x2) \
	MOVLQSX (4*i)(DX), R11; \
	MOVLQSX (16+4*i)(DX), R12; \
	VMOVUPS (SI)(R11*4), x; \
	VINSERTF128 $1, (SI)(R12*4), r, r; \
	VMOVUPS 16(SI)(R11*4), x2; \
	VINSERTF128 $1, 16(SI)(R12*4), r2, r2

// ACC adds w·p (w at m) to the accumulator Y14: the product rounded,
// then the add.
#define ACC(m, p) \
	VMULPS m, p, Y15; \
	VADDPS Y15, Y14, Y14

// func hResampleWinAVX2(out, in *float32, start *int32, wt *float32, n, taps, ldw int)
// hResampleAVX2 for taps ≤ 8 without gathers: the windows
// in[start[x] : start[x]+4] (taps ≤ 4) or +8 of 8 outputs are loaded
// and transposed, giving per tap j the vector in[start[x]+j]; in must
// hold start[x]+4 (or +8) values. Only the columns of the taps used
// are formed.
TEXT ·hResampleWinAVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ start+16(FP), DX
	MOVQ wt+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ taps+40(FP), R9
	MOVQ ldw+48(FP), R10
	SHLQ $2, R10           // bytes between taps in wt
	LEAQ (R10)(R10*2), R13 // 3 taps
	SHRQ $3, CX
	JZ   done
	CMPQ R9, $4
	JGT  loop8
loop4:
	WIN4(0, Y0, X0)
	WIN4(1, Y1, X1)
	WIN4(2, Y2, X2)
	WIN4(3, Y3, X3)
	TLO(Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11)
	VMULPS (R8), Y10, Y14 // acc = w0·p0, then + wj·pj
	CMPQ R9, $2
	JLT  store4
	ACC((R8)(R10*1), Y11)
	CMPQ R9, $3
	JLT  store4
	THI(Y0, Y1, Y2, Y3, Y8, Y9, Y12, Y13)
	ACC((R8)(R10*2), Y12)
	CMPQ R9, $4
	JLT  store4
	ACC((R8)(R13*1), Y13)
store4:
	VMOVUPS Y14, (DI)
	ADDQ $32, DI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNZ  loop4
	JMP  done
loop8:
	WIN8(0, Y0, X0, Y4, X4)
	WIN8(1, Y1, X1, Y5, X5)
	WIN8(2, Y2, X2, Y6, X6)
	WIN8(3, Y3, X3, Y7, X7)
	TLO(Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11)
	THI(Y0, Y1, Y2, Y3, Y8, Y9, Y12, Y13)
	VMULPS (R8), Y10, Y14 // acc = w0·p0, then + wj·pj
	ACC((R8)(R10*1), Y11)
	ACC((R8)(R10*2), Y12)
	ACC((R8)(R13*1), Y13)
	LEAQ (R8)(R10*4), R14 // weights of tap 4
	TLO(Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11)
	ACC((R14), Y10)
	CMPQ R9, $6
	JLT  store8
	ACC((R14)(R10*1), Y11)
	CMPQ R9, $7
	JLT  store8
	THI(Y4, Y5, Y6, Y7, Y8, Y9, Y12, Y13)
	ACC((R14)(R10*2), Y12)
	CMPQ R9, $8
	JLT  store8
	ACC((R14)(R13*1), Y13)
store8:
	VMOVUPS Y14, (DI)
	ADDQ $32, DI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNZ  loop8
done:
	VZEROUPPER
	RET
