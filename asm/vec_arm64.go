//go:build !purego

package asm

func dot(x, y []float32) float32         { return dotGeneric(x, y) }
func axpy(alpha float32, x, y []float32) { axpyGeneric(alpha, x, y) }
func scale(alpha float32, x []float32)   { scaleGeneric(alpha, x) }
func add(dst, x, y []float32)            { addGeneric(dst, x, y) }
func mul(dst, x, y []float32)            { mulGeneric(dst, x, y) }
func sum(x []float32) float32            { return sumGeneric(x) }
func vmax(x []float32) float32           { return maxGeneric(x) }
