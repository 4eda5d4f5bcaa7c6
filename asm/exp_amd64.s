//go:build !purego

#include "textflag.h"
#include "vec_amd64.h"

// Exp and Sigmoid, AVX2+FMA; see EXP in vec_amd64.h.

// func expAVX2(dst, x []float32)
TEXT ·expAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI

expavx2loop:
	CMPQ CX, $8
	JL   expavx2tail
	VMOVUPS (SI), Y0
	EXP(Y0, Y1, Y2, Y3)
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  expavx2loop

expavx2tail:
	TESTQ CX, CX
	JE    expavx2done
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	EXP(Y0, Y1, Y2, Y3)
	VMASKMOVPS Y3, Y8, (DI)

expavx2done:
	VZEROUPPER
	RET

// func sigmoidAVX2(dst, x []float32)
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI

sigmoidavx2loop:
	CMPQ CX, $8
	JL   sigmoidavx2tail
	VMOVUPS (SI), Y0
	// 1 / (1 + exp(-x))
	VXORPS  constSign<>(SB), Y0, Y0
	EXP(Y0, Y1, Y2, Y3)
	VADDPS  constOne<>(SB), Y3, Y3
	VMOVUPS constOne<>(SB), Y4
	VDIVPS  Y3, Y4, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  sigmoidavx2loop

sigmoidavx2tail:
	TESTQ CX, CX
	JE    sigmoidavx2done
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	// 1 / (1 + exp(-x))
	VXORPS  constSign<>(SB), Y0, Y0
	EXP(Y0, Y1, Y2, Y3)
	VADDPS  constOne<>(SB), Y3, Y3
	VMOVUPS constOne<>(SB), Y4
	VDIVPS  Y3, Y4, Y4
	VMASKMOVPS Y4, Y8, (DI)

sigmoidavx2done:
	VZEROUPPER
	RET

// func expAVX512(dst, x []float32)
TEXT ·expAVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI

zexploop:
	CMPQ    CX, $16
	JL      zexptail
	VMOVUPS (SI), Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS Z3, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     zexploop

zexptail:
	TESTQ     CX, CX
	JE        zexpdone
	TAILMASK512(CX, AX, K1)
	VMOVUPS.Z (SI), K1, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS   Z3, K1, (DI)

zexpdone:
	VZEROUPPER
	RET
