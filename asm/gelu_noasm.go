//go:build (!amd64 && !arm64) || purego

package asm

func geluVec(dst, x []float32)                 { geluGeneric(dst, x) }
func geluBackwardVec(dx, x, dy []float32)      { geluBackwardGeneric(dx, x, dy) }
func geluDerivVec(dst, deriv, x []float32)     { geluDerivPasses(dst, deriv, x) }
func geluTanhVec(dst, x []float32)             { geluTanhGeneric(dst, x) }
func geluTanhBackwardVec(dx, x, dy []float32)  { geluTanhBackwardGeneric(dx, x, dy) }
func quickGeluVec(dst, x []float32)            { quickGeluGeneric(dst, x) }
func quickGeluBackwardVec(dx, x, dy []float32) { quickGeluBackwardGeneric(dx, x, dy) }
