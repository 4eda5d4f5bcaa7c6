//go:build !purego

#include "textflag.h"

// func gemvRowBF16NEON(y, x []float32, w []uint16, bias []float32)
//
// y[o] = x·w[o*k:(o+1)*k] + bias[o] with k = len(x), in the order
// GemvBF16Strided documents (the eight lanes of a group are two 4-lane
// registers), so its results have the bits of the AVX2 kernel's. A
// bfloat16 is widened by interleaving it above a zero half-word (ZIP1/ZIP2
// with a zero register), which puts it in the high 16 bits of a float32.
// The weight rows are contiguous and read as one stream.
//
//	for o := range y {
//		a, b := 0, 0 (8 lanes each: V0,V1 and V2,V3)
//		for ; i+16 <= k; i += 16 { a += x[i:i+8]*widen(w[i:i+8]); b += x[i+8:i+16]*widen(w[i+8:i+16]) }
//		if i+8 <= k { a += x[i:i+8]*widen(w[i:i+8]) }
//		s := ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)) of a+b
//		s += x[i]*widen(w[i]) for the rest; y[o] = s + bias[o]
//	}
TEXT ·gemvRowBF16NEON(SB), NOSPLIT, $0-96
	MOVD y_base+0(FP), R4
	MOVD y_len+8(FP), R8
	MOVD x_base+24(FP), R6
	MOVD x_len+32(FP), R7
	MOVD w_base+48(FP), R1
	MOVD bias_base+72(FP), R3
	MOVD bias_len+80(FP), R9
	VEOR V31.B16, V31.B16, V31.B16

row:
	CBZ  R8, done
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	MOVD R6, R0
	MOVD R7, R2

loop16:
	CMP    $16, R2
	BLT    loop8
	VLD1.P 64(R0), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1.P 32(R1), [V20.H8, V21.H8]
	VZIP1  V20.H8, V31.H8, V22.H8
	VZIP2  V20.H8, V31.H8, V23.H8
	VZIP1  V21.H8, V31.H8, V24.H8
	VZIP2  V21.H8, V31.H8, V25.H8
	VFMLA  V22.S4, V16.S4, V0.S4
	VFMLA  V23.S4, V17.S4, V1.S4
	VFMLA  V24.S4, V18.S4, V2.S4
	VFMLA  V25.S4, V19.S4, V3.S4
	SUB    $16, R2
	B      loop16

loop8:
	CMP    $8, R2
	BLT    reduce
	VLD1.P 32(R0), [V16.S4, V17.S4]
	VLD1.P 16(R1), [V20.H8]
	VZIP1  V20.H8, V31.H8, V22.H8
	VZIP2  V20.H8, V31.H8, V23.H8
	VFMLA  V22.S4, V16.S4, V0.S4
	VFMLA  V23.S4, V17.S4, V1.S4
	SUB    $8, R2

reduce:
	WORD $0x4e22d400 // fadd v0.4s, v0.4s, v2.4s
	WORD $0x4e23d421 // fadd v1.4s, v1.4s, v3.4s
	WORD $0x6e21d400 // faddp v0.4s, v0.4s, v1.4s
	WORD $0x6e20d400 // faddp v0.4s, v0.4s, v0.4s
	WORD $0x7e30d800 // faddp s0, v0.2s

tail:
	CBZ     R2, bias
	FMOVS.P 4(R0), F16
	MOVHU.P 2(R1), R5
	LSLW    $16, R5, R5
	FMOVS   R5, F17
	FMADDS  F17, F0, F16, F0
	SUB     $1, R2
	B       tail

bias:
	CBZ     R9, store
	FMOVS.P 4(R3), F18
	FADDS   F18, F0, F0

store:
	FMOVS.P F0, 4(R4)
	SUB     $1, R8
	B       row

done:
	RET
