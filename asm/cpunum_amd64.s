//go:build !purego

#include "textflag.h"

// func cpuNumRDTSCP() int
//
// The low 12 bits of TSC_AUX, which Linux sets to the number of the CPU
// (the node above them).
TEXT ·cpuNumRDTSCP(SB), NOSPLIT, $0-8
	RDTSCP
	ANDQ $0xfff, CX
	MOVQ CX, ret+0(FP)
	RET

