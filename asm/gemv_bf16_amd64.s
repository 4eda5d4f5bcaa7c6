//go:build !purego

#include "textflag.h"

// func dotBF16AVX2(x []float32, w []uint16) float32
//
// Widens eight bfloat16 weights at a time to float32 (zero-extend to 32
// bits, shift left 16) and accumulates x·w with FMAs in four accumulators;
// the last len(x) mod 8 products are summed one by one.
//
//	for ; n >= 32; n -= 32 { acc[0..3] += x[0:32] * widen(w[0:32]) }
//	for ; n >= 8; n -= 8 { acc[0] += x[0:8] * widen(w[0:8]) }
//	s = hsum(acc[0]+acc[1]+acc[2]+acc[3])
//	for ; n > 0; n-- { s += x[0] * widen(w[0]) }
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-52
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	MOVQ   w_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

loop32:
	CMPQ        CX, $32
	JL          loop8
	VPMOVZXWD   (DI), Y4
	VPMOVZXWD   16(DI), Y5
	VPMOVZXWD   32(DI), Y6
	VPMOVZXWD   48(DI), Y7
	VPSLLD      $16, Y4, Y4
	VPSLLD      $16, Y5, Y5
	VPSLLD      $16, Y6, Y6
	VPSLLD      $16, Y7, Y7
	VFMADD231PS (SI), Y4, Y0
	VFMADD231PS 32(SI), Y5, Y1
	VFMADD231PS 64(SI), Y6, Y2
	VFMADD231PS 96(SI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $64, DI
	SUBQ        $32, CX
	JMP         loop32

loop8:
	CMPQ        CX, $8
	JL          reduce
	VPMOVZXWD   (DI), Y4
	VPSLLD      $16, Y4, Y4
	VFMADD231PS (SI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $16, DI
	SUBQ        $8, CX
	JMP         loop8

reduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0
	VPSHUFD      $1, X0, X1
	VADDSS       X1, X0, X0

tail:
	TESTQ       CX, CX
	JE          done
	MOVWLZX     (DI), AX
	SHLL        $16, AX
	VMOVD       AX, X4
	VFMADD231SS (SI), X4, X0
	ADDQ        $4, SI
	ADDQ        $2, DI
	DECQ        CX
	JMP         tail

done:
	VMOVSS     X0, ret+48(FP)
	VZEROUPPER
	RET
