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
