//go:build !purego

#include "textflag.h"

// Packed SGEMM block kernel for arm64 NEON, 8×12 tile. One call runs the jr
// and ir loops of one packed block (see gemmKernel.block in
// sgemm_packed.go):
//
//	for jr := 0; jr < nTiles; jr++ {
//		for ir := 0; ir < mTiles; ir++ {
//			acc := Ã[ir] · B̃[jr]            // 8×12 tile in V8..V31
//			if accum != 0 { acc += C tile }
//			C tile = acc
//		}
//	}
//
// Ã[ir] is packed: element (i,p) at a + 4*(ir*kc*8 + p*8 + i).
// B̃[jr] row p starts at b + 4*(jr*bstep + p*ldb).
//
// Row i of the tile lives in V(8+3i), V(9+3i), V(10+3i) (columns 0:4, 4:8,
// 8:12). Each k step loads A(0:8,p) into V0, V1 and B(p,0:12) into V2..V4.

#define APTR R0  // walks the packed A block
#define BPTR R1  // walks one B micro-panel, row by row
#define KC R2    // kc
#define CCOL R3  // top-left of the current column of C tiles
#define BPAN R4  // first row of the current B micro-panel
#define LDB R5   // B row stride in bytes
#define LDC R6   // C row stride in bytes
#define JR R7    // jr tiles left
#define CROW R8  // C row being stored
#define IR R9    // ir tiles left
#define KK R10   // k iterations left
#define ACC R11  // accum flag
#define CTILE R12 // C tile row 0

// FMLAE: V(d).4S += V(n).4S * V(m).S[idx] (FMLA by element, which has no
// Go mnemonic; encoding 0x4F801000 | L<<21 | M:Rm<<16 | H<<11 | Rn<<5 | Rd
// with idx = H:L).
#define FMLAE(d, n, m, idx) WORD $(0x4F801000 | ((((idx)&1))<<21) | ((m)<<16) | ((((idx)>>1))<<11) | ((n)<<5) | (d))

// FADD4S: V(d).4S = V(n).4S + V(m).4S.
#define FADD4S(d, n, m) WORD $(0x4E20D400 | ((m)<<16) | ((n)<<5) | (d))

// ROW_FMLA: acc row i += B(p, 0:12) * A(i,p), A(i,p) = V(m).S[idx].
#define ROW_FMLA(i, m, idx) \
	FMLAE(8+3*(i), 2, m, idx); \
	FMLAE(9+3*(i), 3, m, idx); \
	FMLAE(10+3*(i), 4, m, idx)

// KSTEP: one rank-1 update, acc += A(:,p) · B(p,:); APTR and BPTR move on.
#define KSTEP \
	VLD1.P 32(APTR), [V0.S4, V1.S4]; \
	VLD1.P (BPTR)(LDB), [V2.S4, V3.S4, V4.S4]; \
	ROW_FMLA(0, 0, 0); \
	ROW_FMLA(1, 0, 1); \
	ROW_FMLA(2, 0, 2); \
	ROW_FMLA(3, 0, 3); \
	ROW_FMLA(4, 1, 0); \
	ROW_FMLA(5, 1, 1); \
	ROW_FMLA(6, 1, 2); \
	ROW_FMLA(7, 1, 3)

// ADD_ROW: acc row (V(d0), V(d0+1), V(d0+2)) += C row at CROW; CROW moves
// down one row.
#define ADD_ROW(d0) \
	VLD1 (CROW), [V0.S4, V1.S4, V2.S4]; \
	FADD4S(d0, d0, 0); \
	FADD4S(d0+1, d0+1, 1); \
	FADD4S(d0+2, d0+2, 2); \
	ADD LDC, CROW

// ST_ROW: C row at CROW = acc row (va, vb, vc); CROW moves down one row.
#define ST_ROW(va, vb, vc) \
	VST1 [va.S4, vb.S4, vc.S4], (CROW); \
	ADD LDC, CROW

// func sgemmBlockNEON(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum int, bias *float32)
// (bias unused: accum is 0 or 1)
TEXT ·sgemmBlockNEON(SB), NOSPLIT, $0-88
	MOVD b+8(FP), BPAN
	MOVD c+16(FP), CCOL
	MOVD kc+24(FP), KC
	MOVD ldb+32(FP), LDB
	LSL  $2, LDB
	MOVD ldc+48(FP), LDC
	LSL  $2, LDC
	MOVD accum+72(FP), ACC
	MOVD nTiles+64(FP), JR
	CMP  $0, JR
	BLE  done

jrloop:
	// New column of tiles: restart A at the top of the block.
	MOVD a+0(FP), APTR
	MOVD CCOL, CTILE
	MOVD mTiles+56(FP), IR
	CMP  $0, IR
	BLE  jrnext

irloop:
	// Zero the accumulators.
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	VEOR V26.B16, V26.B16, V26.B16
	VEOR V27.B16, V27.B16, V27.B16
	VEOR V28.B16, V28.B16, V28.B16
	VEOR V29.B16, V29.B16, V29.B16
	VEOR V30.B16, V30.B16, V30.B16
	VEOR V31.B16, V31.B16, V31.B16
	MOVD BPAN, BPTR

	// for p := 0; p < kc&^1; p += 2: two rank-1 updates.
	LSR  $1, KC, KK
	CBZ  KK, ktail

k2:
	KSTEP
	KSTEP
	SUBS $1, KK, KK
	BNE  k2

ktail:
	// if kc is odd, one more.
	TBZ  $0, KC, kdone
	KSTEP

kdone:
	// if accum != 0 { acc += C tile }
	CBZ  ACC, store
	MOVD CTILE, CROW
	ADD_ROW(8)
	ADD_ROW(11)
	ADD_ROW(14)
	ADD_ROW(17)
	ADD_ROW(20)
	ADD_ROW(23)
	ADD_ROW(26)
	ADD_ROW(29)

store:
	// C tile = acc; CROW ends 8 rows down, at the next tile. APTR already
	// points at the next A micro-panel.
	MOVD CTILE, CROW
	ST_ROW(V8, V9, V10)
	ST_ROW(V11, V12, V13)
	ST_ROW(V14, V15, V16)
	ST_ROW(V17, V18, V19)
	ST_ROW(V20, V21, V22)
	ST_ROW(V23, V24, V25)
	ST_ROW(V26, V27, V28)
	ST_ROW(V29, V30, V31)
	MOVD CROW, CTILE
	SUBS $1, IR, IR
	BNE  irloop

jrnext:
	// Next column of tiles: BPAN += 4*bstep, CCOL += 12 floats.
	MOVD bstep+40(FP), KK
	ADD  KK<<2, BPAN, BPAN
	ADD  $48, CCOL, CCOL
	SUBS $1, JR, JR
	BNE  jrloop

done:
	RET

// B packing for the non-transposed case, NR = 12: kc rows of nPanels·12
// floats each (row stride ldb) dealt out to 12-wide micro-panels:
//
//	for p := 0; p < rows; p++ {
//		for jp := 0; jp < nPanels; jp++ {
//			copy(dst[(jp*kc+p)*12:][:12], src[p*ldb+jp*12:][:12])
//		}
//	}
//
// func sgemmPackB12NEON(dst, src *float32, kc, ldb, nPanels, rows int)
TEXT ·sgemmPackB12NEON(SB), NOSPLIT, $0-48
	MOVD dst+0(FP), R10
	MOVD src+8(FP), R11
	MOVD kc+16(FP), R2
	MOVD $48, R8
	MUL  R2, R8            // panel stride in bytes: kc*48
	MOVD ldb+24(FP), R9
	LSL  $2, R9
	MOVD rows+40(FP), R2   // rows left
	CMP  $0, R2
	BLE  pb12_done

pb12_row:
	MOVD R11, R0
	MOVD R10, R1
	MOVD nPanels+32(FP), R3
	CMP  $0, R3
	BLE  pb12_next

pb12_panel:
	VLD1.P 48(R0), [V0.S4, V1.S4, V2.S4]
	VST1 [V0.S4, V1.S4, V2.S4], (R1)
	ADD  R8, R1, R1
	SUBS $1, R3, R3
	BNE  pb12_panel

pb12_next:
	// Next row: source down one row, destination one 12-float row further.
	ADD  R9, R11, R11
	ADD  $48, R10, R10
	SUBS $1, R2, R2
	BNE  pb12_row

pb12_done:
	RET

// B packing for the transposed case (B stored n×k), NEON: a 4×4 transpose
// per step. Rows j = 0..3 of the stored B (stride ldb) become columns of
// the packed panel (row stride ldd):
//
//	for q := 0; q < kBlocks; q++ {
//		for r := 0; r < 4; r++ {      // packed row p = 4q + r
//			for j := 0; j < 4; j++ {
//				dst[(4*q+r)*ldd+j] = src[j*ldb+4*q+r]
//			}
//		}
//	}
//
// TRN1/TRN2 on single words, then on double words, transpose V0..V3 into
// V4..V7 (Go operand order: VTRN1 Vm, Vn, Vd computes Vd = trn1(Vn, Vm)).
//
// func sgemmPackBT4NEON(dst, src *float32, ldb, ldd, kBlocks int)
TEXT ·sgemmPackBT4NEON(SB), NOSPLIT, $0-40
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD ldb+16(FP), R2
	LSL  $2, R2            // source row stride in bytes
	MOVD ldd+24(FP), R3
	LSL  $2, R3            // packed row stride in bytes
	MOVD kBlocks+32(FP), R4
	CMP  $0, R4
	BLE  pbt4_done
	ADD  R2, R1, R5        // row 1
	ADD  R2, R5, R6        // row 2
	ADD  R2, R6, R7        // row 3

pbt4_loop:
	// Rows j = 0..3, elements 4q..4q+3.
	VLD1.P 16(R1), [V0.S4]
	VLD1.P 16(R5), [V1.S4]
	VLD1.P 16(R6), [V2.S4]
	VLD1.P 16(R7), [V3.S4]
	VTRN1 V1.S4, V0.S4, V16.S4 // [r0.0 r1.0 r0.2 r1.2]
	VTRN2 V1.S4, V0.S4, V17.S4 // [r0.1 r1.1 r0.3 r1.3]
	VTRN1 V3.S4, V2.S4, V18.S4 // [r2.0 r3.0 r2.2 r3.2]
	VTRN2 V3.S4, V2.S4, V19.S4 // [r2.1 r3.1 r2.3 r3.3]
	VTRN1 V18.D2, V16.D2, V4.D2 // element 4q:   rows 0..3
	VTRN1 V19.D2, V17.D2, V5.D2 // element 4q+1
	VTRN2 V18.D2, V16.D2, V6.D2 // element 4q+2
	VTRN2 V19.D2, V17.D2, V7.D2 // element 4q+3

	// Store packed rows 4q..4q+3.
	VST1 [V4.S4], (R0)
	ADD  R3, R0, R0
	VST1 [V5.S4], (R0)
	ADD  R3, R0, R0
	VST1 [V6.S4], (R0)
	ADD  R3, R0, R0
	VST1 [V7.S4], (R0)
	ADD  R3, R0, R0
	SUBS $1, R4, R4
	BNE  pbt4_loop

pbt4_done:
	RET
