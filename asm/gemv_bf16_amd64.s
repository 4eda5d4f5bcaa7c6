//go:build !purego

#include "textflag.h"

// STEP16 accumulates the products of the 16 elements of x at SI and of
// the weights at DI, widened from bfloat16 to float32 (zero-extend to 32
// bits, shift left 16): elements 0-7 into Y0, 8-15 into Y4.
#define STEP16(xo, wo) \
	VPMOVZXWD   wo(DI), Y10;    \
	VPMOVZXWD   wo+16(DI), Y11; \
	VPSLLD      $16, Y10, Y10;  \
	VPSLLD      $16, Y11, Y11;  \
	VFMADD231PS xo(SI), Y10, Y0; \
	VFMADD231PS xo+32(SI), Y11, Y4

// func gemvRowBF16AVX2(y, x []float32, w []uint16, bias []float32)
//
// y[o] = x·w[o*k:(o+1)*k] + bias[o] with k = len(x), in the order
// GemvBF16Strided documents. The weight rows are contiguous, so the kernel
// reads them as one sequential stream (what the hardware prefetchers
// follow best), with a software prefetch a few lines ahead.
//
//	for o := range y {
//		a, b := 0, 0 (8 lanes each)
//		for ; i+16 <= k; i += 16 { a += x[i:i+8]*widen(w[i:i+8]); b += x[i+8:i+16]*widen(w[i+8:i+16]) }
//		if i+8 <= k { a += x[i:i+8]*widen(w[i:i+8]) }
//		s := hsum(a+b); s += x[i]*widen(w[i]) for the rest; y[o] = s + bias[o]
//	}
TEXT ·gemvRowBF16AVX2(SB), NOSPLIT, $0-96
	MOVQ y_base+0(FP), DX
	MOVQ y_len+8(FP), BX
	MOVQ x_base+24(FP), R11
	MOVQ x_len+32(FP), R8
	MOVQ w_base+48(FP), DI
	MOVQ bias_base+72(FP), R13
	MOVQ bias_len+80(FP), R12

row:
	TESTQ  BX, BX
	JEQ    done
	VXORPS Y0, Y0, Y0
	VXORPS Y4, Y4, Y4
	MOVQ   R11, SI
	MOVQ   R8, CX

loop32:
	CMPQ       CX, $32
	JLT        loop16
	PREFETCHT0 1024(DI)
	STEP16(0, 0)
	STEP16(64, 32)
	ADDQ       $128, SI
	ADDQ       $64, DI
	SUBQ       $32, CX
	JMP        loop32

loop16:
	CMPQ   CX, $16
	JLT    loop8
	STEP16(0, 0)
	ADDQ   $64, SI
	ADDQ   $32, DI
	SUBQ   $16, CX

loop8:
	CMPQ        CX, $8
	JLT         reduce
	VPMOVZXWD   (DI), Y10
	VPSLLD      $16, Y10, Y10
	VFMADD231PS (SI), Y10, Y0
	ADDQ        $32, SI
	ADDQ        $16, DI
	SUBQ        $8, CX

reduce:
	VADDPS       Y4, Y0, Y0
	VHADDPS      Y0, Y0, Y0    // l0+l1, l2+l3, ... | l4+l5, l6+l7, ...
	VHADDPS      Y0, Y0, Y0    // (l0+l1)+(l2+l3), ... | (l4+l5)+(l6+l7), ...
	VEXTRACTF128 $1, Y0, X1
	VADDSS       X1, X0, X0

tail:
	TESTQ       CX, CX
	JEQ         bias
	MOVWLZX     (DI), R10
	SHLL        $16, R10
	VMOVD       R10, X10
	VFMADD231SS (SI), X10, X0
	ADDQ        $4, SI
	ADDQ        $2, DI
	DECQ        CX
	JMP         tail

bias:
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
