//go:build !purego

#include "textflag.h"
#include "gemm_amd64.h"

// AVX-512F dot-form SGEMM kernel for B stored n×k (see smallKernel.dotT in
// sgemm_small.go): every C element is the dot product of a row of A with a
// row of B, both read in place, 16 elements of k at a time:
//
//	for j := 0; j < n; j += 8 {          // a group of 8 rows of B
//		for i := 0; i < m; i += 3 {  // 3 rows of A (2 or 1 for the last)
//			acc[i'][j'] = Σ_p A(i+i', p)·B(j+j', p)    (16 lanes each)
//			C(i+i', j:j+8) = hsum(acc[i'][·]) (+ C if accum)
//		}
//	}
//
// The group of B rows (8·k floats) stays in L1 while the rows of A pass
// (from L2), so B is read from memory once and never packed. The first
// tiles of 3 rows of A prefetch the next group, so that it is in cache
// when its first tile starts: with at least 8 tiles, the first 8 a row
// each (spread out, the requests wait less for the memory), else the
// first two 4 rows each.
// C(0, j) lives in the c argument slot, and the lda slot counts the tiles
// that still prefetch (registers are all taken). Z0..Z7
// accumulate A row 0 against B rows 0..7, Z8..Z15 row 1, Z16..Z23 row 2;
// Z24..Z26 hold A, Z27/Z28 B; Z31 is the permutation of the reduction. K1
// masks the k mod 16 tail (zeroing loads: nothing past a row is read), K2
// the 8 columns of a C row.

#define AP SI     // A row i, at element p
#define BROWP R8     // B row j, at element p
#define BP4 R9    // B row j+4, at element p
#define LDA R10   // A row stride, bytes
#define LDB R11   // B row stride, bytes
#define LDB3 R12  // 3·LDB
#define AROW R13  // A row i, element 0
#define LDC R14   // C row stride, bytes
#define JR R15    // groups of B left
#define KK AX     // k steps left
#define BG BX     // B row j, element 0
#define CP CX     // C(i, j)
#define IR DX     // rows of A left
#define NB DI     // prefetch pointer into the next group of B rows

// dotPerm picks the 8 sums out of the reduction's lanes (see RED8).
DATA dotPerm<>+0(SB)/4, $0
DATA dotPerm<>+4(SB)/4, $4
DATA dotPerm<>+8(SB)/4, $8
DATA dotPerm<>+12(SB)/4, $12
DATA dotPerm<>+16(SB)/4, $1
DATA dotPerm<>+20(SB)/4, $5
DATA dotPerm<>+24(SB)/4, $9
DATA dotPerm<>+28(SB)/4, $13
DATA dotPerm<>+32(SB)/4, $0
DATA dotPerm<>+36(SB)/4, $0
DATA dotPerm<>+40(SB)/4, $0
DATA dotPerm<>+44(SB)/4, $0
DATA dotPerm<>+48(SB)/4, $0
DATA dotPerm<>+52(SB)/4, $0
DATA dotPerm<>+56(SB)/4, $0
DATA dotPerm<>+60(SB)/4, $0
GLOBL dotPerm<>(SB), RODATA|NOPTR, $64

// BROW(r, off): address of B row j+r at element p, plus off bytes.
#define BROW0(off) off(BROWP)
#define BROW1(off) off(BROWP)(LDB*1)
#define BROW2(off) off(BROWP)(LDB*2)
#define BROW3(off) off(BROWP)(LDB3*1)
#define BROW4(off) off(BP4)
#define BROW5(off) off(BP4)(LDB*1)
#define BROW6(off) off(BP4)(LDB*2)
#define BROW7(off) off(BP4)(LDB3*1)

// Full 16-element steps: acc[i][j] += A(i, p:p+16)·B(j, p:p+16).
#define STEP3(off) \
	VMOVUPS off(AP), Z24; \
	VMOVUPS off(AP)(LDA*1), Z25; \
	VMOVUPS off(AP)(LDA*2), Z26; \
	VMOVUPS BROW0(off), Z27; \
	VMOVUPS BROW1(off), Z28; \
	VFMADD231PS Z27, Z24, Z0; \
	VFMADD231PS Z27, Z25, Z8; \
	VFMADD231PS Z27, Z26, Z16; \
	VMOVUPS BROW2(off), Z27; \
	VFMADD231PS Z28, Z24, Z1; \
	VFMADD231PS Z28, Z25, Z9; \
	VFMADD231PS Z28, Z26, Z17; \
	VMOVUPS BROW3(off), Z28; \
	VFMADD231PS Z27, Z24, Z2; \
	VFMADD231PS Z27, Z25, Z10; \
	VFMADD231PS Z27, Z26, Z18; \
	VMOVUPS BROW4(off), Z27; \
	VFMADD231PS Z28, Z24, Z3; \
	VFMADD231PS Z28, Z25, Z11; \
	VFMADD231PS Z28, Z26, Z19; \
	VMOVUPS BROW5(off), Z28; \
	VFMADD231PS Z27, Z24, Z4; \
	VFMADD231PS Z27, Z25, Z12; \
	VFMADD231PS Z27, Z26, Z20; \
	VMOVUPS BROW6(off), Z27; \
	VFMADD231PS Z28, Z24, Z5; \
	VFMADD231PS Z28, Z25, Z13; \
	VFMADD231PS Z28, Z26, Z21; \
	VMOVUPS BROW7(off), Z28; \
	VFMADD231PS Z27, Z24, Z6; \
	VFMADD231PS Z27, Z25, Z14; \
	VFMADD231PS Z27, Z26, Z22; \
	VFMADD231PS Z28, Z24, Z7; \
	VFMADD231PS Z28, Z25, Z15; \
	VFMADD231PS Z28, Z26, Z23

// STEP3X32: 32 elements of k for 3 rows of A (STEP3 twice), the row
// pointers moved on.
#define STEP3X32 \
	STEP3(0); \
	STEP3(64); \
	ADDQ $128, AP; \
	ADDQ $128, BROWP; \
	ADDQ $128, BP4

// NBREWIND: NB back by the bytes of k's whole 32-element blocks, to the
// start of the rows it prefetched (clobbers KK).
#define NBREWIND \
	MOVQ k+64(FP), KK; \
	SHRQ $5, KK; \
	SHLQ $7, KK; \
	SUBQ KK, NB

// PFROWM: the least m (8 tiles of 3 rows) for which each prefetching tile
// takes one row of the next group rather than 4.
#define PFROWM 24

// The k tail: the same with zeroing masked loads (K1).
#define STEP3_TAIL \
	VMOVUPS.Z (AP), K1, Z24; \
	VMOVUPS.Z (AP)(LDA*1), K1, Z25; \
	VMOVUPS.Z (AP)(LDA*2), K1, Z26; \
	VMOVUPS.Z BROW0(0), K1, Z27; \
	VMOVUPS.Z BROW1(0), K1, Z28; \
	VFMADD231PS Z27, Z24, Z0; \
	VFMADD231PS Z27, Z25, Z8; \
	VFMADD231PS Z27, Z26, Z16; \
	VMOVUPS.Z BROW2(0), K1, Z27; \
	VFMADD231PS Z28, Z24, Z1; \
	VFMADD231PS Z28, Z25, Z9; \
	VFMADD231PS Z28, Z26, Z17; \
	VMOVUPS.Z BROW3(0), K1, Z28; \
	VFMADD231PS Z27, Z24, Z2; \
	VFMADD231PS Z27, Z25, Z10; \
	VFMADD231PS Z27, Z26, Z18; \
	VMOVUPS.Z BROW4(0), K1, Z27; \
	VFMADD231PS Z28, Z24, Z3; \
	VFMADD231PS Z28, Z25, Z11; \
	VFMADD231PS Z28, Z26, Z19; \
	VMOVUPS.Z BROW5(0), K1, Z28; \
	VFMADD231PS Z27, Z24, Z4; \
	VFMADD231PS Z27, Z25, Z12; \
	VFMADD231PS Z27, Z26, Z20; \
	VMOVUPS.Z BROW6(0), K1, Z27; \
	VFMADD231PS Z28, Z24, Z5; \
	VFMADD231PS Z28, Z25, Z13; \
	VFMADD231PS Z28, Z26, Z21; \
	VMOVUPS.Z BROW7(0), K1, Z28; \
	VFMADD231PS Z27, Z24, Z6; \
	VFMADD231PS Z27, Z25, Z14; \
	VFMADD231PS Z27, Z26, Z22; \
	VFMADD231PS Z28, Z24, Z7; \
	VFMADD231PS Z28, Z25, Z15; \
	VFMADD231PS Z28, Z26, Z23

// One row of A (Z0..Z7). load is a plain or zeroing masked load.
#define STEP1(off) \
	VMOVUPS off(AP), Z24; \
	VFMADD231PS BROW0(off), Z24, Z0; \
	VFMADD231PS BROW1(off), Z24, Z1; \
	VFMADD231PS BROW2(off), Z24, Z2; \
	VFMADD231PS BROW3(off), Z24, Z3; \
	VFMADD231PS BROW4(off), Z24, Z4; \
	VFMADD231PS BROW5(off), Z24, Z5; \
	VFMADD231PS BROW6(off), Z24, Z6; \
	VFMADD231PS BROW7(off), Z24, Z7

#define STEP1_TAIL \
	VMOVUPS.Z (AP), K1, Z24; \
	VMOVUPS.Z BROW0(0), K1, Z27; \
	VFMADD231PS Z27, Z24, Z0; \
	VMOVUPS.Z BROW1(0), K1, Z28; \
	VFMADD231PS Z28, Z24, Z1; \
	VMOVUPS.Z BROW2(0), K1, Z27; \
	VFMADD231PS Z27, Z24, Z2; \
	VMOVUPS.Z BROW3(0), K1, Z28; \
	VFMADD231PS Z28, Z24, Z3; \
	VMOVUPS.Z BROW4(0), K1, Z27; \
	VFMADD231PS Z27, Z24, Z4; \
	VMOVUPS.Z BROW5(0), K1, Z28; \
	VFMADD231PS Z28, Z24, Z5; \
	VMOVUPS.Z BROW6(0), K1, Z27; \
	VFMADD231PS Z27, Z24, Z6; \
	VMOVUPS.Z BROW7(0), K1, Z28; \
	VFMADD231PS Z28, Z24, Z7

// RED8(a0..a7, t0, t1): the low 8 lanes of a0 = [Σa0, ..., Σa7] (sums of
// the 16 lanes of each); a1..a7, t0 and t1 are clobbered.
//   1. a0 = [a0 lanes 0-7 + 8-15 | a1 lanes 0-7 + 8-15] (128-bit lanes
//      0,1 from a0, 2,3 from a1), likewise a2 (a2, a3), a4, a6;
//   2. a0 = [4 partial sums of a0 | of a1 | of a2 | of a3], a4 (a4..a7);
//   3. within each 128-bit lane l: [Σa_l, Σa_{l+4}, Σa_l, Σa_{l+4}];
//   4. VPERMPS with dotPerm (Z31) gathers Σa0..Σa7 into lanes 0-7.
#define RED8(a0, a1, a2, a3, a4, a5, a6, a7, t0, t1) \
	VSHUFF32X4 $0x44, a1, a0, t0; \
	VSHUFF32X4 $0xEE, a1, a0, t1; \
	VADDPS t1, t0, a0; \
	VSHUFF32X4 $0x44, a3, a2, t0; \
	VSHUFF32X4 $0xEE, a3, a2, t1; \
	VADDPS t1, t0, a2; \
	VSHUFF32X4 $0x44, a5, a4, t0; \
	VSHUFF32X4 $0xEE, a5, a4, t1; \
	VADDPS t1, t0, a4; \
	VSHUFF32X4 $0x44, a7, a6, t0; \
	VSHUFF32X4 $0xEE, a7, a6, t1; \
	VADDPS t1, t0, a6; \
	VSHUFF32X4 $0x88, a2, a0, t0; \
	VSHUFF32X4 $0xDD, a2, a0, t1; \
	VADDPS t1, t0, a0; \
	VSHUFF32X4 $0x88, a6, a4, t0; \
	VSHUFF32X4 $0xDD, a6, a4, t1; \
	VADDPS t1, t0, a4; \
	VSHUFPS $0x44, a4, a0, t0; \
	VSHUFPS $0xEE, a4, a0, t1; \
	VADDPS t1, t0, a0; \
	VSHUFPS $0x88, a0, a0, t0; \
	VSHUFPS $0xDD, a0, a0, t1; \
	VADDPS t1, t0, a0; \
	VPERMPS a0, Z31, a0

// STORE8(r, at): C row (8 floats at at) = low 8 lanes of r (+ C if accum).
#define STORE8(r, at) \
	MOVQ accum+72(FP), KK; \
	TESTQ KK, KK; \
	JZ   2(PC); \
	VADDPS at, r, K2, r; \
	VMOVUPS r, K2, at

#define ZERO8(a0, a1, a2, a3, a4, a5, a6, a7) \
	VPXORD a0, a0, a0; \
	VPXORD a1, a1, a1; \
	VPXORD a2, a2, a2; \
	VPXORD a3, a3, a3; \
	VPXORD a4, a4, a4; \
	VPXORD a5, a5, a5; \
	VPXORD a6, a6, a6; \
	VPXORD a7, a7, a7

// func sgemmDotTAVX512(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)
TEXT ·sgemmDotTAVX512(SB), NOSPLIT, $0-80
	MOVQ lda+8(FP), LDA
	SHLQ $2, LDA
	MOVQ ldb+24(FP), LDB
	SHLQ $2, LDB
	LEAQ (LDB)(LDB*2), LDB3
	MOVQ ldc+40(FP), LDC
	SHLQ $2, LDC
	MOVQ b+16(FP), BG
	VMOVUPS dotPerm<>(SB), Z31
	// K1 = the k mod 16 tail lanes, K2 = 8 lanes.
	MOVQ k+64(FP), CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVL $0xff, AX
	KMOVW AX, K2
	MOVQ n+56(FP), JR
	SHRQ $3, JR
	JZ   done

group:
	MOVQ a+0(FP), AROW
	MOVQ c+32(FP), CP
	LEAQ (BG)(LDB*4), BP4
	LEAQ (BG)(LDB*8), NB
	// Tiles that prefetch: 8 (a row each) with at least 8 tiles of 3
	// rows, else 2 (4 rows each).
	MOVQ $2, lda+8(FP)
	CMPQ m+48(FP), $PFROWM
	JLT  2(PC)
	MOVQ $8, lda+8(FP)
	MOVQ m+48(FP), IR
	CMPQ IR, $3
	JL   rows2

rows3:
	ZERO8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	ZERO8(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	ZERO8(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	MOVQ AROW, AP
	MOVQ BG, BROWP
	LEAQ (BG)(LDB*4), BP4
	MOVQ k+64(FP), KK
	SHRQ $5, KK
	JZ   r3k16
	CMPQ lda+8(FP), $0
	JEQ  r3k32
	CMPQ m+48(FP), $PFROWM
	JGE  r3k32p1

r3k32p:
	// As r3k32, prefetching 128 bytes of 4 rows of the next group.
	PREFETCHT0 (NB)
	PREFETCHT0 64(NB)
	PREFETCHT0 (NB)(LDB*1)
	PREFETCHT0 64(NB)(LDB*1)
	PREFETCHT0 (NB)(LDB*2)
	PREFETCHT0 64(NB)(LDB*2)
	PREFETCHT0 (NB)(LDB3*1)
	PREFETCHT0 64(NB)(LDB3*1)
	STEP3X32
	ADDQ $128, NB
	DECQ KK
	JNZ  r3k32p
	// NB back to the start of the rows, then 4 rows down.
	NBREWIND
	LEAQ (NB)(LDB*4), NB
	DECQ lda+8(FP)
	JMP  r3k16

r3k32p1:
	// As r3k32, prefetching 128 bytes of one row of the next group.
	PREFETCHT0 (NB)
	PREFETCHT0 64(NB)
	STEP3X32
	ADDQ $128, NB
	DECQ KK
	JNZ  r3k32p1
	// NB back to the start of the row, then one row down.
	NBREWIND
	ADDQ LDB, NB
	DECQ lda+8(FP)
	JMP  r3k16

r3k32:
	STEP3X32
	DECQ KK
	JNZ  r3k32

r3k16:
	MOVQ k+64(FP), KK
	TESTQ $16, KK
	JZ   r3tail
	STEP3(0)
	ADDQ $64, AP
	ADDQ $64, BROWP
	ADDQ $64, BP4

r3tail:
	TESTQ $15, KK
	JZ   r3sum
	STEP3_TAIL

r3sum:
	RED8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z24, Z25)
	RED8(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z24, Z25)
	RED8(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25)
	STORE8(Z0, (CP))
	STORE8(Z8, (CP)(LDC*1))
	STORE8(Z16, (CP)(LDC*2))
	LEAQ (CP)(LDC*2), CP
	ADDQ LDC, CP
	LEAQ (AROW)(LDA*2), AROW
	ADDQ LDA, AROW
	SUBQ $3, IR
	CMPQ IR, $3
	JGE  rows3

rows2:
	// One or two rows left: one at a time.
	TESTQ IR, IR
	JZ   next

row1:
	ZERO8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	MOVQ AROW, AP
	MOVQ BG, BROWP
	LEAQ (BG)(LDB*4), BP4
	MOVQ k+64(FP), KK
	SHRQ $4, KK
	JZ   r1tail

r1k16:
	STEP1(0)
	ADDQ $64, AP
	ADDQ $64, BROWP
	ADDQ $64, BP4
	DECQ KK
	JNZ  r1k16

r1tail:
	MOVQ k+64(FP), KK
	TESTQ $15, KK
	JZ   r1sum
	STEP1_TAIL

r1sum:
	RED8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z24, Z25)
	STORE8(Z0, (CP))
	ADDQ LDC, CP
	ADDQ LDA, AROW
	DECQ IR
	JNZ  row1

next:
	// Next group: 8 rows of B down, 8 columns of C right.
	LEAQ (BG)(LDB*8), BG
	ADDQ $32, c+32(FP)
	DECQ JR
	JNZ  group

done:
	VZEROUPPER
	RET

// The bfloat16 dot form (sgemmDotBF16, sgemm_dot_bf16.go): the kernel above
// with A's rows and the group of B's rows holding pairs of bfloat16 in
// 32-bit slots (k counts pairs, lda and ldb slots), VDPBF16PS for the FMA
// (acc lane l += a(2l)·b(2l) + a(2l+1)·b(2l+1)). B is a converted copy in
// L1 (sgemmRowsToBF16), so nothing is prefetched.

// STEP3BF(off): acc[i][j] += the pairs of A(i, ·) and B(j, ·) at off.
#define STEP3BF(off) \
	VMOVUPS off(AP), Z24; \
	VMOVUPS off(AP)(LDA*1), Z25; \
	VMOVUPS off(AP)(LDA*2), Z26; \
	VMOVUPS BROW0(off), Z27; \
	VMOVUPS BROW1(off), Z28; \
	VDPBF16PS_Z(0, 24, 27); \
	VDPBF16PS_Z(8, 25, 27); \
	VDPBF16PS_Z(16, 26, 27); \
	VMOVUPS BROW2(off), Z27; \
	VDPBF16PS_Z(1, 24, 28); \
	VDPBF16PS_Z(9, 25, 28); \
	VDPBF16PS_Z(17, 26, 28); \
	VMOVUPS BROW3(off), Z28; \
	VDPBF16PS_Z(2, 24, 27); \
	VDPBF16PS_Z(10, 25, 27); \
	VDPBF16PS_Z(18, 26, 27); \
	VMOVUPS BROW4(off), Z27; \
	VDPBF16PS_Z(3, 24, 28); \
	VDPBF16PS_Z(11, 25, 28); \
	VDPBF16PS_Z(19, 26, 28); \
	VMOVUPS BROW5(off), Z28; \
	VDPBF16PS_Z(4, 24, 27); \
	VDPBF16PS_Z(12, 25, 27); \
	VDPBF16PS_Z(20, 26, 27); \
	VMOVUPS BROW6(off), Z27; \
	VDPBF16PS_Z(5, 24, 28); \
	VDPBF16PS_Z(13, 25, 28); \
	VDPBF16PS_Z(21, 26, 28); \
	VMOVUPS BROW7(off), Z28; \
	VDPBF16PS_Z(6, 24, 27); \
	VDPBF16PS_Z(14, 25, 27); \
	VDPBF16PS_Z(22, 26, 27); \
	VDPBF16PS_Z(7, 24, 28); \
	VDPBF16PS_Z(15, 25, 28); \
	VDPBF16PS_Z(23, 26, 28)

// STEP3BF_TAIL: STEP3BF(0) with zeroing masked loads (K1).
#define STEP3BF_TAIL \
	VMOVUPS.Z (AP), K1, Z24; \
	VMOVUPS.Z (AP)(LDA*1), K1, Z25; \
	VMOVUPS.Z (AP)(LDA*2), K1, Z26; \
	VMOVUPS.Z BROW0(0), K1, Z27; \
	VMOVUPS.Z BROW1(0), K1, Z28; \
	VDPBF16PS_Z(0, 24, 27); \
	VDPBF16PS_Z(8, 25, 27); \
	VDPBF16PS_Z(16, 26, 27); \
	VMOVUPS.Z BROW2(0), K1, Z27; \
	VDPBF16PS_Z(1, 24, 28); \
	VDPBF16PS_Z(9, 25, 28); \
	VDPBF16PS_Z(17, 26, 28); \
	VMOVUPS.Z BROW3(0), K1, Z28; \
	VDPBF16PS_Z(2, 24, 27); \
	VDPBF16PS_Z(10, 25, 27); \
	VDPBF16PS_Z(18, 26, 27); \
	VMOVUPS.Z BROW4(0), K1, Z27; \
	VDPBF16PS_Z(3, 24, 28); \
	VDPBF16PS_Z(11, 25, 28); \
	VDPBF16PS_Z(19, 26, 28); \
	VMOVUPS.Z BROW5(0), K1, Z28; \
	VDPBF16PS_Z(4, 24, 27); \
	VDPBF16PS_Z(12, 25, 27); \
	VDPBF16PS_Z(20, 26, 27); \
	VMOVUPS.Z BROW6(0), K1, Z27; \
	VDPBF16PS_Z(5, 24, 28); \
	VDPBF16PS_Z(13, 25, 28); \
	VDPBF16PS_Z(21, 26, 28); \
	VMOVUPS.Z BROW7(0), K1, Z28; \
	VDPBF16PS_Z(6, 24, 27); \
	VDPBF16PS_Z(14, 25, 27); \
	VDPBF16PS_Z(22, 26, 27); \
	VDPBF16PS_Z(7, 24, 28); \
	VDPBF16PS_Z(15, 25, 28); \
	VDPBF16PS_Z(23, 26, 28)

// STEP1BF(off): one row of A (Z0..Z7).
#define STEP1BF(off) \
	VMOVUPS off(AP), Z24; \
	VMOVUPS BROW0(off), Z27; \
	VMOVUPS BROW1(off), Z28; \
	VDPBF16PS_Z(0, 24, 27); \
	VMOVUPS BROW2(off), Z27; \
	VDPBF16PS_Z(1, 24, 28); \
	VMOVUPS BROW3(off), Z28; \
	VDPBF16PS_Z(2, 24, 27); \
	VMOVUPS BROW4(off), Z27; \
	VDPBF16PS_Z(3, 24, 28); \
	VMOVUPS BROW5(off), Z28; \
	VDPBF16PS_Z(4, 24, 27); \
	VMOVUPS BROW6(off), Z27; \
	VDPBF16PS_Z(5, 24, 28); \
	VMOVUPS BROW7(off), Z28; \
	VDPBF16PS_Z(6, 24, 27); \
	VDPBF16PS_Z(7, 24, 28)

#define STEP1BF_TAIL \
	VMOVUPS.Z (AP), K1, Z24; \
	VMOVUPS.Z BROW0(0), K1, Z27; \
	VMOVUPS.Z BROW1(0), K1, Z28; \
	VDPBF16PS_Z(0, 24, 27); \
	VMOVUPS.Z BROW2(0), K1, Z27; \
	VDPBF16PS_Z(1, 24, 28); \
	VMOVUPS.Z BROW3(0), K1, Z28; \
	VDPBF16PS_Z(2, 24, 27); \
	VMOVUPS.Z BROW4(0), K1, Z27; \
	VDPBF16PS_Z(3, 24, 28); \
	VMOVUPS.Z BROW5(0), K1, Z28; \
	VDPBF16PS_Z(4, 24, 27); \
	VMOVUPS.Z BROW6(0), K1, Z27; \
	VDPBF16PS_Z(5, 24, 28); \
	VMOVUPS.Z BROW7(0), K1, Z28; \
	VDPBF16PS_Z(6, 24, 27); \
	VDPBF16PS_Z(7, 24, 28)

// func sgemmDotTBF16AVX512(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)
TEXT ·sgemmDotTBF16AVX512(SB), NOSPLIT, $0-80
	MOVQ lda+8(FP), LDA
	SHLQ $2, LDA
	MOVQ ldb+24(FP), LDB
	SHLQ $2, LDB
	LEAQ (LDB)(LDB*2), LDB3
	MOVQ ldc+40(FP), LDC
	SHLQ $2, LDC
	MOVQ b+16(FP), BG
	VMOVUPS dotPerm<>(SB), Z31
	// K1 = the k mod 16 tail lanes, K2 = 8 lanes.
	MOVQ k+64(FP), CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVL $0xff, AX
	KMOVW AX, K2
	MOVQ n+56(FP), JR
	SHRQ $3, JR
	JZ   bdone

bgroup:
	MOVQ a+0(FP), AROW
	MOVQ c+32(FP), CP
	MOVQ m+48(FP), IR
	CMPQ IR, $3
	JL   brows2

brows3:
	ZERO8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	ZERO8(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	ZERO8(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	MOVQ AROW, AP
	MOVQ BG, BROWP
	LEAQ (BG)(LDB*4), BP4
	MOVQ k+64(FP), KK
	SHRQ $5, KK
	JZ   b3k16

b3k32:
	STEP3BF(0)
	STEP3BF(64)
	ADDQ $128, AP
	ADDQ $128, BROWP
	ADDQ $128, BP4
	DECQ KK
	JNZ  b3k32

b3k16:
	MOVQ k+64(FP), KK
	TESTQ $16, KK
	JZ   b3tail
	STEP3BF(0)
	ADDQ $64, AP
	ADDQ $64, BROWP
	ADDQ $64, BP4

b3tail:
	TESTQ $15, KK
	JZ   b3sum
	STEP3BF_TAIL

b3sum:
	RED8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z24, Z25)
	RED8(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z24, Z25)
	RED8(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25)
	STORE8(Z0, (CP))
	STORE8(Z8, (CP)(LDC*1))
	STORE8(Z16, (CP)(LDC*2))
	LEAQ (CP)(LDC*2), CP
	ADDQ LDC, CP
	LEAQ (AROW)(LDA*2), AROW
	ADDQ LDA, AROW
	SUBQ $3, IR
	CMPQ IR, $3
	JGE  brows3

brows2:
	TESTQ IR, IR
	JZ   bnext

brow1:
	ZERO8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	MOVQ AROW, AP
	MOVQ BG, BROWP
	LEAQ (BG)(LDB*4), BP4
	MOVQ k+64(FP), KK
	SHRQ $4, KK
	JZ   b1tail

b1k16:
	STEP1BF(0)
	ADDQ $64, AP
	ADDQ $64, BROWP
	ADDQ $64, BP4
	DECQ KK
	JNZ  b1k16

b1tail:
	MOVQ k+64(FP), KK
	TESTQ $15, KK
	JZ   b1sum
	STEP1BF_TAIL

b1sum:
	RED8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z24, Z25)
	STORE8(Z0, (CP))
	ADDQ LDC, CP
	ADDQ LDA, AROW
	DECQ IR
	JNZ  brow1

bnext:
	LEAQ (BG)(LDB*8), BG
	ADDQ $32, c+32(FP)
	DECQ JR
	JNZ  bgroup

bdone:
	VZEROUPPER
	RET

// func sgemmRowsToBF16(dst, src *float32, lds, ldd, rows, chunks, tailLo, tailHi int)
//
// Each of rows rows of src (lds floats apart) to bfloat16 pairs in dst
// (ldd slots apart): chunks blocks of 32 floats (VCVTNE2PS2BF16: 16 slots
// each), then, when tailLo is not 0, one block of the next floats under the
// masks tailLo (the first 16) and tailHi (the next 16), the rest zero
// (nothing past a row is read).
TEXT ·sgemmRowsToBF16(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ ldd+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+32(FP), DX
	MOVQ tailLo+48(FP), AX
	KMOVW AX, K3
	MOVQ tailHi+56(FP), AX
	KMOVW AX, K4
	TESTQ DX, DX
	JZ   cdone

crow:
	MOVQ SI, R11
	MOVQ DI, R12
	MOVQ chunks+40(FP), CX
	TESTQ CX, CX
	JZ   ctail

cchunk:
	VMOVUPS (R11), Z0
	VMOVUPS 64(R11), Z1
	VCVTNE2PS2BF16_Z(2, 1, 0)
	VMOVUPS Z2, (R12)
	ADDQ $128, R11
	ADDQ $64, R12
	DECQ CX
	JNZ  cchunk

ctail:
	MOVQ tailLo+48(FP), AX
	TESTQ AX, AX
	JZ   cnext
	VMOVUPS.Z (R11), K3, Z0
	VMOVUPS.Z 64(R11), K4, Z1
	VCVTNE2PS2BF16_Z(2, 1, 0)
	VMOVUPS Z2, (R12)

cnext:
	ADDQ R8, SI
	ADDQ R9, DI
	DECQ DX
	JNZ  crow

cdone:
	VZEROUPPER
	RET
