//go:build !purego

#include "textflag.h"
#include "gemm_amd64.h"

// func transpose16AVX512(dst *float32, ldd int, src *float32, lds int, rows int)
//
// dst[c*ldd+r] = src[r*lds+c] for c < 16, r < rows (at most 16), and 0 for
// rows <= r < 16: one 16×16 block of rows of 16 floats, in registers (rows
// past rows are zero registers), by TRANSPOSE16 (gemm_amd64.h).
TEXT ·transpose16AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), DX
	SHLQ $2, DX
	MOVQ rows+32(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	CMPQ CX, $1
	JLT  loaded
	VMOVUPS (SI), Z0
	ADDQ DX, SI
	CMPQ CX, $2
	JLT  loaded
	VMOVUPS (SI), Z1
	ADDQ DX, SI
	CMPQ CX, $3
	JLT  loaded
	VMOVUPS (SI), Z2
	ADDQ DX, SI
	CMPQ CX, $4
	JLT  loaded
	VMOVUPS (SI), Z3
	ADDQ DX, SI
	CMPQ CX, $5
	JLT  loaded
	VMOVUPS (SI), Z4
	ADDQ DX, SI
	CMPQ CX, $6
	JLT  loaded
	VMOVUPS (SI), Z5
	ADDQ DX, SI
	CMPQ CX, $7
	JLT  loaded
	VMOVUPS (SI), Z6
	ADDQ DX, SI
	CMPQ CX, $8
	JLT  loaded
	VMOVUPS (SI), Z7
	ADDQ DX, SI
	CMPQ CX, $9
	JLT  loaded
	VMOVUPS (SI), Z8
	ADDQ DX, SI
	CMPQ CX, $10
	JLT  loaded
	VMOVUPS (SI), Z9
	ADDQ DX, SI
	CMPQ CX, $11
	JLT  loaded
	VMOVUPS (SI), Z10
	ADDQ DX, SI
	CMPQ CX, $12
	JLT  loaded
	VMOVUPS (SI), Z11
	ADDQ DX, SI
	CMPQ CX, $13
	JLT  loaded
	VMOVUPS (SI), Z12
	ADDQ DX, SI
	CMPQ CX, $14
	JLT  loaded
	VMOVUPS (SI), Z13
	ADDQ DX, SI
	CMPQ CX, $15
	JLT  loaded
	VMOVUPS (SI), Z14
	ADDQ DX, SI
	CMPQ CX, $16
	JLT  loaded
	VMOVUPS (SI), Z15

loaded:
	TRANSPOSE16
	VMOVUPS Z0, (DI)
	ADDQ R8, DI
	VMOVUPS Z1, (DI)
	ADDQ R8, DI
	VMOVUPS Z2, (DI)
	ADDQ R8, DI
	VMOVUPS Z3, (DI)
	ADDQ R8, DI
	VMOVUPS Z4, (DI)
	ADDQ R8, DI
	VMOVUPS Z5, (DI)
	ADDQ R8, DI
	VMOVUPS Z6, (DI)
	ADDQ R8, DI
	VMOVUPS Z7, (DI)
	ADDQ R8, DI
	VMOVUPS Z8, (DI)
	ADDQ R8, DI
	VMOVUPS Z9, (DI)
	ADDQ R8, DI
	VMOVUPS Z10, (DI)
	ADDQ R8, DI
	VMOVUPS Z11, (DI)
	ADDQ R8, DI
	VMOVUPS Z12, (DI)
	ADDQ R8, DI
	VMOVUPS Z13, (DI)
	ADDQ R8, DI
	VMOVUPS Z14, (DI)
	ADDQ R8, DI
	VMOVUPS Z15, (DI)
	VZEROUPPER
	RET
