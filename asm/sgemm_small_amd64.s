//go:build !purego

#include "textflag.h"
#include "vec_amd64.h"

// Small-M SGEMM kernels for AVX2 + FMA (see smallKernel in sgemm_small.go).
// A is row-major (m×k, row stride lda), C is m×n (row stride ldc); every
// stride argument is in elements.

// ---------------------------------------------------------------------------
// Dot form, B stored n×k:
//
//	for j := 0; j < n; j += 4 {          // a group of 4 rows of B
//		for i := 0; i < m; i += 2 {  // 2 rows of A (1 for the last of odd m)
//			acc[i'][j'] = Σ_p A(i+i', p)·B(j+j', p)    (8 lanes each)
//			C(i+i', j:j+4) = hsum(acc[i'][·]) (+ C if accum)
//		}
//	}
//
// The group of B rows is read from memory once and stays in L1 while the
// rows of A pass. Y0..Y3 accumulate A row 0 against B rows 0..3, Y4..Y7 A
// row 1; Y8/Y9 hold A, Y10/Y11 B; Y15 is the k-tail mask. The last k mod
// 8 elements are read with masked loads (nothing past a row is touched).

#define LDA R12   // A row stride, bytes
#define LDB R13   // B row stride, bytes
#define LDB3 R9   // 3·LDB
#define LDC R14   // C row stride, bytes
#define AP SI     // A row i, at element p
#define BROW R8     // B row j, at element p
#define KK AX     // k steps left
#define CP CX     // C(i, j)
#define BG R10    // B row j, element 0
#define AROW R11  // A row i, element 0
#define IR DX     // rows of A left
#define JR BX     // groups of B left
#define CCOL DI   // C(0, j)

// DOT2X4(load): acc[i][j] += A(i, p:p+8)·B(j, p:p+8) for i < 2, j < 4;
// load is VMOVUPS for 8 whole elements or a masked load.
#define DOT2X4_FULL(off) \
	VMOVUPS off(AP), Y8; \
	VMOVUPS off(AP)(LDA*1), Y9; \
	VMOVUPS off(BROW), Y10; \
	VFMADD231PS Y10, Y8, Y0; \
	VFMADD231PS Y10, Y9, Y4; \
	VMOVUPS off(BROW)(LDB*1), Y11; \
	VFMADD231PS Y11, Y8, Y1; \
	VFMADD231PS Y11, Y9, Y5; \
	VMOVUPS off(BROW)(LDB*2), Y10; \
	VFMADD231PS Y10, Y8, Y2; \
	VFMADD231PS Y10, Y9, Y6; \
	VMOVUPS off(BROW)(LDB3*1), Y11; \
	VFMADD231PS Y11, Y8, Y3; \
	VFMADD231PS Y11, Y9, Y7

#define DOT2X4_MASK \
	VMASKMOVPS (AP), Y15, Y8; \
	VMASKMOVPS (AP)(LDA*1), Y15, Y9; \
	VMASKMOVPS (BROW), Y15, Y10; \
	VFMADD231PS Y10, Y8, Y0; \
	VFMADD231PS Y10, Y9, Y4; \
	VMASKMOVPS (BROW)(LDB*1), Y15, Y11; \
	VFMADD231PS Y11, Y8, Y1; \
	VFMADD231PS Y11, Y9, Y5; \
	VMASKMOVPS (BROW)(LDB*2), Y15, Y10; \
	VFMADD231PS Y10, Y8, Y2; \
	VFMADD231PS Y10, Y9, Y6; \
	VMASKMOVPS (BROW)(LDB3*1), Y15, Y11; \
	VFMADD231PS Y11, Y8, Y3; \
	VFMADD231PS Y11, Y9, Y7

#define DOT1X4_FULL(off) \
	VMOVUPS off(AP), Y8; \
	VFMADD231PS off(BROW), Y8, Y0; \
	VFMADD231PS off(BROW)(LDB*1), Y8, Y1; \
	VFMADD231PS off(BROW)(LDB*2), Y8, Y2; \
	VFMADD231PS off(BROW)(LDB3*1), Y8, Y3

#define DOT1X4_MASK \
	VMASKMOVPS (AP), Y15, Y8; \
	VMASKMOVPS (BROW), Y15, Y10; \
	VFMADD231PS Y10, Y8, Y0; \
	VMASKMOVPS (BROW)(LDB*1), Y15, Y11; \
	VFMADD231PS Y11, Y8, Y1; \
	VMASKMOVPS (BROW)(LDB*2), Y15, Y10; \
	VFMADD231PS Y10, Y8, Y2; \
	VMASKMOVPS (BROW)(LDB3*1), Y15, Y11; \
	VFMADD231PS Y11, Y8, Y3

// RED4(ya, yb, yc, yd, xa, xt): xa = [Σya, Σyb, Σyc, Σyd] (sums of the
// eight lanes); yb, yc and xt are clobbered.
#define RED4(ya, yb, yc, yd, xa, xt) \
	VHADDPS yb, ya, ya; \
	VHADDPS yd, yc, yc; \
	VHADDPS yc, ya, ya; \
	VEXTRACTF128 $1, ya, xt; \
	VADDPS xt, xa, xa

// func sgemmSmallTAVX2(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)
TEXT ·sgemmSmallTAVX2(SB), NOSPLIT, $0-80
	MOVQ lda+8(FP), LDA
	SHLQ $2, LDA
	MOVQ ldb+24(FP), LDB
	SHLQ $2, LDB
	LEAQ (LDB)(LDB*2), LDB3
	MOVQ ldc+40(FP), LDC
	SHLQ $2, LDC
	MOVQ b+16(FP), BG
	MOVQ c+32(FP), CCOL
	// Y15 = mask of the k mod 8 tail lanes.
	MOVQ k+64(FP), KK
	ANDQ $7, KK
	TAILMASK(KK, CP, IR, Y15)
	MOVQ n+56(FP), JR
	SHRQ $2, JR
	JZ   tdone

tgroup:
	MOVQ a+0(FP), AROW
	MOVQ CCOL, CP
	MOVQ m+48(FP), IR
	CMPQ IR, $2
	JL   trow1

trow2:
	// Two rows of A against the group: acc = 0, then k in steps of 8.
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ AROW, AP
	MOVQ BG, BROW
	MOVQ k+64(FP), KK
	SHRQ $4, KK
	JZ   t2k8

t2k16:
	DOT2X4_FULL(0)
	DOT2X4_FULL(32)
	ADDQ $64, AP
	ADDQ $64, BROW
	DECQ KK
	JNZ  t2k16

t2k8:
	MOVQ k+64(FP), KK
	TESTQ $8, KK
	JZ   t2tail
	DOT2X4_FULL(0)
	ADDQ $32, AP
	ADDQ $32, BROW

t2tail:
	TESTQ $7, KK
	JZ   t2sum
	DOT2X4_MASK

t2sum:
	RED4(Y0, Y1, Y2, Y3, X0, X1)
	RED4(Y4, Y5, Y6, Y7, X4, X5)
	MOVQ accum+72(FP), KK
	TESTQ KK, KK
	JZ   t2store
	VADDPS (CP), X0, X0
	VADDPS (CP)(LDC*1), X4, X4

t2store:
	VMOVUPS X0, (CP)
	VMOVUPS X4, (CP)(LDC*1)
	LEAQ (CP)(LDC*2), CP
	LEAQ (AROW)(LDA*2), AROW
	SUBQ $2, IR
	CMPQ IR, $2
	JGE  trow2

trow1:
	// The last row of A when m is odd.
	TESTQ IR, IR
	JZ   tnext
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ AROW, AP
	MOVQ BG, BROW
	MOVQ k+64(FP), KK
	SHRQ $4, KK
	JZ   t1k8

t1k16:
	DOT1X4_FULL(0)
	DOT1X4_FULL(32)
	ADDQ $64, AP
	ADDQ $64, BROW
	DECQ KK
	JNZ  t1k16

t1k8:
	MOVQ k+64(FP), KK
	TESTQ $8, KK
	JZ   t1tail
	DOT1X4_FULL(0)
	ADDQ $32, AP
	ADDQ $32, BROW

t1tail:
	TESTQ $7, KK
	JZ   t1sum
	DOT1X4_MASK

t1sum:
	RED4(Y0, Y1, Y2, Y3, X0, X1)
	MOVQ accum+72(FP), KK
	TESTQ KK, KK
	JZ   t1store
	VADDPS (CP), X0, X0

t1store:
	VMOVUPS X0, (CP)

tnext:
	// Next group: 4 rows of B down, 4 columns of C right.
	LEAQ (BG)(LDB*4), BG
	ADDQ $16, CCOL
	DECQ JR
	JNZ  tgroup

tdone:
	VZEROUPPER
	RET

#undef AP
#undef BROW
#undef KK
#undef CP
#undef IR
#undef JR
#undef CCOL
#undef LDB3

// ---------------------------------------------------------------------------
// Axpy form, B stored k×n:
//
//	for j := 0; j < n; j += 32 {         // a strip of 32 columns of B
//		for i := 0; i < m; i += 3 {  // 3 rows of A (2 or 1 for the last)
//			acc[i'][:] = Σ_p A(i+i', p)·B(p, j:j+32)     (4 ymm per row)
//			C(i+i', j:j+32) = acc[i'] (+ C if accum)
//		}
//	}
//
// Each strip is read from memory once (the passes for rows 3.. of A find
// it in cache); while a strip is used, the same rows of the next strip
// are prefetched, since the stride between the rows of a strip (a whole
// row of B) defeats the hardware prefetchers. Y0..Y3, Y4..Y7 and Y8..Y11
// accumulate rows 0, 1 and 2; Y12 holds B, Y13..Y15 broadcasts of A.

#define AP SI     // A row i, at element p
#define BROW R8     // B row p of the strip
#define KK AX     // rows of B left
#define CP CX     // C(i, j)
#define IR DX     // rows of A left
#define JR BX     // strips left
#define CCOL DI   // C(0, j)
#define BS R10    // B row 0 of the strip
#define CROW R9   // C(i+1, j), C(i+2, j)

// AXPYCOL3(off, r0, r1, r2): B(p, off/4:off/4+8) times the three broadcasts
// into one accumulator of each row.
#define AXPYCOL3(off, r0, r1, r2) \
	VMOVUPS off(BROW), Y12; \
	VFMADD231PS Y12, Y13, r0; \
	VFMADD231PS Y12, Y14, r1; \
	VFMADD231PS Y12, Y15, r2

#define AXPY3 \
	VBROADCASTSS (AP), Y13; \
	VBROADCASTSS (AP)(LDA*1), Y14; \
	VBROADCASTSS (AP)(LDA*2), Y15; \
	PREFETCHT0 128(BROW); \
	PREFETCHT0 192(BROW); \
	AXPYCOL3(0, Y0, Y4, Y8); \
	AXPYCOL3(32, Y1, Y5, Y9); \
	AXPYCOL3(64, Y2, Y6, Y10); \
	AXPYCOL3(96, Y3, Y7, Y11); \
	ADDQ $4, AP; \
	ADDQ LDB, BROW

#define AXPY2 \
	VBROADCASTSS (AP), Y13; \
	VBROADCASTSS (AP)(LDA*1), Y14; \
	PREFETCHT0 128(BROW); \
	PREFETCHT0 192(BROW); \
	VMOVUPS (BROW), Y12; \
	VFMADD231PS Y12, Y13, Y0; \
	VFMADD231PS Y12, Y14, Y4; \
	VMOVUPS 32(BROW), Y12; \
	VFMADD231PS Y12, Y13, Y1; \
	VFMADD231PS Y12, Y14, Y5; \
	VMOVUPS 64(BROW), Y12; \
	VFMADD231PS Y12, Y13, Y2; \
	VFMADD231PS Y12, Y14, Y6; \
	VMOVUPS 96(BROW), Y12; \
	VFMADD231PS Y12, Y13, Y3; \
	VFMADD231PS Y12, Y14, Y7; \
	ADDQ $4, AP; \
	ADDQ LDB, BROW

#define AXPY1 \
	VBROADCASTSS (AP), Y13; \
	PREFETCHT0 128(BROW); \
	PREFETCHT0 192(BROW); \
	VFMADD231PS (BROW), Y13, Y0; \
	VFMADD231PS 32(BROW), Y13, Y1; \
	VFMADD231PS 64(BROW), Y13, Y2; \
	VFMADD231PS 96(BROW), Y13, Y3; \
	ADDQ $4, AP; \
	ADDQ LDB, BROW

// ADDROW(r0, r1, r2, r3, R): four accumulators += the 32 floats at (R).
#define ADDROW(r0, r1, r2, r3, R) \
	VADDPS (R), r0, r0; \
	VADDPS 32(R), r1, r1; \
	VADDPS 64(R), r2, r2; \
	VADDPS 96(R), r3, r3

// STROW(r0, r1, r2, r3, R): the 32 floats at (R) = four accumulators.
#define STROW(r0, r1, r2, r3, R) \
	VMOVUPS r0, (R); \
	VMOVUPS r1, 32(R); \
	VMOVUPS r2, 64(R); \
	VMOVUPS r3, 96(R)

// ZERO4(r0, r1, r2, r3)
#define ZERO4(r0, r1, r2, r3) \
	VXORPS r0, r0, r0; \
	VXORPS r1, r1, r1; \
	VXORPS r2, r2, r2; \
	VXORPS r3, r3, r3

// func sgemmSmallNAVX2(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)
TEXT ·sgemmSmallNAVX2(SB), NOSPLIT, $0-80
	MOVQ lda+8(FP), LDA
	SHLQ $2, LDA
	MOVQ ldb+24(FP), LDB
	SHLQ $2, LDB
	MOVQ ldc+40(FP), LDC
	SHLQ $2, LDC
	MOVQ b+16(FP), BS
	MOVQ c+32(FP), CCOL
	MOVQ n+56(FP), JR
	SHRQ $5, JR
	JZ   ndone

nstrip:
	MOVQ a+0(FP), AROW
	MOVQ CCOL, CP
	MOVQ m+48(FP), IR
	CMPQ IR, $3
	JL   nrow2

nrow3:
	ZERO4(Y0, Y1, Y2, Y3)
	ZERO4(Y4, Y5, Y6, Y7)
	ZERO4(Y8, Y9, Y10, Y11)
	MOVQ AROW, AP
	MOVQ BS, BROW
	MOVQ k+64(FP), KK

n3k:
	AXPY3
	DECQ KK
	JNZ  n3k
	MOVQ accum+72(FP), KK
	TESTQ KK, KK
	JZ   n3store
	LEAQ (CP)(LDC*1), CROW
	ADDROW(Y0, Y1, Y2, Y3, CP)
	ADDROW(Y4, Y5, Y6, Y7, CROW)
	ADDQ LDC, CROW
	ADDROW(Y8, Y9, Y10, Y11, CROW)

n3store:
	STROW(Y0, Y1, Y2, Y3, CP)
	ADDQ LDC, CP
	STROW(Y4, Y5, Y6, Y7, CP)
	ADDQ LDC, CP
	STROW(Y8, Y9, Y10, Y11, CP)
	ADDQ LDC, CP
	LEAQ (AROW)(LDA*2), AROW
	ADDQ LDA, AROW
	SUBQ $3, IR
	CMPQ IR, $3
	JGE  nrow3

nrow2:
	CMPQ IR, $2
	JL   nrow1
	ZERO4(Y0, Y1, Y2, Y3)
	ZERO4(Y4, Y5, Y6, Y7)
	MOVQ AROW, AP
	MOVQ BS, BROW
	MOVQ k+64(FP), KK

n2k:
	AXPY2
	DECQ KK
	JNZ  n2k
	MOVQ accum+72(FP), KK
	TESTQ KK, KK
	JZ   n2store
	LEAQ (CP)(LDC*1), CROW
	ADDROW(Y0, Y1, Y2, Y3, CP)
	ADDROW(Y4, Y5, Y6, Y7, CROW)

n2store:
	STROW(Y0, Y1, Y2, Y3, CP)
	ADDQ LDC, CP
	STROW(Y4, Y5, Y6, Y7, CP)
	JMP  nnext

nrow1:
	TESTQ IR, IR
	JZ   nnext
	ZERO4(Y0, Y1, Y2, Y3)
	MOVQ AROW, AP
	MOVQ BS, BROW
	MOVQ k+64(FP), KK

n1k:
	AXPY1
	DECQ KK
	JNZ  n1k
	MOVQ accum+72(FP), KK
	TESTQ KK, KK
	JZ   n1store
	ADDROW(Y0, Y1, Y2, Y3, CP)

n1store:
	STROW(Y0, Y1, Y2, Y3, CP)

nnext:
	// Next strip: 32 columns right in B and C.
	SUBQ $-128, BS
	SUBQ $-128, CCOL
	DECQ JR
	JNZ  nstrip

ndone:
	VZEROUPPER
	RET
