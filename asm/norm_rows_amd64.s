//go:build !purego

#include "textflag.h"
#include "vec_amd64.h"

// Layer norm over many rows in one call, AVX2+FMA, for a row length n
// that is a multiple of 32: per row the loop bodies of sumAVX2,
// sumSqDevAVX2 and normApplyAVX2 (forward) or normBwdSumsAVX2 and
// normBwdDxAVX2 (backward), the same macros (vec_amd64.h), and the scalar steps of
// LayerNormRow and LayerNormRowBackward in between, so the results are
// bit-identical to calling those per row. A narrow row (the main job's
// are 64 floats) otherwise spends more on the calls than on the
// arithmetic.

DATA normOneD<>+0(SB)/8, $1.0
GLOBL normOneD<>(SB), RODATA|NOPTR, $8

// func layerNormRowsAVX2(y, x, gamma, beta, mean, rstd *float32, rows, n int, eps float32)
TEXT ·layerNormRowsAVX2(SB), NOSPLIT, $0-68
	MOVQ     y+0(FP), DI
	MOVQ     x+8(FP), SI
	MOVQ     mean+32(FP), R11
	MOVQ     rstd+40(FP), R12
	MOVQ     rows+48(FP), R13
	MOVQ     n+56(FP), R9
	VCVTSI2SSQ R9, X10, X10     // n as float32
	VCVTSS2SD  eps+64(FP), X11, X11
	MOVQ     R9, R14
	SHLQ     $2, R14             // row bytes

lnrow:
	TESTQ R13, R13
	JE    lndone

	// sum (sumAVX2's 32-element loop).
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   SI, AX
	MOVQ   R9, CX

lnsum:
	SUM32(AX)
	ADDQ   $128, AX
	SUBQ   $32, CX
	JNE    lnsum
	SUM4
	HSUM(Y0, X0, X1)
	VDIVSS X10, X0, X0           // mean = sum / n
	VMOVSS X0, (R11)
	VBROADCASTSS X0, Y15

	// Σ (x - mean)² (sumSqDevAVX2's 32-element loop).
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   SI, AX
	MOVQ   R9, CX

lnss:
	SSD32(AX)
	ADDQ        $128, AX
	SUBQ        $32, CX
	JNE         lnss
	SUM4
	HSUM(Y0, X0, X1)
	VDIVSS      X10, X0, X0      // v = ss / n

	// rstd = float32(1 / sqrt(float64(v) + float64(eps))).
	VCVTSS2SD X0, X0, X0
	VADDSD    X11, X0, X0
	VSQRTSD   X0, X0, X0
	VMOVSD    normOneD<>(SB), X1
	VDIVSD    X0, X1, X1
	VCVTSD2SS X1, X1, X1
	VMOVSS    X1, (R12)
	VBROADCASTSS X1, Y14

	// y = (x - mean)·rstd·gamma + beta (normApplyAVX2's loop).
	MOVQ gamma+16(FP), DX
	MOVQ beta+24(FP), R8
	MOVQ SI, AX
	MOVQ R9, CX

lnapply:
	NORMAPPLY8(AX, DX, R8, DI)
	ADDQ        $32, AX
	ADDQ        $32, DX
	ADDQ        $32, R8
	ADDQ        $32, DI
	SUBQ        $8, CX
	JNE         lnapply

	ADDQ R14, SI
	ADDQ $4, R11
	ADDQ $4, R12
	DECQ R13
	JMP  lnrow

lndone:
	VZEROUPPER
	RET

// func layerNormRowsBwdAVX2(dx, dgamma, dbeta, dy, x, gamma, mean, rstd *float32, rows, n int)
//
// Per row, LayerNormRowBackward's dx row added to dx (as Axpy(1, row, dx)
// adds it), its dgamma and dbeta terms added to dgamma and dbeta.
TEXT ·layerNormRowsBwdAVX2(SB), NOSPLIT, $0-80
	MOVQ     dx+0(FP), DI
	MOVQ     dy+24(FP), DX
	MOVQ     x+32(FP), SI
	MOVQ     mean+48(FP), R11
	MOVQ     rstd+56(FP), R12
	MOVQ     rows+64(FP), R13
	MOVQ     n+72(FP), R14
	VCVTSI2SSQ R14, X10, X10
	VMOVSS   constOne<>(SB), X11
	VDIVSS   X10, X11, X11       // inv = 1 / float32(n)

lbrow:
	TESTQ R13, R13
	JE    lbdone
	VBROADCASTSS (R11), Y15
	VBROADCASTSS (R12), Y14
	VXORPS       Y12, Y12, Y12
	VXORPS       Y13, Y13, Y13
	MOVQ         dgamma+8(FP), R9
	MOVQ         dbeta+16(FP), R10
	MOVQ         gamma+40(FP), R8
	MOVQ         SI, AX
	MOVQ         DX, BX
	MOVQ         R14, CX

	// normBwdSumsAVX2's loop.
lbsums:
	NORMBWDSUMS8(AX, BX, R8, R9, R10)
	ADDQ        $32, AX
	ADDQ        $32, BX
	ADDQ        $32, R8
	ADDQ        $32, R9
	ADDQ        $32, R10
	SUBQ        $8, CX
	JNE         lbsums
	HSUM(Y12, X12, X1)
	HSUM(Y13, X13, X1)
	VMULSS       X11, X12, X12   // a = sg·inv
	VMULSS       X11, X13, X13   // b = sgx·inv
	VBROADCASTSS X13, Y2
	VBROADCASTSS X12, Y13        // a in Y13, b in Y12 (NORMBWDDX8)
	VMOVAPS      Y2, Y12

	// normBwdDxAVX2's loop, then the addition.
	MOVQ gamma+40(FP), R8
	MOVQ SI, AX
	MOVQ DX, BX
	MOVQ R14, CX

lbdx:
	NORMBWDDX8(AX, BX, R8)
	VADDPS       (DI), Y1, Y1
	VMOVUPS      Y1, (DI)
	ADDQ    $32, AX
	ADDQ    $32, BX
	ADDQ    $32, R8
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNE     lbdx

	MOVQ R14, CX
	SHLQ $2, CX
	ADDQ CX, SI
	ADDQ CX, DX
	ADDQ $4, R11
	ADDQ $4, R12
	DECQ R13
	JMP  lbrow

lbdone:
	VZEROUPPER
	RET
