//go:build !purego

#include "textflag.h"
#include "vec_arm64.h"

// Exact (erf) GELU forward and backward, NEON; lengths are multiples of 4
// (gelu_arm64.go). Same method and constants as gelu_generic.go. The
// coefficients sit four to a register (V11..V15) and are broadcast with VDUP
// before each Horner step.

// geluTab: V11 = P0..P3, V12 = P4..P7, V13 = P8 S0 S1 S2,
// V14 = S3 S4 S5 1/√2, V15 = zmax 1/2 1/√(2π) 0.
DATA geluTab<>+0(SB)/4, $0x3e906da2
DATA geluTab<>+4(SB)/4, $0x3e90937f
DATA geluTab<>+8(SB)/4, $0x3e78f031
DATA geluTab<>+12(SB)/4, $0x3e4f8d26
DATA geluTab<>+16(SB)/4, $0xbcda1e22
DATA geluTab<>+20(SB)/4, $0x3e8e5ed3
DATA geluTab<>+24(SB)/4, $0xbef97246
DATA geluTab<>+28(SB)/4, $0x3e91b3d0
DATA geluTab<>+32(SB)/4, $0xbd71f24d
DATA geluTab<>+36(SB)/4, $0x3f906ebb
DATA geluTab<>+40(SB)/4, $0xbec093a3
DATA geluTab<>+44(SB)/4, $0x3de71791
DATA geluTab<>+48(SB)/4, $0xbcdc1672
DATA geluTab<>+52(SB)/4, $0x3bab2de7
DATA geluTab<>+56(SB)/4, $0xba6016da
DATA geluTab<>+60(SB)/4, $0x3f3504f3
DATA geluTab<>+64(SB)/4, $0x41200000
DATA geluTab<>+68(SB)/4, $0x3f000000
DATA geluTab<>+72(SB)/4, $0x3ecc422a
DATA geluTab<>+76(SB)/4, $0
GLOBL geluTab<>(SB), RODATA|NOPTR, $80

#define GELUCONSTS \
	EXPCONSTS; \
	MOVD $geluTab<>(SB), R9; \
	VLD1.P 64(R9), [V11.S4, V12.S4, V13.S4, V14.S4]; \
	VLD1 (R9), [V15.S4]

// PHI: V31 = Φ(x), V2 = exp(-z²) for x in V8, z = min(|x|/√2, 10).
// Clobbers V0..V7, V10, V29, V30.
#define PHI \
	WORD $0x4ea0f904; /* fabs v4.4s, v8.4s */ \
	VDUP V14.S[3], V5.S4; \
	WORD $0x6e25dc84; /* fmul v4.4s, v4.4s, v5.4s */ \
	VDUP V15.S[0], V5.S4; \
	WORD $0x4ea5f484; /* fmin v4.4s, v4.4s, v5.4s */ \
	VDUP V15.S[1], V5.S4; \
	WORD $0x6e25dc86; /* fmul v6.4s, v4.4s, v5.4s */ \
	WORD $0x4e39d4c6; /* fadd v6.4s, v6.4s, v25.4s */ \
	WORD $0x6e26ff26; /* fdiv v6.4s, v25.4s, v6.4s */ \
	WORD $0x6e24dc87; /* fmul v7.4s, v4.4s, v4.4s */ \
	WORD $0x6ea0f8e0; /* fneg v0.4s, v7.4s */ \
	EXPV0; \
	VDUP V13.S[0], V10.S4; \
	VDUP V12.S[3], V5.S4; VFMLA V10.S4, V6.S4, V5.S4; \
	VDUP V12.S[2], V10.S4; VFMLA V5.S4, V6.S4, V10.S4; \
	VDUP V12.S[1], V5.S4; VFMLA V10.S4, V6.S4, V5.S4; \
	VDUP V12.S[0], V10.S4; VFMLA V5.S4, V6.S4, V10.S4; \
	VDUP V11.S[3], V5.S4; VFMLA V10.S4, V6.S4, V5.S4; \
	VDUP V11.S[2], V10.S4; VFMLA V5.S4, V6.S4, V10.S4; \
	VDUP V11.S[1], V5.S4; VFMLA V10.S4, V6.S4, V5.S4; \
	VDUP V11.S[0], V10.S4; VFMLA V5.S4, V6.S4, V10.S4; \
	WORD $0x6e26dd4a; /* fmul v10.4s, v10.4s, v6.4s */ \
	WORD $0x6e22dd4a; /* fmul v10.4s, v10.4s, v2.4s */ \
	VDUP V15.S[1], V5.S4; \
	WORD $0x6e25dd4a; /* fmul v10.4s, v10.4s, v5.4s */ \
	WORD $0x4eaad73d; /* fsub v29.4s, v25.4s, v10.4s */ \
	WORD $0x4f21051e; /* sshr v30.4s, v8.4s, #31 */ \
	VBSL V29.B16, V10.B16, V30.B16; \
	VDUP V14.S[2], V31.S4; \
	VDUP V14.S[1], V5.S4; VFMLA V31.S4, V7.S4, V5.S4; \
	VDUP V14.S[0], V31.S4; VFMLA V5.S4, V7.S4, V31.S4; \
	VDUP V13.S[3], V5.S4; VFMLA V31.S4, V7.S4, V5.S4; \
	VDUP V13.S[2], V31.S4; VFMLA V5.S4, V7.S4, V31.S4; \
	VDUP V13.S[1], V5.S4; VFMLA V31.S4, V7.S4, V5.S4; \
	VDUP V14.S[3], V31.S4; \
	WORD $0x6e3fdd1f; /* fmul v31.4s, v8.4s, v31.4s */ \
	WORD $0x6e3fdca5; /* fmul v5.4s, v5.4s, v31.4s */ \
	VDUP V15.S[1], V31.S4; \
	VORR V31.B16, V31.B16, V29.B16; \
	VFMLA V31.S4, V5.S4, V29.S4; \
	WORD $0x6ea4e7ff; /* fcmgt v31.4s, v31.4s, v4.4s */ \
	VBSL V30.B16, V29.B16, V31.B16

// func geluNEON(dst, x []float32)
//
//	for i := range dst { dst[i] = x[i] * Φ(x[i]) }
TEXT ·geluNEON(SB), NOSPLIT, $0-48
	MOVD dst_base+0(FP), R1
	MOVD dst_len+8(FP), R2
	MOVD x_base+24(FP), R0
	GELUCONSTS

gloop:
	CBZ    R2, gdone
	VLD1.P 16(R0), [V8.S4]
	PHI
	WORD $0x6e28dfff  // fmul v31.4s, v31.4s, v8.4s
	VST1.P [V31.S4], 16(R1)
	SUB    $4, R2
	B      gloop

gdone:
	RET

// func geluBackwardNEON(dx, x, dy []float32)
//
//	for i := range dx { dx[i] = dy[i] * (Φ(x[i]) + x[i]*exp(-x[i]²/2)/√(2π)) }
TEXT ·geluBackwardNEON(SB), NOSPLIT, $0-72
	MOVD dx_base+0(FP), R1
	MOVD dx_len+8(FP), R2
	MOVD x_base+24(FP), R0
	MOVD dy_base+48(FP), R3
	GELUCONSTS

gbloop:
	CBZ    R2, gbdone
	VLD1.P 16(R0), [V8.S4]
	VLD1.P 16(R3), [V9.S4]
	PHI
	WORD $0x6e28dc42  // fmul v2.4s, v2.4s, v8.4s
	VDUP   V15.S[2], V5.S4
	VFMLA  V2.S4, V5.S4, V31.S4
	WORD $0x6e29dfff  // fmul v31.4s, v31.4s, v9.4s
	VST1.P [V31.S4], 16(R1)
	SUB    $4, R2
	B      gbloop

gbdone:
	RET

// Constants of the sigmoid-based variants: V11 = 1.702, V12 = -80,
// V13 = 0.044715, V14 = 2√(2/π), V15 = 3·0.044715.
#define SIGCONSTS \
	EXPCONSTS; \
	MOVW $0x3fd9db23, R9; VDUP R9, V11.S4; \
	MOVW $0xc2a00000, R9; VDUP R9, V12.S4; \
	MOVW $0x3d372713, R9; VDUP R9, V13.S4; \
	MOVW $0x3fcc422a, R9; VDUP R9, V14.S4; \
	MOVW $0x3e095d4f, R9; VDUP R9, V15.S4

// SIGPAIR: for u in V4, V5 = σ(u) and V6 = 1-σ(u) = e·σ with e = exp(-u),
// u first clamped below at -80 (see sigmoidPair). Clobbers V0..V3.
#define SIGPAIR \
	WORD $0x4e2cf484; /* fmax v4.4s, v4.4s, v12.4s */ \
	WORD $0x6ea0f880; /* fneg v0.4s, v4.4s */ \
	EXPV0; \
	WORD $0x4e39d445; /* fadd v5.4s, v2.4s, v25.4s */ \
	WORD $0x6e25ff25; /* fdiv v5.4s, v25.4s, v5.4s */ \
	WORD $0x6e25dc46  // fmul v6.4s, v2.4s, v5.4s

// SIG: V5 = 1/(1 + exp(-u)) for u in V4 (no clamp). Clobbers V0..V3.
#define SIG \
	WORD $0x6ea0f880; /* fneg v0.4s, v4.4s */ \
	EXPV0; \
	WORD $0x4e39d445; /* fadd v5.4s, v2.4s, v25.4s */ \
	WORD $0x6e25ff25  // fdiv v5.4s, v25.4s, v5.4s

// TANHU: V4 = 2√(2/π)·(x + 0.044715·x³) for x in V8, V7 = x².
#define TANHU \
	WORD $0x6e28dd07; /* fmul v7.4s, v8.4s, v8.4s */ \
	WORD $0x6e2ddce4; /* fmul v4.4s, v7.4s, v13.4s */ \
	WORD $0x6e28dc84; /* fmul v4.4s, v4.4s, v8.4s */ \
	WORD $0x4e28d484; /* fadd v4.4s, v4.4s, v8.4s */ \
	WORD $0x6e2edc84  // fmul v4.4s, v4.4s, v14.4s

// func quickGeluNEON(dst, x []float32)
//
//	for i := range dst { dst[i] = x[i] * σ(1.702·x[i]) }
TEXT ·quickGeluNEON(SB), NOSPLIT, $0-48
	MOVD dst_base+0(FP), R1
	MOVD dst_len+8(FP), R2
	MOVD x_base+24(FP), R0
	SIGCONSTS

qloop:
	CBZ    R2, qdone
	VLD1.P 16(R0), [V8.S4]
	WORD $0x6e2bdd04  // fmul v4.4s, v8.4s, v11.4s
	SIG
	WORD $0x6e28dca5  // fmul v5.4s, v5.4s, v8.4s
	VST1.P [V5.S4], 16(R1)
	SUB    $4, R2
	B      qloop

qdone:
	RET

// func quickGeluBackwardNEON(dx, x, dy []float32)
//
//	for i := range dx { u := 1.702·x[i]; s := σ(u); dx[i] = dy[i] * (s + u·s·(1-s)) }
TEXT ·quickGeluBackwardNEON(SB), NOSPLIT, $0-72
	MOVD dx_base+0(FP), R1
	MOVD dx_len+8(FP), R2
	MOVD x_base+24(FP), R0
	MOVD dy_base+48(FP), R3
	SIGCONSTS

qbloop:
	CBZ    R2, qbdone
	VLD1.P 16(R0), [V8.S4]
	VLD1.P 16(R3), [V9.S4]
	WORD $0x6e2bdd04  // fmul v4.4s, v8.4s, v11.4s
	VORR   V4.B16, V4.B16, V10.B16
	SIGPAIR
	WORD $0x6e25dcc6  // fmul v6.4s, v6.4s, v5.4s
	VFMLA  V6.S4, V10.S4, V5.S4
	WORD $0x6e29dca5  // fmul v5.4s, v5.4s, v9.4s
	VST1.P [V5.S4], 16(R1)
	SUB    $4, R2
	B      qbloop

qbdone:
	RET

// func geluTanhNEON(dst, x []float32)
//
//	for i := range dst { dst[i] = x[i] * σ(2√(2/π)·(x + 0.044715x³)) }
TEXT ·geluTanhNEON(SB), NOSPLIT, $0-48
	MOVD dst_base+0(FP), R1
	MOVD dst_len+8(FP), R2
	MOVD x_base+24(FP), R0
	SIGCONSTS

tloop:
	CBZ    R2, tdone
	VLD1.P 16(R0), [V8.S4]
	TANHU
	SIG
	WORD $0x6e28dca5  // fmul v5.4s, v5.4s, v8.4s
	VST1.P [V5.S4], 16(R1)
	SUB    $4, R2
	B      tloop

tdone:
	RET

// func geluTanhBackwardNEON(dx, x, dy []float32)
//
//	for i := range dx { s := σ(2u); dx[i] = dy[i] * (s + x·s·(1-s)·2u'(x)) }
TEXT ·geluTanhBackwardNEON(SB), NOSPLIT, $0-72
	MOVD dx_base+0(FP), R1
	MOVD dx_len+8(FP), R2
	MOVD x_base+24(FP), R0
	MOVD dy_base+48(FP), R3
	SIGCONSTS

tbloop:
	CBZ    R2, tbdone
	VLD1.P 16(R0), [V8.S4]
	VLD1.P 16(R3), [V9.S4]
	TANHU
	WORD $0x6e2fdcea  // fmul v10.4s, v7.4s, v15.4s
	WORD $0x4e39d54a  // fadd v10.4s, v10.4s, v25.4s
	WORD $0x6e2edd4a  // fmul v10.4s, v10.4s, v14.4s
	SIGPAIR
	WORD $0x6e25dd07  // fmul v7.4s, v8.4s, v5.4s
	WORD $0x6e26dce7  // fmul v7.4s, v7.4s, v6.4s
	VFMLA  V7.S4, V10.S4, V5.S4
	WORD $0x6e29dca5  // fmul v5.4s, v5.4s, v9.4s
	VST1.P [V5.S4], 16(R1)
	SUB    $4, R2
	B      tbloop

tbdone:
	RET
