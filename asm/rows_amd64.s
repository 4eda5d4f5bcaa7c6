//go:build !purego

#include "textflag.h"
#include "vec_amd64.h"

// AddRows kernels: a block of dst's columns is held in registers while
// the rows of src pass (each row's block added in row order, as Axpy(1,
// row, dst) adds it), then stored. Registers: DI dst block, SI src block
// (row 0), CX columns left, DX rows, R8 row stride in bytes, AX the row
// being added, BX rows left in the block.

// func addRowsAVX512(dst, src *float32, cols, rows, ld int)
TEXT ·addRowsAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ cols+16(FP), CX
	MOVQ rows+24(FP), DX
	MOVQ ld+32(FP), R8
	SHLQ $2, R8

zr128:
	CMPQ    CX, $128
	JL      zr64
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VMOVUPS 256(DI), Z4
	VMOVUPS 320(DI), Z5
	VMOVUPS 384(DI), Z6
	VMOVUPS 448(DI), Z7
	MOVQ    SI, AX
	MOVQ    DX, BX

zr128row:
	VADDPS (AX), Z0, Z0
	VADDPS 64(AX), Z1, Z1
	VADDPS 128(AX), Z2, Z2
	VADDPS 192(AX), Z3, Z3
	VADDPS 256(AX), Z4, Z4
	VADDPS 320(AX), Z5, Z5
	VADDPS 384(AX), Z6, Z6
	VADDPS 448(AX), Z7, Z7
	ADDQ   R8, AX
	DECQ   BX
	JNZ    zr128row
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	ADDQ    $512, DI
	ADDQ    $512, SI
	SUBQ    $128, CX
	JMP     zr128

zr64:
	CMPQ    CX, $64
	JL      zr16
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	MOVQ    SI, AX
	MOVQ    DX, BX

zr64row:
	VADDPS (AX), Z0, Z0
	VADDPS 64(AX), Z1, Z1
	VADDPS 128(AX), Z2, Z2
	VADDPS 192(AX), Z3, Z3
	ADDQ   R8, AX
	DECQ   BX
	JNZ    zr64row
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ    $256, DI
	ADDQ    $256, SI
	SUBQ    $64, CX
	JMP     zr64

zr16:
	CMPQ    CX, $16
	JL      zrtail
	VMOVUPS (DI), Z0
	MOVQ    SI, AX
	MOVQ    DX, BX

zr16row:
	VADDPS (AX), Z0, Z0
	ADDQ   R8, AX
	DECQ   BX
	JNZ    zr16row
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     zr16

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
	CMPQ    CX, $64
	JL      yr8
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7
	MOVQ    SI, AX
	MOVQ    DX, BX

yr64row:
	VADDPS (AX), Y0, Y0
	VADDPS 32(AX), Y1, Y1
	VADDPS 64(AX), Y2, Y2
	VADDPS 96(AX), Y3, Y3
	VADDPS 128(AX), Y4, Y4
	VADDPS 160(AX), Y5, Y5
	VADDPS 192(AX), Y6, Y6
	VADDPS 224(AX), Y7, Y7
	ADDQ   R8, AX
	DECQ   BX
	JNZ    yr64row
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ    $256, DI
	ADDQ    $256, SI
	SUBQ    $64, CX
	JMP     yr64

yr8:
	TESTQ   CX, CX
	JE      yrdone
	VMOVUPS (DI), Y0
	MOVQ    SI, AX
	MOVQ    DX, BX

yr8row:
	VADDPS (AX), Y0, Y0
	ADDQ   R8, AX
	DECQ   BX
	JNZ    yr8row
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     yr8

yrdone:
	VZEROUPPER
	RET
