package safetensors

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkFloat32 measures conversion of one 4M-element tensor to []float32
// (bytes/s of the stored data).
func BenchmarkFloat32(b *testing.B) {
	const n = 4 << 20
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(i%1000) * 0.001
	}
	for _, t := range []Tensor{F32("x", []int{n}, src), F16FromF32("x", []int{n}, src), BF16FromF32("x", []int{n}, src)} {
		var buf bytes.Buffer
		if err := Write(&buf, []Tensor{t}, nil); err != nil {
			b.Fatal(err)
		}
		f, err := Parse(buf.Bytes(), "bench")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("dtype=%s/size=4M", t.DType), func(b *testing.B) {
			b.SetBytes(int64(len(t.Data)))
			for b.Loop() {
				if _, err := f.Float32("x"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
