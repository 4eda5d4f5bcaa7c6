//go:build !purego

#include "textflag.h"
#include "vec_amd64.h"

// Row passes of the softmax family, AVX2+FMA.

// func expSubSumAVX2(dst, x []float32, m float32) float32
//
//	for i := range dst { dst[i] = exp(x[i] - m); s += dst[i] }
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-60
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	VBROADCASTSS m+48(FP), Y15
	VXORPS       Y14, Y14, Y14
	VXORPS       Y13, Y13, Y13

esloop:
	CMPQ    CX, $16
	JL      es8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y4
	VSUBPS  Y15, Y0, Y0
	VSUBPS  Y15, Y4, Y4
	EXP(Y0, Y1, Y2, Y3)
	EXP(Y4, Y5, Y6, Y7)
	VMOVUPS Y3, (DI)
	VMOVUPS Y7, 32(DI)
	VADDPS  Y3, Y14, Y14
	VADDPS  Y7, Y13, Y13
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     esloop

es8:
	CMPQ    CX, $8
	JL      estail
	VMOVUPS (SI), Y0
	VSUBPS  Y15, Y0, Y0
	EXP(Y0, Y1, Y2, Y3)
	VMOVUPS Y3, (DI)
	VADDPS  Y3, Y14, Y14
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX

estail:
	TESTQ      CX, CX
	JE         esdone
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	VSUBPS     Y15, Y0, Y0
	EXP(Y0, Y1, Y2, Y3)
	VANDPS     Y8, Y3, Y3
	VMASKMOVPS Y3, Y8, (DI)
	VADDPS     Y3, Y13, Y13

esdone:
	VADDPS Y13, Y14, Y14
	HSUM(Y14, X14, X1)
	VMOVSS X14, ret+56(FP)
	VZEROUPPER
	RET

// func expSubSumNoStoreAVX2(x []float32, m float32) float32
//
//	for i := range x { s += exp(x[i] - m) }
TEXT ·expSubSumNoStoreAVX2(SB), NOSPLIT, $0-36
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS m+24(FP), Y15
	VXORPS       Y14, Y14, Y14
	VXORPS       Y13, Y13, Y13

ensloop:
	CMPQ    CX, $16
	JL      ens8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y4
	VSUBPS  Y15, Y0, Y0
	VSUBPS  Y15, Y4, Y4
	EXP(Y0, Y1, Y2, Y3)
	EXP(Y4, Y5, Y6, Y7)
	VADDPS  Y3, Y14, Y14
	VADDPS  Y7, Y13, Y13
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     ensloop

ens8:
	CMPQ    CX, $8
	JL      enstail
	VMOVUPS (SI), Y0
	VSUBPS  Y15, Y0, Y0
	EXP(Y0, Y1, Y2, Y3)
	VADDPS  Y3, Y14, Y14
	ADDQ    $32, SI
	SUBQ    $8, CX

enstail:
	TESTQ      CX, CX
	JE         ensdone
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	VSUBPS     Y15, Y0, Y0
	EXP(Y0, Y1, Y2, Y3)
	VANDPS     Y8, Y3, Y3
	VADDPS     Y3, Y13, Y13

ensdone:
	VADDPS Y13, Y14, Y14
	HSUM(Y14, X14, X1)
	VMOVSS X14, ret+32(FP)
	VZEROUPPER
	RET

// func addScalarAVX2(dst, x []float32, c float32)
//
//	for i := range dst { dst[i] = x[i] + c }
TEXT ·addScalarAVX2(SB), NOSPLIT, $0-52
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	VBROADCASTSS c+48(FP), Y15

asloop:
	CMPQ    CX, $8
	JL      astail
	VADDPS  (SI), Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     asloop

astail:
	TESTQ      CX, CX
	JE         asdone
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	VADDPS     Y0, Y15, Y0
	VMASKMOVPS Y0, Y8, (DI)

asdone:
	VZEROUPPER
	RET

// func mulSubAVX2(dx, y, dy []float32, d float32)
//
//	for i := range dx { dx[i] = y[i] * (dy[i] - d) }
TEXT ·mulSubAVX2(SB), NOSPLIT, $0-76
	MOVQ         dx_base+0(FP), DI
	MOVQ         dx_len+8(FP), CX
	MOVQ         y_base+24(FP), SI
	MOVQ         dy_base+48(FP), DX
	VBROADCASTSS d+72(FP), Y15

msloop:
	CMPQ    CX, $8
	JL      mstail
	VMOVUPS (DX), Y0
	VSUBPS  Y15, Y0, Y0
	VMULPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     msloop

mstail:
	TESTQ      CX, CX
	JE         msdone
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (DX), Y8, Y0
	VMASKMOVPS (SI), Y8, Y1
	VSUBPS     Y15, Y0, Y0
	VMULPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y8, (DI)

msdone:
	VZEROUPPER
	RET

// func logSoftmaxBwdAVX2(dx, y, dy []float32, s float32)
//
//	for i := range dx { dx[i] = dy[i] - exp(y[i])*s }
TEXT ·logSoftmaxBwdAVX2(SB), NOSPLIT, $0-76
	MOVQ         dx_base+0(FP), DI
	MOVQ         dx_len+8(FP), CX
	MOVQ         y_base+24(FP), SI
	MOVQ         dy_base+48(FP), DX
	VBROADCASTSS s+72(FP), Y15

lsloop:
	CMPQ    CX, $8
	JL      lstail
	VMOVUPS (SI), Y0
	EXP(Y0, Y1, Y2, Y3)
	VMOVUPS (DX), Y4
	VFNMADD231PS Y15, Y3, Y4
	VMOVUPS Y4, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     lsloop

lstail:
	TESTQ      CX, CX
	JE         lsdone
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	EXP(Y0, Y1, Y2, Y3)
	VMASKMOVPS (DX), Y8, Y4
	VFNMADD231PS Y15, Y3, Y4
	VMASKMOVPS Y4, Y8, (DI)

lsdone:
	VZEROUPPER
	RET

// func expSubSumAVX512(dst, x []float32, m float32) float32
TEXT ·expSubSumAVX512(SB), NOSPLIT, $0-60
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	VBROADCASTSS m+48(FP), Z15
	VXORPS       Z14, Z14, Z14
	VXORPS       Z13, Z13, Z13

zesloop:
	CMPQ    CX, $32
	JL      zes16
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z4
	VSUBPS  Z15, Z0, Z0
	VSUBPS  Z15, Z4, Z4
	EXP512(Z0, Z1, Z2, Z3)
	EXP512(Z4, Z5, Z6, Z7)
	VMOVUPS Z3, (DI)
	VMOVUPS Z7, 64(DI)
	VADDPS  Z3, Z14, Z14
	VADDPS  Z7, Z13, Z13
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     zesloop

zes16:
	CMPQ    CX, $16
	JL      zestail
	VMOVUPS (SI), Z0
	VSUBPS  Z15, Z0, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS Z3, (DI)
	VADDPS  Z3, Z14, Z14
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

zestail:
	TESTQ     CX, CX
	JE        zesdone
	TAILMASK512(CX, AX, K1)
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS    Z15, Z0, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS   Z3, K1, (DI)
	VADDPS    Z3, Z13, K1, Z13

zesdone:
	VADDPS Z13, Z14, Z14
	HSUM512(Z14, Y14, X14, Y1, X1)
	VMOVSS X14, ret+56(FP)
	VZEROUPPER
	RET
