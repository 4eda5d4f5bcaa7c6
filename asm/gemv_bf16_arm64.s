//go:build !purego

#include "textflag.h"

// func gemvRowBF16NEON(y, x []float32, w []uint16, bias []float32)
//
// y[o] = x·w[o*k:(o+1)*k] + bias[o] with k = len(x), in the order
// GemvBF16Strided documents (the eight lanes of a group are two 4-lane
// registers), so its results have the bits of the AVX2 kernel's. A
// bfloat16 is widened by interleaving it above a zero half-word (ZIP1/ZIP2
// with a zero register), which puts it in the high 16 bits of a float32.
// Four outputs at a time share the loads of x and keep sixteen independent
// sums in flight (one output's four would wait on the FMLA latency); each
// output has the operations of the one-output loop, which does the last
// len(y) mod 4, so the same bits. Output o+j accumulates in V(4j) and
// V(4j+1) (first eight lanes) and V(4j+2) and V(4j+3) (second eight), as
// row j in gemvRows4BF16NEON; its sum ends in F(4j). No software
// prefetch (the amd64 kernel's is tuned on Zen 4; this one is unmeasured).
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
	LSL  $1, R7, R13          // weight row stride in bytes

// Outputs o..o+3: weight rows at R1, R10, R11 and R12.
out4:
	CMP  $4, R8
	BLT  row
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
	MOVD R6, R0
	ADD  R13, R1, R10
	ADD  R13, R10, R11
	ADD  R13, R11, R12
	MOVD R7, R2

o4loop16:
	CMP    $16, R2
	BLT    o4loop8
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
	VLD1.P 32(R10), [V20.H8, V21.H8]
	VZIP1  V20.H8, V31.H8, V22.H8
	VZIP2  V20.H8, V31.H8, V23.H8
	VZIP1  V21.H8, V31.H8, V24.H8
	VZIP2  V21.H8, V31.H8, V25.H8
	VFMLA  V22.S4, V16.S4, V4.S4
	VFMLA  V23.S4, V17.S4, V5.S4
	VFMLA  V24.S4, V18.S4, V6.S4
	VFMLA  V25.S4, V19.S4, V7.S4
	VLD1.P 32(R11), [V20.H8, V21.H8]
	VZIP1  V20.H8, V31.H8, V22.H8
	VZIP2  V20.H8, V31.H8, V23.H8
	VZIP1  V21.H8, V31.H8, V24.H8
	VZIP2  V21.H8, V31.H8, V25.H8
	VFMLA  V22.S4, V16.S4, V8.S4
	VFMLA  V23.S4, V17.S4, V9.S4
	VFMLA  V24.S4, V18.S4, V10.S4
	VFMLA  V25.S4, V19.S4, V11.S4
	VLD1.P 32(R12), [V20.H8, V21.H8]
	VZIP1  V20.H8, V31.H8, V22.H8
	VZIP2  V20.H8, V31.H8, V23.H8
	VZIP1  V21.H8, V31.H8, V24.H8
	VZIP2  V21.H8, V31.H8, V25.H8
	VFMLA  V22.S4, V16.S4, V12.S4
	VFMLA  V23.S4, V17.S4, V13.S4
	VFMLA  V24.S4, V18.S4, V14.S4
	VFMLA  V25.S4, V19.S4, V15.S4
	SUB    $16, R2
	B      o4loop16

o4loop8:
	CMP    $8, R2
	BLT    o4reduce
	VLD1.P 32(R0), [V16.S4, V17.S4]
	VLD1.P 16(R1), [V20.H8]
	VZIP1  V20.H8, V31.H8, V22.H8
	VZIP2  V20.H8, V31.H8, V23.H8
	VFMLA  V22.S4, V16.S4, V0.S4
	VFMLA  V23.S4, V17.S4, V1.S4
	VLD1.P 16(R10), [V20.H8]
	VZIP1  V20.H8, V31.H8, V22.H8
	VZIP2  V20.H8, V31.H8, V23.H8
	VFMLA  V22.S4, V16.S4, V4.S4
	VFMLA  V23.S4, V17.S4, V5.S4
	VLD1.P 16(R11), [V20.H8]
	VZIP1  V20.H8, V31.H8, V22.H8
	VZIP2  V20.H8, V31.H8, V23.H8
	VFMLA  V22.S4, V16.S4, V8.S4
	VFMLA  V23.S4, V17.S4, V9.S4
	VLD1.P 16(R12), [V20.H8]
	VZIP1  V20.H8, V31.H8, V22.H8
	VZIP2  V20.H8, V31.H8, V23.H8
	VFMLA  V22.S4, V16.S4, V12.S4
	VFMLA  V23.S4, V17.S4, V13.S4
	SUB    $8, R2

o4reduce:
	WORD $0x4e22d400 // fadd v0.4s, v0.4s, v2.4s
	WORD $0x4e23d421 // fadd v1.4s, v1.4s, v3.4s
	WORD $0x6e21d400 // faddp v0.4s, v0.4s, v1.4s
	WORD $0x6e20d400 // faddp v0.4s, v0.4s, v0.4s
	WORD $0x7e30d800 // faddp s0, v0.2s
	WORD $0x4e26d484 // fadd v4.4s, v4.4s, v6.4s
	WORD $0x4e27d4a5 // fadd v5.4s, v5.4s, v7.4s
	WORD $0x6e25d484 // faddp v4.4s, v4.4s, v5.4s
	WORD $0x6e24d484 // faddp v4.4s, v4.4s, v4.4s
	WORD $0x7e30d884 // faddp s4, v4.2s
	WORD $0x4e2ad508 // fadd v8.4s, v8.4s, v10.4s
	WORD $0x4e2bd529 // fadd v9.4s, v9.4s, v11.4s
	WORD $0x6e29d508 // faddp v8.4s, v8.4s, v9.4s
	WORD $0x6e28d508 // faddp v8.4s, v8.4s, v8.4s
	WORD $0x7e30d908 // faddp s8, v8.2s
	WORD $0x4e2ed58c // fadd v12.4s, v12.4s, v14.4s
	WORD $0x4e2fd5ad // fadd v13.4s, v13.4s, v15.4s
	WORD $0x6e2dd58c // faddp v12.4s, v12.4s, v13.4s
	WORD $0x6e2cd58c // faddp v12.4s, v12.4s, v12.4s
	WORD $0x7e30d98c // faddp s12, v12.2s

o4tail:
	CBZ     R2, o4bias
	FMOVS.P 4(R0), F16
	MOVHU.P 2(R1), R5
	LSLW    $16, R5, R5
	FMOVS   R5, F17
	FMADDS  F17, F0, F16, F0
	MOVHU.P 2(R10), R5
	LSLW    $16, R5, R5
	FMOVS   R5, F17
	FMADDS  F17, F4, F16, F4
	MOVHU.P 2(R11), R5
	LSLW    $16, R5, R5
	FMOVS   R5, F17
	FMADDS  F17, F8, F16, F8
	MOVHU.P 2(R12), R5
	LSLW    $16, R5, R5
	FMOVS   R5, F17
	FMADDS  F17, F12, F16, F12
	SUB     $1, R2
	B       o4tail

o4bias:
	CBZ     R9, o4store
	FMOVS.P 4(R3), F18
	FADDS   F18, F0, F0
	FMOVS.P 4(R3), F18
	FADDS   F18, F4, F4
	FMOVS.P 4(R3), F18
	FADDS   F18, F8, F8
	FMOVS.P 4(R3), F18
	FADDS   F18, F12, F12

o4store:
	FMOVS.P F0, 4(R4)
	FMOVS.P F4, 4(R4)
	FMOVS.P F8, 4(R4)
	FMOVS.P F12, 4(R4)
	MOVD    R12, R1           // the end of row o+3: row o+4
	SUB     $4, R8
	B       out4

// The last len(y) mod 4 outputs one at a time.
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

// func gemvRows4BF16NEON(y []float32, ldy int, x []float32, w []uint16, bias []float32, n, k int)
//
// gemvRowBF16NEON for four rows of x at once (x[r*k:(r+1)*k], r < 4, into
// y[r*ldy:]): each weight row is widened once for the four rows, with the
// same operations per row as the single-row kernel (so the same bits).
// Row r accumulates in V(4r) and V(4r+1) (first eight lanes) and V(4r+2)
// and V(4r+3) (second eight); its sum ends in F(4r).
TEXT ·gemvRows4BF16NEON(SB), NOSPLIT, $0-120
	MOVD y_base+0(FP), R4
	MOVD ldy+24(FP), R13
	LSL  $2, R13, R13         // y row stride in bytes
	ADD  R13, R4, R19
	ADD  R13, R19, R20
	ADD  R13, R20, R21        // y rows 1-3
	MOVD x_base+32(FP), R6
	MOVD w_base+56(FP), R1
	MOVD bias_base+80(FP), R3
	MOVD bias_len+88(FP), R9
	MOVD n+104(FP), R8
	MOVD k+112(FP), R7
	LSL  $2, R7, R14          // x row stride in bytes
	VEOR V31.B16, V31.B16, V31.B16

r4out:
	CBZ  R8, r4done
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
	MOVD R6, R0
	ADD  R14, R0, R10
	ADD  R14, R10, R11
	ADD  R14, R11, R12        // x rows 0-3
	MOVD R7, R2

r4loop16:
	CMP    $16, R2
	BLT    r4loop8
	VLD1.P 32(R1), [V20.H8, V21.H8]
	VZIP1  V20.H8, V31.H8, V22.H8
	VZIP2  V20.H8, V31.H8, V23.H8
	VZIP1  V21.H8, V31.H8, V24.H8
	VZIP2  V21.H8, V31.H8, V25.H8
	VLD1.P 64(R0), [V16.S4, V17.S4, V18.S4, V19.S4]
	VFMLA  V22.S4, V16.S4, V0.S4
	VFMLA  V23.S4, V17.S4, V1.S4
	VFMLA  V24.S4, V18.S4, V2.S4
	VFMLA  V25.S4, V19.S4, V3.S4
	VLD1.P 64(R10), [V16.S4, V17.S4, V18.S4, V19.S4]
	VFMLA  V22.S4, V16.S4, V4.S4
	VFMLA  V23.S4, V17.S4, V5.S4
	VFMLA  V24.S4, V18.S4, V6.S4
	VFMLA  V25.S4, V19.S4, V7.S4
	VLD1.P 64(R11), [V16.S4, V17.S4, V18.S4, V19.S4]
	VFMLA  V22.S4, V16.S4, V8.S4
	VFMLA  V23.S4, V17.S4, V9.S4
	VFMLA  V24.S4, V18.S4, V10.S4
	VFMLA  V25.S4, V19.S4, V11.S4
	VLD1.P 64(R12), [V16.S4, V17.S4, V18.S4, V19.S4]
	VFMLA  V22.S4, V16.S4, V12.S4
	VFMLA  V23.S4, V17.S4, V13.S4
	VFMLA  V24.S4, V18.S4, V14.S4
	VFMLA  V25.S4, V19.S4, V15.S4
	SUB    $16, R2
	B      r4loop16

r4loop8:
	CMP    $8, R2
	BLT    r4reduce
	VLD1.P 16(R1), [V20.H8]
	VZIP1  V20.H8, V31.H8, V22.H8
	VZIP2  V20.H8, V31.H8, V23.H8
	VLD1.P 32(R0), [V16.S4, V17.S4]
	VFMLA  V22.S4, V16.S4, V0.S4
	VFMLA  V23.S4, V17.S4, V1.S4
	VLD1.P 32(R10), [V16.S4, V17.S4]
	VFMLA  V22.S4, V16.S4, V4.S4
	VFMLA  V23.S4, V17.S4, V5.S4
	VLD1.P 32(R11), [V16.S4, V17.S4]
	VFMLA  V22.S4, V16.S4, V8.S4
	VFMLA  V23.S4, V17.S4, V9.S4
	VLD1.P 32(R12), [V16.S4, V17.S4]
	VFMLA  V22.S4, V16.S4, V12.S4
	VFMLA  V23.S4, V17.S4, V13.S4
	SUB    $8, R2

r4reduce:
	WORD $0x4e22d400 // fadd v0.4s, v0.4s, v2.4s
	WORD $0x4e23d421 // fadd v1.4s, v1.4s, v3.4s
	WORD $0x6e21d400 // faddp v0.4s, v0.4s, v1.4s
	WORD $0x6e20d400 // faddp v0.4s, v0.4s, v0.4s
	WORD $0x7e30d800 // faddp s0, v0.2s
	WORD $0x4e26d484 // fadd v4.4s, v4.4s, v6.4s
	WORD $0x4e27d4a5 // fadd v5.4s, v5.4s, v7.4s
	WORD $0x6e25d484 // faddp v4.4s, v4.4s, v5.4s
	WORD $0x6e24d484 // faddp v4.4s, v4.4s, v4.4s
	WORD $0x7e30d884 // faddp s4, v4.2s
	WORD $0x4e2ad508 // fadd v8.4s, v8.4s, v10.4s
	WORD $0x4e2bd529 // fadd v9.4s, v9.4s, v11.4s
	WORD $0x6e29d508 // faddp v8.4s, v8.4s, v9.4s
	WORD $0x6e28d508 // faddp v8.4s, v8.4s, v8.4s
	WORD $0x7e30d908 // faddp s8, v8.2s
	WORD $0x4e2ed58c // fadd v12.4s, v12.4s, v14.4s
	WORD $0x4e2fd5ad // fadd v13.4s, v13.4s, v15.4s
	WORD $0x6e2dd58c // faddp v12.4s, v12.4s, v13.4s
	WORD $0x6e2cd58c // faddp v12.4s, v12.4s, v12.4s
	WORD $0x7e30d98c // faddp s12, v12.2s

r4tail:
	CBZ     R2, r4bias
	MOVHU.P 2(R1), R5
	LSLW    $16, R5, R5
	FMOVS   R5, F17
	FMOVS.P 4(R0), F16
	FMADDS  F17, F0, F16, F0
	FMOVS.P 4(R10), F16
	FMADDS  F17, F4, F16, F4
	FMOVS.P 4(R11), F16
	FMADDS  F17, F8, F16, F8
	FMOVS.P 4(R12), F16
	FMADDS  F17, F12, F16, F12
	SUB     $1, R2
	B       r4tail

r4bias:
	CBZ     R9, r4store
	FMOVS.P 4(R3), F18
	FADDS   F18, F0, F0
	FADDS   F18, F4, F4
	FADDS   F18, F8, F8
	FADDS   F18, F12, F12

r4store:
	FMOVS.P F0, 4(R4)
	FMOVS.P F4, 4(R19)
	FMOVS.P F8, 4(R20)
	FMOVS.P F12, 4(R21)
	SUB     $1, R8
	B       r4out

r4done:
	RET
