//go:build !purego

#include "textflag.h"
#include "vec_amd64.h"

// GELU variants, AVX2+FMA; the same method and constants as gelu_generic.go.

VCONST(geluInvSqrt2, $0x3f3504f3)
VCONST(geluInvSqrt2Pi, $0x3ecc422a)
VCONST(geluZMax, $0x41200000)
VCONST(geluSmall, $0x3f000000)
VCONST(geluS0, $0x3f906ebb)
VCONST(geluS1, $0xbec093a3)
VCONST(geluS2, $0x3de71791)
VCONST(geluS3, $0xbcdc1672)
VCONST(geluS4, $0x3bab2de7)
VCONST(geluS5, $0xba6016da)
VCONST(geluP0, $0x3e906da2)
VCONST(geluP1, $0x3e90937f)
VCONST(geluP2, $0x3e78f031)
VCONST(geluP3, $0x3e4f8d26)
VCONST(geluP4, $0xbcda1e22)
VCONST(geluP5, $0x3e8e5ed3)
VCONST(geluP6, $0xbef97246)
VCONST(geluP7, $0x3e91b3d0)
VCONST(geluP8, $0xbd71f24d)
VCONST(geluTanhK2, $0x3fcc422a)
VCONST(geluTanhC, $0x3d372713)
VCONST(geluTanhC3, $0x3e095d4f)
VCONST(quickGeluK, $0x3fd9db23)
VCONST(sigmoidUMin, $0xc2a00000)

// func geluAVX2(dst, x []float32)
TEXT ·geluAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI

geluavx2loop:
	CMPQ CX, $8
	JL   geluavx2tail
	VMOVUPS (SI), Y0
	// PHI: Y10 = Φ(x), Y9 = exp(-z²), z = min(|x|/√2, 10) (see gelu_generic.go)
	VANDPS  constAbs<>(SB), Y0, Y1
	VMULPS  geluInvSqrt2<>(SB), Y1, Y1
	VMOVUPS geluZMax<>(SB), Y2
	VMINPS  Y1, Y2, Y1
	VMULPS  constHalf<>(SB), Y1, Y2
	VADDPS  constOne<>(SB), Y2, Y2
	VMOVUPS constOne<>(SB), Y3
	VDIVPS  Y2, Y3, Y3 // t = 1/(1+z/2)
	VMULPS  Y1, Y1, Y4 // w = z²
	VXORPS  constSign<>(SB), Y4, Y5
	EXP(Y5, Y6, Y7, Y9)
	VMOVUPS geluP8<>(SB), Y10
	VFMADD213PS geluP7<>(SB), Y3, Y10
	VFMADD213PS geluP6<>(SB), Y3, Y10
	VFMADD213PS geluP5<>(SB), Y3, Y10
	VFMADD213PS geluP4<>(SB), Y3, Y10
	VFMADD213PS geluP3<>(SB), Y3, Y10
	VFMADD213PS geluP2<>(SB), Y3, Y10
	VFMADD213PS geluP1<>(SB), Y3, Y10
	VFMADD213PS geluP0<>(SB), Y3, Y10
	VMULPS  Y3, Y10, Y10
	VMULPS  Y9, Y10, Y10
	VMULPS  constHalf<>(SB), Y10, Y10 // h = t·e·P(t)/2
	VMOVUPS constOne<>(SB), Y11
	VSUBPS  Y10, Y11, Y11
	VBLENDVPS Y0, Y10, Y11, Y10 // x < 0 ? h : 1-h
	VMOVUPS geluS5<>(SB), Y11
	VFMADD213PS geluS4<>(SB), Y4, Y11
	VFMADD213PS geluS3<>(SB), Y4, Y11
	VFMADD213PS geluS2<>(SB), Y4, Y11
	VFMADD213PS geluS1<>(SB), Y4, Y11
	VFMADD213PS geluS0<>(SB), Y4, Y11
	VMULPS  geluInvSqrt2<>(SB), Y0, Y12
	VMULPS  Y12, Y11, Y11
	VMOVUPS constHalf<>(SB), Y12
	VFMADD213PS Y12, Y12, Y11 // 1/2 + erf(x/√2)/2 by the series
	VCMPPS  $1, geluSmall<>(SB), Y1, Y13
	VBLENDVPS Y13, Y11, Y10, Y10 // z < 1/2 ? series : tail form
	VMULPS  Y10, Y0, Y10
	VMOVUPS Y10, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  geluavx2loop

geluavx2tail:
	TESTQ CX, CX
	JE    geluavx2done
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	// PHI: Y10 = Φ(x), Y9 = exp(-z²), z = min(|x|/√2, 10) (see gelu_generic.go)
	VANDPS  constAbs<>(SB), Y0, Y1
	VMULPS  geluInvSqrt2<>(SB), Y1, Y1
	VMOVUPS geluZMax<>(SB), Y2
	VMINPS  Y1, Y2, Y1
	VMULPS  constHalf<>(SB), Y1, Y2
	VADDPS  constOne<>(SB), Y2, Y2
	VMOVUPS constOne<>(SB), Y3
	VDIVPS  Y2, Y3, Y3 // t = 1/(1+z/2)
	VMULPS  Y1, Y1, Y4 // w = z²
	VXORPS  constSign<>(SB), Y4, Y5
	EXP(Y5, Y6, Y7, Y9)
	VMOVUPS geluP8<>(SB), Y10
	VFMADD213PS geluP7<>(SB), Y3, Y10
	VFMADD213PS geluP6<>(SB), Y3, Y10
	VFMADD213PS geluP5<>(SB), Y3, Y10
	VFMADD213PS geluP4<>(SB), Y3, Y10
	VFMADD213PS geluP3<>(SB), Y3, Y10
	VFMADD213PS geluP2<>(SB), Y3, Y10
	VFMADD213PS geluP1<>(SB), Y3, Y10
	VFMADD213PS geluP0<>(SB), Y3, Y10
	VMULPS  Y3, Y10, Y10
	VMULPS  Y9, Y10, Y10
	VMULPS  constHalf<>(SB), Y10, Y10 // h = t·e·P(t)/2
	VMOVUPS constOne<>(SB), Y11
	VSUBPS  Y10, Y11, Y11
	VBLENDVPS Y0, Y10, Y11, Y10 // x < 0 ? h : 1-h
	VMOVUPS geluS5<>(SB), Y11
	VFMADD213PS geluS4<>(SB), Y4, Y11
	VFMADD213PS geluS3<>(SB), Y4, Y11
	VFMADD213PS geluS2<>(SB), Y4, Y11
	VFMADD213PS geluS1<>(SB), Y4, Y11
	VFMADD213PS geluS0<>(SB), Y4, Y11
	VMULPS  geluInvSqrt2<>(SB), Y0, Y12
	VMULPS  Y12, Y11, Y11
	VMOVUPS constHalf<>(SB), Y12
	VFMADD213PS Y12, Y12, Y11 // 1/2 + erf(x/√2)/2 by the series
	VCMPPS  $1, geluSmall<>(SB), Y1, Y13
	VBLENDVPS Y13, Y11, Y10, Y10 // z < 1/2 ? series : tail form
	VMULPS  Y10, Y0, Y10
	VMASKMOVPS Y10, Y8, (DI)

geluavx2done:
	VZEROUPPER
	RET

// func geluBackwardAVX2(dx, x, dy []float32)
TEXT ·geluBackwardAVX2(SB), NOSPLIT, $0-72
	MOVQ dx_base+0(FP), DI
	MOVQ dx_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ dy_base+48(FP), DX

gelubackwardavx2loop:
	CMPQ CX, $8
	JL   gelubackwardavx2tail
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y14
	// PHI: Y10 = Φ(x), Y9 = exp(-z²), z = min(|x|/√2, 10) (see gelu_generic.go)
	VANDPS  constAbs<>(SB), Y0, Y1
	VMULPS  geluInvSqrt2<>(SB), Y1, Y1
	VMOVUPS geluZMax<>(SB), Y2
	VMINPS  Y1, Y2, Y1
	VMULPS  constHalf<>(SB), Y1, Y2
	VADDPS  constOne<>(SB), Y2, Y2
	VMOVUPS constOne<>(SB), Y3
	VDIVPS  Y2, Y3, Y3 // t = 1/(1+z/2)
	VMULPS  Y1, Y1, Y4 // w = z²
	VXORPS  constSign<>(SB), Y4, Y5
	EXP(Y5, Y6, Y7, Y9)
	VMOVUPS geluP8<>(SB), Y10
	VFMADD213PS geluP7<>(SB), Y3, Y10
	VFMADD213PS geluP6<>(SB), Y3, Y10
	VFMADD213PS geluP5<>(SB), Y3, Y10
	VFMADD213PS geluP4<>(SB), Y3, Y10
	VFMADD213PS geluP3<>(SB), Y3, Y10
	VFMADD213PS geluP2<>(SB), Y3, Y10
	VFMADD213PS geluP1<>(SB), Y3, Y10
	VFMADD213PS geluP0<>(SB), Y3, Y10
	VMULPS  Y3, Y10, Y10
	VMULPS  Y9, Y10, Y10
	VMULPS  constHalf<>(SB), Y10, Y10 // h = t·e·P(t)/2
	VMOVUPS constOne<>(SB), Y11
	VSUBPS  Y10, Y11, Y11
	VBLENDVPS Y0, Y10, Y11, Y10 // x < 0 ? h : 1-h
	VMOVUPS geluS5<>(SB), Y11
	VFMADD213PS geluS4<>(SB), Y4, Y11
	VFMADD213PS geluS3<>(SB), Y4, Y11
	VFMADD213PS geluS2<>(SB), Y4, Y11
	VFMADD213PS geluS1<>(SB), Y4, Y11
	VFMADD213PS geluS0<>(SB), Y4, Y11
	VMULPS  geluInvSqrt2<>(SB), Y0, Y12
	VMULPS  Y12, Y11, Y11
	VMOVUPS constHalf<>(SB), Y12
	VFMADD213PS Y12, Y12, Y11 // 1/2 + erf(x/√2)/2 by the series
	VCMPPS  $1, geluSmall<>(SB), Y1, Y13
	VBLENDVPS Y13, Y11, Y10, Y10 // z < 1/2 ? series : tail form
	VMULPS  Y9, Y0, Y9
	VFMADD231PS geluInvSqrt2Pi<>(SB), Y9, Y10 // Φ + x·e/√(2π)
	VMULPS  Y14, Y10, Y10
	VMOVUPS Y10, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  gelubackwardavx2loop

gelubackwardavx2tail:
	TESTQ CX, CX
	JE    gelubackwardavx2done
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	VMASKMOVPS (DX), Y8, Y14
	// PHI: Y10 = Φ(x), Y9 = exp(-z²), z = min(|x|/√2, 10) (see gelu_generic.go)
	VANDPS  constAbs<>(SB), Y0, Y1
	VMULPS  geluInvSqrt2<>(SB), Y1, Y1
	VMOVUPS geluZMax<>(SB), Y2
	VMINPS  Y1, Y2, Y1
	VMULPS  constHalf<>(SB), Y1, Y2
	VADDPS  constOne<>(SB), Y2, Y2
	VMOVUPS constOne<>(SB), Y3
	VDIVPS  Y2, Y3, Y3 // t = 1/(1+z/2)
	VMULPS  Y1, Y1, Y4 // w = z²
	VXORPS  constSign<>(SB), Y4, Y5
	EXP(Y5, Y6, Y7, Y9)
	VMOVUPS geluP8<>(SB), Y10
	VFMADD213PS geluP7<>(SB), Y3, Y10
	VFMADD213PS geluP6<>(SB), Y3, Y10
	VFMADD213PS geluP5<>(SB), Y3, Y10
	VFMADD213PS geluP4<>(SB), Y3, Y10
	VFMADD213PS geluP3<>(SB), Y3, Y10
	VFMADD213PS geluP2<>(SB), Y3, Y10
	VFMADD213PS geluP1<>(SB), Y3, Y10
	VFMADD213PS geluP0<>(SB), Y3, Y10
	VMULPS  Y3, Y10, Y10
	VMULPS  Y9, Y10, Y10
	VMULPS  constHalf<>(SB), Y10, Y10 // h = t·e·P(t)/2
	VMOVUPS constOne<>(SB), Y11
	VSUBPS  Y10, Y11, Y11
	VBLENDVPS Y0, Y10, Y11, Y10 // x < 0 ? h : 1-h
	VMOVUPS geluS5<>(SB), Y11
	VFMADD213PS geluS4<>(SB), Y4, Y11
	VFMADD213PS geluS3<>(SB), Y4, Y11
	VFMADD213PS geluS2<>(SB), Y4, Y11
	VFMADD213PS geluS1<>(SB), Y4, Y11
	VFMADD213PS geluS0<>(SB), Y4, Y11
	VMULPS  geluInvSqrt2<>(SB), Y0, Y12
	VMULPS  Y12, Y11, Y11
	VMOVUPS constHalf<>(SB), Y12
	VFMADD213PS Y12, Y12, Y11 // 1/2 + erf(x/√2)/2 by the series
	VCMPPS  $1, geluSmall<>(SB), Y1, Y13
	VBLENDVPS Y13, Y11, Y10, Y10 // z < 1/2 ? series : tail form
	VMULPS  Y9, Y0, Y9
	VFMADD231PS geluInvSqrt2Pi<>(SB), Y9, Y10 // Φ + x·e/√(2π)
	VMULPS  Y14, Y10, Y10
	VMASKMOVPS Y10, Y8, (DI)

gelubackwardavx2done:
	VZEROUPPER
	RET

// func geluTanhAVX2(dst, x []float32)
TEXT ·geluTanhAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI

gelutanhavx2loop:
	CMPQ CX, $8
	JL   gelutanhavx2tail
	VMOVUPS (SI), Y0
	// u = K2·(x + C·x³), x² in Y12
	VMULPS  Y0, Y0, Y12
	VMULPS  geluTanhC<>(SB), Y12, Y1
	VMULPS  Y0, Y1, Y1
	VADDPS  Y0, Y1, Y1
	VMULPS  geluTanhK2<>(SB), Y1, Y1
	// s = 1/(1+exp(-u)) of u (Y1) into Y3; clobbers Y1, Y2, Y4
	VXORPS  constSign<>(SB), Y1, Y1
	EXP(Y1, Y2, Y4, Y3)
	VADDPS  constOne<>(SB), Y3, Y3
	VMOVUPS constOne<>(SB), Y2
	VDIVPS  Y3, Y2, Y3
	VMULPS  Y3, Y0, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  gelutanhavx2loop

gelutanhavx2tail:
	TESTQ CX, CX
	JE    gelutanhavx2done
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	// u = K2·(x + C·x³), x² in Y12
	VMULPS  Y0, Y0, Y12
	VMULPS  geluTanhC<>(SB), Y12, Y1
	VMULPS  Y0, Y1, Y1
	VADDPS  Y0, Y1, Y1
	VMULPS  geluTanhK2<>(SB), Y1, Y1
	// s = 1/(1+exp(-u)) of u (Y1) into Y3; clobbers Y1, Y2, Y4
	VXORPS  constSign<>(SB), Y1, Y1
	EXP(Y1, Y2, Y4, Y3)
	VADDPS  constOne<>(SB), Y3, Y3
	VMOVUPS constOne<>(SB), Y2
	VDIVPS  Y3, Y2, Y3
	VMULPS  Y3, Y0, Y3
	VMASKMOVPS Y3, Y8, (DI)

gelutanhavx2done:
	VZEROUPPER
	RET

// func geluTanhBackwardAVX2(dx, x, dy []float32)
TEXT ·geluTanhBackwardAVX2(SB), NOSPLIT, $0-72
	MOVQ dx_base+0(FP), DI
	MOVQ dx_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ dy_base+48(FP), DX

gelutanhbackwardavx2loop:
	CMPQ CX, $8
	JL   gelutanhbackwardavx2tail
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y14
	// u = K2·(x + C·x³), x² in Y12
	VMULPS  Y0, Y0, Y12
	VMULPS  geluTanhC<>(SB), Y12, Y1
	VMULPS  Y0, Y1, Y1
	VADDPS  Y0, Y1, Y1
	VMULPS  geluTanhK2<>(SB), Y1, Y1
	// du = K2·(1 + 3C·x²)
	VMULPS  geluTanhC3<>(SB), Y12, Y13
	VADDPS  constOne<>(SB), Y13, Y13
	VMULPS  geluTanhK2<>(SB), Y13, Y13
	// s, 1-s of u (Y1): u = max(u, -80), e = exp(-u), s = 1/(1+e), 1-s = e·s
	VMOVUPS sigmoidUMin<>(SB), Y2
	VMAXPS  Y1, Y2, Y1
	VXORPS  constSign<>(SB), Y1, Y5
	EXP(Y5, Y6, Y7, Y4)
	VADDPS  constOne<>(SB), Y4, Y2
	VMOVUPS constOne<>(SB), Y3
	VDIVPS  Y2, Y3, Y3
	VMULPS  Y3, Y4, Y4
	// dy·(s + x·s·(1-s)·du)
	VMULPS  Y0, Y3, Y5
	VMULPS  Y4, Y5, Y5
	VFMADD213PS Y3, Y13, Y5
	VMULPS  Y14, Y5, Y5
	VMOVUPS Y5, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  gelutanhbackwardavx2loop

gelutanhbackwardavx2tail:
	TESTQ CX, CX
	JE    gelutanhbackwardavx2done
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	VMASKMOVPS (DX), Y8, Y14
	// u = K2·(x + C·x³), x² in Y12
	VMULPS  Y0, Y0, Y12
	VMULPS  geluTanhC<>(SB), Y12, Y1
	VMULPS  Y0, Y1, Y1
	VADDPS  Y0, Y1, Y1
	VMULPS  geluTanhK2<>(SB), Y1, Y1
	// du = K2·(1 + 3C·x²)
	VMULPS  geluTanhC3<>(SB), Y12, Y13
	VADDPS  constOne<>(SB), Y13, Y13
	VMULPS  geluTanhK2<>(SB), Y13, Y13
	// s, 1-s of u (Y1): u = max(u, -80), e = exp(-u), s = 1/(1+e), 1-s = e·s
	VMOVUPS sigmoidUMin<>(SB), Y2
	VMAXPS  Y1, Y2, Y1
	VXORPS  constSign<>(SB), Y1, Y5
	EXP(Y5, Y6, Y7, Y4)
	VADDPS  constOne<>(SB), Y4, Y2
	VMOVUPS constOne<>(SB), Y3
	VDIVPS  Y2, Y3, Y3
	VMULPS  Y3, Y4, Y4
	// dy·(s + x·s·(1-s)·du)
	VMULPS  Y0, Y3, Y5
	VMULPS  Y4, Y5, Y5
	VFMADD213PS Y3, Y13, Y5
	VMULPS  Y14, Y5, Y5
	VMASKMOVPS Y5, Y8, (DI)

gelutanhbackwardavx2done:
	VZEROUPPER
	RET

// func quickGeluAVX2(dst, x []float32)
TEXT ·quickGeluAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI

quickgeluavx2loop:
	CMPQ CX, $8
	JL   quickgeluavx2tail
	VMOVUPS (SI), Y0
	VMULPS  quickGeluK<>(SB), Y0, Y1
	// s = 1/(1+exp(-u)) of u (Y1) into Y3; clobbers Y1, Y2, Y4
	VXORPS  constSign<>(SB), Y1, Y1
	EXP(Y1, Y2, Y4, Y3)
	VADDPS  constOne<>(SB), Y3, Y3
	VMOVUPS constOne<>(SB), Y2
	VDIVPS  Y3, Y2, Y3
	VMULPS  Y3, Y0, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  quickgeluavx2loop

quickgeluavx2tail:
	TESTQ CX, CX
	JE    quickgeluavx2done
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	VMULPS  quickGeluK<>(SB), Y0, Y1
	// s = 1/(1+exp(-u)) of u (Y1) into Y3; clobbers Y1, Y2, Y4
	VXORPS  constSign<>(SB), Y1, Y1
	EXP(Y1, Y2, Y4, Y3)
	VADDPS  constOne<>(SB), Y3, Y3
	VMOVUPS constOne<>(SB), Y2
	VDIVPS  Y3, Y2, Y3
	VMULPS  Y3, Y0, Y3
	VMASKMOVPS Y3, Y8, (DI)

quickgeluavx2done:
	VZEROUPPER
	RET

// func quickGeluBackwardAVX2(dx, x, dy []float32)
TEXT ·quickGeluBackwardAVX2(SB), NOSPLIT, $0-72
	MOVQ dx_base+0(FP), DI
	MOVQ dx_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ dy_base+48(FP), DX

quickgelubackwardavx2loop:
	CMPQ CX, $8
	JL   quickgelubackwardavx2tail
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y14
	VMULPS  quickGeluK<>(SB), Y0, Y1
	VMOVUPS Y1, Y13
	// s, 1-s of u (Y1): u = max(u, -80), e = exp(-u), s = 1/(1+e), 1-s = e·s
	VMOVUPS sigmoidUMin<>(SB), Y2
	VMAXPS  Y1, Y2, Y1
	VXORPS  constSign<>(SB), Y1, Y5
	EXP(Y5, Y6, Y7, Y4)
	VADDPS  constOne<>(SB), Y4, Y2
	VMOVUPS constOne<>(SB), Y3
	VDIVPS  Y2, Y3, Y3
	VMULPS  Y3, Y4, Y4
	// dy·(s + u·s·(1-s)), u = 1.702x (unclamped)
	VMULPS  Y3, Y13, Y5
	VFMADD213PS Y3, Y4, Y5
	VMULPS  Y14, Y5, Y5
	VMOVUPS Y5, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  quickgelubackwardavx2loop

quickgelubackwardavx2tail:
	TESTQ CX, CX
	JE    quickgelubackwardavx2done
	TAILMASK(CX, AX, BX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	VMASKMOVPS (DX), Y8, Y14
	VMULPS  quickGeluK<>(SB), Y0, Y1
	VMOVUPS Y1, Y13
	// s, 1-s of u (Y1): u = max(u, -80), e = exp(-u), s = 1/(1+e), 1-s = e·s
	VMOVUPS sigmoidUMin<>(SB), Y2
	VMAXPS  Y1, Y2, Y1
	VXORPS  constSign<>(SB), Y1, Y5
	EXP(Y5, Y6, Y7, Y4)
	VADDPS  constOne<>(SB), Y4, Y2
	VMOVUPS constOne<>(SB), Y3
	VDIVPS  Y2, Y3, Y3
	VMULPS  Y3, Y4, Y4
	// dy·(s + u·s·(1-s)), u = 1.702x (unclamped)
	VMULPS  Y3, Y13, Y5
	VFMADD213PS Y3, Y4, Y5
	VMULPS  Y14, Y5, Y5
	VMASKMOVPS Y5, Y8, (DI)

quickgelubackwardavx2done:
	VZEROUPPER
	RET

