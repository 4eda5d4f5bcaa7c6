//go:build !purego

#include "textflag.h"
#include "vec_amd64.h"

// AddRows kernels: a block of dst's columns is held in registers while
// the rows of src pass (each row's block added in row order, as Axpy(1,
// row, dst) adds it), then stored. Registers: DI dst block, SI src block
// (row 0), CX columns left, DX rows, R8 row stride in bytes, AX the row
// being added, BX rows left in the block.

// ROWSBLOCK(lbl, w, r0, ..., r7): columns DI.. (8 registers of w bytes) of
// every row, from SI, into dst; then DI, SI and CX move past them.
#define ROWSBLOCK(lbl, w, r0, r1, r2, r3, r4, r5, r6, r7) \
	VMOVUPS 0*w(DI), r0; \
	VMOVUPS 1*w(DI), r1; \
	VMOVUPS 2*w(DI), r2; \
	VMOVUPS 3*w(DI), r3; \
	VMOVUPS 4*w(DI), r4; \
	VMOVUPS 5*w(DI), r5; \
	VMOVUPS 6*w(DI), r6; \
	VMOVUPS 7*w(DI), r7; \
	MOVQ    SI, AX; \
	MOVQ    DX, BX; \
lbl: \
	VADDPS 0*w(AX), r0, r0; \
	VADDPS 1*w(AX), r1, r1; \
	VADDPS 2*w(AX), r2, r2; \
	VADDPS 3*w(AX), r3, r3; \
	VADDPS 4*w(AX), r4, r4; \
	VADDPS 5*w(AX), r5, r5; \
	VADDPS 6*w(AX), r6, r6; \
	VADDPS 7*w(AX), r7, r7; \
	ADDQ   R8, AX; \
	DECQ   BX; \
	JNZ    lbl; \
	VMOVUPS r0, 0*w(DI); \
	VMOVUPS r1, 1*w(DI); \
	VMOVUPS r2, 2*w(DI); \
	VMOVUPS r3, 3*w(DI); \
	VMOVUPS r4, 4*w(DI); \
	VMOVUPS r5, 5*w(DI); \
	VMOVUPS r6, 6*w(DI); \
	VMOVUPS r7, 7*w(DI); \
	ADDQ    $(8*w), DI; \
	ADDQ    $(8*w), SI; \
	SUBQ    $(2*w), CX

// ROWSONE(lbl, w, r): the same for one register of w bytes.
#define ROWSONE(lbl, w, r) \
	VMOVUPS (DI), r; \
	MOVQ    SI, AX; \
	MOVQ    DX, BX; \
lbl: \
	VADDPS (AX), r, r; \
	ADDQ   R8, AX; \
	DECQ   BX; \
	JNZ    lbl; \
	VMOVUPS r, (DI); \
	ADDQ    $w, DI; \
	ADDQ    $w, SI; \
	SUBQ    $(w/4), CX

// func addRowsAVX512(dst, src *float32, cols, rows, ld int)
TEXT ·addRowsAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ cols+16(FP), CX
	MOVQ rows+24(FP), DX
	MOVQ ld+32(FP), R8
	SHLQ $2, R8

zr128:
	CMPQ CX, $128
	JL   zr64
	ROWSBLOCK(zr128row, 64, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	JMP  zr128

zr64:
	// 64 columns (the main job's width) in eight 256-bit registers:
	// eight sums in flight rather than one.
	CMPQ CX, $64
	JL   zr16
	ROWSBLOCK(zr64row, 32, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)

zr16:
	CMPQ CX, $16
	JL   zrtail
	ROWSONE(zr16row, 64, Z0)
	JMP  zr16

zrtail:
	TESTQ CX, CX
	JE    zrdone
	TAILMASK512(CX, AX, K1)
	VMOVUPS.Z (DI), K1, Z0
	MOVQ      SI, AX
	MOVQ      DX, BX

zrtailrow:
	VMOVUPS.Z (AX), K1, Z1
	VADDPS    Z1, Z0, Z0
	ADDQ      R8, AX
	DECQ      BX
	JNZ       zrtailrow
	VMOVUPS   Z0, K1, (DI)

zrdone:
	VZEROUPPER
	RET

// func addRowsAVX2(dst, src *float32, cols, rows, ld int)
TEXT ·addRowsAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ cols+16(FP), CX
	MOVQ rows+24(FP), DX
	MOVQ ld+32(FP), R8
	SHLQ $2, R8

yr64:
	CMPQ CX, $64
	JL   yr8
	ROWSBLOCK(yr64row, 32, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	JMP  yr64

yr8:
	TESTQ CX, CX
	JE    yrdone
	ROWSONE(yr8row, 32, Y0)
	JMP   yr8

yrdone:
	VZEROUPPER
	RET
