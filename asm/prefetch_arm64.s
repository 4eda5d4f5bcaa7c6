//go:build !purego

#include "textflag.h"

// func prefetchRows(p *float32, stride, cols, rows int)
//
// PRFM PLDL1KEEP of each cache line (64 bytes) that rows rows of cols
// floats, stride floats apart from p, touch.
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVD p+0(FP), R0
	MOVD stride+8(FP), R1
	LSL  $2, R1, R1
	MOVD cols+16(FP), R2
	MOVD rows+24(FP), R3
	CMP  $0, R3
	BLE  done
	CMP  $0, R2
	BLE  done
	LSL  $2, R2, R2
	SUB  $4, R2, R2 // last byte of a row, from its start
	MOVD $-64, R6

row:
	ADD  R0, R2, R5
	AND  R6, R5, R5 // line of the row's last float
	AND  R6, R0, R4 // line of its first

line:
	PRFM (R4), PLDL1KEEP
	ADD  $64, R4, R4
	CMP  R5, R4
	BLE  line
	ADD  R1, R0, R0
	SUBS $1, R3, R3
	BNE  row

done:
	RET
