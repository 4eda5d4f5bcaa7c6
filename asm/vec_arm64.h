// Shared NEON macros for exp_arm64.s, softmax_arm64.s and gelu_arm64.s.
// WORD-encoded instructions (no Go mnemonic) carry the instruction in a
// comment. Register use is fixed because the encodings name registers.

// EXPCONSTS loads the exp constants of exp_generic.go (R9 scratch):
// V16 log2e, V17 1.5·2²³, V18 ln2Hi, V19 ln2Lo, V20..V24 c2..c6, V25 1.0,
// V26 the upper clamp, V27 the lower clamp, V28 the integer 127.
#define EXPCONSTS \
	MOVW $0x3fb8aa3b, R9; VDUP R9, V16.S4; \
	MOVW $0x4b400000, R9; VDUP R9, V17.S4; \
	MOVW $0x3f317200, R9; VDUP R9, V18.S4; \
	MOVW $0x35bfbe8e, R9; VDUP R9, V19.S4; \
	MOVW $0x3efffffe, R9; VDUP R9, V20.S4; \
	MOVW $0x3e2aaa0d, R9; VDUP R9, V21.S4; \
	MOVW $0x3d2aac11, R9; VDUP R9, V22.S4; \
	MOVW $0x3c0933c1, R9; VDUP R9, V23.S4; \
	MOVW $0x3ab57398, R9; VDUP R9, V24.S4; \
	MOVW $0x3f800000, R9; VDUP R9, V25.S4; \
	MOVW $0x42b20000, R9; VDUP R9, V26.S4; \
	MOVW $0xc2d20000, R9; VDUP R9, V27.S4; \
	MOVW $0x7f, R9; VDUP R9, V28.S4

// EXPV0: V2 = exp(V0) (see Exp in exp.go); clobbers V0, V1, V3. FMAX and
// FMIN propagate NaN.
//
//	x = min(max(x, lo), hi); z = 1.5·2²³ + x·log2e; n = z - 1.5·2²³
//	r = x - n·ln2Hi - n·ln2Lo; p = 1 + r·(1 + r·(c2 + ... r·c6))
//	k = bits(z) - bits(1.5·2²³); p = p · 2^(k>>1) · 2^(k - k>>1)
#define EXPV0 \
	WORD $0x4e3bf400; /* fmax v0.4s, v0.4s, v27.4s */ \
	WORD $0x4ebaf400; /* fmin v0.4s, v0.4s, v26.4s */ \
	VORR  V17.B16, V17.B16, V1.B16; \
	VFMLA V16.S4, V0.S4, V1.S4; \
	WORD $0x4eb1d423; /* fsub v3.4s, v1.4s, v17.4s */ \
	VFMLS V18.S4, V3.S4, V0.S4; \
	VFMLS V19.S4, V3.S4, V0.S4; \
	VORR  V23.B16, V23.B16, V3.B16; \
	VFMLA V24.S4, V0.S4, V3.S4; \
	VORR  V22.B16, V22.B16, V2.B16; \
	VFMLA V3.S4, V0.S4, V2.S4; \
	VORR  V21.B16, V21.B16, V3.B16; \
	VFMLA V2.S4, V0.S4, V3.S4; \
	VORR  V20.B16, V20.B16, V2.B16; \
	VFMLA V3.S4, V0.S4, V2.S4; \
	VORR  V25.B16, V25.B16, V3.B16; \
	VFMLA V2.S4, V0.S4, V3.S4; \
	VORR  V25.B16, V25.B16, V2.B16; \
	VFMLA V3.S4, V0.S4, V2.S4; \
	VSUB  V17.S4, V1.S4, V1.S4; \
	WORD $0x4f3f0423; /* sshr v3.4s, v1.4s, #1 */ \
	VSUB  V3.S4, V1.S4, V1.S4; \
	VADD  V28.S4, V3.S4, V3.S4; \
	VADD  V28.S4, V1.S4, V1.S4; \
	VSHL  $23, V3.S4, V3.S4; \
	VSHL  $23, V1.S4, V1.S4; \
	WORD $0x6e23dc42; /* fmul v2.4s, v2.4s, v3.4s */ \
	WORD $0x6e21dc42  // fmul v2.4s, v2.4s, v1.4s
