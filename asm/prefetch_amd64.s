//go:build !purego

#include "textflag.h"

// func prefetchRows(p *float32, stride, cols, rows int)
//
// PREFETCHT0 of each cache line that rows rows of cols floats, stride
// floats apart from p, touch (cols > 0).
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), AX
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ cols+16(FP), DX
	MOVQ rows+24(FP), CX
	TESTQ CX, CX
	JLE  prdone
	TESTQ DX, DX
	JLE  prdone
	LEAQ -4(DX*4), DX // last byte of a row, from its start

prrow:
	LEAQ (AX)(DX*1), DI
	ANDQ $-64, DI     // line of the row's last float
	MOVQ AX, SI
	ANDQ $-64, SI     // line of its first

prline:
	PREFETCHT0 (SI)
	ADDQ $64, SI
	CMPQ SI, DI
	JLE  prline
	ADDQ BX, AX
	DECQ CX
	JNZ  prrow

prdone:
	RET
