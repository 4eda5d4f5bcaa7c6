//go:build !purego

#include "textflag.h"
#include "vec_amd64.h"

// Row passes of the attention score tiles, AVX-512: one call handles every
// row of a tile, so that the exponentials of successive rows overlap in the
// pipeline instead of each row paying a call and a dependent chain of its
// own. Per row the arithmetic is exactly that of vmax, expSubSumAVX512 and
// mulSub (same operations, same summation order), so the results are
// bit-identical to the row-at-a-time code of the other levels.

// func attnRowsFwdAVX512(s *float32, ld int, lim *int32, mIn, mOut, sum *float32, rows int)
//
// For each row i (row stride ld, a multiple of 16) with n = lim[i] valid
// entries x = s[i][:n]:
//
//	m = max(max(x), mIn[i]); if n ≤ 0 or m = -Inf: row = 0, mOut[i] = mIn[i], sum[i] = 0
//	else x = exp(x - m), s[i][n:ld] = 0, mOut[i] = m, sum[i] = Σ x
TEXT ·attnRowsFwdAVX512(SB), NOSPLIT, $0-56
	MOVQ  s+0(FP), DI
	MOVQ  ld+8(FP), R8
	MOVQ  lim+16(FP), R9
	MOVQ  mIn+24(FP), R10
	MOVQ  mOut+32(FP), R11
	MOVQ  sum+40(FP), R12
	MOVQ  rows+48(FP), BX
	VXORPS Z11, Z11, Z11

frow:
	TESTQ BX, BX
	JE    fdone
	MOVLQSX (R9), R13
	VMOVSS  (R10), X12
	TESTQ   R13, R13
	JLE     fempty

	// m = max of the valid entries and mIn.
	VBROADCASTSS constNegInf<>(SB), Z0
	MOVQ         DI, SI
	MOVQ         R13, CX

fmax16:
	CMPQ   CX, $16
	JL     fmaxtail
	VMAXPS (SI), Z0, Z0
	ADDQ   $64, SI
	SUBQ   $16, CX
	JMP    fmax16

fmaxtail:
	TESTQ CX, CX
	JE    fmaxred
	TAILMASK512(CX, AX, K1)
	VMAXPS (SI), Z0, K1, Z0

fmaxred:
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	HMAX(Y0, X0, X1)
	// x > mIn ? x : mIn (mIn when not greater, as the Go code's mx <= mOld).
	// A NaN maximum is taken, so that the NaN reaches the output.
	VUCOMISS X12, X0
	JP       ftake
	JBE      fkeep

ftake:
	VMOVAPS X0, X12

fkeep:
	VUCOMISS constNegInf<>(SB), X12
	JP       fgo
	JE       fempty

fgo:

	// The exponentials, as expSubSumAVX512.
	VBROADCASTSS X12, Z15
	VXORPS       Z14, Z14, Z14
	VXORPS       Z13, Z13, Z13
	MOVQ         DI, SI
	MOVQ         R13, CX

fexp32:
	CMPQ    CX, $32
	JL      fexp16
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z4
	VSUBPS  Z15, Z0, Z0
	VSUBPS  Z15, Z4, Z4
	EXP512(Z0, Z1, Z2, Z3)
	EXP512(Z4, Z5, Z6, Z7)
	VMOVUPS Z3, (SI)
	VMOVUPS Z7, 64(SI)
	VADDPS  Z3, Z14, Z14
	VADDPS  Z7, Z13, Z13
	ADDQ    $128, SI
	SUBQ    $32, CX
	JMP     fexp32

fexp16:
	CMPQ    CX, $16
	JL      fexptail
	VMOVUPS (SI), Z0
	VSUBPS  Z15, Z0, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS Z3, (SI)
	VADDPS  Z3, Z14, Z14
	ADDQ    $64, SI
	SUBQ    $16, CX

fexptail:
	TESTQ     CX, CX
	JE        fexpdone
	TAILMASK512(CX, AX, K1)
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS    Z15, Z0, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS.Z Z3, K1, Z3
	VMOVUPS   Z3, (SI)     // zeros the rest of the 16-lane group
	VADDPS    Z3, Z13, K1, Z13
	ADDQ      $64, SI

fexpdone:
	VADDPS Z13, Z14, Z14
	HSUM512(Z14, Y14, X14, Y1, X1)
	VMOVSS X14, (R12)
	VMOVSS X12, (R11)

	// Zero the padding after the last 16-lane group written.
	MOVQ DI, DX
	SUBQ DX, SI           // SI = bytes written from the row start
	SHRQ $2, SI
	MOVQ R8, CX
	SUBQ SI, CX
	LEAQ (DI)(SI*4), DX

fpad:
	TESTQ   CX, CX
	JE      fnext
	VMOVUPS Z11, (DX)
	ADDQ    $64, DX
	SUBQ    $16, CX
	JMP     fpad

fempty:
	VMOVSS X11, (R12)
	VMOVSS (R10), X12
	VMOVSS X12, (R11)
	MOVQ   R8, CX
	MOVQ   DI, DX

fzero:
	TESTQ   CX, CX
	JE      fnext
	VMOVUPS Z11, (DX)
	ADDQ    $64, DX
	SUBQ    $16, CX
	JMP     fzero

fnext:
	LEAQ (DI)(R8*4), DI
	ADDQ $4, R9
	ADDQ $4, R10
	ADDQ $4, R11
	ADDQ $4, R12
	DECQ BX
	JMP  frow

fdone:
	VZEROUPPER
	RET

// func attnRowsBwdAVX512(s, dp *float32, ld int, lim *int32, lse, dd *float32, rows int)
//
// For each row i (row stride ld, a multiple of 16) with n = lim[i] valid
// entries: p = s[i][:n] = exp(s[i][:n] - lse[i]); dp[i][:n] =
// p·(dp[i][:n] - dd[i]); s[i][n:ld] = dp[i][n:ld] = 0 (whole rows when
// n ≤ 0).
TEXT ·attnRowsBwdAVX512(SB), NOSPLIT, $0-56
	MOVQ   s+0(FP), DI
	MOVQ   dp+8(FP), R14
	MOVQ   ld+16(FP), R8
	MOVQ   lim+24(FP), R9
	MOVQ   lse+32(FP), R10
	MOVQ   dd+40(FP), R11
	MOVQ   rows+48(FP), BX
	VXORPS Z11, Z11, Z11

brow:
	TESTQ        BX, BX
	JE           bdone
	MOVLQSX      (R9), R13
	VBROADCASTSS (R10), Z15
	VBROADCASTSS (R11), Z12
	MOVQ         DI, SI
	MOVQ         R14, DX
	MOVQ         R8, R12     // lanes left in the row

bvec:
	TESTQ R12, R12
	JE    bnext
	CMPQ  R13, $16
	JL    bpart
	VMOVUPS (SI), Z0
	VSUBPS  Z15, Z0, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS (DX), Z4
	VSUBPS  Z12, Z4, Z4
	VMULPS  Z3, Z4, Z4
	VMOVUPS Z3, (SI)
	VMOVUPS Z4, (DX)
	JMP     badv

bpart:
	CMPQ R13, $0
	JLE  bzero
	MOVQ R13, CX
	TAILMASK512(CX, AX, K1)
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS    Z15, Z0, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS.Z Z3, K1, Z3
	VMOVUPS.Z (DX), K1, Z4
	VSUBPS    Z12, Z4, Z4
	VMULPS    Z3, Z4, Z4
	VMOVUPS.Z Z4, K1, Z4
	VMOVUPS   Z3, (SI)
	VMOVUPS   Z4, (DX)
	JMP       badv

bzero:
	VMOVUPS Z11, (SI)
	VMOVUPS Z11, (DX)

badv:
	ADDQ $64, SI
	ADDQ $64, DX
	SUBQ $16, R13
	SUBQ $16, R12
	JMP  bvec

bnext:
	LEAQ (DI)(R8*4), DI
	LEAQ (R14)(R8*4), R14
	ADDQ $4, R9
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ BX
	JMP  brow

bdone:
	VZEROUPPER
	RET

// func attnScaleRowsAVX512(dst *float32, ldd int, src *float32, lds int, l *float32, rows, d int)
//
// For each row i: dst[i][:d] = src[i][:d]·(1/l[i]), or zeros when l[i] = 0
// (the forward's normalisation of the output rows; one division and one
// product per element, as the Go loop it replaces).
TEXT ·attnScaleRowsAVX512(SB), NOSPLIT, $0-56
	MOVQ   dst+0(FP), DI
	MOVQ   ldd+8(FP), R8
	SHLQ   $2, R8
	MOVQ   src+16(FP), SI
	MOVQ   lds+24(FP), R9
	SHLQ   $2, R9
	MOVQ   l+32(FP), R10
	MOVQ   rows+40(FP), BX
	MOVQ   d+48(FP), R12
	VXORPS Z11, Z11, Z11
	MOVL   $0x3f800000, AX
	VMOVD  AX, X10        // 1.0

srow:
	TESTQ    BX, BX
	JE       sdone
	VMOVSS   (R10), X1
	VUCOMISS X11, X1
	JP       sdiv
	JNE      sdiv
	MOVQ     R12, CX      // l = 0: a zero row
	MOVQ     DI, R14

szero:
	CMPQ    CX, $16
	JL      sztail
	VMOVUPS Z11, (R14)
	ADDQ    $64, R14
	SUBQ    $16, CX
	JMP     szero

sztail:
	TESTQ   CX, CX
	JE      snext
	TAILMASK512(CX, AX, K1)
	VMOVUPS Z11, K1, (R14)
	JMP     snext

sdiv:
	VDIVSS       X1, X10, X2 // 1/l
	VBROADCASTSS X2, Z2

sgo:
	MOVQ R12, CX
	MOVQ SI, R13
	MOVQ DI, R14

sloop:
	CMPQ    CX, $16
	JL      stail
	VMULPS  (R13), Z2, Z3
	VMOVUPS Z3, (R14)
	ADDQ    $64, R13
	ADDQ    $64, R14
	SUBQ    $16, CX
	JMP     sloop

stail:
	TESTQ     CX, CX
	JE        snext
	TAILMASK512(CX, AX, K1)
	VMOVUPS.Z (R13), K1, Z0
	VMULPS    Z0, Z2, Z3
	VMOVUPS   Z3, K1, (R14)

snext:
	ADDQ R8, DI
	ADDQ R9, SI
	ADDQ $4, R10
	DECQ BX
	JMP  srow

sdone:
	VZEROUPPER
	RET
