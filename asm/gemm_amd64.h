// Shared by the AVX-512 GEMM block kernels (sgemm_amd64.s,
// sgemm_bf16_amd64.s), whose 12×32 tile accumulates in Z0..Z23 (two zmm
// per row).

// ZADDROW24(r): add the 32 floats at (r) to each row of the tile:
// Z(2i) += r[0:16], Z(2i+1) += r[16:32] for i < 12. Z24 and Z25 are
// clobbered (free once the k loop is done).
#define ZADDROW24(r) \
	VMOVUPS (r), Z24; \
	VMOVUPS 64(r), Z25; \
	VADDPS Z24, Z0, Z0; \
	VADDPS Z25, Z1, Z1; \
	VADDPS Z24, Z2, Z2; \
	VADDPS Z25, Z3, Z3; \
	VADDPS Z24, Z4, Z4; \
	VADDPS Z25, Z5, Z5; \
	VADDPS Z24, Z6, Z6; \
	VADDPS Z25, Z7, Z7; \
	VADDPS Z24, Z8, Z8; \
	VADDPS Z25, Z9, Z9; \
	VADDPS Z24, Z10, Z10; \
	VADDPS Z25, Z11, Z11; \
	VADDPS Z24, Z12, Z12; \
	VADDPS Z25, Z13, Z13; \
	VADDPS Z24, Z14, Z14; \
	VADDPS Z25, Z15, Z15; \
	VADDPS Z24, Z16, Z16; \
	VADDPS Z25, Z17, Z17; \
	VADDPS Z24, Z18, Z18; \
	VADDPS Z25, Z19, Z19; \
	VADDPS Z24, Z20, Z20; \
	VADDPS Z25, Z21, Z21; \
	VADDPS Z24, Z22, Z22; \
	VADDPS Z25, Z23, Z23

// The Go assembler has no AVX512_BF16 mnemonics: EVEX_RRR encodes a 512-bit
// EVEX instruction (W0, no masking) on registers zmm d, zmm s2 (EVEX.vvvv)
// and zmm s3 (ModRM.rm), given by number; mm is the opcode map (2: 0F38),
// pp the implied prefix (2: F3, 3: F2).
#define EVEX_RRR(op, mm, pp, d, s2, s3) \
	BYTE $0x62; \
	BYTE $((((((d)>>3)&1)^1)<<7) | (((((s3)>>4)&1)^1)<<6) | (((((s3)>>3)&1)^1)<<5) | (((((d)>>4)&1)^1)<<4) | (mm)); \
	BYTE $(((((s2)&15)^15)<<3) | 4 | (pp)); \
	BYTE $(0x40 | (((((s2)>>4)&1)^1)<<3)); \
	BYTE $(op); \
	BYTE $(0xC0 | (((d)&7)<<3) | ((s3)&7))

// VDPBF16PS_Z(d, s2, s3): zmm d += pairwise bfloat16 dot products of zmm s2
// and zmm s3 (VDPBF16PS zmm d, zmm s2, zmm s3).
#define VDPBF16PS_Z(d, s2, s3) EVEX_RRR(0x52, 2, 2, d, s2, s3)

// VCVTNE2PS2BF16_Z(d, s2, s3): the 32 bfloat16 words of zmm d are zmm s3's
// 16 floats rounded (nearest even), then zmm s2's.
#define VCVTNE2PS2BF16_Z(d, s2, s3) EVEX_RRR(0x72, 2, 3, d, s2, s3)
