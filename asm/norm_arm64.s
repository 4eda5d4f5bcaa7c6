//go:build !purego

#include "textflag.h"

// Layer-norm row passes, NEON; lengths are multiples of 4 (norm_arm64.go).

// func sumSqDevNEON(x []float32, mean float32) float32
//
//	for i := range x { d := x[i] - mean; s += d*d }
TEXT ·sumSqDevNEON(SB), NOSPLIT, $0-36
	MOVD  x_base+0(FP), R0
	MOVD  x_len+8(FP), R2
	FMOVS mean+24(FP), F29
	VDUP  V29.S[0], V29.S4
	VEOR  V0.B16, V0.B16, V0.B16
	VEOR  V1.B16, V1.B16, V1.B16

ss8:
	CMP    $8, R2
	BLT    ss4
	VLD1.P 32(R0), [V4.S4, V5.S4]
	WORD $0x4ebdd484  // fsub v4.4s, v4.4s, v29.4s
	WORD $0x4ebdd4a5  // fsub v5.4s, v5.4s, v29.4s
	VFMLA  V4.S4, V4.S4, V0.S4
	VFMLA  V5.S4, V5.S4, V1.S4
	SUB    $8, R2
	B      ss8

ss4:
	CBZ    R2, sssum
	VLD1.P 16(R0), [V4.S4]
	WORD $0x4ebdd484  // fsub v4.4s, v4.4s, v29.4s
	VFMLA  V4.S4, V4.S4, V0.S4
	SUB    $4, R2
	B      ss4

sssum:
	WORD $0x4e21d400  // fadd v0.4s, v0.4s, v1.4s
	WORD $0x6e20d400  // faddp v0.4s, v0.4s, v0.4s
	WORD $0x7e30d800  // faddp s0, v0.2s
	FMOVS F0, ret+32(FP)
	RET

// func normApplyNEON(y, x, gamma, beta []float32, mean, rstd float32)
//
//	for i := range y { y[i] = (x[i]-mean)*rstd*gamma[i] + beta[i] }
TEXT ·normApplyNEON(SB), NOSPLIT, $0-104
	MOVD  y_base+0(FP), R1
	MOVD  y_len+8(FP), R2
	MOVD  x_base+24(FP), R0
	MOVD  gamma_base+48(FP), R3
	MOVD  beta_base+72(FP), R4
	FMOVS mean+96(FP), F29
	VDUP  V29.S[0], V29.S4
	FMOVS rstd+100(FP), F30
	VDUP  V30.S[0], V30.S4

naloop:
	CBZ    R2, nadone
	VLD1.P 16(R0), [V0.S4]
	VLD1.P 16(R3), [V1.S4]
	VLD1.P 16(R4), [V2.S4]
	WORD $0x4ebdd400  // fsub v0.4s, v0.4s, v29.4s
	WORD $0x6e3edc00  // fmul v0.4s, v0.4s, v30.4s
	VFMLA  V1.S4, V0.S4, V2.S4
	VST1.P [V2.S4], 16(R1)
	SUB    $4, R2
	B      naloop

nadone:
	RET

// func normBwdSumsNEON(dgamma, dbeta, dy, x, gamma []float32, mean, rstd float32) (sg, sgx float32)
//
//	for i := range x {
//		xh := (x[i]-mean)*rstd; g := dy[i]*gamma[i]
//		dgamma[i] += dy[i]*xh; dbeta[i] += dy[i]; sg += g; sgx += g*xh
//	}
TEXT ·normBwdSumsNEON(SB), NOSPLIT, $0-136
	MOVD  dgamma_base+0(FP), R5
	MOVD  dbeta_base+24(FP), R6
	MOVD  dy_base+48(FP), R3
	MOVD  x_base+72(FP), R0
	MOVD  x_len+80(FP), R2
	MOVD  gamma_base+96(FP), R4
	FMOVS mean+120(FP), F29
	VDUP  V29.S[0], V29.S4
	FMOVS rstd+124(FP), F30
	VDUP  V30.S[0], V30.S4
	VEOR  V10.B16, V10.B16, V10.B16
	VEOR  V11.B16, V11.B16, V11.B16

nsloop:
	CBZ    R2, nsdone
	VLD1.P 16(R0), [V0.S4]
	VLD1.P 16(R3), [V1.S4]
	VLD1.P 16(R4), [V2.S4]
	VLD1   (R5), [V3.S4]
	VLD1   (R6), [V4.S4]
	WORD $0x4ebdd400  // fsub v0.4s, v0.4s, v29.4s
	WORD $0x6e3edc00  // fmul v0.4s, v0.4s, v30.4s
	VFMLA  V1.S4, V0.S4, V3.S4
	WORD $0x4e21d484  // fadd v4.4s, v4.4s, v1.4s
	VST1.P [V3.S4], 16(R5)
	VST1.P [V4.S4], 16(R6)
	WORD $0x6e22dc21  // fmul v1.4s, v1.4s, v2.4s
	WORD $0x4e21d54a  // fadd v10.4s, v10.4s, v1.4s
	VFMLA  V1.S4, V0.S4, V11.S4
	SUB    $4, R2
	B      nsloop

nsdone:
	WORD $0x6e2ad54a  // faddp v10.4s, v10.4s, v10.4s
	WORD $0x7e30d94a  // faddp s10, v10.2s
	WORD $0x6e2bd56b  // faddp v11.4s, v11.4s, v11.4s
	WORD $0x7e30d96b  // faddp s11, v11.2s
	FMOVS F10, sg+128(FP)
	FMOVS F11, sgx+132(FP)
	RET

// func normBwdDxNEON(dx, dy, x, gamma []float32, mean, rstd, a, b float32)
//
//	for i := range dx { xh := (x[i]-mean)*rstd; dx[i] = rstd*(dy[i]*gamma[i] - a - xh*b) }
TEXT ·normBwdDxNEON(SB), NOSPLIT, $0-112
	MOVD  dx_base+0(FP), R1
	MOVD  dx_len+8(FP), R2
	MOVD  dy_base+24(FP), R3
	MOVD  x_base+48(FP), R0
	MOVD  gamma_base+72(FP), R4
	FMOVS mean+96(FP), F29
	VDUP  V29.S[0], V29.S4
	FMOVS rstd+100(FP), F30
	VDUP  V30.S[0], V30.S4
	FMOVS a+104(FP), F27
	VDUP  V27.S[0], V27.S4
	FMOVS b+108(FP), F28
	VDUP  V28.S[0], V28.S4

ndloop:
	CBZ    R2, nddone
	VLD1.P 16(R0), [V0.S4]
	VLD1.P 16(R3), [V1.S4]
	VLD1.P 16(R4), [V2.S4]
	WORD $0x4ebdd400  // fsub v0.4s, v0.4s, v29.4s
	WORD $0x6e3edc00  // fmul v0.4s, v0.4s, v30.4s
	WORD $0x6e22dc21  // fmul v1.4s, v1.4s, v2.4s
	WORD $0x4ebbd421  // fsub v1.4s, v1.4s, v27.4s
	VFMLS  V28.S4, V0.S4, V1.S4
	WORD $0x6e3edc21  // fmul v1.4s, v1.4s, v30.4s
	VST1.P [V1.S4], 16(R1)
	SUB    $4, R2
	B      ndloop

nddone:
	RET
