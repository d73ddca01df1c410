#include "textflag.h"

// The box blur kernels (see blur_amd64.go): per output, the 2r+1 inner
// values summed in order, times ww, plus the sum of the two tail values
// times fw (VMULPS then VADDPS, never a fused multiply-add), as the Go
// loops in ops.go, so the results are the same bits. n is a positive
// multiple of 8.

// func hBoxRowAVX2(out, in *float32, n, r int, ww, fw float32)
TEXT ·hBoxRowAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ r+24(FP), R9
	VBROADCASTSS ww+32(FP), Y14
	VBROADCASTSS fw+36(FP), Y15
	SHLQ $1, R9   // 2r adds after in[x+1]
	LEAQ 8(R9*4), R10 // bytes from in[x] to in[x+2r+2]
	SHRQ $3, CX
	JZ   done
	CMPQ R9, $0
	JEQ  loop0
	CMPQ R9, $2
	JEQ  loop1
	CMPQ R9, $4
	JEQ  loop2
loop:
	VMOVUPS 4(SI), Y0 // in[x+1]
	LEAQ 8(SI), R11
	MOVQ R9, BX
	TESTQ BX, BX
	JZ   tails
inner:
	VADDPS (R11), Y0, Y0
	ADDQ $4, R11
	DECQ BX
	JNZ  inner
tails:
	VMOVUPS (SI), Y1
	VADDPS  (SI)(R10*1), Y1, Y1
	VMULPS  Y14, Y0, Y0
	VMULPS  Y15, Y1, Y1
	VADDPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
	JMP  done

// The same for r = 0, 1, 2 without the tap loop.
loop0:
	VMOVUPS (SI), Y1
	VADDPS  8(SI), Y1, Y1
	VMULPS  4(SI), Y14, Y0
	VMULPS  Y15, Y1, Y1
	VADDPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop0
	JMP  done
loop1:
	VMOVUPS 4(SI), Y0
	VADDPS  8(SI), Y0, Y0
	VADDPS  12(SI), Y0, Y0
	VMOVUPS (SI), Y1
	VADDPS  16(SI), Y1, Y1
	VMULPS  Y14, Y0, Y0
	VMULPS  Y15, Y1, Y1
	VADDPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop1
	JMP  done
loop2:
	VMOVUPS 4(SI), Y0
	VADDPS  8(SI), Y0, Y0
	VADDPS  12(SI), Y0, Y0
	VADDPS  16(SI), Y0, Y0
	VADDPS  20(SI), Y0, Y0
	VMOVUPS (SI), Y1
	VADDPS  24(SI), Y1, Y1
	VMULPS  Y14, Y0, Y0
	VMULPS  Y15, Y1, Y1
	VADDPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop2
done:
	VZEROUPPER
	RET

// ROWPTR sets dst to the address of row clamp(k, 0, H−1) of in (R13
// holds 0, R9 H−1, R8 the row stride in bytes, SI in).
#define ROWPTR(k, dst) \
	MOVQ    k, dst; \
	CMPQ    dst, $0; \
	CMOVQLT R13, dst; \
	CMPQ    dst, R9; \
	CMOVQGT R9, dst; \
	IMULQ   R8, dst; \
	ADDQ    SI, dst

// func vBoxPassAVX2(out, in *float32, rows *uintptr, W, H, r, n int, ww, fw float32)
// One box pass down the columns 0…n−1 of the W×H plane in into out:
// out row y is (row y−r + … + row y+r)·ww + (row y−r−1 + row y+r+1)·fw,
// rows past the edges repeating the edge rows. For each y the
// addresses of rows y−r−1 … y+r+1 (clamped) go to rows[0 : 2r+3]
// (scratch, used within the call only), then the columns are done 32
// at a time, then 8.
TEXT ·vBoxPassAVX2(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ rows+16(FP), DX
	MOVQ W+24(FP), R8
	MOVQ H+32(FP), R9
	MOVQ r+40(FP), R10
	MOVQ n+48(FP), R11
	VBROADCASTSS ww+56(FP), Y14
	VBROADCASTSS fw+60(FP), Y15
	SHLQ $2, R8   // row stride in bytes
	DECQ R9       // last row
	SHLQ $1, R10  // 2r
	XORQ R13, R13 // 0
	XORQ R12, R12 // y
rowloop:
	XORQ BX, BX   // rows[BX] = row y − r − 1 + BX
setup:
	MOVQ R10, CX
	SHRQ $1, CX
	NEGQ CX
	ADDQ R12, CX
	DECQ CX
	ADDQ BX, CX
	ROWPTR(CX, CX)
	MOVQ CX, (DX)(BX*8)
	INCQ BX
	LEAQ -2(BX), CX
	CMPQ CX, R10
	JLE  setup
	XORQ AX, AX   // byte offset of the column
	MOVQ R11, R14 // columns left
loop32:
	CMPQ R14, $32
	JLT  loop8
	MOVQ 8(DX), CX // row y − r
	VMOVUPS (CX)(AX*1), Y0
	VMOVUPS 32(CX)(AX*1), Y1
	VMOVUPS 64(CX)(AX*1), Y2
	VMOVUPS 96(CX)(AX*1), Y3
	MOVQ $1, BX
inner32:
	CMPQ BX, R10
	JGT  tails32
	INCQ BX
	MOVQ (DX)(BX*8), CX // rows y − r + 1 … y + r
	VADDPS (CX)(AX*1), Y0, Y0
	VADDPS 32(CX)(AX*1), Y1, Y1
	VADDPS 64(CX)(AX*1), Y2, Y2
	VADDPS 96(CX)(AX*1), Y3, Y3
	JMP  inner32
tails32:
	MOVQ (DX), CX // row y − r − 1
	VMOVUPS (CX)(AX*1), Y4
	VMOVUPS 32(CX)(AX*1), Y5
	VMOVUPS 64(CX)(AX*1), Y6
	VMOVUPS 96(CX)(AX*1), Y7
	MOVQ 16(DX)(R10*8), CX // row y + r + 1
	VADDPS (CX)(AX*1), Y4, Y4
	VADDPS 32(CX)(AX*1), Y5, Y5
	VADDPS 64(CX)(AX*1), Y6, Y6
	VADDPS 96(CX)(AX*1), Y7, Y7
	VMULPS Y14, Y0, Y0
	VMULPS Y14, Y1, Y1
	VMULPS Y14, Y2, Y2
	VMULPS Y14, Y3, Y3
	VMULPS Y15, Y4, Y4
	VMULPS Y15, Y5, Y5
	VMULPS Y15, Y6, Y6
	VMULPS Y15, Y7, Y7
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	ADDQ $128, AX
	SUBQ $32, R14
	JMP  loop32
loop8:
	CMPQ R14, $8
	JLT  nextrow
	MOVQ 8(DX), CX
	VMOVUPS (CX)(AX*1), Y0
	MOVQ $1, BX
inner8:
	CMPQ BX, R10
	JGT  tails8
	INCQ BX
	MOVQ (DX)(BX*8), CX
	VADDPS (CX)(AX*1), Y0, Y0
	JMP  inner8
tails8:
	MOVQ (DX), CX
	VMOVUPS (CX)(AX*1), Y4
	MOVQ 16(DX)(R10*8), CX
	VADDPS (CX)(AX*1), Y4, Y4
	VMULPS Y14, Y0, Y0
	VMULPS Y15, Y4, Y4
	VADDPS Y4, Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	SUBQ $8, R14
	JMP  loop8
nextrow:
	ADDQ R8, DI
	INCQ R12
	CMPQ R12, R9
	JLE  rowloop
	VZEROUPPER
	RET
