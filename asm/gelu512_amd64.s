//go:build !purego

#include "textflag.h"
#include "vec_amd64.h"

// Exact GELU and its backward with 512-bit registers: the instructions of
// geluAVX2 and geluBackwardAVX2 (gelu_amd64.s) lane for lane, in the same
// order and with the same operand order (so the same NaN propagation), so
// the results are bit-identical to the AVX2 kernels. The AVX2 blends on the
// sign bit (VBLENDVPS) become opmask blends (VPTESTMD on the sign bit,
// VBLENDMPS); every instruction is AVX-512F.

VCONST(g5InvSqrt2, $0x3f3504f3)
VCONST(g5InvSqrt2Pi, $0x3ecc422a)
VCONST(g5ZMax, $0x41200000)
VCONST(g5Small, $0x3f000000)
VCONST(g5S0, $0x3f906ebb)
VCONST(g5S1, $0xbec093a3)
VCONST(g5S2, $0x3de71791)
VCONST(g5S3, $0xbcdc1672)
VCONST(g5S4, $0x3bab2de7)
VCONST(g5S5, $0xba6016da)
VCONST(g5P0, $0x3e906da2)
VCONST(g5P1, $0x3e90937f)
VCONST(g5P2, $0x3e78f031)
VCONST(g5P3, $0x3e4f8d26)
VCONST(g5P4, $0xbcda1e22)
VCONST(g5P5, $0x3e8e5ed3)
VCONST(g5P6, $0xbef97246)
VCONST(g5P7, $0x3e91b3d0)
VCONST(g5P8, $0xbd71f24d)

// PHI512: Z10 = Φ(Z0), Z9 = exp(-z²), Z4 = z², z = min(|x|/√2, 10);
// clobbers Z1-Z3, Z5-Z7, Z11-Z13, K2, K3 (see PHI in gelu_amd64.s).
#define PHI512 \
	VPANDD.BCST  constAbs<>(SB), Z0, Z1; \
	VMULPS.BCST  g5InvSqrt2<>(SB), Z1, Z1; \
	VBROADCASTSS g5ZMax<>(SB), Z2; \
	VMINPS       Z1, Z2, Z1; \
	VMULPS.BCST  constHalf<>(SB), Z1, Z2; \
	VADDPS.BCST  constOne<>(SB), Z2, Z2; \
	VBROADCASTSS constOne<>(SB), Z3; \
	VDIVPS       Z2, Z3, Z3; \
	VMULPS       Z1, Z1, Z4; \
	VPXORD.BCST  constSign<>(SB), Z4, Z5; \
	EXP512(Z5, Z6, Z7, Z9); \
	VBROADCASTSS g5P8<>(SB), Z10; \
	VFMADD213PS.BCST g5P7<>(SB), Z3, Z10; \
	VFMADD213PS.BCST g5P6<>(SB), Z3, Z10; \
	VFMADD213PS.BCST g5P5<>(SB), Z3, Z10; \
	VFMADD213PS.BCST g5P4<>(SB), Z3, Z10; \
	VFMADD213PS.BCST g5P3<>(SB), Z3, Z10; \
	VFMADD213PS.BCST g5P2<>(SB), Z3, Z10; \
	VFMADD213PS.BCST g5P1<>(SB), Z3, Z10; \
	VFMADD213PS.BCST g5P0<>(SB), Z3, Z10; \
	VMULPS       Z3, Z10, Z10; \
	VMULPS       Z9, Z10, Z10; \
	VMULPS.BCST  constHalf<>(SB), Z10, Z10; \
	VBROADCASTSS constOne<>(SB), Z11; \
	VSUBPS       Z10, Z11, Z11; \
	VPTESTMD.BCST constSign<>(SB), Z0, K2; \
	VBLENDMPS    Z10, Z11, K2, Z10; \
	VBROADCASTSS g5S5<>(SB), Z11; \
	VFMADD213PS.BCST g5S4<>(SB), Z4, Z11; \
	VFMADD213PS.BCST g5S3<>(SB), Z4, Z11; \
	VFMADD213PS.BCST g5S2<>(SB), Z4, Z11; \
	VFMADD213PS.BCST g5S1<>(SB), Z4, Z11; \
	VFMADD213PS.BCST g5S0<>(SB), Z4, Z11; \
	VMULPS.BCST  g5InvSqrt2<>(SB), Z0, Z12; \
	VMULPS       Z12, Z11, Z11; \
	VBROADCASTSS constHalf<>(SB), Z12; \
	VFMADD213PS  Z12, Z12, Z11; \
	VCMPPS.BCST  $1, g5Small<>(SB), Z1, K3; \
	VBLENDMPS    Z11, Z10, K3, Z10

// GELUGRAD512: Z10 = Φ(x) + x·exp(-x²/2)/√(2π) from PHI512's Z10 and Z9
// (x in Z0; clobbers Z9): the derivative geluBackwardAVX512 multiplies by
// dy and geluDerivAVX512 stores.
#define GELUGRAD512 \
	VMULPS           Z9, Z0, Z9; \
	VFMADD231PS.BCST g5InvSqrt2Pi<>(SB), Z9, Z10

// func geluAVX512(dst, x []float32)
TEXT ·geluAVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI

geluavx512loop:
	CMPQ CX, $16
	JL   geluavx512tail
	VMOVUPS (SI), Z0
	PHI512
	VMULPS  Z10, Z0, Z10
	VMOVUPS Z10, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     geluavx512loop

geluavx512tail:
	TESTQ CX, CX
	JE    geluavx512done
	TAILMASK512(CX, AX, K1)
	VMOVUPS.Z (SI), K1, Z0
	PHI512
	VMULPS  Z10, Z0, Z10
	VMOVUPS Z10, K1, (DI)

geluavx512done:
	VZEROUPPER
	RET

// func geluBackwardAVX512(dx, x, dy []float32)
TEXT ·geluBackwardAVX512(SB), NOSPLIT, $0-72
	MOVQ dx_base+0(FP), DI
	MOVQ dx_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ dy_base+48(FP), DX

gelubackwardavx512loop:
	CMPQ CX, $16
	JL   gelubackwardavx512tail
	VMOVUPS (SI), Z0
	VMOVUPS (DX), Z14
	PHI512
	GELUGRAD512
	VMULPS  Z14, Z10, Z10
	VMOVUPS Z10, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     gelubackwardavx512loop

gelubackwardavx512tail:
	TESTQ CX, CX
	JE    gelubackwardavx512done
	TAILMASK512(CX, AX, K1)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z14
	PHI512
	GELUGRAD512
	VMULPS  Z14, Z10, Z10
	VMOVUPS Z10, K1, (DI)

gelubackwardavx512done:
	VZEROUPPER
	RET

// geluDerivAVX512: dst = x·Φ(x) and deriv = Φ(x) + x·exp(-x²/2)/√(2π), the
// instructions of geluAVX512 and of geluBackwardAVX512 before its multiply
// by dy, in the same order: dst is geluAVX512's and deriv·dy (VMULPS with
// deriv first) is geluBackwardAVX512's, bit for bit.
//
// func geluDerivAVX512(dst, deriv, x []float32)
TEXT ·geluDerivAVX512(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ deriv_base+24(FP), DX
	MOVQ x_base+48(FP), SI

geluderivavx512loop:
	CMPQ CX, $16
	JL   geluderivavx512tail
	VMOVUPS (SI), Z0
	PHI512
	VMULPS  Z10, Z0, Z15
	GELUGRAD512
	VMOVUPS Z15, (DI)
	VMOVUPS Z10, (DX)
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $64, DX
	SUBQ    $16, CX
	JMP     geluderivavx512loop

geluderivavx512tail:
	TESTQ CX, CX
	JE    geluderivavx512done
	TAILMASK512(CX, AX, K1)
	VMOVUPS.Z (SI), K1, Z0
	PHI512
	VMULPS  Z10, Z0, Z15
	GELUGRAD512
	VMOVUPS Z15, K1, (DI)
	VMOVUPS Z10, K1, (DX)

geluderivavx512done:
	VZEROUPPER
	RET
