//go:build !purego

#include "textflag.h"
#include "vec_amd64.h"

// Column passes of the small-head attention path (attn_small.go), AVX-512.
// The score tile is stored transposed: row j is key j, column i is query
// i, so each query's softmax runs down a column and sixteen queries share
// every instruction, with no horizontal reductions. Entry (j, i) is
// visible when i < lq and j ≤ i + off (off = Lk - Lq with causality, a
// large number without); a mask (when non-nil) adds mask[i·mstride + j].

DATA colIota<>+0(SB)/4, $0
DATA colIota<>+4(SB)/4, $1
DATA colIota<>+8(SB)/4, $2
DATA colIota<>+12(SB)/4, $3
DATA colIota<>+16(SB)/4, $4
DATA colIota<>+20(SB)/4, $5
DATA colIota<>+24(SB)/4, $6
DATA colIota<>+28(SB)/4, $7
DATA colIota<>+32(SB)/4, $8
DATA colIota<>+36(SB)/4, $9
DATA colIota<>+40(SB)/4, $10
DATA colIota<>+44(SB)/4, $11
DATA colIota<>+48(SB)/4, $12
DATA colIota<>+52(SB)/4, $13
DATA colIota<>+56(SB)/4, $14
DATA colIota<>+60(SB)/4, $15
GLOBL colIota<>(SB), RODATA|NOPTR, $64

DATA colOne<>+0(SB)/4, $1
GLOBL colOne<>(SB), RODATA|NOPTR, $4

// log(x) = e·ln2 + 2·atanh(s), x = m·2^e with m in [3/4, 3/2),
// s = (m-1)/(m+1) (|s| ≤ 1/5): 2s·(1 + s²/3 + s⁴/5 + s⁶/7 + s⁸/9), whose
// truncation error is below 4e-9.
DATA colLn2<>+0(SB)/4, $0x3f317218
GLOBL colLn2<>(SB), RODATA|NOPTR, $4
DATA colC3<>+0(SB)/4, $0x3eaaaaab
GLOBL colC3<>(SB), RODATA|NOPTR, $4
DATA colC5<>+0(SB)/4, $0x3e4ccccd
GLOBL colC5<>(SB), RODATA|NOPTR, $4
DATA colC7<>+0(SB)/4, $0x3e124925
GLOBL colC7<>(SB), RODATA|NOPTR, $4
DATA colC9<>+0(SB)/4, $0x3de38e39
GLOBL colC9<>(SB), RODATA|NOPTR, $4

// LOG512(x, r): r = log(x) for positive normal x; clobbers Z4-Z9, K6.
#define LOG512(x, r) \
	VGETEXPPS    x, Z4; \
	VGETMANTPS   $3, x, Z5; \
	VBROADCASTSS constOne<>(SB), Z6; \
	VCMPPS       $1, Z6, Z5, K6; \
	VADDPS       Z6, Z4, K6, Z4; \
	VADDPS       Z6, Z5, Z7; \
	VSUBPS       Z6, Z5, Z5; \
	VDIVPS       Z7, Z5, Z8; \
	VMULPS       Z8, Z8, Z9; \
	VBROADCASTSS colC9<>(SB), r; \
	VFMADD213PS.BCST colC7<>(SB), Z9, r; \
	VFMADD213PS.BCST colC5<>(SB), Z9, r; \
	VFMADD213PS.BCST colC3<>(SB), Z9, r; \
	VFMADD213PS  Z6, Z9, r; \
	VADDPS       Z8, Z8, Z8; \
	VMULPS       Z8, r, r; \
	VFMADD231PS.BCST colLn2<>(SB), Z4, r

// COLCONSTS(lq, off, scale, mstride): the passes' constants from their
// arguments: Z16 the lane indices 0..15, Z17 lq, Z18 mstride, Z19 ones
// (int32), Z20 scale, Z21 -off, Z28 -Inf (clobbers AX).
#define COLCONSTS(lq, off, scale, mstride) \
	VMOVDQU32    colIota<>(SB), Z16; \
	VPBROADCASTD lq, Z17; \
	VPBROADCASTD mstride, Z18; \
	VPBROADCASTD colOne<>(SB), Z19; \
	VBROADCASTSS scale, Z20; \
	MOVQ         off, AX; \
	NEGQ         AX; \
	VPBROADCASTD AX, Z21; \
	VBROADCASTSS constNegInf<>(SB), Z28

// COLSETUP: Z22 = the column indices c0+0..15 (CX = c0), K1 = those < lq
// (Z17), Z24 = the first row's j - off (Z21), Z23 = the columns' mask
// offsets i·mstride (Z18 = mstride).
#define COLSETUP \
	VPBROADCASTD CX, Z22; \
	VPADDD       Z16, Z22, Z22; \
	VPCMPD       $1, Z17, Z22, K1; \
	VMOVDQA32    Z21, Z24; \
	VPMULLD      Z18, Z22, Z23

// COLSCORE(row, k): Z0 = scale·s[row] (Z20), plus the mask entries of the
// lanes in opmask k when there is a mask (R11 ≠ 0; AX points at mask[j]).
// Clobbers Z1, K3.
#define COLSCORE(row, k, label) \
	VMULPS  row, Z20, Z0; \
	TESTQ   R11, R11; \
	JE      label; \
	KMOVW   k, K3; \
	VXORPS  Z1, Z1, Z1; \
	VGATHERDPS (AX)(Z23*4), K3, Z1; \
	VADDPS  Z1, Z0, Z0; \
label:

// func attnColsFwdAVX512(s *float32, ld, rows, lq, off int, scale float32, mask *float32, mstride int, lse *float32)
//
// For each column i < ld of the (rows, ld) tile s, over its visible
// entries x = scale·s[j][i] (+ mask), with m = max x and l = Σ exp(x - m):
//
//	s[j][i] = exp(x - m) / l (0 where not visible, or where l = 0)
//	lse[i] = m + log(l) (-Inf where l = 0), for i < lq, unless lse is nil
TEXT ·attnColsFwdAVX512(SB), NOSPLIT, $0-72
	MOVQ         s+0(FP), DI
	MOVQ         ld+8(FP), R8
	MOVQ         rows+16(FP), BX
	MOVQ         mask+48(FP), R11
	MOVQ         lse+64(FP), R13
	COLCONSTS(lq+24(FP), off+32(FP), scale+40(FP), mstride+56(FP))
	VXORPS       Z29, Z29, Z29
	XORQ         CX, CX

fblock:
	CMPQ CX, R8
	JGE  fdone
	COLSETUP

	// Pass 1: scores (stored back) and the column maxima.
	VMOVAPS Z28, Z25
	LEAQ    (DI)(CX*4), SI
	MOVQ    R11, AX
	MOVQ    BX, DX

fmax:
	TESTQ  DX, DX
	JE     fmaxdone
	VPCMPD $5, Z24, Z22, K1, K2
	COLSCORE((SI), K2, fmaxscore)
	VMOVUPS Z0, (SI)
	VMAXPS  Z0, Z25, K2, Z25
	VPADDD  Z19, Z24, Z24
	LEAQ    (SI)(R8*4), SI
	ADDQ    $4, AX
	DECQ    DX
	JMP     fmax

fmaxdone:
	// Pass 2: exponentials and their column sums; K4 = columns with a
	// finite (or NaN) maximum.
	VCMPPS    $4, Z28, Z25, K4
	VXORPS    Z26, Z26, Z26
	VMOVDQA32 Z21, Z24
	LEAQ      (DI)(CX*4), SI
	MOVQ      BX, DX

fexp:
	TESTQ   DX, DX
	JE      fexpdone
	VPCMPD  $5, Z24, Z22, K4, K2
	VMOVUPS (SI), Z0
	VSUBPS  Z25, Z0, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS.Z Z3, K2, Z3
	VMOVUPS Z3, (SI)
	VADDPS  Z3, Z26, Z26
	VPADDD  Z19, Z24, Z24
	LEAQ    (SI)(R8*4), SI
	DECQ    DX
	JMP     fexp

fexpdone:
	// Pass 3: divide by the sums (0 where a sum is 0).
	VCMPPS       $4, Z29, Z26, K5
	VBROADCASTSS constOne<>(SB), Z1
	VDIVPS.Z     Z26, Z1, K5, Z27
	LEAQ         (DI)(CX*4), SI
	MOVQ         BX, DX

fnorm:
	TESTQ   DX, DX
	JE      fnormdone
	VMULPS  (SI), Z27, Z0
	VMOVUPS Z0, (SI)
	LEAQ    (SI)(R8*4), SI
	DECQ    DX
	JMP     fnorm

fnormdone:
	TESTQ R13, R13
	JE    fnext
	LOG512(Z26, Z10)
	VADDPS    Z25, Z10, Z10
	VBLENDMPS Z10, Z28, K5, Z10
	VMOVUPS   Z10, K1, (R13)(CX*4)

fnext:
	ADDQ    $16, CX
	JMP     fblock

fdone:
	VZEROUPPER
	RET

// func attnColsBwdAVX512(s, dp *float32, ld, rows, lq, off int, scale float32, mask *float32, mstride int, lse *float32)
//
// For each column i < lq with lse[i] > -Inf, over its visible entries
// (others become 0), with x = scale·s[j][i] (+ mask):
//
//	p = exp(x - lse[i]);  D = Σ_j p·dp[j][i]
//	s[j][i] = p;  dp[j][i] = scale·p·(dp[j][i] - D)
//
// lse holds lq values (read with a mask: nothing past them).
TEXT ·attnColsBwdAVX512(SB), NOSPLIT, $0-80
	MOVQ         s+0(FP), DI
	MOVQ         dp+8(FP), R9
	MOVQ         ld+16(FP), R8
	MOVQ         rows+24(FP), BX
	MOVQ         mask+56(FP), R11
	MOVQ         lse+72(FP), R13
	COLCONSTS(lq+32(FP), off+40(FP), scale+48(FP), mstride+64(FP))
	XORQ         CX, CX

bblock:
	CMPQ CX, R8
	JGE  bdone
	COLSETUP
	VMOVUPS.Z (R13)(CX*4), K1, Z25
	VCMPPS    $4, Z28, Z25, K1, K4
	VXORPS    Z26, Z26, Z26
	LEAQ      (DI)(CX*4), SI
	LEAQ      (R9)(CX*4), R10
	MOVQ      R11, AX
	MOVQ      BX, DX

	// Pass 1: probabilities (stored) and D.
bprob:
	TESTQ  DX, DX
	JE     bprobdone
	VPCMPD $5, Z24, Z22, K4, K2
	COLSCORE((SI), K2, bprobscore)
	VSUBPS Z25, Z0, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS.Z   Z3, K2, Z3
	VMOVUPS     Z3, (SI)
	VFMADD231PS (R10), Z3, Z26
	VPADDD      Z19, Z24, Z24
	LEAQ        (SI)(R8*4), SI
	LEAQ        (R10)(R8*4), R10
	ADDQ        $4, AX
	DECQ        DX
	JMP         bprob

bprobdone:
	// Pass 2: score gradients.
	LEAQ (DI)(CX*4), SI
	LEAQ (R9)(CX*4), R10
	MOVQ BX, DX

bgrad:
	TESTQ   DX, DX
	JE      bgraddone
	VMOVUPS (R10), Z0
	VSUBPS  Z26, Z0, Z0
	VMULPS  (SI), Z0, Z0
	VMULPS  Z20, Z0, Z0
	VMOVUPS Z0, (R10)
	LEAQ    (SI)(R8*4), SI
	LEAQ    (R10)(R8*4), R10
	DECQ    DX
	JMP     bgrad

bgraddone:
	ADDQ $16, CX
	JMP  bblock

bdone:
	VZEROUPPER
	RET
