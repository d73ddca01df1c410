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

// func vBoxRowAVX2(out, in *float32, off *int, n, r int, ww, fw float32)
// Rows: in[off[0]:] … in[off[2r]:] inner, in[off[2r+1]:] and
// in[off[2r+2]:] the tails. 32 columns at a time, then 8.
TEXT ·vBoxRowAVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ off+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ r+32(FP), R9
	VBROADCASTSS ww+40(FP), Y14
	VBROADCASTSS fw+44(FP), Y15
	SHLQ $1, R9            // 2r adds after row 0
	MOVQ (DX), R14
	LEAQ (SI)(R14*4), R14  // row 0
	MOVQ 8(DX)(R9*8), R12
	LEAQ (SI)(R12*4), R12  // lower tail row
	MOVQ 16(DX)(R9*8), R13
	LEAQ (SI)(R13*4), R13  // upper tail row
	XORQ AX, AX            // byte offset of the column
loop32:
	CMPQ CX, $32
	JLT  loop8
	VMOVUPS (R14)(AX*1), Y0
	VMOVUPS 32(R14)(AX*1), Y1
	VMOVUPS 64(R14)(AX*1), Y2
	VMOVUPS 96(R14)(AX*1), Y3
	LEAQ 8(DX), R11
	MOVQ R9, BX
	TESTQ BX, BX
	JZ   tails32
inner32:
	MOVQ (R11), R8
	LEAQ (SI)(R8*4), R8
	ADDQ AX, R8
	VADDPS (R8), Y0, Y0
	VADDPS 32(R8), Y1, Y1
	VADDPS 64(R8), Y2, Y2
	VADDPS 96(R8), Y3, Y3
	ADDQ $8, R11
	DECQ BX
	JNZ  inner32
tails32:
	VMOVUPS (R12)(AX*1), Y4
	VMOVUPS 32(R12)(AX*1), Y5
	VMOVUPS 64(R12)(AX*1), Y6
	VMOVUPS 96(R12)(AX*1), Y7
	VADDPS (R13)(AX*1), Y4, Y4
	VADDPS 32(R13)(AX*1), Y5, Y5
	VADDPS 64(R13)(AX*1), Y6, Y6
	VADDPS 96(R13)(AX*1), Y7, Y7
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
	SUBQ $32, CX
	JMP  loop32
loop8:
	CMPQ CX, $8
	JLT  done
	VMOVUPS (R14)(AX*1), Y0
	LEAQ 8(DX), R11
	MOVQ R9, BX
	TESTQ BX, BX
	JZ   tails8
inner8:
	MOVQ (R11), R8
	LEAQ (SI)(R8*4), R8
	VADDPS (R8)(AX*1), Y0, Y0
	ADDQ $8, R11
	DECQ BX
	JNZ  inner8
tails8:
	VMOVUPS (R12)(AX*1), Y4
	VADDPS (R13)(AX*1), Y4, Y4
	VMULPS Y14, Y0, Y0
	VMULPS Y15, Y4, Y4
	VADDPS Y4, Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	SUBQ $8, CX
	JMP  loop8
done:
	VZEROUPPER
	RET
