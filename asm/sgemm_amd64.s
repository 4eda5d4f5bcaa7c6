//go:build !purego

#include "textflag.h"
#include "gemm_amd64.h"

// Packed SGEMM block kernels for amd64. Each call runs the jr and ir loops
// of one packed block (see gemmKernel.block in sgemm_packed.go):
//
//	for jr := 0; jr < nTiles; jr++ {
//		for ir := 0; ir < mTiles; ir++ {
//			acc := Ã[ir] · B̃[jr]            // MR×NR tile in registers
//			if accum != 0 { acc += C tile }
//			C tile = acc
//		}
//	}
//
// Ã[ir] is packed: element (i,p) at a + 4*(ir*kc*MR + p*MR + i).
// B̃[jr] row p starts at b + 4*(jr*bstep + p*ldb).

// Registers shared by both kernels.
#define APTR AX   // walks the packed A block
#define BPTR BX   // walks one B micro-panel, row by row
#define KC CX     // kc
#define CCOL DX   // top-left of the current column of C tiles
#define BPAN SI   // first row of the current B micro-panel
#define LDB DI    // B row stride in bytes
#define LDC R8    // C row stride in bytes
#define CROW3 R9  // C tile row 3
#define JR R10    // jr tiles left
#define CROW0 R11 // C tile row 0
#define IR R12    // ir tiles left
#define KK R13    // k iterations left

// ---------------------------------------------------------------------------
// AVX2 + FMA, 6×16 tile: Y0..Y11 accumulate rows 0..5 (two ymm per row),
// Y12/Y13 hold B(p, 0:8) and B(p, 8:16), Y14/Y15 hold broadcasts of A(i,p).

// AVX2_KSTEP: acc[i][:] += A(i,p) * B(p,:) for i < 6, with A(·,p) at
// ka(APTR); then BPTR moves to row p+1.
#define AVX2_KSTEP(ka) \
	VMOVUPS (BPTR), Y12; \
	VMOVUPS 32(BPTR), Y13; \
	ADDQ LDB, BPTR; \
	VBROADCASTSS (ka)(APTR), Y14; \
	VBROADCASTSS (ka+4)(APTR), Y15; \
	VFMADD231PS Y12, Y14, Y0; \
	VFMADD231PS Y13, Y14, Y1; \
	VFMADD231PS Y12, Y15, Y2; \
	VFMADD231PS Y13, Y15, Y3; \
	VBROADCASTSS (ka+8)(APTR), Y14; \
	VBROADCASTSS (ka+12)(APTR), Y15; \
	VFMADD231PS Y12, Y14, Y4; \
	VFMADD231PS Y13, Y14, Y5; \
	VFMADD231PS Y12, Y15, Y6; \
	VFMADD231PS Y13, Y15, Y7; \
	VBROADCASTSS (ka+16)(APTR), Y14; \
	VBROADCASTSS (ka+20)(APTR), Y15; \
	VFMADD231PS Y12, Y14, Y8; \
	VFMADD231PS Y13, Y14, Y9; \
	VFMADD231PS Y12, Y15, Y10; \
	VFMADD231PS Y13, Y15, Y11

// func sgemmBlockAVX2(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum int, bias *float32)
// (bias unused: accum is 0 or 1)
TEXT ·sgemmBlockAVX2(SB), NOSPLIT, $0-88
	MOVQ b+8(FP), BPAN
	MOVQ c+16(FP), CCOL
	MOVQ kc+24(FP), KC
	MOVQ ldb+32(FP), LDB
	SHLQ $2, LDB
	MOVQ ldc+48(FP), LDC
	SHLQ $2, LDC
	MOVQ nTiles+64(FP), JR
	TESTQ JR, JR
	JLE  avx2_done

avx2_jr:
	// New column of tiles: restart A at the top of the block.
	MOVQ a+0(FP), APTR
	MOVQ CCOL, CROW0
	MOVQ mTiles+56(FP), IR
	TESTQ IR, IR
	JLE  avx2_jrnext

avx2_ir:
	// CROW3 = CROW0 + 3*ldc; zero the accumulators; touch the C tile.
	LEAQ (CROW0)(LDC*2), CROW3
	ADDQ LDC, CROW3
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	PREFETCHT0 (CROW0)
	PREFETCHT0 (CROW0)(LDC*1)
	PREFETCHT0 (CROW0)(LDC*2)
	PREFETCHT0 (CROW3)
	PREFETCHT0 (CROW3)(LDC*1)
	PREFETCHT0 (CROW3)(LDC*2)
	MOVQ BPAN, BPTR

	// for p := 0; p < kc&^3; p += 4: four rank-1 updates.
	MOVQ KC, KK
	SHRQ $2, KK
	JZ   avx2_ktail

avx2_k4:
	AVX2_KSTEP(0)
	AVX2_KSTEP(24)
	AVX2_KSTEP(48)
	AVX2_KSTEP(72)
	ADDQ $96, APTR
	DECQ KK
	JNZ  avx2_k4

avx2_ktail:
	// for ; p < kc; p++
	MOVQ KC, KK
	ANDQ $3, KK
	JZ   avx2_kdone

avx2_k1:
	AVX2_KSTEP(0)
	ADDQ $24, APTR
	DECQ KK
	JNZ  avx2_k1

avx2_kdone:
	// if accum != 0 { acc += C tile }
	MOVQ accum+72(FP), KK
	TESTQ KK, KK
	JZ   avx2_store
	VADDPS (CROW0), Y0, Y0
	VADDPS 32(CROW0), Y1, Y1
	VADDPS (CROW0)(LDC*1), Y2, Y2
	VADDPS 32(CROW0)(LDC*1), Y3, Y3
	VADDPS (CROW0)(LDC*2), Y4, Y4
	VADDPS 32(CROW0)(LDC*2), Y5, Y5
	VADDPS (CROW3), Y6, Y6
	VADDPS 32(CROW3), Y7, Y7
	VADDPS (CROW3)(LDC*1), Y8, Y8
	VADDPS 32(CROW3)(LDC*1), Y9, Y9
	VADDPS (CROW3)(LDC*2), Y10, Y10
	VADDPS 32(CROW3)(LDC*2), Y11, Y11

avx2_store:
	// C tile = acc
	VMOVUPS Y0, (CROW0)
	VMOVUPS Y1, 32(CROW0)
	VMOVUPS Y2, (CROW0)(LDC*1)
	VMOVUPS Y3, 32(CROW0)(LDC*1)
	VMOVUPS Y4, (CROW0)(LDC*2)
	VMOVUPS Y5, 32(CROW0)(LDC*2)
	VMOVUPS Y6, (CROW3)
	VMOVUPS Y7, 32(CROW3)
	VMOVUPS Y8, (CROW3)(LDC*1)
	VMOVUPS Y9, 32(CROW3)(LDC*1)
	VMOVUPS Y10, (CROW3)(LDC*2)
	VMOVUPS Y11, 32(CROW3)(LDC*2)

	// Next tile down: CROW0 = CROW3 + 3*ldc. APTR already points at the
	// next A micro-panel.
	LEAQ (CROW3)(LDC*2), CROW0
	ADDQ LDC, CROW0
	DECQ IR
	JNZ  avx2_ir

avx2_jrnext:
	// Next column of tiles: BPAN += 4*bstep, CCOL += 16 floats.
	MOVQ bstep+40(FP), KK
	LEAQ (BPAN)(KK*4), BPAN
	ADDQ $64, CCOL
	DECQ JR
	JNZ  avx2_jr

avx2_done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX2 + FMA 6×16 kernel reading A unpacked: A is row-major with row stride
// lda, so the A operand of row tile ir starts at a + ir·6·lda and element
// (i,p) of the tile is at a[(ir·6+i)·lda + p]. Everything else is as in
// sgemmBlockAVX2. It spares packing A when A is not transposed and alpha
// is 1; the six rows stream along k, each from its own cache lines.

#define AROW0 AX  // row 0 of the current A tile, at element p
#define AROW3 CX  // row 3 of the current A tile, at element p
#define LDA R14   // A row stride in bytes

// AVX2A_KSTEP: acc[i][:] += A(i,p) * B(p,:) for i < 6, with A(i,p) at
// ka(AROW0 + i·lda) (rows 3..5 from AROW3); then BPTR moves to row p+1.
#define AVX2A_KSTEP(ka) \
	VMOVUPS (BPTR), Y12; \
	VMOVUPS 32(BPTR), Y13; \
	ADDQ LDB, BPTR; \
	VBROADCASTSS (ka)(AROW0), Y14; \
	VBROADCASTSS (ka)(AROW0)(LDA*1), Y15; \
	VFMADD231PS Y12, Y14, Y0; \
	VFMADD231PS Y13, Y14, Y1; \
	VFMADD231PS Y12, Y15, Y2; \
	VFMADD231PS Y13, Y15, Y3; \
	VBROADCASTSS (ka)(AROW0)(LDA*2), Y14; \
	VBROADCASTSS (ka)(AROW3), Y15; \
	VFMADD231PS Y12, Y14, Y4; \
	VFMADD231PS Y13, Y14, Y5; \
	VFMADD231PS Y12, Y15, Y6; \
	VFMADD231PS Y13, Y15, Y7; \
	VBROADCASTSS (ka)(AROW3)(LDA*1), Y14; \
	VBROADCASTSS (ka)(AROW3)(LDA*2), Y15; \
	VFMADD231PS Y12, Y14, Y8; \
	VFMADD231PS Y13, Y14, Y9; \
	VFMADD231PS Y12, Y15, Y10; \
	VFMADD231PS Y13, Y15, Y11

// func sgemmBlockAVX2A(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum, lda int, bias *float32)
// (bias unused: accum is 0 or 1)
TEXT ·sgemmBlockAVX2A(SB), NOSPLIT, $0-96
	MOVQ b+8(FP), BPAN
	MOVQ c+16(FP), CCOL
	MOVQ lda+80(FP), LDA
	SHLQ $2, LDA
	MOVQ ldb+32(FP), LDB
	SHLQ $2, LDB
	MOVQ ldc+48(FP), LDC
	SHLQ $2, LDC
	MOVQ nTiles+64(FP), JR
	TESTQ JR, JR
	JLE  avx2a_done

avx2a_jr:
	// New column of tiles: restart A at the top of the block.
	MOVQ a+0(FP), AROW0
	MOVQ CCOL, CROW0
	MOVQ mTiles+56(FP), IR
	TESTQ IR, IR
	JLE  avx2a_jrnext

avx2a_ir:
	// CROW3 = CROW0 + 3*ldc, AROW3 = AROW0 + 3*lda; zero the
	// accumulators; touch the C tile.
	LEAQ (CROW0)(LDC*2), CROW3
	ADDQ LDC, CROW3
	LEAQ (AROW0)(LDA*2), AROW3
	ADDQ LDA, AROW3
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	PREFETCHT0 (CROW0)
	PREFETCHT0 (CROW0)(LDC*1)
	PREFETCHT0 (CROW0)(LDC*2)
	PREFETCHT0 (CROW3)
	PREFETCHT0 (CROW3)(LDC*1)
	PREFETCHT0 (CROW3)(LDC*2)
	MOVQ BPAN, BPTR

	// for p := 0; p < kc&^3; p += 4: four rank-1 updates.
	MOVQ kc+24(FP), KK
	SHRQ $2, KK
	JZ   avx2a_ktail

avx2a_k4:
	AVX2A_KSTEP(0)
	AVX2A_KSTEP(4)
	AVX2A_KSTEP(8)
	AVX2A_KSTEP(12)
	ADDQ $16, AROW0
	ADDQ $16, AROW3
	DECQ KK
	JNZ  avx2a_k4

avx2a_ktail:
	// for ; p < kc; p++
	MOVQ kc+24(FP), KK
	ANDQ $3, KK
	JZ   avx2a_kdone

avx2a_k1:
	AVX2A_KSTEP(0)
	ADDQ $4, AROW0
	ADDQ $4, AROW3
	DECQ KK
	JNZ  avx2a_k1

avx2a_kdone:
	// if accum != 0 { acc += C tile }
	MOVQ accum+72(FP), KK
	TESTQ KK, KK
	JZ   avx2a_store
	VADDPS (CROW0), Y0, Y0
	VADDPS 32(CROW0), Y1, Y1
	VADDPS (CROW0)(LDC*1), Y2, Y2
	VADDPS 32(CROW0)(LDC*1), Y3, Y3
	VADDPS (CROW0)(LDC*2), Y4, Y4
	VADDPS 32(CROW0)(LDC*2), Y5, Y5
	VADDPS (CROW3), Y6, Y6
	VADDPS 32(CROW3), Y7, Y7
	VADDPS (CROW3)(LDC*1), Y8, Y8
	VADDPS 32(CROW3)(LDC*1), Y9, Y9
	VADDPS (CROW3)(LDC*2), Y10, Y10
	VADDPS 32(CROW3)(LDC*2), Y11, Y11

avx2a_store:
	// C tile = acc
	VMOVUPS Y0, (CROW0)
	VMOVUPS Y1, 32(CROW0)
	VMOVUPS Y2, (CROW0)(LDC*1)
	VMOVUPS Y3, 32(CROW0)(LDC*1)
	VMOVUPS Y4, (CROW0)(LDC*2)
	VMOVUPS Y5, 32(CROW0)(LDC*2)
	VMOVUPS Y6, (CROW3)
	VMOVUPS Y7, 32(CROW3)
	VMOVUPS Y8, (CROW3)(LDC*1)
	VMOVUPS Y9, 32(CROW3)(LDC*1)
	VMOVUPS Y10, (CROW3)(LDC*2)
	VMOVUPS Y11, 32(CROW3)(LDC*2)

	// Next tile down: CROW0 = CROW3 + 3*ldc; AROW0 moves back by kc and
	// down by 6 rows.
	LEAQ (CROW3)(LDC*2), CROW0
	ADDQ LDC, CROW0
	MOVQ kc+24(FP), KK
	SHLQ $2, KK
	SUBQ KK, AROW0
	LEAQ (AROW0)(LDA*4), AROW0
	LEAQ (AROW0)(LDA*2), AROW0
	DECQ IR
	JNZ  avx2a_ir

avx2a_jrnext:
	// Next column of tiles: BPAN += 4*bstep, CCOL += 16 floats.
	MOVQ bstep+40(FP), KK
	LEAQ (BPAN)(KK*4), BPAN
	ADDQ $64, CCOL
	DECQ JR
	JNZ  avx2a_jr

avx2a_done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX-512F, 12×32 tile: Z0..Z23 accumulate rows 0..11 (two zmm per row),
// Z24/Z25 hold B(p, 0:16) and B(p, 16:32), Z26..Z31 hold broadcasts of
// A(i,p). Same structure as the AVX2 kernel.

// AVX512_KSTEP: acc[i][:] += A(i,p) * B(p,:) for i < 12, with A(·,p) at
// ka(APTR); then BPTR moves to row p+1.
#define AVX512_KSTEP(ka) \
	VMOVUPS (BPTR), Z24; \
	VMOVUPS 64(BPTR), Z25; \
	ADDQ LDB, BPTR; \
	VBROADCASTSS (ka)(APTR), Z26; \
	VBROADCASTSS (ka+4)(APTR), Z27; \
	VBROADCASTSS (ka+8)(APTR), Z28; \
	VFMADD231PS Z24, Z26, Z0; \
	VFMADD231PS Z25, Z26, Z1; \
	VFMADD231PS Z24, Z27, Z2; \
	VFMADD231PS Z25, Z27, Z3; \
	VFMADD231PS Z24, Z28, Z4; \
	VFMADD231PS Z25, Z28, Z5; \
	VBROADCASTSS (ka+12)(APTR), Z29; \
	VBROADCASTSS (ka+16)(APTR), Z30; \
	VBROADCASTSS (ka+20)(APTR), Z31; \
	VFMADD231PS Z24, Z29, Z6; \
	VFMADD231PS Z25, Z29, Z7; \
	VFMADD231PS Z24, Z30, Z8; \
	VFMADD231PS Z25, Z30, Z9; \
	VFMADD231PS Z24, Z31, Z10; \
	VFMADD231PS Z25, Z31, Z11; \
	VBROADCASTSS (ka+24)(APTR), Z26; \
	VBROADCASTSS (ka+28)(APTR), Z27; \
	VBROADCASTSS (ka+32)(APTR), Z28; \
	VFMADD231PS Z24, Z26, Z12; \
	VFMADD231PS Z25, Z26, Z13; \
	VFMADD231PS Z24, Z27, Z14; \
	VFMADD231PS Z25, Z27, Z15; \
	VFMADD231PS Z24, Z28, Z16; \
	VFMADD231PS Z25, Z28, Z17; \
	VBROADCASTSS (ka+36)(APTR), Z29; \
	VBROADCASTSS (ka+40)(APTR), Z30; \
	VBROADCASTSS (ka+44)(APTR), Z31; \
	VFMADD231PS Z24, Z29, Z18; \
	VFMADD231PS Z25, Z29, Z19; \
	VFMADD231PS Z24, Z30, Z20; \
	VFMADD231PS Z25, Z30, Z21; \
	VFMADD231PS Z24, Z31, Z22; \
	VFMADD231PS Z25, Z31, Z23

// AVX512_ADD3: add C rows CROW0, +ldc, +2*ldc into six accumulators.
#define AVX512_ADD3(r0a, r0b, r1a, r1b, r2a, r2b) \
	VADDPS (CROW0), r0a, r0a; \
	VADDPS 64(CROW0), r0b, r0b; \
	VADDPS (CROW0)(LDC*1), r1a, r1a; \
	VADDPS 64(CROW0)(LDC*1), r1b, r1b; \
	VADDPS (CROW0)(LDC*2), r2a, r2a; \
	VADDPS 64(CROW0)(LDC*2), r2b, r2b

// AVX512_ST3: store six accumulators to C rows CROW0, +ldc, +2*ldc, then
// move CROW0 down three rows.
#define AVX512_ST3(r0a, r0b, r1a, r1b, r2a, r2b) \
	VMOVUPS r0a, (CROW0); \
	VMOVUPS r0b, 64(CROW0); \
	VMOVUPS r1a, (CROW0)(LDC*1); \
	VMOVUPS r1b, 64(CROW0)(LDC*1); \
	VMOVUPS r2a, (CROW0)(LDC*2); \
	VMOVUPS r2b, 64(CROW0)(LDC*2); \
	LEAQ (CROW0)(LDC*2), CROW0; \
	ADDQ LDC, CROW0

// The tile's steps shared by the 12×32 kernels (packed A and A in place):
// AVX512_ZERO24 zeroes the accumulators Z0..Z23; AVX512_PREFC(t)
// prefetches the tile's 24 cache lines of C (12 rows of 128 bytes from
// CROW0, t walking the rows); AVX512_ADDC(t) adds the C tile into the
// accumulators (t keeps CROW0); AVX512_STC stores them, leaving CROW0 12
// rows down, at the next tile.
#define AVX512_ZERO24 \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15; \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD Z22, Z22, Z22; \
	VPXORD Z23, Z23, Z23

// AVX512_PREF3(r): prefetch the 128 bytes of C rows r, +ldc, +2*ldc.
#define AVX512_PREF3(r) \
	PREFETCHT0 (r); \
	PREFETCHT0 64(r); \
	PREFETCHT0 (r)(LDC*1); \
	PREFETCHT0 64(r)(LDC*1); \
	PREFETCHT0 (r)(LDC*2); \
	PREFETCHT0 64(r)(LDC*2)

#define AVX512_PREFC(t) \
	AVX512_PREF3(CROW0); \
	LEAQ (CROW0)(LDC*2), t; \
	ADDQ LDC, t; \
	AVX512_PREF3(t); \
	LEAQ (t)(LDC*2), t; \
	ADDQ LDC, t; \
	AVX512_PREF3(t); \
	LEAQ (t)(LDC*2), t; \
	ADDQ LDC, t; \
	AVX512_PREF3(t)

#define AVX512_ADDC(t) \
	MOVQ CROW0, t; \
	AVX512_ADD3(Z0, Z1, Z2, Z3, Z4, Z5); \
	LEAQ (CROW0)(LDC*2), CROW0; \
	ADDQ LDC, CROW0; \
	AVX512_ADD3(Z6, Z7, Z8, Z9, Z10, Z11); \
	LEAQ (CROW0)(LDC*2), CROW0; \
	ADDQ LDC, CROW0; \
	AVX512_ADD3(Z12, Z13, Z14, Z15, Z16, Z17); \
	LEAQ (CROW0)(LDC*2), CROW0; \
	ADDQ LDC, CROW0; \
	AVX512_ADD3(Z18, Z19, Z20, Z21, Z22, Z23); \
	MOVQ t, CROW0

#define AVX512_STC \
	AVX512_ST3(Z0, Z1, Z2, Z3, Z4, Z5); \
	AVX512_ST3(Z6, Z7, Z8, Z9, Z10, Z11); \
	AVX512_ST3(Z12, Z13, Z14, Z15, Z16, Z17); \
	AVX512_ST3(Z18, Z19, Z20, Z21, Z22, Z23)

// func sgemmBlockAVX512(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum int, bias *float32)
TEXT ·sgemmBlockAVX512(SB), NOSPLIT, $0-88
	MOVQ b+8(FP), BPAN
	MOVQ c+16(FP), CCOL
	MOVQ kc+24(FP), KC
	MOVQ ldb+32(FP), LDB
	SHLQ $2, LDB
	MOVQ ldc+48(FP), LDC
	SHLQ $2, LDC
	MOVQ nTiles+64(FP), JR
	TESTQ JR, JR
	JLE  avx512_done

avx512_jr:
	// New column of tiles: restart A at the top of the block.
	MOVQ a+0(FP), APTR
	MOVQ CCOL, CROW0
	MOVQ mTiles+56(FP), IR
	TESTQ IR, IR
	JLE  avx512_jrnext

avx512_ir:
	// Zero the accumulators; touch the C tile (read and written after the
	// k loop).
	AVX512_ZERO24
	AVX512_PREFC(CROW3)
	MOVQ BPAN, BPTR

	// for p := 0; p < kc&^3; p += 4: four rank-1 updates.
	MOVQ KC, KK
	SHRQ $2, KK
	JZ   avx512_ktail

avx512_k4:
	AVX512_KSTEP(0)
	AVX512_KSTEP(48)
	AVX512_KSTEP(96)
	AVX512_KSTEP(144)
	ADDQ $192, APTR
	DECQ KK
	JNZ  avx512_k4

avx512_ktail:
	// for ; p < kc; p++
	MOVQ KC, KK
	ANDQ $3, KK
	JZ   avx512_kdone

avx512_k1:
	AVX512_KSTEP(0)
	ADDQ $48, APTR
	DECQ KK
	JNZ  avx512_k1

avx512_kdone:
	// accum 1: acc += C tile, three rows at a time; accum 2: acc +=
	// bias[jr*32:][:32] in every row.
	MOVQ accum+72(FP), KK
	TESTQ KK, KK
	JZ   avx512_store
	CMPQ KK, $2
	JEQ  avx512_bias
	AVX512_ADDC(CROW3)
	JMP  avx512_store

avx512_bias:
	// The bias advances with C's column: bias + (CCOL - c).
	MOVQ bias+80(FP), KK
	ADDQ CCOL, KK
	SUBQ c+16(FP), KK
	ZADDROW24(KK)

avx512_store:
	// C tile = acc; CROW0 ends 12 rows down, at the next tile.
	AVX512_STC
	DECQ IR
	JNZ  avx512_ir

avx512_jrnext:
	// Next column of tiles: BPAN += 4*bstep, CCOL += 32 floats.
	MOVQ bstep+40(FP), KK
	LEAQ (BPAN)(KK*4), BPAN
	ADDQ $128, CCOL
	DECQ JR
	JNZ  avx512_jr

avx512_done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// B packing for the non-transposed case: kc rows of nPanels·NR floats each
// (row stride ldb) dealt out to NR-wide micro-panels of kc rows:
//
//	for p := 0; p < rows; p++ {
//		for jp := 0; jp < nPanels; jp++ {
//			copy(dst[(jp*kc+p)*NR:][:NR], src[p*ldb+jp*NR:][:NR])
//		}
//	}
//
// Registers: SI source row, DI destination, R8 panel stride (kc·NR·4 bytes),
// R9 source row stride, CX rows left, DX panels left, R10/R11 row starts.

// func sgemmPackB16AVX2(dst, src *float32, kc, ldb, nPanels, rows int)
TEXT ·sgemmPackB16AVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), R10
	MOVQ src+8(FP), R11
	MOVQ kc+16(FP), R8
	SHLQ $6, R8
	MOVQ ldb+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+40(FP), CX
	TESTQ CX, CX
	JLE  pb16_done

pb16_row:
	MOVQ R11, SI
	MOVQ R10, DI
	MOVQ nPanels+32(FP), DX
	TESTQ DX, DX
	JLE  pb16_next

pb16_panel:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ R8, DI
	DECQ DX
	JNZ  pb16_panel

pb16_next:
	// Next row: source down one row, destination one NR-row further.
	ADDQ R9, R11
	ADDQ $64, R10
	DECQ CX
	JNZ  pb16_row

pb16_done:
	VZEROUPPER
	RET

// func sgemmPackB32AVX2(dst, src *float32, kc, ldb, nPanels, rows int)
TEXT ·sgemmPackB32AVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), R10
	MOVQ src+8(FP), R11
	MOVQ kc+16(FP), R8
	SHLQ $7, R8
	MOVQ ldb+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+40(FP), CX
	TESTQ CX, CX
	JLE  pb32_done

pb32_row:
	MOVQ R11, SI
	MOVQ R10, DI
	MOVQ nPanels+32(FP), DX
	TESTQ DX, DX
	JLE  pb32_next

pb32_panel:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	SUBQ $-128, SI
	ADDQ R8, DI
	DECQ DX
	JNZ  pb32_panel

pb32_next:
	ADDQ R9, R11
	SUBQ $-128, R10
	DECQ CX
	JNZ  pb32_row

pb32_done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// B packing for the transposed case (B stored n×k): an 8×8 transpose per
// step. Rows j = 0..7 of the stored B (stride ldb) become columns of the
// packed panel (row stride ldd):
//
//	for q := 0; q < kBlocks; q++ {
//		for r := 0; r < 8; r++ {      // packed row p = 8q + r
//			for j := 0; j < 8; j++ {
//				dst[(8*q+r)*ldd+j] = src[j*ldb+8*q+r]
//			}
//		}
//	}
//
// Y0..Y7 are loaded with rows j = 0..7; unpack-low/high of pairs of floats,
// then of pairs of doubles, give 4×4 transposes inside each 128-bit lane, and
// VPERM2F128 joins the lanes.

// func sgemmPackBT8AVX2(dst, src *float32, ldb, ldd, kBlocks int)
TEXT ·sgemmPackBT8AVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R9
	SHLQ $2, R9              // source row stride in bytes
	LEAQ (R9)(R9*2), R10     // 3 rows
	MOVQ ldd+24(FP), R8
	SHLQ $2, R8              // packed row stride in bytes
	LEAQ (R8)(R8*2), R12     // 3 packed rows
	MOVQ kBlocks+32(FP), CX
	TESTQ CX, CX
	JLE  pbt_done

pbt_loop:
	// Load rows j = 0..7, elements 8q..8q+7. R11 = row 5.
	LEAQ (SI)(R9*4), R11
	ADDQ R9, R11
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R9*1), Y1
	VMOVUPS (SI)(R9*2), Y2
	VMOVUPS (SI)(R10*1), Y3
	VMOVUPS (SI)(R9*4), Y4
	VMOVUPS (R11), Y5
	VMOVUPS (R11)(R9*1), Y6
	VMOVUPS (R11)(R9*2), Y7

	// Interleave float pairs: Y8 = [r0.0 r1.0 r0.1 r1.1 | r0.4 r1.4 r0.5 r1.5] ...
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	// Interleave double pairs: Y0 = [r0..3 at p0 | r0..3 at p4], Y1 = p1|p5,
	// Y2 = p2|p6, Y3 = p3|p7; Y4..Y7 the same for rows 4..7.
	VUNPCKLPD Y10, Y8, Y0
	VUNPCKHPD Y10, Y8, Y1
	VUNPCKLPD Y11, Y9, Y2
	VUNPCKHPD Y11, Y9, Y3
	VUNPCKLPD Y14, Y12, Y4
	VUNPCKHPD Y14, Y12, Y5
	VUNPCKLPD Y15, Y13, Y6
	VUNPCKHPD Y15, Y13, Y7

	// Join lanes: packed row p = [rows 0..3 | rows 4..7] at element p.
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	// Store packed rows 8q..8q+7. R11 = packed row 5.
	LEAQ (DI)(R8*4), R11
	ADDQ R8, R11
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R8*1)
	VMOVUPS Y10, (DI)(R8*2)
	VMOVUPS Y11, (DI)(R12*1)
	VMOVUPS Y12, (DI)(R8*4)
	VMOVUPS Y13, (R11)
	VMOVUPS Y14, (R11)(R8*1)
	VMOVUPS Y15, (R11)(R8*2)

	// Next 8 elements of the source rows, next 8 packed rows.
	ADDQ $32, SI
	LEAQ (DI)(R8*8), DI
	DECQ CX
	JNZ  pbt_loop

pbt_done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// A packing for the 6-row AVX2 kernel, A not transposed: six source rows
// (stride lda), 8 elements at a time, become 8 packed columns of 6 floats,
// scaled by alpha:
//
//	for q := 0; q < kBlocks; q++ {
//		for c := 0; c < 8; c++ {
//			for i := 0; i < 6; i++ {
//				dst[(8*q+c)*6+i] = alpha * src[i*lda+8*q+c]
//			}
//		}
//	}
//
// Rows 0..3 go through 4×4 transposes inside each 128-bit lane (16 bytes
// per column); rows 4 and 5 are interleaved into float pairs (8 bytes per
// column). Nothing is written past dst[48*kBlocks-1].

// func sgemmPackA6AVX2(dst, src *float32, lda, kBlocks int, alpha float32)
TEXT ·sgemmPackA6AVX2(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lda+16(FP), R9
	SHLQ $2, R9              // source row stride in bytes
	LEAQ (R9)(R9*2), R10     // 3 rows
	MOVQ kBlocks+24(FP), CX
	VBROADCASTSS alpha+32(FP), Y15
	TESTQ CX, CX
	JLE  pa6_done

pa6_loop:
	// Y0..Y5 = alpha · rows 0..5, elements 8q..8q+7. R11 = row 3.
	LEAQ (SI)(R10*1), R11
	VMULPS (SI), Y15, Y0
	VMULPS (SI)(R9*1), Y15, Y1
	VMULPS (SI)(R9*2), Y15, Y2
	VMULPS (R11), Y15, Y3
	VMULPS (R11)(R9*1), Y15, Y4
	VMULPS (R11)(R9*2), Y15, Y5

	// Rows 0..3: Y10 = [rows 0..3 at c0 | at c4], Y11 = c1|c5, Y12 = c2|c6,
	// Y13 = c3|c7.
	VUNPCKLPS Y1, Y0, Y6
	VUNPCKHPS Y1, Y0, Y7
	VUNPCKLPS Y3, Y2, Y8
	VUNPCKHPS Y3, Y2, Y9
	VUNPCKLPD Y8, Y6, Y10
	VUNPCKHPD Y8, Y6, Y11
	VUNPCKLPD Y9, Y7, Y12
	VUNPCKHPD Y9, Y7, Y13

	// Rows 4, 5: Y6 = [pairs at c0 c1 | c4 c5], Y7 = [c2 c3 | c6 c7].
	VUNPCKLPS Y5, Y4, Y6
	VUNPCKHPS Y5, Y4, Y7

	// Column c at 24c bytes: rows 0..3, then rows 4 and 5.
	VMOVUPS X10, 0(DI)
	VMOVLPS X6, 16(DI)
	VMOVUPS X11, 24(DI)
	VMOVHPS X6, 40(DI)
	VMOVUPS X12, 48(DI)
	VMOVLPS X7, 64(DI)
	VMOVUPS X13, 72(DI)
	VMOVHPS X7, 88(DI)
	VEXTRACTF128 $1, Y6, X6
	VEXTRACTF128 $1, Y7, X7
	VEXTRACTF128 $1, Y10, 96(DI)
	VMOVLPS X6, 112(DI)
	VEXTRACTF128 $1, Y11, 120(DI)
	VMOVHPS X6, 136(DI)
	VEXTRACTF128 $1, Y12, 144(DI)
	VMOVLPS X7, 160(DI)
	VEXTRACTF128 $1, Y13, 168(DI)
	VMOVHPS X7, 184(DI)

	ADDQ $32, SI
	ADDQ $192, DI
	DECQ CX
	JNZ  pa6_loop

pa6_done:
	VZEROUPPER
	RET

// A packing for the 6-row AVX2 kernel, A transposed (stored k×m): each
// source row p holds nPanels·6 contiguous elements, dealt out six at a time
// to the micro-panels (panel stride kc·6 floats), scaled by alpha:
//
//	for p := 0; p < rows; p++ {
//		for ip := 0; ip < nPanels; ip++ {
//			for i := 0; i < 6; i++ {
//				dst[ip*kc*6+p*6+i] = alpha * src[p*lda+ip*6+i]
//			}
//		}
//	}
//
// Reading each source row once, in order, keeps the strided reads of a
// panel-by-panel walk (which share one L1 set when lda is a multiple of
// 1024) out of the loop.

// func sgemmPackAT6AVX2(dst, src *float32, kc, lda, nPanels, rows int, alpha float32)
TEXT ·sgemmPackAT6AVX2(SB), NOSPLIT, $0-52
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ kc+16(FP), R8
	LEAQ (R8)(R8*2), R8
	SHLQ $3, R8              // panel stride: kc·6·4 bytes
	MOVQ lda+24(FP), R9
	SHLQ $2, R9              // source row stride in bytes
	MOVQ rows+40(FP), CX
	VBROADCASTSS alpha+48(FP), X15
	TESTQ CX, CX
	JLE  pat6_done
	MOVQ nPanels+32(FP), AX
	TESTQ AX, AX
	JLE  pat6_done

pat6_row:
	MOVQ SI, R10             // source element
	MOVQ DI, R11             // destination in panel 0
	MOVQ AX, DX

pat6_panel:
	VMULPS (R10), X15, X0
	VMOVSD 16(R10), X1
	VMULPS X1, X15, X1
	VMOVUPS X0, (R11)
	VMOVSD X1, 16(R11)
	ADDQ $24, R10
	ADDQ R8, R11
	DECQ DX
	JNZ  pat6_panel

	ADDQ R9, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  pat6_row

pat6_done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// func sgemmPackA12AVX512(dst, src *float32, lda, kBlocks int, alpha float32)
//
//	for q := 0; q < 16*kBlocks; q++ {
//		for i := 0; i < 12; i++ {
//			dst[q*12+i] = alpha * src[i*lda+q]
//		}
//	}
//
// The 12-row AVX-512 micro-panel of an A that is not transposed, 16 columns
// at a time: rows 0..11 into Z0..Z11 (scaled; Z12..Z15 zero), the 16×16
// transpose TRANSPOSE16 (gemm_amd64.h), and each column stored as 12
// floats (K1). AVX-512F only. Registers: DI dst, SI/R8/R9 rows
// 0, 4, 8 at the block, R11 lda bytes, R12 3·lda, CX blocks left.
TEXT ·sgemmPackA12AVX512(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lda+16(FP), R11
	SHLQ $2, R11
	LEAQ (R11)(R11*2), R12
	LEAQ (SI)(R11*4), R8
	LEAQ (R8)(R11*4), R9
	MOVL $0x0fff, AX
	KMOVW AX, K1
	MOVQ kBlocks+24(FP), CX
	TESTQ CX, CX
	JLE pa12done
pa12block:
	VBROADCASTSS alpha+32(FP), Z30
	VMULPS (SI), Z30, Z0
	VMULPS (SI)(R11*1), Z30, Z1
	VMULPS (SI)(R11*2), Z30, Z2
	VMULPS (SI)(R12*1), Z30, Z3
	VMULPS (R8), Z30, Z4
	VMULPS (R8)(R11*1), Z30, Z5
	VMULPS (R8)(R11*2), Z30, Z6
	VMULPS (R8)(R12*1), Z30, Z7
	VMULPS (R9), Z30, Z8
	VMULPS (R9)(R11*1), Z30, Z9
	VMULPS (R9)(R11*2), Z30, Z10
	VMULPS (R9)(R12*1), Z30, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	TRANSPOSE16
	VMOVUPS Z0, K1, 0(DI)
	VMOVUPS Z1, K1, 48(DI)
	VMOVUPS Z2, K1, 96(DI)
	VMOVUPS Z3, K1, 144(DI)
	VMOVUPS Z4, K1, 192(DI)
	VMOVUPS Z5, K1, 240(DI)
	VMOVUPS Z6, K1, 288(DI)
	VMOVUPS Z7, K1, 336(DI)
	VMOVUPS Z8, K1, 384(DI)
	VMOVUPS Z9, K1, 432(DI)
	VMOVUPS Z10, K1, 480(DI)
	VMOVUPS Z11, K1, 528(DI)
	VMOVUPS Z12, K1, 576(DI)
	VMOVUPS Z13, K1, 624(DI)
	VMOVUPS Z14, K1, 672(DI)
	VMOVUPS Z15, K1, 720(DI)
	ADDQ $768, DI
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ pa12block
pa12done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// func sgemmPackAT12AVX2(dst, src *float32, kc, lda, nPanels, rows int, alpha float32)
//
//	for p := 0; p < rows; p++ {
//		for ip := 0; ip < nPanels; ip++ {
//			for i := 0; i < 12; i++ {
//				dst[ip*kc*12+p*12+i] = alpha * src[p*lda+ip*12+i]
//			}
//		}
//	}
//
// gemmKernel.packATAsm for the 12-row AVX-512 micro-panel (its transposed
// A: each source row holds 12 contiguous elements per panel, one Y and one
// X register). AVX only.
TEXT ·sgemmPackAT12AVX2(SB), NOSPLIT, $0-52
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ kc+16(FP), R8
	LEAQ (R8)(R8*2), R8
	SHLQ $4, R8              // panel stride: kc·12·4 bytes
	MOVQ lda+24(FP), R9
	SHLQ $2, R9              // source row stride in bytes
	MOVQ rows+40(FP), CX
	VBROADCASTSS alpha+48(FP), Y15
	TESTQ CX, CX
	JLE  pat12_done
	MOVQ nPanels+32(FP), AX
	TESTQ AX, AX
	JLE  pat12_done

pat12_row:
	MOVQ SI, R10             // source element
	MOVQ DI, R11             // destination in panel 0
	MOVQ AX, DX

pat12_panel:
	VMULPS (R10), Y15, Y0
	VMULPS 32(R10), X15, X1
	VMOVUPS Y0, (R11)
	VMOVUPS X1, 32(R11)
	ADDQ $48, R10
	ADDQ R8, R11
	DECQ DX
	JNZ  pat12_panel

	ADDQ R9, SI
	ADDQ $48, DI
	DECQ CX
	JNZ  pat12_row

pat12_done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX-512F, 12×32 tile with A read in place (gemmKernel.blockA): as
// sgemmBlockAVX512, but A(i,p) is read from row i of a row-major A (row
// stride lda) instead of a packed micro-panel. AP, AP4 and AP8 walk rows
// 0, 4 and 8 of the tile at element p; rows 1-3 of each group are reached
// with LDA*1, LDA*2 and LDA3. KK doubles as a scratch register outside the
// k loop, and the count of column tiles left lives in the nTiles slot.

#define AP AX     // A row 0 of the tile, at element p
#define AP4 CX    // A row 4
#define AP8 R13   // A row 8
#define LDA3 R12  // 3·LDA (LDA, R14, as in the AVX2 kernel with A in place)
#define AKK R9    // k iterations left; scratch outside the k loop
#define AIR R10   // ir tiles left

// AVX512A_KSTEP: acc[i][:] += A(i,p) * B(p,:) for i < 12, with A(i,p) at
// ka(row i); then BPTR moves to row p+1.
#define AVX512A_KSTEP(ka) \
	VMOVUPS (BPTR), Z24; \
	VMOVUPS 64(BPTR), Z25; \
	ADDQ LDB, BPTR; \
	VBROADCASTSS (ka)(AP), Z26; \
	VBROADCASTSS (ka)(AP)(LDA*1), Z27; \
	VBROADCASTSS (ka)(AP)(LDA*2), Z28; \
	VFMADD231PS Z24, Z26, Z0; \
	VFMADD231PS Z25, Z26, Z1; \
	VFMADD231PS Z24, Z27, Z2; \
	VFMADD231PS Z25, Z27, Z3; \
	VFMADD231PS Z24, Z28, Z4; \
	VFMADD231PS Z25, Z28, Z5; \
	VBROADCASTSS (ka)(AP)(LDA3*1), Z29; \
	VBROADCASTSS (ka)(AP4), Z30; \
	VBROADCASTSS (ka)(AP4)(LDA*1), Z31; \
	VFMADD231PS Z24, Z29, Z6; \
	VFMADD231PS Z25, Z29, Z7; \
	VFMADD231PS Z24, Z30, Z8; \
	VFMADD231PS Z25, Z30, Z9; \
	VFMADD231PS Z24, Z31, Z10; \
	VFMADD231PS Z25, Z31, Z11; \
	VBROADCASTSS (ka)(AP4)(LDA*2), Z26; \
	VBROADCASTSS (ka)(AP4)(LDA3*1), Z27; \
	VBROADCASTSS (ka)(AP8), Z28; \
	VFMADD231PS Z24, Z26, Z12; \
	VFMADD231PS Z25, Z26, Z13; \
	VFMADD231PS Z24, Z27, Z14; \
	VFMADD231PS Z25, Z27, Z15; \
	VFMADD231PS Z24, Z28, Z16; \
	VFMADD231PS Z25, Z28, Z17; \
	VBROADCASTSS (ka)(AP8)(LDA*1), Z29; \
	VBROADCASTSS (ka)(AP8)(LDA*2), Z30; \
	VBROADCASTSS (ka)(AP8)(LDA3*1), Z31; \
	VFMADD231PS Z24, Z29, Z18; \
	VFMADD231PS Z25, Z29, Z19; \
	VFMADD231PS Z24, Z30, Z20; \
	VFMADD231PS Z25, Z30, Z21; \
	VFMADD231PS Z24, Z31, Z22; \
	VFMADD231PS Z25, Z31, Z23

// func sgemmBlockAVX512A(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum, lda int, bias *float32)
TEXT ·sgemmBlockAVX512A(SB), NOSPLIT, $0-96
	MOVQ b+8(FP), BPAN
	MOVQ c+16(FP), CCOL
	MOVQ ldb+32(FP), LDB
	SHLQ $2, LDB
	MOVQ ldc+48(FP), LDC
	SHLQ $2, LDC
	MOVQ lda+80(FP), LDA
	SHLQ $2, LDA
	LEAQ (LDA)(LDA*2), LDA3
	MOVQ nTiles+64(FP), AKK
	TESTQ AKK, AKK
	JLE  avx512a_done

avx512a_jr:
	// New column of tiles: restart A at the top of the block.
	MOVQ a+0(FP), AP
	MOVQ CCOL, CROW0
	MOVQ mTiles+56(FP), AIR
	TESTQ AIR, AIR
	JLE  avx512a_jrnext

avx512a_ir:
	LEAQ (AP)(LDA*4), AP4
	LEAQ (AP4)(LDA*4), AP8
	AVX512_ZERO24
	AVX512_PREFC(AKK)
	MOVQ BPAN, BPTR

	// for p := 0; p < kc&^3; p += 4: four rank-1 updates.
	MOVQ kc+24(FP), AKK
	SHRQ $2, AKK
	JZ   avx512a_ktail

avx512a_k4:
	AVX512A_KSTEP(0)
	AVX512A_KSTEP(4)
	AVX512A_KSTEP(8)
	AVX512A_KSTEP(12)
	ADDQ $16, AP
	ADDQ $16, AP4
	ADDQ $16, AP8
	DECQ AKK
	JNZ  avx512a_k4

avx512a_ktail:
	// for ; p < kc; p++
	MOVQ kc+24(FP), AKK
	ANDQ $3, AKK
	JZ   avx512a_kdone

avx512a_k1:
	AVX512A_KSTEP(0)
	ADDQ $4, AP
	ADDQ $4, AP4
	ADDQ $4, AP8
	DECQ AKK
	JNZ  avx512a_k1

avx512a_kdone:
	// accum 1: acc += C tile, three rows at a time; accum 2: acc +=
	// bias[jr*32:][:32] in every row.
	MOVQ accum+72(FP), AKK
	TESTQ AKK, AKK
	JZ   avx512a_store
	CMPQ AKK, $2
	JEQ  avx512a_bias
	AVX512_ADDC(AKK)
	JMP  avx512a_store

avx512a_bias:
	// The bias advances with C's column: bias + (CCOL - c).
	MOVQ bias+88(FP), AKK
	ADDQ CCOL, AKK
	SUBQ c+16(FP), AKK
	ZADDROW24(AKK)

avx512a_store:
	// C tile = acc; CROW0 ends 12 rows down, at the next tile.
	AVX512_STC
	// Next tile of A: back kc elements, down 12 rows.
	MOVQ kc+24(FP), AKK
	SHLQ $2, AKK
	SUBQ AKK, AP
	LEAQ (AP)(LDA*8), AP
	LEAQ (AP)(LDA*4), AP
	DECQ AIR
	JNZ  avx512a_ir

avx512a_jrnext:
	// Next column of tiles: BPAN += 4*bstep, CCOL += 32 floats.
	MOVQ bstep+40(FP), AKK
	LEAQ (BPAN)(AKK*4), BPAN
	ADDQ $128, CCOL
	DECQ nTiles+64(FP)
	JNZ  avx512a_jr

avx512a_done:
	VZEROUPPER
	RET
