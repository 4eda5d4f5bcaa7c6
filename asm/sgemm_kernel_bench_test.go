//go:build !purego && amd64

package asm

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
)

// threadCPU returns the calling thread's CPU time in seconds.
func threadCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// BenchmarkGemmKernel times a block kernel alone on packed operands that
// stay in cache (an mc×kc block of A, nTiles micro-panels of B), reporting
// GFLOP/s of wall time and of the thread's CPU time.
func BenchmarkGemmKernel(b *testing.B) {
	for _, kn := range []*gemmKernel{avx512Gemm} {
		for _, s := range [][3]int{{144, 192, 8}, {144, 256, 8}, {96, 384, 8}, {48, 192, 32}} {
			mc, kc, nt := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("impl=%s/mc=%d/kc=%d/ntiles=%d", kn.name, mc, kc, nt), func(b *testing.B) {
				if !Supported(AVX512) {
					b.Skip("no AVX-512")
				}
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				a := make([]float32, mc*kc)
				bb := make([]float32, nt*kc*kn.nr)
				c := make([]float32, mc*nt*kn.nr)
				for i := range a {
					a[i] = float32(i%7) * 0.1
				}
				for i := range bb {
					bb[i] = float32(i%5) * 0.1
				}
				mt := mc / kn.mr
				ldc := nt * kn.nr
				cpu0 := threadCPU()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					kn.block(&a[0], &bb[0], &c[0], kc, kn.nr, kc*kn.nr, ldc, mt, nt, 1, nil)
				}
				flops := 2 * float64(mt*kn.mr) * float64(nt*kn.nr) * float64(kc) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(flops/(threadCPU()-cpu0)/1e9, "GFLOP/cpu-s")
			})
		}
	}
}
