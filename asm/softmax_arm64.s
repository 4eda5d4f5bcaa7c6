//go:build !purego

#include "textflag.h"
#include "vec_arm64.h"

// Softmax row passes, NEON; lengths are multiples of 4 (softmax_arm64.go).

// func expSubSumNEON(dst, x []float32, m float32) float32
//
//	for i := range dst { dst[i] = exp(x[i] - m); s += dst[i] }
TEXT ·expSubSumNEON(SB), NOSPLIT, $0-60
	MOVD  dst_base+0(FP), R1
	MOVD  dst_len+8(FP), R2
	MOVD  x_base+24(FP), R0
	FMOVS m+48(FP), F29
	VDUP  V29.S[0], V29.S4
	VEOR  V30.B16, V30.B16, V30.B16
	EXPCONSTS

esloop:
	CBZ    R2, esdone
	VLD1.P 16(R0), [V0.S4]
	WORD $0x4ebdd400  // fsub v0.4s, v0.4s, v29.4s
	EXPV0
	VST1.P [V2.S4], 16(R1)
	WORD $0x4e22d7de  // fadd v30.4s, v30.4s, v2.4s
	SUB    $4, R2
	B      esloop

esdone:
	WORD $0x6e3ed7de  // faddp v30.4s, v30.4s, v30.4s
	WORD $0x7e30dbde  // faddp s30, v30.2s
	FMOVS F30, ret+56(FP)
	RET

// func expSubSumNoStoreNEON(x []float32, m float32) float32
//
//	for i := range x { s += exp(x[i] - m) }
TEXT ·expSubSumNoStoreNEON(SB), NOSPLIT, $0-36
	MOVD  x_base+0(FP), R0
	MOVD  x_len+8(FP), R2
	FMOVS m+24(FP), F29
	VDUP  V29.S[0], V29.S4
	VEOR  V30.B16, V30.B16, V30.B16
	EXPCONSTS

ensloop:
	CBZ    R2, ensdone
	VLD1.P 16(R0), [V0.S4]
	WORD $0x4ebdd400  // fsub v0.4s, v0.4s, v29.4s
	EXPV0
	WORD $0x4e22d7de  // fadd v30.4s, v30.4s, v2.4s
	SUB    $4, R2
	B      ensloop

ensdone:
	WORD $0x6e3ed7de  // faddp v30.4s, v30.4s, v30.4s
	WORD $0x7e30dbde  // faddp s30, v30.2s
	FMOVS F30, ret+32(FP)
	RET

// func addScalarNEON(dst, x []float32, c float32)
//
//	for i := range dst { dst[i] = x[i] + c }
TEXT ·addScalarNEON(SB), NOSPLIT, $0-52
	MOVD  dst_base+0(FP), R1
	MOVD  dst_len+8(FP), R2
	MOVD  x_base+24(FP), R0
	FMOVS c+48(FP), F29
	VDUP  V29.S[0], V29.S4

asloop:
	CBZ    R2, asdone
	VLD1.P 16(R0), [V0.S4]
	WORD $0x4e3dd400  // fadd v0.4s, v0.4s, v29.4s
	VST1.P [V0.S4], 16(R1)
	SUB    $4, R2
	B      asloop

asdone:
	RET

// func mulSubNEON(dx, y, dy []float32, d float32)
//
//	for i := range dx { dx[i] = y[i] * (dy[i] - d) }
TEXT ·mulSubNEON(SB), NOSPLIT, $0-76
	MOVD  dx_base+0(FP), R1
	MOVD  dx_len+8(FP), R2
	MOVD  y_base+24(FP), R0
	MOVD  dy_base+48(FP), R3
	FMOVS d+72(FP), F29
	VDUP  V29.S[0], V29.S4

msloop:
	CBZ    R2, msdone
	VLD1.P 16(R0), [V0.S4]
	VLD1.P 16(R3), [V1.S4]
	WORD $0x4ebdd421  // fsub v1.4s, v1.4s, v29.4s
	WORD $0x6e21dc00  // fmul v0.4s, v0.4s, v1.4s
	VST1.P [V0.S4], 16(R1)
	SUB    $4, R2
	B      msloop

msdone:
	RET

// func logSoftmaxBwdNEON(dx, y, dy []float32, s float32)
//
//	for i := range dx { dx[i] = dy[i] - exp(y[i])*s }
TEXT ·logSoftmaxBwdNEON(SB), NOSPLIT, $0-76
	MOVD  dx_base+0(FP), R1
	MOVD  dx_len+8(FP), R2
	MOVD  y_base+24(FP), R0
	MOVD  dy_base+48(FP), R3
	FMOVS s+72(FP), F29
	VDUP  V29.S[0], V29.S4
	EXPCONSTS

lsloop:
	CBZ    R2, lsdone
	VLD1.P 16(R0), [V0.S4]
	EXPV0
	VLD1.P 16(R3), [V4.S4]
	VFMLS  V29.S4, V2.S4, V4.S4
	VST1.P [V4.S4], 16(R1)
	SUB    $4, R2
	B      lsloop

lsdone:
	RET
