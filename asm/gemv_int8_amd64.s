//go:build !purego

#include "textflag.h"

// I8STEP16 accumulates the products of the 16 elements of x at SI and of
// the int8 weights at DI, widened to float32 (sign-extend to 32 bits,
// convert; exact): elements 0-7 into Y0, 8-15 into Y4.
#define I8STEP16(xo, wo) \
	VPMOVSXBD   wo(DI), Y10;     \
	VPMOVSXBD   wo+8(DI), Y11;   \
	VCVTDQ2PS   Y10, Y10;        \
	VCVTDQ2PS   Y11, Y11;        \
	VFMADD231PS xo(SI), Y10, Y0; \
	VFMADD231PS xo+32(SI), Y11, Y4

// func gemvRowInt8AVX2(y, x []float32, w []int8, scale, bias []float32)
//
// y[o] = (x·w[o*k:(o+1)*k])·scale[o] + bias[o] with k = len(x), in the
// order GemvInt8Strided documents (the product with the scale rounded
// before the bias is added). Four outputs at a time share the loads of x
// and keep eight independent sums in flight (one output's two sums would
// wait on the FMA latency: with a byte per weight that, not memory,
// bounds one output at a time); each output has the operations of the
// one-output loop, which does the last len(y) mod 4, so the same bits.
//
//	for o := range y {
//		a, b := 0, 0 (8 lanes each)
//		for ; i+16 <= k; i += 16 { a += x[i:i+8]*widen(w[i:i+8]); b += x[i+8:i+16]*widen(w[i+8:i+16]) }
//		if i+8 <= k { a += x[i:i+8]*widen(w[i:i+8]) }
//		s := hsum(a+b); s += x[i]*widen(w[i]) for the rest; y[o] = s*scale[o] + bias[o]
//	}
TEXT ·gemvRowInt8AVX2(SB), NOSPLIT, $0-120
	MOVQ y_base+0(FP), DX
	MOVQ y_len+8(FP), BX
	MOVQ x_base+24(FP), R11
	MOVQ x_len+32(FP), R8
	MOVQ w_base+48(FP), DI
	MOVQ scale_base+72(FP), R14
	MOVQ bias_base+96(FP), R13
	MOVQ bias_len+104(FP), R12

// Outputs o..o+3: weight rows at DI, DI+k, DI+2k and R15 = DI+3k;
// accumulators Y0-Y3 (first eight lanes) and Y4-Y7 (second eight).
out4:
	CMPQ   BX, $4
	JLT    row
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   R11, SI
	MOVQ   R8, CX
	LEAQ   (DI)(R8*2), R15
	ADDQ   R8, R15
	LEAQ   (R15)(R8*1), AX     // the next four rows, prefetched a line per step

o4loop16:
	CMPQ        CX, $16
	JLT         o4loop8
	PREFETCHT0  (AX)
	VMOVUPS     (SI), Y8
	VMOVUPS     32(SI), Y9
	VPMOVSXBD   (DI), Y10
	VPMOVSXBD   8(DI), Y11
	VPMOVSXBD   (DI)(R8*1), Y12
	VPMOVSXBD   8(DI)(R8*1), Y13
	VCVTDQ2PS   Y10, Y10
	VCVTDQ2PS   Y11, Y11
	VCVTDQ2PS   Y12, Y12
	VCVTDQ2PS   Y13, Y13
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y11, Y4
	VFMADD231PS Y8, Y12, Y1
	VFMADD231PS Y9, Y13, Y5
	VPMOVSXBD   (DI)(R8*2), Y10
	VPMOVSXBD   8(DI)(R8*2), Y11
	VPMOVSXBD   (R15), Y12
	VPMOVSXBD   8(R15), Y13
	VCVTDQ2PS   Y10, Y10
	VCVTDQ2PS   Y11, Y11
	VCVTDQ2PS   Y12, Y12
	VCVTDQ2PS   Y13, Y13
	VFMADD231PS Y8, Y10, Y2
	VFMADD231PS Y9, Y11, Y6
	VFMADD231PS Y8, Y12, Y3
	VFMADD231PS Y9, Y13, Y7
	ADDQ        $64, SI
	ADDQ        $16, DI
	ADDQ        $16, R15
	ADDQ        $64, AX
	SUBQ        $16, CX
	JMP         o4loop16

o4loop8:
	CMPQ        CX, $8
	JLT         o4reduce
	VMOVUPS     (SI), Y8
	VPMOVSXBD   (DI), Y10
	VPMOVSXBD   (DI)(R8*1), Y11
	VPMOVSXBD   (DI)(R8*2), Y12
	VPMOVSXBD   (R15), Y13
	VCVTDQ2PS   Y10, Y10
	VCVTDQ2PS   Y11, Y11
	VCVTDQ2PS   Y12, Y12
	VCVTDQ2PS   Y13, Y13
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y8, Y11, Y1
	VFMADD231PS Y8, Y12, Y2
	VFMADD231PS Y8, Y13, Y3
	ADDQ        $32, SI
	ADDQ        $8, DI
	ADDQ        $8, R15
	SUBQ        $8, CX

o4reduce:
	VADDPS       Y4, Y0, Y0
	VADDPS       Y5, Y1, Y1
	VADDPS       Y6, Y2, Y2
	VADDPS       Y7, Y3, Y3
	VHADDPS      Y1, Y0, Y0    // o0: l0+l1, l2+l3; o1: the same | o0: l4+l5, l6+l7; o1
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0    // (l0+l1)+(l2+l3) of outputs 0-3 | (l4+l5)+(l6+l7) of outputs 0-3
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0

o4tail:
	TESTQ        CX, CX
	JEQ          o4scale
	VBROADCASTSS (SI), X9
	MOVBLSX      (DI), R10
	VMOVD        R10, X10
	MOVBLSX      (DI)(R8*1), R10
	VPINSRD      $1, R10, X10, X10
	MOVBLSX      (DI)(R8*2), R10
	VPINSRD      $2, R10, X10, X10
	MOVBLSX      (R15), R10
	VPINSRD      $3, R10, X10, X10
	VCVTDQ2PS    X10, X10
	VFMADD231PS  X9, X10, X0
	ADDQ         $4, SI
	INCQ         DI
	INCQ         R15
	DECQ         CX
	JMP          o4tail

o4scale:
	VMULPS  (R14), X0, X0     // rounded: never fused with the bias
	ADDQ    $16, R14
	TESTQ   R12, R12
	JEQ     o4store
	VADDPS  (R13), X0, X0
	ADDQ    $16, R13

o4store:
	VMOVUPS X0, (DX)
	ADDQ    $16, DX
	MOVQ    R15, DI            // the end of row o+3: row o+4
	SUBQ    $4, BX
	JMP     out4

// The last len(y) mod 4 outputs one at a time.
row:
	TESTQ  BX, BX
	JEQ    done
	VXORPS Y0, Y0, Y0
	VXORPS Y4, Y4, Y4
	MOVQ   R11, SI
	MOVQ   R8, CX

loop64:
	CMPQ       CX, $64
	JLT        loop16
	PREFETCHT0 512(DI)
	I8STEP16(0, 0)
	I8STEP16(64, 16)
	I8STEP16(128, 32)
	I8STEP16(192, 48)
	ADDQ       $256, SI
	ADDQ       $64, DI
	SUBQ       $64, CX
	JMP        loop64

loop16:
	CMPQ   CX, $16
	JLT    loop8
	I8STEP16(0, 0)
	ADDQ   $64, SI
	ADDQ   $16, DI
	SUBQ   $16, CX
	JMP    loop16

loop8:
	CMPQ        CX, $8
	JLT         reduce
	VPMOVSXBD   (DI), Y10
	VCVTDQ2PS   Y10, Y10
	VFMADD231PS (SI), Y10, Y0
	ADDQ        $32, SI
	ADDQ        $8, DI
	SUBQ        $8, CX

reduce:
	VADDPS       Y4, Y0, Y0
	VHADDPS      Y0, Y0, Y0    // l0+l1, l2+l3, ... | l4+l5, l6+l7, ...
	VHADDPS      Y0, Y0, Y0    // (l0+l1)+(l2+l3), ... | (l4+l5)+(l6+l7), ...
	VEXTRACTF128 $1, Y0, X1
	VADDSS       X1, X0, X0

tail:
	TESTQ       CX, CX
	JEQ         scale
	MOVBLSX     (DI), R10
	VCVTSI2SSL  R10, X10, X10
	VFMADD231SS (SI), X10, X0
	ADDQ        $4, SI
	INCQ        DI
	DECQ        CX
	JMP         tail

scale:
	VMULSS (R14), X0, X0      // rounded: never fused with the bias
	ADDQ   $4, R14
	TESTQ  R12, R12
	JEQ    store
	VADDSS (R13), X0, X0
	ADDQ   $4, R13

store:
	VMOVSS X0, (DX)
	ADDQ   $4, DX
	DECQ   BX
	JMP    row

done:
	VZEROUPPER
	RET

// func gemvRows4Int8AVX2(y []float32, ldy int, x []float32, w []int8, scale, bias []float32, n, k int)
//
// gemvRowInt8AVX2 for four rows of x at once (x[r*k:(r+1)*k], r < 4, into
// y[r*ldy:]): each weight row is widened once for the four rows, with the
// same operations per row as the single-row kernel, so the results have
// its bits. Accumulators: Y0-Y3 the first eight lanes of rows 0-3, Y4-Y7
// the second eight.
//
//	for o := 0; o < n; o++ {
//		for each 16-element step: w16 = widen(w[o][i:i+16]); a[r] += x_r[i:i+8]*w16[0:8]; b[r] += x_r[i+8:i+16]*w16[8:16]
//		reduce a[r]+b[r] to s[r]; tails; y[r*ldy+o] = s[r]*scale[o] + bias[o]
//	}
TEXT ·gemvRows4Int8AVX2(SB), NOSPLIT, $0-144
	MOVQ y_base+0(FP), DX
	MOVQ ldy+24(FP), R11
	SHLQ $2, R11               // y row stride in bytes
	MOVQ x_base+32(FP), R9
	MOVQ w_base+56(FP), DI
	MOVQ scale_base+80(FP), R14
	MOVQ bias_base+104(FP), R13
	MOVQ bias_len+112(FP), AX
	MOVQ n+128(FP), BX
	MOVQ k+136(FP), R8
	SHLQ $2, R8                // x row stride in bytes

r4out:
	TESTQ  BX, BX
	JEQ    r4done
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   R9, SI
	LEAQ   (R9)(R8*2), R10
	ADDQ   R8, R10             // x row 3
	MOVQ   k+136(FP), CX

r4loop16:
	CMPQ        CX, $16
	JLT         r4loop8
	VPMOVSXBD   (DI), Y8
	VPMOVSXBD   8(DI), Y9
	VCVTDQ2PS   Y8, Y8
	VCVTDQ2PS   Y9, Y9
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS 32(SI), Y9, Y4
	VFMADD231PS (SI)(R8*1), Y8, Y1
	VFMADD231PS 32(SI)(R8*1), Y9, Y5
	VFMADD231PS (SI)(R8*2), Y8, Y2
	VFMADD231PS 32(SI)(R8*2), Y9, Y6
	VFMADD231PS (R10), Y8, Y3
	VFMADD231PS 32(R10), Y9, Y7
	ADDQ        $64, SI
	ADDQ        $64, R10
	ADDQ        $16, DI
	SUBQ        $16, CX
	JMP         r4loop16

r4loop8:
	CMPQ        CX, $8
	JLT         r4reduce
	VPMOVSXBD   (DI), Y8
	VCVTDQ2PS   Y8, Y8
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS (SI)(R8*1), Y8, Y1
	VFMADD231PS (SI)(R8*2), Y8, Y2
	VFMADD231PS (R10), Y8, Y3
	ADDQ        $32, SI
	ADDQ        $32, R10
	ADDQ        $8, DI
	SUBQ        $8, CX

r4reduce:
	VADDPS       Y4, Y0, Y0
	VADDPS       Y5, Y1, Y1
	VADDPS       Y6, Y2, Y2
	VADDPS       Y7, Y3, Y3
	VHADDPS      Y1, Y0, Y0    // r0: l0+l1, l2+l3; r1: the same | r0: l4+l5, l6+l7; r1
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0    // (l0+l1)+(l2+l3) of rows 0-3 | (l4+l5)+(l6+l7) of rows 0-3
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0

r4tail:
	TESTQ        CX, CX
	JEQ          r4scale
	VMOVSS       (SI), X9
	VINSERTPS    $0x10, (SI)(R8*1), X9, X9
	VINSERTPS    $0x20, (SI)(R8*2), X9, X9
	VINSERTPS    $0x30, (R10), X9, X9
	MOVBLSX      (DI), R12
	VCVTSI2SSL   R12, X8, X8
	VBROADCASTSS X8, X8
	VFMADD231PS  X9, X8, X0
	ADDQ         $4, SI
	ADDQ         $4, R10
	INCQ         DI
	DECQ         CX
	JMP          r4tail

r4scale:
	VBROADCASTSS (R14), X8
	VMULPS       X8, X0, X0   // rounded: never fused with the bias
	ADDQ         $4, R14
	TESTQ        AX, AX
	JEQ          r4store
	VBROADCASTSS (R13), X8
	VADDPS       X8, X0, X0
	ADDQ         $4, R13

r4store:
	VMOVSS     X0, (DX)
	VEXTRACTPS $1, X0, (DX)(R11*1)
	VEXTRACTPS $2, X0, (DX)(R11*2)
	LEAQ       (DX)(R11*2), R12
	ADDQ       R11, R12
	VEXTRACTPS $3, X0, (R12)
	ADDQ       $4, DX
	DECQ       BX
	JMP        r4out

r4done:
	VZEROUPPER
	RET
