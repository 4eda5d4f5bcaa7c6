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
// GemvBF16Strided documents. Four outputs at a time share the loads of x
// and keep eight independent sums in flight (one output's two sums wait
// on the FMA latency, which bounds the one-output loop below memory
// speed); each output has the operations of the one-output loop, which
// does the last len(y) mod 4, so the same bits.
//
// The four weight rows are read side by side, four streams the hardware
// prefetchers follow poorly (without software prefetch this loop ran at
// half the one-output loop's speed for k = 512 on Zen 4), so each step
// prefetches, at its column, the four rows eight rows on (two blocks
// ahead; one block ahead was too late for short rows) with PREFETCHT1:
// PREFETCHT0 or PREFETCHNTA there measured as slow as no prefetch. With
// 32 bytes a step per row each line is asked for twice, which measured
// faster than once (steps of 32 with one prefetch a line).
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
	LEAQ (R8)(R8*1), R9        // weight row stride in bytes

// Outputs o..o+3: weight rows at DI, DI+2k, DI+4k and R15 = DI+6k (R9 =
// 2k bytes a row); accumulators Y0-Y3 (first eight lanes) and Y4-Y7
// (second eight); AX = DI+16k, row o+8, the first to prefetch.
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
	LEAQ   (DI)(R9*2), R15
	ADDQ   R9, R15
	LEAQ   (DI)(R9*8), AX

o4loop16:
	CMPQ        CX, $16
	JLT         o4loop8
	PREFETCHT1  (AX)           // rows o+8 to o+11
	PREFETCHT1  (AX)(R9*1)
	PREFETCHT1  (AX)(R9*2)
	PREFETCHT1  (R15)(R9*8)
	VMOVUPS     (SI), Y8
	VMOVUPS     32(SI), Y9
	VPMOVZXWD   (DI), Y10
	VPMOVZXWD   16(DI), Y11
	VPMOVZXWD   (DI)(R9*1), Y12
	VPMOVZXWD   16(DI)(R9*1), Y13
	VPSLLD      $16, Y10, Y10
	VPSLLD      $16, Y11, Y11
	VPSLLD      $16, Y12, Y12
	VPSLLD      $16, Y13, Y13
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y11, Y4
	VFMADD231PS Y8, Y12, Y1
	VFMADD231PS Y9, Y13, Y5
	VPMOVZXWD   (DI)(R9*2), Y10
	VPMOVZXWD   16(DI)(R9*2), Y11
	VPMOVZXWD   (R15), Y12
	VPMOVZXWD   16(R15), Y13
	VPSLLD      $16, Y10, Y10
	VPSLLD      $16, Y11, Y11
	VPSLLD      $16, Y12, Y12
	VPSLLD      $16, Y13, Y13
	VFMADD231PS Y8, Y10, Y2
	VFMADD231PS Y9, Y11, Y6
	VFMADD231PS Y8, Y12, Y3
	VFMADD231PS Y9, Y13, Y7
	ADDQ        $64, SI
	ADDQ        $32, DI
	ADDQ        $32, R15
	ADDQ        $32, AX
	SUBQ        $16, CX
	JMP         o4loop16

o4loop8:
	CMPQ        CX, $8
	JLT         o4reduce
	VMOVUPS     (SI), Y8
	VPMOVZXWD   (DI), Y10
	VPMOVZXWD   (DI)(R9*1), Y11
	VPMOVZXWD   (DI)(R9*2), Y12
	VPMOVZXWD   (R15), Y13
	VPSLLD      $16, Y10, Y10
	VPSLLD      $16, Y11, Y11
	VPSLLD      $16, Y12, Y12
	VPSLLD      $16, Y13, Y13
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y8, Y11, Y1
	VFMADD231PS Y8, Y12, Y2
	VFMADD231PS Y8, Y13, Y3
	ADDQ        $32, SI
	ADDQ        $16, DI
	ADDQ        $16, R15
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

// The tail: x[i] times the four weights, each inserted in the high half
// of its lane (widened).
o4tail:
	TESTQ        CX, CX
	JEQ          o4bias
	VBROADCASTSS (SI), X9
	VPXOR        X10, X10, X10
	VPINSRW      $1, (DI), X10, X10
	VPINSRW      $3, (DI)(R9*1), X10, X10
	VPINSRW      $5, (DI)(R9*2), X10, X10
	VPINSRW      $7, (R15), X10, X10
	VFMADD231PS  X9, X10, X0
	ADDQ         $4, SI
	ADDQ         $2, DI
	ADDQ         $2, R15
	DECQ         CX
	JMP          o4tail

o4bias:
	TESTQ  R12, R12
	JEQ    o4store
	VADDPS (R13), X0, X0
	ADDQ   $16, R13

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

// func gemvRows4BF16AVX2(y []float32, ldy int, x []float32, w []uint16, bias []float32, n, k int)
//
// gemvRowBF16AVX2 for four rows of x at once (x[r*k:(r+1)*k], r < 4, into
// y[r*ldy:]): each weight row is widened once for the four rows, with the
// same operations per row as the single-row kernel, so the results have
// its bits. Accumulators: Y0-Y3 the first eight lanes of rows 0-3, Y4-Y7
// the second eight. The weights are one stream, prefetched 4 KiB ahead
// with PREFETCHT1 (each line asked for twice): without it this loop ran at
// half the speed on Zen 4 (4×2048×512: about 7 GB/s of weights, 12-14
// with).
//
//	for o := 0; o < n; o++ {
//		for each 16-element step: w16 = widen(w[o][i:i+16]); a[r] += x_r[i:i+8]*w16[0:8]; b[r] += x_r[i+8:i+16]*w16[8:16]
//		reduce a[r]+b[r] to s[r]; tails; y[r*ldy+o] = s[r] + bias[o]
//	}
TEXT ·gemvRows4BF16AVX2(SB), NOSPLIT, $0-120
	MOVQ y_base+0(FP), DX
	MOVQ ldy+24(FP), R11
	SHLQ $2, R11               // y row stride in bytes
	MOVQ x_base+32(FP), R9
	MOVQ w_base+56(FP), DI
	MOVQ bias_base+80(FP), R13
	MOVQ bias_len+88(FP), AX
	MOVQ n+104(FP), BX
	MOVQ k+112(FP), R8
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
	MOVQ   k+112(FP), CX

r4loop16:
	CMPQ        CX, $16
	JLT         r4loop8
	PREFETCHT1  4096(DI)
	VPMOVZXWD   (DI), Y8
	VPMOVZXWD   16(DI), Y9
	VPSLLD      $16, Y8, Y8
	VPSLLD      $16, Y9, Y9
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
	ADDQ        $32, DI
	SUBQ        $16, CX
	JMP         r4loop16

r4loop8:
	CMPQ        CX, $8
	JLT         r4reduce
	VPMOVZXWD   (DI), Y8
	VPSLLD      $16, Y8, Y8
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS (SI)(R8*1), Y8, Y1
	VFMADD231PS (SI)(R8*2), Y8, Y2
	VFMADD231PS (R10), Y8, Y3
	ADDQ        $32, SI
	ADDQ        $32, R10
	ADDQ        $16, DI
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
	JEQ          r4bias
	VMOVSS       (SI), X9
	VINSERTPS    $0x10, (SI)(R8*1), X9, X9
	VINSERTPS    $0x20, (SI)(R8*2), X9, X9
	VINSERTPS    $0x30, (R10), X9, X9
	MOVWLZX      (DI), R12
	SHLL         $16, R12
	VMOVD        R12, X8
	VBROADCASTSS X8, X8
	VFMADD231PS  X9, X8, X0
	ADDQ         $4, SI
	ADDQ         $4, R10
	ADDQ         $2, DI
	DECQ         CX
	JMP          r4tail

r4bias:
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
