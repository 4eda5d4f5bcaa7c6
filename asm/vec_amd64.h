// Shared macros and constants for the AVX2 kernels in vec_amd64.s,
// exp_amd64.s, softmax_amd64.s, norm_amd64.s, gelu_amd64.s and attn_amd64.s.
// Every constant is a 32-byte vector of eight copies (a file-local symbol in
// each including file), used as a memory operand. The values are those of
// the pure-Go references (exp_generic.go, gelu_generic.go).

#define VCONST(name, bits) \
	DATA name<>+0(SB)/4, bits; \
	DATA name<>+4(SB)/4, bits; \
	DATA name<>+8(SB)/4, bits; \
	DATA name<>+12(SB)/4, bits; \
	DATA name<>+16(SB)/4, bits; \
	DATA name<>+20(SB)/4, bits; \
	DATA name<>+24(SB)/4, bits; \
	DATA name<>+28(SB)/4, bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

VCONST(constOne, $0x3f800000)
VCONST(constHalf, $0x3f000000)
VCONST(constSign, $0x80000000)
VCONST(constAbs, $0x7fffffff)
VCONST(constNegInf, $0xff800000)
VCONST(expLog2e, $0x3fb8aa3b)
VCONST(expLn2Hi, $0x3f317200)
VCONST(expLn2Lo, $0x35bfbe8e)
VCONST(expMagic, $0x4b400000)
VCONST(expMaxX, $0x42b20000)
VCONST(expMinX, $0xc2d20000)
VCONST(expBias, $0x0000007f)
VCONST(expC2, $0x3efffffe)
VCONST(expC3, $0x3e2aaa0d)
VCONST(expC4, $0x3d2aac11)
VCONST(expC5, $0x3c0933c1)
VCONST(expC6, $0x3ab57398)

// tailMask: eight all-ones lanes then eight zero lanes; the 32 bytes at
// tailMask+32-4n have the low n lanes set.
DATA tailMask<>+0(SB)/8, $0xffffffffffffffff
DATA tailMask<>+8(SB)/8, $0xffffffffffffffff
DATA tailMask<>+16(SB)/8, $0xffffffffffffffff
DATA tailMask<>+24(SB)/8, $0xffffffffffffffff
DATA tailMask<>+32(SB)/8, $0
DATA tailMask<>+40(SB)/8, $0
DATA tailMask<>+48(SB)/8, $0
DATA tailMask<>+56(SB)/8, $0
GLOBL tailMask<>(SB), RODATA|NOPTR, $64

// TAILMASK(n, t1, t2, m): m = mask of the low n lanes (0 ≤ n ≤ 8).
#define TAILMASK(n, t1, t2, m) \
	LEAQ tailMask<>+32(SB), t1; \
	MOVQ n, t2; \
	SHLQ $2, t2; \
	SUBQ t2, t1; \
	VMOVUPS (t1), m

// HSUM(y, x, t): x's low lane = sum of the eight lanes of y (x is y's
// X register); t is scratch (an X register).
#define HSUM(y, x, t) \
	VEXTRACTF128 $1, y, t; \
	VADDPS t, x, x; \
	VMOVHLPS x, x, t; \
	VADDPS t, x, x; \
	VPSHUFD $1, x, t; \
	VADDSS t, x, x

// HMAX(y, x, t): x's low lane = max of the eight lanes of y.
#define HMAX(y, x, t) \
	VEXTRACTF128 $1, y, t; \
	VMAXPS t, x, x; \
	VMOVHLPS x, x, t; \
	VMAXPS t, x, x; \
	VPSHUFD $1, x, t; \
	VMAXSS t, x, x

// EXP(x, z, n, p): p = exp(x), see Exp in exp.go. x is clobbered (it holds
// the reduced argument r), z and n are scratch. NaN propagates: VMINPS and
// VMAXPS return their second source operand (Go's first) when either is NaN.
//
//	x = min(max(x, expMinX), expMaxX)
//	z = x·log2e + 1.5·2²³; n = z - 1.5·2²³
//	r = x - n·ln2Hi - n·ln2Lo
//	p = 1 + r·(1 + r·(c2 + r·(c3 + r·(c4 + r·(c5 + r·c6)))))
//	k = bits(z) - bits(1.5·2²³); k1 = k>>1; k2 = k - k1
//	p = p · 2^k1 · 2^k2
#define EXP(x, z, n, p) \
	VMOVUPS expMinX<>(SB), n; \
	VMAXPS x, n, x; \
	VMOVUPS expMaxX<>(SB), n; \
	VMINPS x, n, x; \
	VMOVUPS expMagic<>(SB), z; \
	VFMADD231PS expLog2e<>(SB), x, z; \
	VSUBPS expMagic<>(SB), z, n; \
	VFNMADD231PS expLn2Hi<>(SB), n, x; \
	VFNMADD231PS expLn2Lo<>(SB), n, x; \
	VMOVUPS expC6<>(SB), p; \
	VFMADD213PS expC5<>(SB), x, p; \
	VFMADD213PS expC4<>(SB), x, p; \
	VFMADD213PS expC3<>(SB), x, p; \
	VFMADD213PS expC2<>(SB), x, p; \
	VFMADD213PS constOne<>(SB), x, p; \
	VFMADD213PS constOne<>(SB), x, p; \
	VPSUBD expMagic<>(SB), z, z; \
	VPSRAD $1, z, n; \
	VPSUBD n, z, z; \
	VPADDD expBias<>(SB), n, n; \
	VPADDD expBias<>(SB), z, z; \
	VPSLLD $23, n, n; \
	VPSLLD $23, z, z; \
	VMULPS n, p, p; \
	VMULPS z, p, p

// TAILMASK512(n, t, k): opmask k = the low n (0 ≤ n < 16) lanes; n must be
// CX (the shift count), t is scratch.
#define TAILMASK512(n, t, k) \
	MOVL $1, t; \
	SHLL n, t; \
	DECL t; \
	KMOVW t, k

// HSUM512(z, y, x, t): x's low lane = sum of the sixteen lanes of z (y and
// x are z's Y and X registers, t an X register).
#define HSUM512(z, y, x, ty, tx) \
	VEXTRACTF64X4 $1, z, ty; \
	VADDPS ty, y, y; \
	HSUM(y, x, tx)

// EXP512(x, z, n, p): EXP with 512-bit registers and broadcast constants.
#define EXP512(x, z, n, p) \
	VBROADCASTSS expMinX<>(SB), n; \
	VMAXPS x, n, x; \
	VBROADCASTSS expMaxX<>(SB), n; \
	VMINPS x, n, x; \
	VBROADCASTSS expMagic<>(SB), z; \
	VFMADD231PS.BCST expLog2e<>(SB), x, z; \
	VSUBPS.BCST expMagic<>(SB), z, n; \
	VFNMADD231PS.BCST expLn2Hi<>(SB), n, x; \
	VFNMADD231PS.BCST expLn2Lo<>(SB), n, x; \
	VBROADCASTSS expC6<>(SB), p; \
	VFMADD213PS.BCST expC5<>(SB), x, p; \
	VFMADD213PS.BCST expC4<>(SB), x, p; \
	VFMADD213PS.BCST expC3<>(SB), x, p; \
	VFMADD213PS.BCST expC2<>(SB), x, p; \
	VFMADD213PS.BCST constOne<>(SB), x, p; \
	VFMADD213PS.BCST constOne<>(SB), x, p; \
	VPSUBD.BCST expMagic<>(SB), z, z; \
	VPSRAD $1, z, n; \
	VPSUBD n, z, z; \
	VPADDD.BCST expBias<>(SB), n, n; \
	VPADDD.BCST expBias<>(SB), z, z; \
	VPSLLD $23, n, n; \
	VPSLLD $23, z, z; \
	VMULPS n, p, p; \
	VMULPS z, p, p

// Layer-norm loop bodies, shared by the row-at-a-time kernels (sumAVX2 in
// vec_amd64.s, the norm kernels in norm_amd64.s) and the many-row ones
// (norm_rows_amd64.s), so that both run the same instructions in the same
// order: the many-row results are bit-identical by construction.

// SUM32(p): Y0..Y3 += the 32 floats at p.
#define SUM32(p) \
	VADDPS (p), Y0, Y0; \
	VADDPS 32(p), Y1, Y1; \
	VADDPS 64(p), Y2, Y2; \
	VADDPS 96(p), Y3, Y3

// SSD32(p): Y0..Y3 += (the 32 floats at p - Y15)²; clobbers Y4-Y7.
#define SSD32(p) \
	VMOVUPS     (p), Y4; \
	VMOVUPS     32(p), Y5; \
	VMOVUPS     64(p), Y6; \
	VMOVUPS     96(p), Y7; \
	VSUBPS      Y15, Y4, Y4; \
	VSUBPS      Y15, Y5, Y5; \
	VSUBPS      Y15, Y6, Y6; \
	VSUBPS      Y15, Y7, Y7; \
	VFMADD231PS Y4, Y4, Y0; \
	VFMADD231PS Y5, Y5, Y1; \
	VFMADD231PS Y6, Y6, Y2; \
	VFMADD231PS Y7, Y7, Y3

// SUM4: Y0 = (Y0 + Y1) + (Y2 + Y3).
#define SUM4 \
	VADDPS Y1, Y0, Y0; \
	VADDPS Y3, Y2, Y2; \
	VADDPS Y2, Y0, Y0

// NORMAPPLY8(x, g, b, y): the 8 floats at y = (x - Y15)·Y14·g + b;
// clobbers Y0, Y1.
#define NORMAPPLY8(x, g, b, y) \
	VMOVUPS     (x), Y0; \
	VSUBPS      Y15, Y0, Y0; \
	VMULPS      Y14, Y0, Y0; \
	VMOVUPS     (g), Y1; \
	VFMADD213PS (b), Y1, Y0; \
	VMOVUPS     Y0, (y)

// NORMBWDSUMS8(x, dy, g, dg, db): for 8 elements, xh = (x - Y15)·Y14 in Y0,
// dg += dy·xh, db += dy, Y12 += dy·g, Y13 += dy·g·xh; clobbers Y1-Y3.
#define NORMBWDSUMS8(x, dy, g, dg, db) \
	VMOVUPS     (x), Y0; \
	VSUBPS      Y15, Y0, Y0; \
	VMULPS      Y14, Y0, Y0; \
	VMOVUPS     (dy), Y1; \
	VMOVUPS     (dg), Y2; \
	VFMADD231PS Y1, Y0, Y2; \
	VMOVUPS     Y2, (dg); \
	VADDPS      (db), Y1, Y3; \
	VMOVUPS     Y3, (db); \
	VMULPS      (g), Y1, Y1; \
	VADDPS      Y1, Y12, Y12; \
	VFMADD231PS Y1, Y0, Y13

// NORMBWDDX8(x, dy, g): Y1 = Y14·(dy·g - Y13 - (x - Y15)·Y14·Y12) for 8
// elements (a in Y13, b in Y12); clobbers Y0.
#define NORMBWDDX8(x, dy, g) \
	VMOVUPS      (x), Y0; \
	VSUBPS       Y15, Y0, Y0; \
	VMULPS       Y14, Y0, Y0; \
	VMOVUPS      (dy), Y1; \
	VMULPS       (g), Y1, Y1; \
	VSUBPS       Y13, Y1, Y1; \
	VFNMADD231PS Y12, Y0, Y1; \
	VMULPS       Y14, Y1, Y1
