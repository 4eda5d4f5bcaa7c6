//go:build !purego

package asm

func expSubSum(dst, x []float32, m float32) float32 {
	if neon() {
		n4 := len(dst) &^ 3
		return expSubSumNEON(dst[:n4], x[:n4], m) + expSubSumGeneric(dst[n4:], x[n4:], m)
	}
	return expSubSumGeneric(dst, x, m)
}

func expSubSumNoStore(x []float32, m float32) float32 {
	if neon() {
		n4 := len(x) &^ 3
		return expSubSumNoStoreNEON(x[:n4], m) + expSubSumNoStoreGeneric(x[n4:], m)
	}
	return expSubSumNoStoreGeneric(x, m)
}

func addScalar(dst, x []float32, c float32) {
	if neon() {
		n4 := len(dst) &^ 3
		addScalarNEON(dst[:n4], x[:n4], c)
		addScalarGeneric(dst[n4:], x[n4:], c)
		return
	}
	addScalarGeneric(dst, x, c)
}

func mulSub(dx, y, dy []float32, d float32) {
	if neon() {
		n4 := len(dx) &^ 3
		mulSubNEON(dx[:n4], y[:n4], dy[:n4], d)
		mulSubGeneric(dx[n4:], y[n4:], dy[n4:], d)
		return
	}
	mulSubGeneric(dx, y, dy, d)
}

func logSoftmaxBwd(dx, y, dy []float32, s float32) {
	if neon() {
		n4 := len(dx) &^ 3
		logSoftmaxBwdNEON(dx[:n4], y[:n4], dy[:n4], s)
		logSoftmaxBwdGeneric(dx[n4:], y[n4:], dy[n4:], s)
		return
	}
	logSoftmaxBwdGeneric(dx, y, dy, s)
}

//go:noescape
func expSubSumNEON(dst, x []float32, m float32) float32

//go:noescape
func expSubSumNoStoreNEON(x []float32, m float32) float32

//go:noescape
func addScalarNEON(dst, x []float32, c float32)

//go:noescape
func mulSubNEON(dx, y, dy []float32, d float32)

//go:noescape
func logSoftmaxBwdNEON(dx, y, dy []float32, s float32)
