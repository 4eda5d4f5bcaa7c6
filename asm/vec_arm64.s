//go:build !purego

#include "textflag.h"

// NEON vector kernels. The Go assembler has no mnemonics for the vector
// floating-point add, multiply, max and pairwise-add instructions, so they
// are WORD-encoded with the instruction in the comment. Each kernel handles
// a length that is a multiple of 4; the Go wrappers (vec_arm64.go) finish
// the last n%4 elements.

// func dotNEON(x, y []float32) float32
TEXT ·dotNEON(SB), NOSPLIT, $0-52
	MOVD x_base+0(FP), R0
	MOVD x_len+8(FP), R2
	MOVD y_base+24(FP), R1
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16

dot16:
	CMP    $16, R2
	BLT    dot4
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R1), [V8.S4, V9.S4, V10.S4, V11.S4]
	VFMLA  V4.S4, V8.S4, V0.S4
	VFMLA  V5.S4, V9.S4, V1.S4
	VFMLA  V6.S4, V10.S4, V2.S4
	VFMLA  V7.S4, V11.S4, V3.S4
	SUB    $16, R2
	B      dot16

dot4:
	CBZ    R2, dotsum
	VLD1.P 16(R0), [V4.S4]
	VLD1.P 16(R1), [V8.S4]
	VFMLA  V4.S4, V8.S4, V0.S4
	SUB    $4, R2
	B      dot4

dotsum:
	WORD $0x4e21d400  // fadd v0.4s, v0.4s, v1.4s
	WORD $0x4e23d442  // fadd v2.4s, v2.4s, v3.4s
	WORD $0x4e22d400  // fadd v0.4s, v0.4s, v2.4s
	WORD $0x6e20d400  // faddp v0.4s, v0.4s, v0.4s
	WORD $0x7e30d800  // faddp s0, v0.2s
	FMOVS F0, ret+48(FP)
	RET

// func sumNEON(x []float32) float32
TEXT ·sumNEON(SB), NOSPLIT, $0-28
	MOVD x_base+0(FP), R0
	MOVD x_len+8(FP), R2
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16

sum16:
	CMP    $16, R2
	BLT    sum4
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD $0x4e24d400  // fadd v0.4s, v0.4s, v4.4s
	WORD $0x4e25d421  // fadd v1.4s, v1.4s, v5.4s
	WORD $0x4e26d442  // fadd v2.4s, v2.4s, v6.4s
	WORD $0x4e27d463  // fadd v3.4s, v3.4s, v7.4s
	SUB    $16, R2
	B      sum16

sum4:
	CBZ    R2, sumsum
	VLD1.P 16(R0), [V4.S4]
	WORD $0x4e24d400  // fadd v0.4s, v0.4s, v4.4s
	SUB    $4, R2
	B      sum4

sumsum:
	WORD $0x4e21d400  // fadd v0.4s, v0.4s, v1.4s
	WORD $0x4e23d442  // fadd v2.4s, v2.4s, v3.4s
	WORD $0x4e22d400  // fadd v0.4s, v0.4s, v2.4s
	WORD $0x6e20d400  // faddp v0.4s, v0.4s, v0.4s
	WORD $0x7e30d800  // faddp s0, v0.2s
	FMOVS F0, ret+24(FP)
	RET

// func maxNEON(x []float32) float32
TEXT ·maxNEON(SB), NOSPLIT, $0-28
	MOVD x_base+0(FP), R0
	MOVD x_len+8(FP), R2
	MOVW $0xff800000, R3
	VDUP R3, V0.S4
	VDUP R3, V1.S4
	VDUP R3, V2.S4
	VDUP R3, V3.S4

max16:
	CMP    $16, R2
	BLT    max4
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD $0x4e24f400  // fmax v0.4s, v0.4s, v4.4s
	WORD $0x4e25f421  // fmax v1.4s, v1.4s, v5.4s
	WORD $0x4e26f442  // fmax v2.4s, v2.4s, v6.4s
	WORD $0x4e27f463  // fmax v3.4s, v3.4s, v7.4s
	SUB    $16, R2
	B      max16

max4:
	CBZ    R2, maxmax
	VLD1.P 16(R0), [V4.S4]
	WORD $0x4e24f400  // fmax v0.4s, v0.4s, v4.4s
	SUB    $4, R2
	B      max4

maxmax:
	WORD $0x4e21f400  // fmax v0.4s, v0.4s, v1.4s
	WORD $0x4e23f442  // fmax v2.4s, v2.4s, v3.4s
	WORD $0x4e22f400  // fmax v0.4s, v0.4s, v2.4s
	WORD $0x6e30f800  // fmaxv s0, v0.4s
	FMOVS F0, ret+24(FP)
	RET

// func axpyNEON(alpha float32, x, y []float32)
TEXT ·axpyNEON(SB), NOSPLIT, $0-56
	FMOVS alpha+0(FP), F31
	VDUP  V31.S[0], V31.S4
	MOVD  x_base+8(FP), R0
	MOVD  x_len+16(FP), R2
	MOVD  y_base+32(FP), R1

axpy16:
	CMP    $16, R2
	BLT    axpy4
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1   (R1), [V8.S4, V9.S4, V10.S4, V11.S4]
	VFMLA  V31.S4, V4.S4, V8.S4
	VFMLA  V31.S4, V5.S4, V9.S4
	VFMLA  V31.S4, V6.S4, V10.S4
	VFMLA  V31.S4, V7.S4, V11.S4
	VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R1)
	SUB    $16, R2
	B      axpy16

axpy4:
	CBZ    R2, axpydone
	VLD1.P 16(R0), [V4.S4]
	VLD1   (R1), [V8.S4]
	VFMLA  V31.S4, V4.S4, V8.S4
	VST1.P [V8.S4], 16(R1)
	SUB    $4, R2
	B      axpy4

axpydone:
	RET

// func scaleNEON(alpha float32, x []float32)
TEXT ·scaleNEON(SB), NOSPLIT, $0-32
	FMOVS alpha+0(FP), F31
	VDUP  V31.S[0], V31.S4
	MOVD  x_base+8(FP), R0
	MOVD  x_len+16(FP), R2

scale16:
	CMP    $16, R2
	BLT    scale4
	VLD1   (R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD $0x6e3fdc84  // fmul v4.4s, v4.4s, v31.4s
	WORD $0x6e3fdca5  // fmul v5.4s, v5.4s, v31.4s
	WORD $0x6e3fdcc6  // fmul v6.4s, v6.4s, v31.4s
	WORD $0x6e3fdce7  // fmul v7.4s, v7.4s, v31.4s
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R0)
	SUB    $16, R2
	B      scale16

scale4:
	CBZ    R2, scaledone
	VLD1   (R0), [V4.S4]
	WORD $0x6e3fdc84  // fmul v4.4s, v4.4s, v31.4s
	VST1.P [V4.S4], 16(R0)
	SUB    $4, R2
	B      scale4

scaledone:
	RET

// func addNEON(dst, x, y []float32)
TEXT ·addNEON(SB), NOSPLIT, $0-72
	MOVD dst_base+0(FP), R3
	MOVD dst_len+8(FP), R2
	MOVD x_base+24(FP), R0
	MOVD y_base+48(FP), R1

add16:
	CMP    $16, R2
	BLT    add4
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R1), [V8.S4, V9.S4, V10.S4, V11.S4]
	WORD $0x4e28d484  // fadd v4.4s, v4.4s, v8.4s
	WORD $0x4e29d4a5  // fadd v5.4s, v5.4s, v9.4s
	WORD $0x4e2ad4c6  // fadd v6.4s, v6.4s, v10.4s
	WORD $0x4e2bd4e7  // fadd v7.4s, v7.4s, v11.4s
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R3)
	SUB    $16, R2
	B      add16

add4:
	CBZ    R2, adddone
	VLD1.P 16(R0), [V4.S4]
	VLD1.P 16(R1), [V8.S4]
	WORD $0x4e28d484  // fadd v4.4s, v4.4s, v8.4s
	VST1.P [V4.S4], 16(R3)
	SUB    $4, R2
	B      add4

adddone:
	RET

// func mulNEON(dst, x, y []float32)
TEXT ·mulNEON(SB), NOSPLIT, $0-72
	MOVD dst_base+0(FP), R3
	MOVD dst_len+8(FP), R2
	MOVD x_base+24(FP), R0
	MOVD y_base+48(FP), R1

mul16:
	CMP    $16, R2
	BLT    mul4
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R1), [V8.S4, V9.S4, V10.S4, V11.S4]
	WORD $0x6e28dc84  // fmul v4.4s, v4.4s, v8.4s
	WORD $0x6e29dca5  // fmul v5.4s, v5.4s, v9.4s
	WORD $0x6e2adcc6  // fmul v6.4s, v6.4s, v10.4s
	WORD $0x6e2bdce7  // fmul v7.4s, v7.4s, v11.4s
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R3)
	SUB    $16, R2
	B      mul16

mul4:
	CBZ    R2, muldone
	VLD1.P 16(R0), [V4.S4]
	VLD1.P 16(R1), [V8.S4]
	WORD $0x6e28dc84  // fmul v4.4s, v4.4s, v8.4s
	VST1.P [V4.S4], 16(R3)
	SUB    $4, R2
	B      mul4

muldone:
	RET
