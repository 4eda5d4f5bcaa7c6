//go:build !purego

#include "textflag.h"

// func attnGemmNEON(c *float32, ldc int, a *float32, lda int, b *float32, ldb int, m, n, k int, acc bool)
//
// C (m×n, row stride ldc) (+)= A (m×k, stride lda) · B (k×n, stride ldb),
// m a multiple of 4 and n of 16 (checked by the caller); 4×16 tiles held in
// V0..V15, B rows in V16..V19, broadcast A elements in V20..V23:
//
//	for i0 := 0; i0 < m; i0 += 4 {
//		for j0 := 0; j0 < n; j0 += 16 {
//			acc := acc ? C[i0:i0+4][j0:j0+16] : 0
//			for p := 0; p < k; p++ {
//				for r := 0; r < 4; r++ { acc[r] += A[i0+r][p] * B[p][j0:j0+16] }
//			}
//			C[i0:i0+4][j0:j0+16] = acc
//		}
//	}
TEXT ·attnGemmNEON(SB), NOSPLIT, $0-73
	MOVD  c+0(FP), R0
	MOVD  ldc+8(FP), R1
	LSL   $2, R1, R1
	MOVD  a+16(FP), R2
	MOVD  lda+24(FP), R3
	LSL   $2, R3, R3
	MOVD  b+32(FP), R4
	MOVD  ldb+40(FP), R5
	LSL   $2, R5, R5
	MOVD  m+48(FP), R6
	MOVD  n+56(FP), R7
	LSL   $2, R7, R7
	MOVD  k+64(FP), R8
	MOVBU acc+72(FP), R9

rows:
	CMP $4, R6
	BLT done
	MOVD ZR, R11

cols:
	CMP R7, R11
	BGE nextrows
	ADD R0, R11, R12
	ADD R1, R12, R13
	ADD R1, R13, R14
	ADD R1, R14, R15
	CBZ R9, zero
	VLD1 (R12), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1 (R13), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1 (R14), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1 (R15), [V12.S4, V13.S4, V14.S4, V15.S4]
	B    kinit

zero:
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16

kinit:
	MOVD R2, R19
	ADD  R3, R19, R20
	ADD  R3, R20, R21
	ADD  R3, R21, R22
	ADD  R4, R11, R23
	MOVD R8, R24
	CBZ  R24, store

kloop:
	VLD1    (R23), [V16.S4, V17.S4, V18.S4, V19.S4]
	ADD     R5, R23, R23
	VLD1R.P 4(R19), [V20.S4]
	VLD1R.P 4(R20), [V21.S4]
	VLD1R.P 4(R21), [V22.S4]
	VLD1R.P 4(R22), [V23.S4]
	VFMLA   V16.S4, V20.S4, V0.S4
	VFMLA   V17.S4, V20.S4, V1.S4
	VFMLA   V18.S4, V20.S4, V2.S4
	VFMLA   V19.S4, V20.S4, V3.S4
	VFMLA   V16.S4, V21.S4, V4.S4
	VFMLA   V17.S4, V21.S4, V5.S4
	VFMLA   V18.S4, V21.S4, V6.S4
	VFMLA   V19.S4, V21.S4, V7.S4
	VFMLA   V16.S4, V22.S4, V8.S4
	VFMLA   V17.S4, V22.S4, V9.S4
	VFMLA   V18.S4, V22.S4, V10.S4
	VFMLA   V19.S4, V22.S4, V11.S4
	VFMLA   V16.S4, V23.S4, V12.S4
	VFMLA   V17.S4, V23.S4, V13.S4
	VFMLA   V18.S4, V23.S4, V14.S4
	VFMLA   V19.S4, V23.S4, V15.S4
	SUBS    $1, R24, R24
	BNE     kloop

store:
	VST1 [V0.S4, V1.S4, V2.S4, V3.S4], (R12)
	VST1 [V4.S4, V5.S4, V6.S4, V7.S4], (R13)
	VST1 [V8.S4, V9.S4, V10.S4, V11.S4], (R14)
	VST1 [V12.S4, V13.S4, V14.S4, V15.S4], (R15)
	ADD  $64, R11, R11
	B    cols

nextrows:
	ADD R1<<2, R0, R0
	ADD R3<<2, R2, R2
	SUB $4, R6, R6
	B   rows

done:
	RET
