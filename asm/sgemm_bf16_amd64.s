//go:build !purego

#include "textflag.h"
#include "gemm_amd64.h"

// bfloat16 SGEMM block kernel for AVX-512 with AVX512_BF16: sgemmBlockAVX512
// (sgemm_amd64.s) with each k step a pair of k steps. The packed operands
// hold pairs of bfloat16 values in 32-bit slots (element p even in the low
// half, p+1 in the high half): A's pair (i, q) at a + 4*(ir*kp*12 + q*12 + i),
// B's pair (q, j) at row q of the micro-panel. VDPBF16PS adds both products
// of a pair into a float32 accumulator:
//
//	acc[i][j] += A(i,2q)·B(2q,j) + A(i,2q+1)·B(2q+1,j)
//
// Z0..Z23 accumulate the 12×32 tile (two zmm per row), Z24/Z25 hold a row of
// B pairs, Z26..Z31 broadcasts of A pairs.

#define APTR AX   // walks the packed A block
#define BPTR BX   // walks one B micro-panel, row by row
#define KC CX     // kp
#define CCOL DX   // top-left of the current column of C tiles
#define BPAN SI   // first row of the current B micro-panel
#define LDB DI    // B row stride in bytes
#define LDC R8    // C row stride in bytes
#define CROW3 R9  // C tile row 3
#define JR R10    // jr tiles left
#define CROW0 R11 // C tile row 0
#define IR R12    // ir tiles left
#define KK R13    // k iterations left

// BF16_KSTEP: acc[i][:] += A pair (i,q) · B pairs (q,:) for i < 12, with the A
// pairs at ka(APTR); then BPTR moves to pair row q+1.
#define BF16_KSTEP(ka) \
	VMOVUPS (BPTR), Z24; \
	VMOVUPS 64(BPTR), Z25; \
	ADDQ LDB, BPTR; \
	VBROADCASTSS (ka+0)(APTR), Z26; \
	VBROADCASTSS (ka+4)(APTR), Z27; \
	VBROADCASTSS (ka+8)(APTR), Z28; \
	VDPBF16PS_Z(0, 26, 24); \
	VDPBF16PS_Z(1, 26, 25); \
	VDPBF16PS_Z(2, 27, 24); \
	VDPBF16PS_Z(3, 27, 25); \
	VDPBF16PS_Z(4, 28, 24); \
	VDPBF16PS_Z(5, 28, 25); \
	VBROADCASTSS (ka+12)(APTR), Z29; \
	VBROADCASTSS (ka+16)(APTR), Z30; \
	VBROADCASTSS (ka+20)(APTR), Z31; \
	VDPBF16PS_Z(6, 29, 24); \
	VDPBF16PS_Z(7, 29, 25); \
	VDPBF16PS_Z(8, 30, 24); \
	VDPBF16PS_Z(9, 30, 25); \
	VDPBF16PS_Z(10, 31, 24); \
	VDPBF16PS_Z(11, 31, 25); \
	VBROADCASTSS (ka+24)(APTR), Z26; \
	VBROADCASTSS (ka+28)(APTR), Z27; \
	VBROADCASTSS (ka+32)(APTR), Z28; \
	VDPBF16PS_Z(12, 26, 24); \
	VDPBF16PS_Z(13, 26, 25); \
	VDPBF16PS_Z(14, 27, 24); \
	VDPBF16PS_Z(15, 27, 25); \
	VDPBF16PS_Z(16, 28, 24); \
	VDPBF16PS_Z(17, 28, 25); \
	VBROADCASTSS (ka+36)(APTR), Z29; \
	VBROADCASTSS (ka+40)(APTR), Z30; \
	VBROADCASTSS (ka+44)(APTR), Z31; \
	VDPBF16PS_Z(18, 29, 24); \
	VDPBF16PS_Z(19, 29, 25); \
	VDPBF16PS_Z(20, 30, 24); \
	VDPBF16PS_Z(21, 30, 25); \
	VDPBF16PS_Z(22, 31, 24); \
	VDPBF16PS_Z(23, 31, 25)

// BF16_ADD3: add C rows CROW0, +ldc, +2*ldc into six accumulators.
#define BF16_ADD3(r0a, r0b, r1a, r1b, r2a, r2b) \
	VADDPS (CROW0), r0a, r0a; \
	VADDPS 64(CROW0), r0b, r0b; \
	VADDPS (CROW0)(LDC*1), r1a, r1a; \
	VADDPS 64(CROW0)(LDC*1), r1b, r1b; \
	VADDPS (CROW0)(LDC*2), r2a, r2a; \
	VADDPS 64(CROW0)(LDC*2), r2b, r2b

// BF16_ST3: store six accumulators to C rows CROW0, +ldc, +2*ldc, then
// move CROW0 down three rows.
#define BF16_ST3(r0a, r0b, r1a, r1b, r2a, r2b) \
	VMOVUPS r0a, (CROW0); \
	VMOVUPS r0b, 64(CROW0); \
	VMOVUPS r1a, (CROW0)(LDC*1); \
	VMOVUPS r1b, 64(CROW0)(LDC*1); \
	VMOVUPS r2a, (CROW0)(LDC*2); \
	VMOVUPS r2b, 64(CROW0)(LDC*2); \
	LEAQ (CROW0)(LDC*2), CROW0; \
	ADDQ LDC, CROW0

// func sgemmBlockBF16AVX512(a, b, c *float32, kp, ldb, bstep, ldc, mTiles, nTiles, accum int, bias *float32)
TEXT ·sgemmBlockBF16AVX512(SB), NOSPLIT, $0-88
	MOVQ b+8(FP), BPAN
	MOVQ c+16(FP), CCOL
	MOVQ kp+24(FP), KC
	MOVQ ldb+32(FP), LDB
	SHLQ $2, LDB
	MOVQ ldc+48(FP), LDC
	SHLQ $2, LDC
	MOVQ nTiles+64(FP), JR
	TESTQ JR, JR
	JLE  bf16_done

bf16_jr:
	// New column of tiles: restart A at the top of the block.
	MOVQ a+0(FP), APTR
	MOVQ CCOL, CROW0
	MOVQ mTiles+56(FP), IR
	TESTQ IR, IR
	JLE  bf16_jrnext

bf16_ir:
	// Zero the accumulators (VPXORD: plain AVX-512F); touch the C tile.
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	LEAQ (CROW0)(LDC*2), CROW3
	ADDQ LDC, CROW3
	PREFETCHT0 (CROW0)
	PREFETCHT0 (CROW0)(LDC*1)
	PREFETCHT0 (CROW0)(LDC*2)
	PREFETCHT0 (CROW3)
	PREFETCHT0 (CROW3)(LDC*1)
	PREFETCHT0 (CROW3)(LDC*2)
	MOVQ BPAN, BPTR

	// for q := 0; q < kp&^3; q += 4: four pair steps.
	MOVQ KC, KK
	SHRQ $2, KK
	JZ   bf16_ktail

bf16_k4:
	BF16_KSTEP(0)
	BF16_KSTEP(48)
	BF16_KSTEP(96)
	BF16_KSTEP(144)
	ADDQ $192, APTR
	DECQ KK
	JNZ  bf16_k4

bf16_ktail:
	// for ; q < kp; q++
	MOVQ KC, KK
	ANDQ $3, KK
	JZ   bf16_kdone

bf16_k1:
	BF16_KSTEP(0)
	ADDQ $48, APTR
	DECQ KK
	JNZ  bf16_k1

bf16_kdone:
	// if accum != 0 { acc += C tile }, three rows at a time; CROW3 walks
	// down while CROW0 stays at the tile's first row.
	MOVQ accum+72(FP), KK
	TESTQ KK, KK
	JZ   bf16_store
	CMPQ KK, $2
	JEQ  bf16_bias
	MOVQ CROW0, CROW3
	BF16_ADD3(Z0, Z1, Z2, Z3, Z4, Z5)
	LEAQ (CROW0)(LDC*2), CROW0
	ADDQ LDC, CROW0
	BF16_ADD3(Z6, Z7, Z8, Z9, Z10, Z11)
	LEAQ (CROW0)(LDC*2), CROW0
	ADDQ LDC, CROW0
	BF16_ADD3(Z12, Z13, Z14, Z15, Z16, Z17)
	LEAQ (CROW0)(LDC*2), CROW0
	ADDQ LDC, CROW0
	BF16_ADD3(Z18, Z19, Z20, Z21, Z22, Z23)
	MOVQ CROW3, CROW0
	JMP  bf16_store

bf16_bias:
	// accum 2: acc += bias[jr*32:][:32] in every row; the bias advances
	// with C's column: bias + (CCOL - c).
	MOVQ bias+80(FP), KK
	ADDQ CCOL, KK
	SUBQ c+16(FP), KK
	ZADDROW24(KK)

bf16_store:
	// C tile = acc; CROW0 ends 12 rows down, at the next tile.
	BF16_ST3(Z0, Z1, Z2, Z3, Z4, Z5)
	BF16_ST3(Z6, Z7, Z8, Z9, Z10, Z11)
	BF16_ST3(Z12, Z13, Z14, Z15, Z16, Z17)
	BF16_ST3(Z18, Z19, Z20, Z21, Z22, Z23)
	DECQ IR
	JNZ  bf16_ir

bf16_jrnext:
	// Next column of tiles: BPAN += 4*bstep, CCOL += 32 floats.
	MOVQ bstep+40(FP), KK
	LEAQ (BPAN)(KK*4), BPAN
	ADDQ $128, CCOL
	DECQ JR
	JNZ  bf16_jr

bf16_done:
	VZEROUPPER
	RET


// ---------------------------------------------------------------------------
// Packing: float32 rounded to bfloat16 pairs.

// pairIdx interleaves the two halves of 32 words: word 2j = word j, word
// 2j+1 = word 16+j.
DATA pairIdx<>+0(SB)/8, $0x0011000100100000
DATA pairIdx<>+8(SB)/8, $0x0013000300120002
DATA pairIdx<>+16(SB)/8, $0x0015000500140004
DATA pairIdx<>+24(SB)/8, $0x0017000700160006
DATA pairIdx<>+32(SB)/8, $0x0019000900180008
DATA pairIdx<>+40(SB)/8, $0x001b000b001a000a
DATA pairIdx<>+48(SB)/8, $0x001d000d001c000c
DATA pairIdx<>+56(SB)/8, $0x001f000f001e000e
GLOBL pairIdx<>(SB), RODATA|NOPTR, $64

// func sgemmPackBPairs32BF16(dst, src *float32, kp, ldb, nPanels, qRows int)
//
//	for q := 0; q < qRows; q++ {
//		for jp := 0; jp < nPanels; jp++ {
//			for j := 0; j < 32; j++ {
//				dst[(jp*kp+q)*32+j] = pair(src[2q*ldb+jp*32+j], src[(2q+1)*ldb+jp*32+j])
//			}
//		}
//	}
//
// Rows 2q and 2q+1, 16 columns at a time: VCVTNE2PS2BF16 puts row 2q's
// bfloat16 words before row 2q+1's, VPERMW (pairIdx) interleaves them.
// Registers: DI dst (pair row q of panel 0), SI src (row 2q), R8 panel
// stride bytes, R9 ldb bytes, CX pair rows left, R10 panels left, R11/R12
// rows 2q and 2q+1 at the panel, R13 destination.
TEXT ·sgemmPackBPairs32BF16(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ kp+16(FP), R8
	SHLQ $7, R8
	MOVQ ldb+24(FP), R9
	SHLQ $2, R9
	MOVQ qRows+40(FP), CX
	TESTQ CX, CX
	JLE  pbdone
	VMOVDQU64 pairIdx<>(SB), Z31

pbrow:
	MOVQ SI, R11
	LEAQ (SI)(R9*1), R12
	MOVQ DI, R13
	MOVQ nPanels+32(FP), R10
	TESTQ R10, R10
	JLE  pbnext

pbpanel:
	VMOVUPS (R11), Z0
	VMOVUPS (R12), Z1
	VMOVUPS 64(R11), Z4
	VMOVUPS 64(R12), Z5
	VCVTNE2PS2BF16_Z(2, 1, 0)
	VCVTNE2PS2BF16_Z(6, 5, 4)
	VPERMW Z2, Z31, Z3
	VPERMW Z6, Z31, Z7
	VMOVUPS Z3, (R13)
	VMOVUPS Z7, 64(R13)
	ADDQ $128, R11
	ADDQ $128, R12
	ADDQ R8, R13
	DECQ R10
	JNZ  pbpanel

pbnext:
	LEAQ (SI)(R9*2), SI
	ADDQ $128, DI
	DECQ CX
	JNZ  pbrow

pbdone:
	VZEROUPPER
	RET

// func sgemmPackPairsT16BF16(dst, src *float32, lds, ldd, rows, qBlocks int)
//
//	for q := 0; q < 16*qBlocks; q++ {
//		for r := 0; r < rows; r++ {
//			dst[q*ldd+r] = pair(src[r*lds+2*q], src[r*lds+2*q+1])
//		}
//	}
//
// Per block of 16 pairs: rows r < rows are converted 32 floats at a time
// (VCVTNE2PS2BF16: the 16 pairs in order, one per 32-bit slot) into Z0..Z15
// (zero for r ≥ rows), a 16×16 transpose of 32-bit slots (TRANSPOSE16,
// gemm_amd64.h) leaves pair q of every row in Z(q), and each is stored as
// rows slots (K1).
// Registers: DI dst, SI/R8/R9/R10 rows 0, 4, 8, 12 (at the block), R11 lds
// bytes, R12 3·lds, R13 ldd bytes, DX rows, CX blocks left, BX store pointer.
TEXT ·sgemmPackPairsT16BF16(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R11
	SHLQ $2, R11
	LEAQ (R11)(R11*2), R12
	LEAQ (SI)(R11*4), R8
	LEAQ (R8)(R11*4), R9
	LEAQ (R9)(R11*4), R10
	MOVQ ldd+24(FP), R13
	SHLQ $2, R13
	MOVQ rows+32(FP), DX
	MOVL $1, AX
	MOVQ DX, CX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVQ qBlocks+40(FP), CX
	TESTQ CX, CX
	JLE ptdone
ptblock:
	CMPQ DX, $0
	JLE ptz0
	VMOVUPS (SI), Z16
	VMOVUPS 64(SI), Z17
	VCVTNE2PS2BF16_Z(0, 17, 16)
	JMP ptl0
ptz0:
	VPXORD Z0, Z0, Z0
ptl0:
	CMPQ DX, $1
	JLE ptz1
	VMOVUPS (SI)(R11*1), Z16
	VMOVUPS 64(SI)(R11*1), Z17
	VCVTNE2PS2BF16_Z(1, 17, 16)
	JMP ptl1
ptz1:
	VPXORD Z1, Z1, Z1
ptl1:
	CMPQ DX, $2
	JLE ptz2
	VMOVUPS (SI)(R11*2), Z16
	VMOVUPS 64(SI)(R11*2), Z17
	VCVTNE2PS2BF16_Z(2, 17, 16)
	JMP ptl2
ptz2:
	VPXORD Z2, Z2, Z2
ptl2:
	CMPQ DX, $3
	JLE ptz3
	VMOVUPS (SI)(R12*1), Z16
	VMOVUPS 64(SI)(R12*1), Z17
	VCVTNE2PS2BF16_Z(3, 17, 16)
	JMP ptl3
ptz3:
	VPXORD Z3, Z3, Z3
ptl3:
	CMPQ DX, $4
	JLE ptz4
	VMOVUPS (R8), Z16
	VMOVUPS 64(R8), Z17
	VCVTNE2PS2BF16_Z(4, 17, 16)
	JMP ptl4
ptz4:
	VPXORD Z4, Z4, Z4
ptl4:
	CMPQ DX, $5
	JLE ptz5
	VMOVUPS (R8)(R11*1), Z16
	VMOVUPS 64(R8)(R11*1), Z17
	VCVTNE2PS2BF16_Z(5, 17, 16)
	JMP ptl5
ptz5:
	VPXORD Z5, Z5, Z5
ptl5:
	CMPQ DX, $6
	JLE ptz6
	VMOVUPS (R8)(R11*2), Z16
	VMOVUPS 64(R8)(R11*2), Z17
	VCVTNE2PS2BF16_Z(6, 17, 16)
	JMP ptl6
ptz6:
	VPXORD Z6, Z6, Z6
ptl6:
	CMPQ DX, $7
	JLE ptz7
	VMOVUPS (R8)(R12*1), Z16
	VMOVUPS 64(R8)(R12*1), Z17
	VCVTNE2PS2BF16_Z(7, 17, 16)
	JMP ptl7
ptz7:
	VPXORD Z7, Z7, Z7
ptl7:
	CMPQ DX, $8
	JLE ptz8
	VMOVUPS (R9), Z16
	VMOVUPS 64(R9), Z17
	VCVTNE2PS2BF16_Z(8, 17, 16)
	JMP ptl8
ptz8:
	VPXORD Z8, Z8, Z8
ptl8:
	CMPQ DX, $9
	JLE ptz9
	VMOVUPS (R9)(R11*1), Z16
	VMOVUPS 64(R9)(R11*1), Z17
	VCVTNE2PS2BF16_Z(9, 17, 16)
	JMP ptl9
ptz9:
	VPXORD Z9, Z9, Z9
ptl9:
	CMPQ DX, $10
	JLE ptz10
	VMOVUPS (R9)(R11*2), Z16
	VMOVUPS 64(R9)(R11*2), Z17
	VCVTNE2PS2BF16_Z(10, 17, 16)
	JMP ptl10
ptz10:
	VPXORD Z10, Z10, Z10
ptl10:
	CMPQ DX, $11
	JLE ptz11
	VMOVUPS (R9)(R12*1), Z16
	VMOVUPS 64(R9)(R12*1), Z17
	VCVTNE2PS2BF16_Z(11, 17, 16)
	JMP ptl11
ptz11:
	VPXORD Z11, Z11, Z11
ptl11:
	CMPQ DX, $12
	JLE ptz12
	VMOVUPS (R10), Z16
	VMOVUPS 64(R10), Z17
	VCVTNE2PS2BF16_Z(12, 17, 16)
	JMP ptl12
ptz12:
	VPXORD Z12, Z12, Z12
ptl12:
	CMPQ DX, $13
	JLE ptz13
	VMOVUPS (R10)(R11*1), Z16
	VMOVUPS 64(R10)(R11*1), Z17
	VCVTNE2PS2BF16_Z(13, 17, 16)
	JMP ptl13
ptz13:
	VPXORD Z13, Z13, Z13
ptl13:
	CMPQ DX, $14
	JLE ptz14
	VMOVUPS (R10)(R11*2), Z16
	VMOVUPS 64(R10)(R11*2), Z17
	VCVTNE2PS2BF16_Z(14, 17, 16)
	JMP ptl14
ptz14:
	VPXORD Z14, Z14, Z14
ptl14:
	CMPQ DX, $15
	JLE ptz15
	VMOVUPS (R10)(R12*1), Z16
	VMOVUPS 64(R10)(R12*1), Z17
	VCVTNE2PS2BF16_Z(15, 17, 16)
	JMP ptl15
ptz15:
	VPXORD Z15, Z15, Z15
ptl15:
	TRANSPOSE16
	MOVQ DI, BX
	VMOVUPS Z0, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z1, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z2, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z3, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z4, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z5, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z6, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z7, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z8, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z9, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z10, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z11, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z12, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z13, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z14, K1, (BX)
	ADDQ R13, BX
	VMOVUPS Z15, K1, (BX)
	LEAQ (BX)(R13*1), DI
	ADDQ $128, SI
	ADDQ $128, R8
	ADDQ $128, R9
	ADDQ $128, R10
	DECQ CX
	JNZ ptblock
ptdone:
	VZEROUPPER
	RET

// func sgemmPackATPairs12BF16(dst, src *float32, kp, lda, nPanels, qRows, rows int)
//
//	for q := 0; q < qRows; q++ {
//		for ip := 0; ip < nPanels; ip++ {
//			for i := 0; i < 12; i++ {
//				dst[(ip*kp+q)*12+i] = pair(src[2q*lda+ip*12+i], src[(2q+1)*lda+ip*12+i]) if i < rows, else 0
//			}
//		}
//	}
//
// packAPairs of a transposed A (stored k×m) into 12-row micro-panels: the
// pairs run down the stored columns, as packBPairs' do down B's, so each
// step is sgemmPackBPairs32BF16's on 12 columns (K2 masks the loads to
// rows columns, K1 the store to 12).
TEXT ·sgemmPackATPairs12BF16(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ kp+16(FP), R8
	LEAQ (R8)(R8*2), R8
	SHLQ $4, R8 // kp*12*4: the bytes of a micro-panel
	MOVQ lda+24(FP), R9
	SHLQ $2, R9
	MOVQ qRows+40(FP), CX
	TESTQ CX, CX
	JLE  padone
	VMOVDQU64 pairIdx<>(SB), Z31
	MOVQ $0xfff, AX
	KMOVW AX, K1
	MOVQ rows+48(FP), CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	ANDQ $0xfff, AX
	KMOVW AX, K2
	MOVQ qRows+40(FP), CX

parow:
	MOVQ SI, R11
	LEAQ (SI)(R9*1), R12
	MOVQ DI, R13
	MOVQ nPanels+32(FP), R10
	TESTQ R10, R10
	JLE  panext

papanel:
	VMOVUPS.Z (R11), K2, Z0
	VMOVUPS.Z (R12), K2, Z1
	VCVTNE2PS2BF16_Z(2, 1, 0)
	VPERMW Z2, Z31, Z3
	VMOVUPS Z3, K1, (R13)
	ADDQ $48, R11
	ADDQ $48, R12
	ADDQ R8, R13
	DECQ R10
	JNZ  papanel

panext:
	LEAQ (SI)(R9*2), SI
	ADDQ $48, DI
	DECQ CX
	JNZ  parow

padone:
	VZEROUPPER
	RET
