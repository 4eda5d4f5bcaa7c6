package tensor

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/gococa/gococa/tensor/safetensors"
)

// TestMulBF16Stored checks that a product of a bfloat16 weight of more
// than 32 rows whose products are bfloat16 (PrecisionBF16 on the CPU
// backend, any precision on CPUBF16), which reads the weight in place
// where the kernel can (asm.SgemmBF16StoredT: the dot form up to 128
// rows, the packed GEMM past them), stores what the product over the
// whole widened weight stores (a float32 weight's Linear over the rounded
// values), bit for bit: with and without a bias; with widening blocks of
// 1002 rows, which the in-place product does not split; and with an odd
// k, which it declines, so that the weight is widened block by block.
func TestMulBF16Stored(t *testing.T) {
	cases := []struct {
		rows, n, k int
		block      int // bf16WidenBlock in rows of S (0: the default)
		bias       bool
	}{
		{50, 1536, 512, 0, true},
		{77, 2051, 768, 0, false},
		{33, 2051, 768, 1002, true}, // blocks of 1002, 1002 and 47 rows
		{128, 4100, 64, 0, true},
		{400, 768, 768, 0, true},      // the packed GEMM
		{616, 2051, 512, 1002, false}, // the packed GEMM, blocks of 1002, 1002 and 47 rows
	}
	for _, be := range []struct {
		name string
		b    Backend
		p    Precision
	}{{"cpu/bf16", cpuBackend{}, PrecisionBF16}, {"cpubf16/f32", CPUBF16(), PrecisionF32}} {
		for i, c := range cases {
			t.Run(fmt.Sprintf("%s/%d", be.name, i), func(t *testing.T) {
				defer SetBackend(SetBackend(be.b))
				if c.block > 0 {
					defer func(n int) { bf16WidenBlock = n }(bf16WidenBlock)
					bf16WidenBlock = c.block * c.k
				}
				rng := rand.New(rand.NewSource(int64(i)))
				x := make([]float32, c.rows*c.k)
				for j := range x {
					x[j] = float32(rng.NormFloat64())
				}
				s := make([]uint16, c.n*c.k)
				for j := range s {
					s[j] = safetensors.Float32ToBF16(float32(rng.NormFloat64()))
				}
				var bias []float32
				if c.bias {
					bias = make([]float32, c.n)
					for j := range bias {
						bias[j] = float32(rng.NormFloat64())
					}
				}
				got, want := make([]float32, c.rows*c.n), make([]float32, c.rows*c.n)
				mulBF16(be.p, got, x, s, bias, c.rows, c.n, c.k)
				// The float32 product over the rounded weights, as a
				// float32 weight's Linear takes it.
				wide := make([]float32, len(s))
				widenBF16(wide, s)
				if bias != nil {
					productBias(be.p, c.rows, c.n, c.k, x, wide, bias, want)
				} else {
					product(be.p, false, true, c.rows, c.n, c.k, 1, x, c.k, 0, wide, c.k, 0, 0, want, c.n, 0, 1)
				}
				for j := range want {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("out[%d][%d] = %v, widened %v", j/c.n, j%c.n, got[j], want[j])
					}
				}
			})
		}
	}
}
