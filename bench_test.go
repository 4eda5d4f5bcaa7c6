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

// linearBenchSizes are M×K×N of x·Wᵀ (W stored N×K, as nn.Linear keeps
// it): the projections of coca_ViT-B-32's image encoder at batch 1 (50
// tokens) and 8, of its text encoder at batch 1 (77 tokens), and of a
// decoding step for 1 and 6 sequences (a block's input projection, the
// vocabulary projection).
var linearBenchSizes = [][3]int{
	{1, 512, 1536}, {6, 512, 1536}, {1, 512, 49408}, {6, 512, 49408},
	{50, 768, 2304}, {50, 768, 768}, {50, 768, 3072}, {50, 3072, 768},
	{77, 512, 1536}, {77, 512, 2048}, {77, 2048, 512},
	{400, 768, 2304}, {400, 768, 3072}, {400, 3072, 768},
}

// BenchmarkSgemmT times C = A·Bᵀ with B stored N×K (a linear layer) for
// every SIMD level this machine runs and reports GFLOP/s.
func BenchmarkSgemmT(b *testing.B) {
	for _, l := range []asm.Level{asm.Generic, asm.AVX2, asm.AVX512, asm.NEON} {
		for _, s := range linearBenchSizes {
			m, k, n := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("impl=%v/size=%dx%dx%d", l, m, k, n), func(b *testing.B) {
				if !asm.Supported(l) {
					b.Skipf("%v is not available on this CPU/build", l)
				}
				x, w, c := randSlice(m*k, 1), randSlice(n*k, 2), make([]float32, m*n)
				asm.SgemmLevel(l, false, true, m, n, k, 1, x, k, w, k, 0, c, n)
				b.ResetTimer()
				cpu0 := cpuSeconds()
				for i := 0; i < b.N; i++ {
					asm.SgemmLevel(l, false, true, m, n, k, 1, x, k, w, k, 0, c, n)
				}
				flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(flops/(cpuSeconds()-cpu0)/1e9, "GFLOP/cpu-s")
			})
		}
	}
}

// randSlice returns n uniform values in [-1, 1) from seed.
func randSlice(n int, seed int64) []float32 {
	rng := rand.New(rand.NewSource(seed))
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

// BenchmarkSgemm times C = A·B (row-major, no transposes) for every SIMD
// level this machine runs, and SgemmBF16 (impl=bf16: bfloat16 products,
// float32 sums, at the level the CPU dispatches to; bfloat16 instructions
// where it has them), and reports GFLOP/s = 2·M·N·K / time and GFLOP per
// CPU second (all threads; steadier on a shared machine).
func BenchmarkSgemm(b *testing.B) {
	for _, impl := range []string{"generic", "avx2", "avx512", "neon", "bf16"} {
		for _, s := range sgemmBenchSizes {
			m, k, n := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("impl=%v/size=%dx%dx%d", impl, m, k, n), func(b *testing.B) {
				gemm := asm.SgemmBF16
				if impl != "bf16" {
					l, err := asm.ParseLevel(impl)
					if err != nil {
						b.Fatal(err)
					}
					if !asm.Supported(l) {
						b.Skipf("%v is not available on this CPU/build", l)
					}
					gemm = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
						asm.SgemmLevel(l, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
					}
				} else if !asm.HasBF16() {
					b.Logf("no bfloat16 instructions at level %v: SgemmBF16 rounds and runs the float32 kernels", asm.Current())
				}
				x, y, c := randSlice(m*k, 1), randSlice(k*n, 2), make([]float32, m*n)
				gemm(false, false, m, n, k, 1, x, k, y, n, 0, c, n)
				b.ResetTimer()
				cpu0 := cpuSeconds()
				for i := 0; i < b.N; i++ {
					gemm(false, false, m, n, k, 1, x, k, y, n, 0, c, n)
				}
				flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(flops/(cpuSeconds()-cpu0)/1e9, "GFLOP/cpu-s")
			})
		}
	}
}

// trainLinearSizes are M×K×N of x·Wᵀ in the main job (`coca train`:
// coca_shapes, 32 images per in-process rank): the vision tower's MLP
// input and output projections, its attention's input projection, and a
// text layer's output projection.
var trainLinearSizes = [][3]int{{832, 64, 256}, {832, 256, 64}, {832, 64, 192}, {352, 64, 64}}

// evictBytes is what BenchmarkSgemmCold streams through before each
// product: twice this machine's 32 MiB L3, so that the operands (and the
// product's own packing buffers) come from memory.
const evictBytes = 64 << 20

// BenchmarkSgemmCold times x·Wᵀ on the main job's shapes (float32 at the
// dispatched level, and bfloat16 products) with the operands in cache
// (cache=warm: the same product again and again, as BenchmarkSgemmT) and
// evicted to memory before every call (cache=cold: a 64 MiB buffer is
// written first, outside the timer; use -benchtime Nx, since the untimed
// eviction takes longer than the product). A training step's products
// read activations written several ops before and weights last touched by
// the optimizer, so they run between the two figures: 57-84% of the warm
// figure in the main job (README, "On a Zen 4 machine": where the main
// job's products lose time).
func BenchmarkSgemmCold(b *testing.B) {
	junk := make([]byte, evictBytes)
	for _, impl := range []string{"f32", "bf16"} {
		for _, cache := range []string{"warm", "cold"} {
			for _, s := range trainLinearSizes {
				m, k, n := s[0], s[1], s[2]
				b.Run(fmt.Sprintf("impl=%s/cache=%s/size=%dx%dx%d", impl, cache, m, k, n), func(b *testing.B) {
					gemm := asm.Sgemm
					if impl == "bf16" {
						gemm = asm.SgemmBF16
					}
					x, w, c := randSlice(m*k, 1), randSlice(n*k, 2), make([]float32, m*n)
					gemm(false, true, m, n, k, 1, x, k, w, k, 0, c, n)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if cache == "cold" {
							b.StopTimer()
							for j := 0; j < len(junk); j += 64 {
								junk[j]++
							}
							b.StartTimer()
						}
						gemm(false, true, m, n, k, 1, x, k, w, k, 0, c, n)
					}
					flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
