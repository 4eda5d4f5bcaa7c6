//go:build !purego

#include "textflag.h"

// func attnGemmAVX2(c *float32, ldc int, a *float32, lda int, b *float32, ldb int, m, n, k int, acc bool)
//
// C (m×n, row stride ldc) (+)= A (m×k, stride lda) · B (k×n, stride ldb),
// m a multiple of 4 and n of 16 (checked by the caller):
//
//	for i0 := 0; i0 < m; i0 += 4 {
//		for j0 := 0; j0 < n; j0 += 16 {
//			acc := acc ? C[i0:i0+4][j0:j0+16] : 0       // Y0..Y7
//			for p := 0; p < k; p++ {
//				b0, b1 := B[p][j0:j0+8], B[p][j0+8:j0+16]  // Y8, Y9
//				for r := 0; r < 4; r++ { acc[r] += A[i0+r][p] * (b0, b1) }
//			}
//			C[i0:i0+4][j0:j0+16] = acc
//		}
//	}
TEXT ·attnGemmAVX2(SB), NOSPLIT, $0-73
	MOVQ c+0(FP), DI
	MOVQ ldc+8(FP), R8
	SHLQ $2, R8
	MOVQ a+16(FP), SI
	MOVQ lda+24(FP), R9
	SHLQ $2, R9
	MOVQ ldb+40(FP), R10
	SHLQ $2, R10
	MOVQ m+48(FP), R11
	MOVQ n+56(FP), R13
	SHLQ $2, R13

rows:
	CMPQ R11, $4
	JL   done
	XORQ R12, R12 // column byte offset

cols:
	CMPQ R12, R13
	JGE  nextrows

	// C tile rows: AX (row 0), (AX)(R8*1), BX (row 2), (BX)(R8*1).
	LEAQ (DI)(R12*1), AX
	LEAQ (AX)(R8*2), BX
	CMPB acc+72(FP), $0
	JE   zero
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS (AX)(R8*1), Y2
	VMOVUPS 32(AX)(R8*1), Y3
	VMOVUPS (BX), Y4
	VMOVUPS 32(BX), Y5
	VMOVUPS (BX)(R8*1), Y6
	VMOVUPS 32(BX)(R8*1), Y7
	JMP  kinit

zero:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

kinit:
	// A rows: AX (row 0), (AX)(R9*1), BX (row 2), (BX)(R9*1); B at DX.
	MOVQ SI, AX
	LEAQ (SI)(R9*2), BX
	MOVQ b+32(FP), DX
	ADDQ R12, DX
	MOVQ k+64(FP), CX
	TESTQ CX, CX
	JE   store

kloop:
	VMOVUPS      (DX), Y8
	VMOVUPS      32(DX), Y9
	VBROADCASTSS (AX), Y10
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	VBROADCASTSS (AX)(R9*1), Y11
	VFMADD231PS  Y8, Y11, Y2
	VFMADD231PS  Y9, Y11, Y3
	VBROADCASTSS (BX), Y12
	VFMADD231PS  Y8, Y12, Y4
	VFMADD231PS  Y9, Y12, Y5
	VBROADCASTSS (BX)(R9*1), Y13
	VFMADD231PS  Y8, Y13, Y6
	VFMADD231PS  Y9, Y13, Y7
	ADDQ         $4, AX
	ADDQ         $4, BX
	ADDQ         R10, DX
	DECQ         CX
	JNZ          kloop

store:
	LEAQ    (DI)(R12*1), AX
	LEAQ    (AX)(R8*2), BX
	VMOVUPS Y0, (AX)
	VMOVUPS Y1, 32(AX)
	VMOVUPS Y2, (AX)(R8*1)
	VMOVUPS Y3, 32(AX)(R8*1)
	VMOVUPS Y4, (BX)
	VMOVUPS Y5, 32(BX)
	VMOVUPS Y6, (BX)(R8*1)
	VMOVUPS Y7, 32(BX)(R8*1)
	ADDQ    $64, R12
	JMP     cols

nextrows:
	LEAQ (DI)(R8*4), DI
	LEAQ (SI)(R9*4), SI
	SUBQ $4, R11
	JMP  rows

done:
	VZEROUPPER
	RET
