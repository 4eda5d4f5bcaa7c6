//go:build !purego

package asm

func expSubSum(dst, x []float32, m float32) float32   { return expSubSumGeneric(dst, x, m) }
func expSubSumNoStore(x []float32, m float32) float32 { return expSubSumNoStoreGeneric(x, m) }
func addScalar(dst, x []float32, c float32)           { addScalarGeneric(dst, x, c) }
func mulSub(dx, y, dy []float32, d float32)           { mulSubGeneric(dx, y, dy, d) }
func logSoftmaxBwd(dx, y, dy []float32, s float32)    { logSoftmaxBwdGeneric(dx, y, dy, s) }
