//go:build !purego

#include "textflag.h"

// func adamwAVX512(w, grad, m, v *float32, n int, c *[7]float32)
//
// Sixteen values at a time, the operations of asm.AdamW in its order, each
// rounded (VSQRTPS is the correctly rounded square root that the Go loop's
// float64 square root rounds to). AVX-512F.
TEXT ·adamwAVX512(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), AX
	VBROADCASTSS 0(AX), Z16  // Beta1
	VBROADCASTSS 4(AX), Z17  // Beta2
	VBROADCASTSS 8(AX), Z18  // 1-Beta1
	VBROADCASTSS 12(AX), Z19 // 1-Beta2
	VBROADCASTSS 16(AX), Z20 // Decay
	VBROADCASTSS 20(AX), Z21 // NegStep
	VBROADCASTSS 24(AX), Z22 // Eps
	SHRQ $4, CX
	JZ   adamw_done

adamw_loop:
	VMOVUPS (SI), Z0      // g
	VMOVUPS (R8), Z1
	VMULPS  Z16, Z1, Z1   // m·Beta1
	VMULPS  Z18, Z0, Z2   // g·(1-Beta1)
	VADDPS  Z2, Z1, Z1    // m
	VMOVUPS (R9), Z3
	VMULPS  Z17, Z3, Z3   // v·Beta2
	VMULPS  Z0, Z19, Z4   // (1-Beta2)·g
	VMULPS  Z0, Z4, Z4    // ·g
	VADDPS  Z4, Z3, Z3    // v
	VMOVUPS Z1, (R8)
	VMOVUPS Z3, (R9)
	VSQRTPS Z3, Z5
	VADDPS  Z22, Z5, Z5   // √v + Eps
	VMULPS  Z1, Z21, Z6   // NegStep·m
	VDIVPS  Z5, Z6, Z6    // / (√v + Eps)
	VMOVUPS (DI), Z7
	VMULPS  Z20, Z7, Z7   // w·Decay
	VADDPS  Z6, Z7, Z7
	VMOVUPS Z7, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $64, R8
	ADDQ    $64, R9
	DECQ    CX
	JNZ     adamw_loop

adamw_done:
	VZEROUPPER
	RET
