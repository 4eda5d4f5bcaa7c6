//go:build !purego

#include "textflag.h"
#include "vec_amd64.h"

// Layer-norm row passes, AVX2+FMA.

// func sumSqDevAVX2(x []float32, mean float32) float32
//
//	for i := range x { d := x[i] - mean; s += d*d }
TEXT ·sumSqDevAVX2(SB), NOSPLIT, $0-36
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS mean+24(FP), Y15
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	VXORPS       Y2, Y2, Y2
	VXORPS       Y3, Y3, Y3

ss32:
	CMPQ        CX, $32
	JL          ss8
	SSD32(SI)
	ADDQ        $128, SI
	SUBQ        $32, CX
	JMP         ss32

ss8:
	CMPQ        CX, $8
	JL          sstail
	VMOVUPS     (SI), Y4
	VSUBPS      Y15, Y4, Y4
	VFMADD231PS Y4, Y4, Y0
	ADDQ        $32, SI
	SUBQ        $8, CX
	JMP         ss8

sstail:
	TESTQ       CX, CX
	JE          sssum
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS  (SI), Y8, Y4
	VSUBPS      Y15, Y4, Y4
	VANDPS      Y8, Y4, Y4
	VFMADD231PS Y4, Y4, Y1

sssum:
	SUM4
	HSUM(Y0, X0, X1)
	VMOVSS X0, ret+32(FP)
	VZEROUPPER
	RET

// func normApplyAVX2(y, x, gamma, beta []float32, mean, rstd float32)
//
//	for i := range y { y[i] = (x[i]-mean)*rstd*gamma[i] + beta[i] }
TEXT ·normApplyAVX2(SB), NOSPLIT, $0-104
	MOVQ         y_base+0(FP), DI
	MOVQ         y_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	MOVQ         gamma_base+48(FP), DX
	MOVQ         beta_base+72(FP), R8
	VBROADCASTSS mean+96(FP), Y15
	VBROADCASTSS rstd+100(FP), Y14

naloop:
	CMPQ        CX, $8
	JL          natail
	NORMAPPLY8(SI, DX, R8, DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, R8
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         naloop

natail:
	TESTQ       CX, CX
	JE          nadone
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS  (SI), Y8, Y0
	VMASKMOVPS  (DX), Y8, Y1
	VMASKMOVPS  (R8), Y8, Y2
	VSUBPS      Y15, Y0, Y0
	VMULPS      Y14, Y0, Y0
	VFMADD213PS Y2, Y1, Y0
	VMASKMOVPS  Y0, Y8, (DI)

nadone:
	VZEROUPPER
	RET

// func normBwdSumsAVX2(dgamma, dbeta, dy, x, gamma []float32, mean, rstd float32) (sg, sgx float32)
//
//	for i := range x {
//		xh := (x[i]-mean)*rstd; g := dy[i]*gamma[i]
//		dgamma[i] += dy[i]*xh; dbeta[i] += dy[i]; sg += g; sgx += g*xh
//	}
TEXT ·normBwdSumsAVX2(SB), NOSPLIT, $0-136
	MOVQ         dgamma_base+0(FP), R9
	MOVQ         dbeta_base+24(FP), R10
	MOVQ         dy_base+48(FP), DX
	MOVQ         x_base+72(FP), SI
	MOVQ         x_len+80(FP), CX
	MOVQ         gamma_base+96(FP), R8
	VBROADCASTSS mean+120(FP), Y15
	VBROADCASTSS rstd+124(FP), Y14
	VXORPS       Y12, Y12, Y12
	VXORPS       Y13, Y13, Y13

nsloop:
	CMPQ        CX, $8
	JL          nstail
	NORMBWDSUMS8(SI, DX, R8, R9, R10)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, R8
	ADDQ        $32, R9
	ADDQ        $32, R10
	SUBQ        $8, CX
	JMP         nsloop

nstail:
	TESTQ       CX, CX
	JE          nsdone
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS  (SI), Y8, Y0
	VSUBPS      Y15, Y0, Y0
	VMULPS      Y14, Y0, Y0
	VANDPS      Y8, Y0, Y0
	VMASKMOVPS  (DX), Y8, Y1
	VMASKMOVPS  (R9), Y8, Y2
	VFMADD231PS Y1, Y0, Y2
	VMASKMOVPS  Y2, Y8, (R9)
	VMASKMOVPS  (R10), Y8, Y3
	VADDPS      Y3, Y1, Y3
	VMASKMOVPS  Y3, Y8, (R10)
	VMASKMOVPS  (R8), Y8, Y4
	VMULPS      Y4, Y1, Y1
	VADDPS      Y1, Y12, Y12
	VFMADD231PS Y1, Y0, Y13

nsdone:
	HSUM(Y12, X12, X1)
	HSUM(Y13, X13, X1)
	VMOVSS X12, sg+128(FP)
	VMOVSS X13, sgx+132(FP)
	VZEROUPPER
	RET

// func normBwdDxAVX2(dx, dy, x, gamma []float32, mean, rstd, a, b float32)
//
//	for i := range dx { xh := (x[i]-mean)*rstd; dx[i] = rstd*(dy[i]*gamma[i] - a - xh*b) }
TEXT ·normBwdDxAVX2(SB), NOSPLIT, $0-112
	MOVQ         dx_base+0(FP), DI
	MOVQ         dx_len+8(FP), CX
	MOVQ         dy_base+24(FP), DX
	MOVQ         x_base+48(FP), SI
	MOVQ         gamma_base+72(FP), R8
	VBROADCASTSS mean+96(FP), Y15
	VBROADCASTSS rstd+100(FP), Y14
	VBROADCASTSS a+104(FP), Y13
	VBROADCASTSS b+108(FP), Y12

ndloop:
	CMPQ         CX, $8
	JL           ndtail
	NORMBWDDX8(SI, DX, R8)
	VMOVUPS      Y1, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DX
	ADDQ         $32, R8
	ADDQ         $32, DI
	SUBQ         $8, CX
	JMP          ndloop

ndtail:
	TESTQ        CX, CX
	JE           nddone
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS   (SI), Y8, Y0
	VSUBPS       Y15, Y0, Y0
	VMULPS       Y14, Y0, Y0
	VMASKMOVPS   (DX), Y8, Y1
	VMASKMOVPS   (R8), Y8, Y2
	VMULPS       Y2, Y1, Y1
	VSUBPS       Y13, Y1, Y1
	VFNMADD231PS Y12, Y0, Y1
	VMULPS       Y14, Y1, Y1
	VMASKMOVPS   Y1, Y8, (DI)

nddone:
	VZEROUPPER
	RET
