package gococa_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/gococa/gococa/asm"
)

// sgemmBenchSizes are M×K×N: square shapes and CoCa shapes (attention and
// MLP projections of the 768-wide encoders, the text decoder's logits).
var sgemmBenchSizes = [][3]int{
	{512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048},
	{600, 512, 1536}, {600, 2048, 512}, {400, 768, 3072}, {8, 512, 49408},
}

// BenchmarkSgemm times C = A·B (row-major, no transposes) for every SIMD
// level this machine runs and reports GFLOP/s = 2·M·N·K / time.
func BenchmarkSgemm(b *testing.B) {
	for _, l := range []asm.Level{asm.Generic, asm.AVX2, asm.AVX512, asm.NEON} {
		for _, s := range sgemmBenchSizes {
			m, k, n := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("impl=%v/size=%dx%dx%d", l, m, k, n), func(b *testing.B) {
				if !asm.Supported(l) {
					b.Skipf("%v is not available on this CPU/build", l)
				}
				rng := rand.New(rand.NewSource(1))
				rnd := func(n int) []float32 {
					s := make([]float32, n)
					for i := range s {
						s[i] = rng.Float32()*2 - 1
					}
					return s
				}
				x, y, c := rnd(m*k), rnd(k*n), make([]float32, m*n)
				asm.SgemmLevel(l, false, false, m, n, k, 1, x, k, y, n, 0, c, n)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					asm.SgemmLevel(l, false, false, m, n, k, 1, x, k, y, n, 0, c, n)
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
