//go:build !purego

#include "textflag.h"

// Edge kernels of the AVX-512F 12×32 SGEMM (sgemmBlockAVX512) for the
// last row tile of a block when it holds R < 12 rows: the same packed A
// micro-panel (stride 12 floats per k), the same B micro-panels, the
// same sequence of FMAs for each element, on R rows only:
//
//	for jr := 0; jr < nTiles; jr++ {
//		for i < R, j < 32: c[i*ldc + jr*32 + j] = Σ_p a[p*12+i]·b[jr*bstep + p*ldb + j]
//	}
//
// (the sum accumulated in p order by FMA, from zero, as the 12-row kernel
// does with accum = 0). Registers: AX A, BX B row, CX kc, DX C column,
// SI B micro-panel, DI ldb bytes, R8 ldc bytes, R9 bstep bytes, R10 jr
// tiles left, R11 C row, R13 k left; Z0..Z(2R-1) accumulate, Z24/Z25 hold
// B(p, 0:32), Z26..Z31 broadcasts of A(i, p).

// EDGE_ARGS loads the arguments and jumps to done when nTiles ≤ 0.
#define EDGE_ARGS(done) \
	MOVQ  b+8(FP), SI; \
	MOVQ  c+16(FP), DX; \
	MOVQ  kc+24(FP), CX; \
	MOVQ  ldb+32(FP), DI; \
	SHLQ  $2, DI; \
	MOVQ  ldc+48(FP), R8; \
	SHLQ  $2, R8; \
	MOVQ  bstep+40(FP), R9; \
	SHLQ  $2, R9; \
	MOVQ  nTiles+56(FP), R10; \
	TESTQ R10, R10; \
	JLE   done

// EDGE_TILE starts a column tile: A from the top, B at its micro-panel.
#define EDGE_TILE \
	MOVQ a+0(FP), AX; \
	MOVQ SI, BX

// EDGE_ZERO2 zeroes one row's two accumulators.
#define EDGE_ZERO2(z0, z1) \
	VPXORD z0, z0, z0; \
	VPXORD z1, z1, z1

// EDGE_LOADB loads B(p, 0:32) and steps to the next k.
#define EDGE_LOADB \
	VMOVUPS (BX), Z24; \
	VMOVUPS 64(BX), Z25; \
	ADDQ    DI, BX

// EDGE_FMA adds A(i, p) (at byte offset off of the A micro-panel's k
// column, broadcast into bc) times B(p, 0:32) to row i's accumulators.
#define EDGE_FMA(off, bc, z0, z1) \
	VBROADCASTSS off(AX), bc; \
	VFMADD231PS  Z24, bc, z0; \
	VFMADD231PS  Z25, bc, z1

// EDGE_STORE writes one row of the C tile and steps to the next row.
#define EDGE_STORE(z0, z1) \
	VMOVUPS z0, (R11); \
	VMOVUPS z1, 64(R11); \
	ADDQ    R8, R11

// EDGE_NEXT steps to the next column tile and loops to jr while tiles are left.
#define EDGE_NEXT(jr) \
	ADDQ $128, DX; \
	ADDQ R9, SI; \
	DECQ R10; \
	JNZ  jr

// func sgemmEdge4AVX512(a, b, c *float32, kc, ldb, bstep, ldc, nTiles int)
TEXT ·sgemmEdge4AVX512(SB), NOSPLIT, $0-64
	EDGE_ARGS(edge4_done)

edge4_jr:
	EDGE_TILE
	EDGE_ZERO2(Z0, Z1)
	EDGE_ZERO2(Z2, Z3)
	EDGE_ZERO2(Z4, Z5)
	EDGE_ZERO2(Z6, Z7)
	MOVQ  CX, R13
	TESTQ R13, R13
	JZ    edge4_store

edge4_k:
	EDGE_LOADB
	EDGE_FMA(0, Z26, Z0, Z1)
	EDGE_FMA(4, Z27, Z2, Z3)
	EDGE_FMA(8, Z28, Z4, Z5)
	EDGE_FMA(12, Z29, Z6, Z7)
	ADDQ $48, AX
	DECQ R13
	JNZ  edge4_k

edge4_store:
	MOVQ DX, R11
	EDGE_STORE(Z0, Z1)
	EDGE_STORE(Z2, Z3)
	EDGE_STORE(Z4, Z5)
	EDGE_STORE(Z6, Z7)
	EDGE_NEXT(edge4_jr)

edge4_done:
	VZEROUPPER
	RET

// func sgemmEdge8AVX512(a, b, c *float32, kc, ldb, bstep, ldc, nTiles int)
TEXT ·sgemmEdge8AVX512(SB), NOSPLIT, $0-64
	EDGE_ARGS(edge8_done)

edge8_jr:
	EDGE_TILE
	EDGE_ZERO2(Z0, Z1)
	EDGE_ZERO2(Z2, Z3)
	EDGE_ZERO2(Z4, Z5)
	EDGE_ZERO2(Z6, Z7)
	EDGE_ZERO2(Z8, Z9)
	EDGE_ZERO2(Z10, Z11)
	EDGE_ZERO2(Z12, Z13)
	EDGE_ZERO2(Z14, Z15)
	MOVQ  CX, R13
	TESTQ R13, R13
	JZ    edge8_store

edge8_k:
	EDGE_LOADB
	EDGE_FMA(0, Z26, Z0, Z1)
	EDGE_FMA(4, Z27, Z2, Z3)
	EDGE_FMA(8, Z28, Z4, Z5)
	EDGE_FMA(12, Z29, Z6, Z7)
	EDGE_FMA(16, Z30, Z8, Z9)
	EDGE_FMA(20, Z31, Z10, Z11)
	EDGE_FMA(24, Z26, Z12, Z13)
	EDGE_FMA(28, Z27, Z14, Z15)
	ADDQ $48, AX
	DECQ R13
	JNZ  edge8_k

edge8_store:
	MOVQ DX, R11
	EDGE_STORE(Z0, Z1)
	EDGE_STORE(Z2, Z3)
	EDGE_STORE(Z4, Z5)
	EDGE_STORE(Z6, Z7)
	EDGE_STORE(Z8, Z9)
	EDGE_STORE(Z10, Z11)
	EDGE_STORE(Z12, Z13)
	EDGE_STORE(Z14, Z15)
	EDGE_NEXT(edge8_jr)

edge8_done:
	VZEROUPPER
	RET
