//go:build !purego

package asm

func expVec(dst, x []float32)     { expGeneric(dst, x) }
func sigmoidVec(dst, x []float32) { sigmoidGeneric(dst, x) }
