//go:build !purego

#include "textflag.h"

// Small-M SGEMM kernels for arm64 NEON (see smallKernel in sgemm_small.go
// and the wrappers in sgemm_small_arm64.go). A is row-major (m×k, row
// stride lda), C is m×n (row stride ldc); stride arguments are in
// elements. The Go assembler has no mnemonics for the vector add and
// pairwise add, so they are WORD-encoded with the instruction in a comment.

// FADD4S: V(d).4S = V(n).4S + V(m).4S.
#define FADD4S(d, n, m) WORD $(0x4E20D400 | ((m)<<16) | ((n)<<5) | (d))

// FADDP4S: V(d).4S = pairwise sums [n0+n1, n2+n3, m0+m1, m2+m3].
#define FADDP4S(d, n, m) WORD $(0x6E20D400 | ((m)<<16) | ((n)<<5) | (d))

// ---------------------------------------------------------------------------
// Dot form, B stored n×k, k4 = k&^3 (the wrapper adds the last k mod 4
// products):
//
//	for j := 0; j < n; j += 4 {          // a group of 4 rows of B
//		for i := 0; i < m; i += 2 {  // 2 rows of A (1 for the last of odd m)
//			acc[i'][j'] = Σ_{p<k4} A(i+i', p)·B(j+j', p)   (4 lanes each)
//			C(i+i', j:j+4) = hsum(acc[i'][·]) (+ C if accum)
//		}
//	}
//
// V0..V3 accumulate A row 0 against B rows 0..3, V4..V7 A row 1; V16/V17
// hold A, V18..V21 B.

#define A0 R0     // A row i, at element p
#define A1 R1     // A row i+1
#define B0 R2     // B rows j..j+3, at element p
#define B1 R3
#define B2 R4
#define B3 R5
#define KK R6     // k steps left
#define CP R7     // C(i, j)
#define BG R8     // B row j, element 0
#define AROW R9   // A row i, element 0
#define IR R10    // rows of A left
#define JR R11    // groups of B left
#define CCOL R12  // C(0, j)
#define LDA R13   // A row stride, bytes
#define LDB R14   // B row stride, bytes
#define LDC R15   // C row stride, bytes
#define K4 R16    // k / 4
#define ACC R17   // accum flag

#define ZERO(v) VEOR v.B16, v.B16, v.B16

// func sgemmSmallTNEON(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)
TEXT ·sgemmSmallTNEON(SB), NOSPLIT, $0-80
	MOVD lda+8(FP), LDA
	LSL  $2, LDA
	MOVD ldb+24(FP), LDB
	LSL  $2, LDB
	MOVD ldc+40(FP), LDC
	LSL  $2, LDC
	MOVD b+16(FP), BG
	MOVD c+32(FP), CCOL
	MOVD k+64(FP), K4
	LSR  $2, K4
	MOVD accum+72(FP), ACC
	MOVD n+56(FP), JR
	LSR  $2, JR
	CBZ  JR, tdone

tgroup:
	MOVD a+0(FP), AROW
	MOVD CCOL, CP
	MOVD m+48(FP), IR
	CMP  $2, IR
	BLT  trow1

trow2:
	// Two rows of A against the group.
	ZERO(V0)
	ZERO(V1)
	ZERO(V2)
	ZERO(V3)
	ZERO(V4)
	ZERO(V5)
	ZERO(V6)
	ZERO(V7)
	MOVD AROW, A0
	ADD  LDA, AROW, A1
	MOVD BG, B0
	ADD  LDB, B0, B1
	ADD  LDB, B1, B2
	ADD  LDB, B2, B3
	MOVD K4, KK
	CBZ  KK, t2sum

t2k:
	VLD1.P 16(A0), [V16.S4]
	VLD1.P 16(A1), [V17.S4]
	VLD1.P 16(B0), [V18.S4]
	VLD1.P 16(B1), [V19.S4]
	VLD1.P 16(B2), [V20.S4]
	VLD1.P 16(B3), [V21.S4]
	VFMLA  V18.S4, V16.S4, V0.S4
	VFMLA  V19.S4, V16.S4, V1.S4
	VFMLA  V20.S4, V16.S4, V2.S4
	VFMLA  V21.S4, V16.S4, V3.S4
	VFMLA  V18.S4, V17.S4, V4.S4
	VFMLA  V19.S4, V17.S4, V5.S4
	VFMLA  V20.S4, V17.S4, V6.S4
	VFMLA  V21.S4, V17.S4, V7.S4
	SUBS   $1, KK, KK
	BNE    t2k

t2sum:
	// V0 = [Σacc[0][0..3]], V4 = [Σacc[1][0..3]].
	FADDP4S(0, 0, 1)
	FADDP4S(2, 2, 3)
	FADDP4S(0, 0, 2)
	FADDP4S(4, 4, 5)
	FADDP4S(6, 6, 7)
	FADDP4S(4, 4, 6)
	ADD  LDC, CP, R19
	CBZ  ACC, t2store
	VLD1 (CP), [V16.S4]
	VLD1 (R19), [V17.S4]
	FADD4S(0, 0, 16)
	FADD4S(4, 4, 17)

t2store:
	VST1 [V0.S4], (CP)
	VST1 [V4.S4], (R19)
	ADD  LDC, R19, CP
	ADD  LDA, AROW, AROW
	ADD  LDA, AROW, AROW
	SUB  $2, IR, IR
	CMP  $2, IR
	BGE  trow2

trow1:
	// The last row of A when m is odd.
	CBZ  IR, tnext
	ZERO(V0)
	ZERO(V1)
	ZERO(V2)
	ZERO(V3)
	MOVD AROW, A0
	MOVD BG, B0
	ADD  LDB, B0, B1
	ADD  LDB, B1, B2
	ADD  LDB, B2, B3
	MOVD K4, KK
	CBZ  KK, t1sum

t1k:
	VLD1.P 16(A0), [V16.S4]
	VLD1.P 16(B0), [V18.S4]
	VLD1.P 16(B1), [V19.S4]
	VLD1.P 16(B2), [V20.S4]
	VLD1.P 16(B3), [V21.S4]
	VFMLA  V18.S4, V16.S4, V0.S4
	VFMLA  V19.S4, V16.S4, V1.S4
	VFMLA  V20.S4, V16.S4, V2.S4
	VFMLA  V21.S4, V16.S4, V3.S4
	SUBS   $1, KK, KK
	BNE    t1k

t1sum:
	FADDP4S(0, 0, 1)
	FADDP4S(2, 2, 3)
	FADDP4S(0, 0, 2)
	CBZ  ACC, t1store
	VLD1 (CP), [V16.S4]
	FADD4S(0, 0, 16)

t1store:
	VST1 [V0.S4], (CP)

tnext:
	// Next group: 4 rows of B down, 4 columns of C right.
	ADD  LDB<<2, BG, BG
	ADD  $16, CCOL, CCOL
	SUBS $1, JR, JR
	BNE  tgroup

tdone:
	RET

#undef A0
#undef A1
#undef B0
#undef B1
#undef B2
#undef B3
#undef BG
#undef K4

// ---------------------------------------------------------------------------
// Axpy form, B stored k×n:
//
//	for j := 0; j < n; j += 32 {         // a strip of 32 columns of B
//		for i := 0; i < m; i += 3 {  // 3 rows of A (2 or 1 for the last)
//			acc[i'][:] = Σ_p A(i+i', p)·B(p, j:j+32)     (8 q-registers per row)
//			C(i+i', j:j+32) = acc[i'] (+ C if accum)
//		}
//	}
//
// Each strip is read from memory once; while it is used, the same rows of
// the next strip are prefetched into L2. V0..V7, V8..V15 and V16..V23
// accumulate rows 0, 1 and 2; V24..V26 hold broadcasts of A, V27..V30 B.

#define A0 R0     // A row i, at element p
#define A1 R1     // A row i+1
#define A2 R2     // A row i+2
#define BP R3     // B row p of the strip
#define BS R4     // B row 0 of the strip
#define LDB64 R5  // B row stride minus 64, bytes

// LOAD_ADD8(v0, R): V(v0)..V(v0+7) += the 32 floats at (R); R is left
// unchanged, V24..V27 and R19 are scratch.
#define LOAD_ADD8(v0, R) \
	VLD1 (R), [V24.S4, V25.S4, V26.S4, V27.S4]; \
	FADD4S(v0, v0, 24); \
	FADD4S(v0+1, v0+1, 25); \
	FADD4S(v0+2, v0+2, 26); \
	FADD4S(v0+3, v0+3, 27); \
	ADD $64, R, R19; \
	VLD1 (R19), [V24.S4, V25.S4, V26.S4, V27.S4]; \
	FADD4S(v0+4, v0+4, 24); \
	FADD4S(v0+5, v0+5, 25); \
	FADD4S(v0+6, v0+6, 26); \
	FADD4S(v0+7, v0+7, 27)

// func sgemmSmallNNEON(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)
TEXT ·sgemmSmallNNEON(SB), NOSPLIT, $0-80
	MOVD lda+8(FP), LDA
	LSL  $2, LDA
	MOVD ldb+24(FP), LDB
	LSL  $2, LDB
	SUB  $64, LDB, LDB64
	MOVD ldc+40(FP), LDC
	LSL  $2, LDC
	MOVD b+16(FP), BS
	MOVD c+32(FP), CCOL
	MOVD accum+72(FP), ACC
	MOVD n+56(FP), JR
	LSR  $5, JR
	CBZ  JR, ndone

nstrip:
	MOVD a+0(FP), AROW
	MOVD CCOL, CP
	MOVD m+48(FP), IR
	CMP  $3, IR
	BLT  nrow2

nrow3:
	ZERO(V0)
	ZERO(V1)
	ZERO(V2)
	ZERO(V3)
	ZERO(V4)
	ZERO(V5)
	ZERO(V6)
	ZERO(V7)
	ZERO(V8)
	ZERO(V9)
	ZERO(V10)
	ZERO(V11)
	ZERO(V12)
	ZERO(V13)
	ZERO(V14)
	ZERO(V15)
	ZERO(V16)
	ZERO(V17)
	ZERO(V18)
	ZERO(V19)
	ZERO(V20)
	ZERO(V21)
	ZERO(V22)
	ZERO(V23)
	MOVD AROW, A0
	ADD  LDA, A0, A1
	ADD  LDA, A1, A2
	MOVD BS, BP
	MOVD k+64(FP), KK

n3k:
	VLD1R.P 4(A0), [V24.S4]
	VLD1R.P 4(A1), [V25.S4]
	VLD1R.P 4(A2), [V26.S4]
	PRFM    128(BP), PLDL2KEEP
	PRFM    192(BP), PLDL2KEEP
	VLD1.P  64(BP), [V27.S4, V28.S4, V29.S4, V30.S4]
	VFMLA   V27.S4, V24.S4, V0.S4
	VFMLA   V28.S4, V24.S4, V1.S4
	VFMLA   V29.S4, V24.S4, V2.S4
	VFMLA   V30.S4, V24.S4, V3.S4
	VFMLA   V27.S4, V25.S4, V8.S4
	VFMLA   V28.S4, V25.S4, V9.S4
	VFMLA   V29.S4, V25.S4, V10.S4
	VFMLA   V30.S4, V25.S4, V11.S4
	VFMLA   V27.S4, V26.S4, V16.S4
	VFMLA   V28.S4, V26.S4, V17.S4
	VFMLA   V29.S4, V26.S4, V18.S4
	VFMLA   V30.S4, V26.S4, V19.S4
	VLD1.P  (BP)(LDB64), [V27.S4, V28.S4, V29.S4, V30.S4]
	VFMLA   V27.S4, V24.S4, V4.S4
	VFMLA   V28.S4, V24.S4, V5.S4
	VFMLA   V29.S4, V24.S4, V6.S4
	VFMLA   V30.S4, V24.S4, V7.S4
	VFMLA   V27.S4, V25.S4, V12.S4
	VFMLA   V28.S4, V25.S4, V13.S4
	VFMLA   V29.S4, V25.S4, V14.S4
	VFMLA   V30.S4, V25.S4, V15.S4
	VFMLA   V27.S4, V26.S4, V20.S4
	VFMLA   V28.S4, V26.S4, V21.S4
	VFMLA   V29.S4, V26.S4, V22.S4
	VFMLA   V30.S4, V26.S4, V23.S4
	SUBS    $1, KK, KK
	BNE     n3k
	CBZ     ACC, n3store
	LOAD_ADD8(0, CP)
	ADD     LDC, CP, R20
	LOAD_ADD8(8, R20)
	ADD     LDC, R20, R20
	LOAD_ADD8(16, R20)

n3store:
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(CP)
	VST1   [V4.S4, V5.S4, V6.S4, V7.S4], (CP)
	ADD    LDC, CP, CP
	SUB    $64, CP, CP
	VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(CP)
	VST1   [V12.S4, V13.S4, V14.S4, V15.S4], (CP)
	ADD    LDC, CP, CP
	SUB    $64, CP, CP
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(CP)
	VST1   [V20.S4, V21.S4, V22.S4, V23.S4], (CP)
	ADD    LDC, CP, CP
	SUB    $64, CP, CP
	ADD    LDA, AROW, AROW
	ADD    LDA, AROW, AROW
	ADD    LDA, AROW, AROW
	SUB    $3, IR, IR
	CMP    $3, IR
	BGE    nrow3

nrow2:
	CMP  $2, IR
	BLT  nrow1
	ZERO(V0)
	ZERO(V1)
	ZERO(V2)
	ZERO(V3)
	ZERO(V4)
	ZERO(V5)
	ZERO(V6)
	ZERO(V7)
	ZERO(V8)
	ZERO(V9)
	ZERO(V10)
	ZERO(V11)
	ZERO(V12)
	ZERO(V13)
	ZERO(V14)
	ZERO(V15)
	MOVD AROW, A0
	ADD  LDA, A0, A1
	MOVD BS, BP
	MOVD k+64(FP), KK

n2k:
	VLD1R.P 4(A0), [V24.S4]
	VLD1R.P 4(A1), [V25.S4]
	PRFM    128(BP), PLDL2KEEP
	PRFM    192(BP), PLDL2KEEP
	VLD1.P  64(BP), [V27.S4, V28.S4, V29.S4, V30.S4]
	VFMLA   V27.S4, V24.S4, V0.S4
	VFMLA   V28.S4, V24.S4, V1.S4
	VFMLA   V29.S4, V24.S4, V2.S4
	VFMLA   V30.S4, V24.S4, V3.S4
	VFMLA   V27.S4, V25.S4, V8.S4
	VFMLA   V28.S4, V25.S4, V9.S4
	VFMLA   V29.S4, V25.S4, V10.S4
	VFMLA   V30.S4, V25.S4, V11.S4
	VLD1.P  (BP)(LDB64), [V27.S4, V28.S4, V29.S4, V30.S4]
	VFMLA   V27.S4, V24.S4, V4.S4
	VFMLA   V28.S4, V24.S4, V5.S4
	VFMLA   V29.S4, V24.S4, V6.S4
	VFMLA   V30.S4, V24.S4, V7.S4
	VFMLA   V27.S4, V25.S4, V12.S4
	VFMLA   V28.S4, V25.S4, V13.S4
	VFMLA   V29.S4, V25.S4, V14.S4
	VFMLA   V30.S4, V25.S4, V15.S4
	SUBS    $1, KK, KK
	BNE     n2k
	CBZ     ACC, n2store
	LOAD_ADD8(0, CP)
	ADD     LDC, CP, R20
	LOAD_ADD8(8, R20)

n2store:
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(CP)
	VST1   [V4.S4, V5.S4, V6.S4, V7.S4], (CP)
	ADD    LDC, CP, CP
	SUB    $64, CP, CP
	VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(CP)
	VST1   [V12.S4, V13.S4, V14.S4, V15.S4], (CP)
	B      nnext

nrow1:
	CBZ  IR, nnext
	ZERO(V0)
	ZERO(V1)
	ZERO(V2)
	ZERO(V3)
	ZERO(V4)
	ZERO(V5)
	ZERO(V6)
	ZERO(V7)
	MOVD AROW, A0
	MOVD BS, BP
	MOVD k+64(FP), KK

n1k:
	VLD1R.P 4(A0), [V24.S4]
	PRFM    128(BP), PLDL2KEEP
	PRFM    192(BP), PLDL2KEEP
	VLD1.P  64(BP), [V27.S4, V28.S4, V29.S4, V30.S4]
	VFMLA   V27.S4, V24.S4, V0.S4
	VFMLA   V28.S4, V24.S4, V1.S4
	VFMLA   V29.S4, V24.S4, V2.S4
	VFMLA   V30.S4, V24.S4, V3.S4
	VLD1.P  (BP)(LDB64), [V27.S4, V28.S4, V29.S4, V30.S4]
	VFMLA   V27.S4, V24.S4, V4.S4
	VFMLA   V28.S4, V24.S4, V5.S4
	VFMLA   V29.S4, V24.S4, V6.S4
	VFMLA   V30.S4, V24.S4, V7.S4
	SUBS    $1, KK, KK
	BNE     n1k
	CBZ     ACC, n1store
	LOAD_ADD8(0, CP)

n1store:
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(CP)
	VST1   [V4.S4, V5.S4, V6.S4, V7.S4], (CP)

nnext:
	// Next strip: 32 columns right in B and C.
	ADD  $128, BS, BS
	ADD  $128, CCOL, CCOL
	SUBS $1, JR, JR
	BNE  nstrip

ndone:
	RET
