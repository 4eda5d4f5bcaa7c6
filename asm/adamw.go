package asm

import "fmt"

// AdamW updates the longest prefix of w, m and v that this SIMD level's
// kernel handles in whole vectors and returns its length; the caller
// updates the rest. Per value, in float32, each operation rounded in this
// order (no fused multiply-add):
//
//	m = m·c[0] + g·c[2]
//	v = v·c[1] + c[3]·g·g
//	w = w·c[4] + c[5]·m / (√v + c[6])
//
// with c = {Beta1, Beta2, 1-Beta1, 1-Beta2, Decay, NegStep, Eps}: the loop
// of the tensor package's CPU backend, whose results it matches bit for bit
// (where that loop is compiled without fused multiply-adds, as on amd64
// at the default GOAMD64). g, m and v must be at least as long as w.
// Levels without a kernel return 0.
func AdamW(w, g, m, v []float32, c *[7]float32) int {
	if len(g) < len(w) || len(m) < len(w) || len(v) < len(w) {
		panic(fmt.Sprintf("asm.AdamW: w has %d values, g %d, m %d, v %d", len(w), len(g), len(m), len(v)))
	}
	return adamwVec(w, g, m, v, c)
}
