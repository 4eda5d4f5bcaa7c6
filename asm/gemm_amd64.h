// Shared by the AVX-512 GEMM block kernels (sgemm_amd64.s,
// sgemm_bf16_amd64.s), whose 12×32 tile accumulates in Z0..Z23 (two zmm
// per row), and (TRANSPOSE16) by their packing and transpose16_amd64.s.

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

// TRANSPOSE16: transpose the 16×16 block of floats whose rows are Z0..Z15
// into its columns, column c in Z(c); Z16..Z31 are clobbered. Unpacks of
// row pairs, of 64-bit pairs, then two rounds of VSHUFF32X4 gathering a
// column's four 128-bit lanes (sgemmPackA12AVX512, sgemmPackPairsT16BF16,
// transpose16AVX512). AVX-512F only.
#define TRANSPOSE16 \
	VUNPCKLPS Z1, Z0, Z16; \
	VUNPCKHPS Z1, Z0, Z17; \
	VUNPCKLPS Z3, Z2, Z18; \
	VUNPCKHPS Z3, Z2, Z19; \
	VUNPCKLPS Z5, Z4, Z20; \
	VUNPCKHPS Z5, Z4, Z21; \
	VUNPCKLPS Z7, Z6, Z22; \
	VUNPCKHPS Z7, Z6, Z23; \
	VUNPCKLPS Z9, Z8, Z24; \
	VUNPCKHPS Z9, Z8, Z25; \
	VUNPCKLPS Z11, Z10, Z26; \
	VUNPCKHPS Z11, Z10, Z27; \
	VUNPCKLPS Z13, Z12, Z28; \
	VUNPCKHPS Z13, Z12, Z29; \
	VUNPCKLPS Z15, Z14, Z30; \
	VUNPCKHPS Z15, Z14, Z31; \
	VUNPCKLPD Z18, Z16, Z0; \
	VUNPCKHPD Z18, Z16, Z1; \
	VUNPCKLPD Z19, Z17, Z2; \
	VUNPCKHPD Z19, Z17, Z3; \
	VUNPCKLPD Z22, Z20, Z4; \
	VUNPCKHPD Z22, Z20, Z5; \
	VUNPCKLPD Z23, Z21, Z6; \
	VUNPCKHPD Z23, Z21, Z7; \
	VUNPCKLPD Z26, Z24, Z8; \
	VUNPCKHPD Z26, Z24, Z9; \
	VUNPCKLPD Z27, Z25, Z10; \
	VUNPCKHPD Z27, Z25, Z11; \
	VUNPCKLPD Z30, Z28, Z12; \
	VUNPCKHPD Z30, Z28, Z13; \
	VUNPCKLPD Z31, Z29, Z14; \
	VUNPCKHPD Z31, Z29, Z15; \
	VSHUFF32X4 $0x44, Z4, Z0, Z16; \
	VSHUFF32X4 $0xEE, Z4, Z0, Z20; \
	VSHUFF32X4 $0x44, Z12, Z8, Z24; \
	VSHUFF32X4 $0xEE, Z12, Z8, Z28; \
	VSHUFF32X4 $0x44, Z5, Z1, Z17; \
	VSHUFF32X4 $0xEE, Z5, Z1, Z21; \
	VSHUFF32X4 $0x44, Z13, Z9, Z25; \
	VSHUFF32X4 $0xEE, Z13, Z9, Z29; \
	VSHUFF32X4 $0x44, Z6, Z2, Z18; \
	VSHUFF32X4 $0xEE, Z6, Z2, Z22; \
	VSHUFF32X4 $0x44, Z14, Z10, Z26; \
	VSHUFF32X4 $0xEE, Z14, Z10, Z30; \
	VSHUFF32X4 $0x44, Z7, Z3, Z19; \
	VSHUFF32X4 $0xEE, Z7, Z3, Z23; \
	VSHUFF32X4 $0x44, Z15, Z11, Z27; \
	VSHUFF32X4 $0xEE, Z15, Z11, Z31; \
	VSHUFF32X4 $0x88, Z24, Z16, Z0; \
	VSHUFF32X4 $0xDD, Z24, Z16, Z4; \
	VSHUFF32X4 $0x88, Z28, Z20, Z8; \
	VSHUFF32X4 $0xDD, Z28, Z20, Z12; \
	VSHUFF32X4 $0x88, Z25, Z17, Z1; \
	VSHUFF32X4 $0xDD, Z25, Z17, Z5; \
	VSHUFF32X4 $0x88, Z29, Z21, Z9; \
	VSHUFF32X4 $0xDD, Z29, Z21, Z13; \
	VSHUFF32X4 $0x88, Z26, Z18, Z2; \
	VSHUFF32X4 $0xDD, Z26, Z18, Z6; \
	VSHUFF32X4 $0x88, Z30, Z22, Z10; \
	VSHUFF32X4 $0xDD, Z30, Z22, Z14; \
	VSHUFF32X4 $0x88, Z27, Z19, Z3; \
	VSHUFF32X4 $0xDD, Z27, Z19, Z7; \
	VSHUFF32X4 $0x88, Z31, Z23, Z11; \
	VSHUFF32X4 $0xDD, Z31, Z23, Z15
