//go:build !purego

#include "textflag.h"
#include "vec_arm64.h"

// Exp and Sigmoid, NEON; lengths are multiples of 4 (see exp_arm64.go).

// func expNEON(dst, x []float32)
TEXT ·expNEON(SB), NOSPLIT, $0-48
	MOVD dst_base+0(FP), R1
	MOVD dst_len+8(FP), R2
	MOVD x_base+24(FP), R0
	EXPCONSTS

exploop:
	CBZ    R2, expdone
	VLD1.P 16(R0), [V0.S4]
	EXPV0
	VST1.P [V2.S4], 16(R1)
	SUB    $4, R2
	B      exploop

expdone:
	RET

// func sigmoidNEON(dst, x []float32)
TEXT ·sigmoidNEON(SB), NOSPLIT, $0-48
	MOVD dst_base+0(FP), R1
	MOVD dst_len+8(FP), R2
	MOVD x_base+24(FP), R0
	EXPCONSTS

sigloop:
	CBZ    R2, sigdone
	VLD1.P 16(R0), [V0.S4]
	WORD $0x6ea0f800  // fneg v0.4s, v0.4s
	EXPV0
	WORD $0x4e39d442  // fadd v2.4s, v2.4s, v25.4s
	WORD $0x6e22ff22  // fdiv v2.4s, v25.4s, v2.4s
	VST1.P [V2.S4], 16(R1)
	SUB    $4, R2
	B      sigloop

sigdone:
	RET
