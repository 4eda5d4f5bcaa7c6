package data

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPreprocess times decoding and the eval transform of a PNG and a
// large JPEG at 224 px, and the training crop; reports images/s.
func BenchmarkPreprocess(b *testing.B) {
	for _, name := range []string{"testdata/astronaut.png", "testdata/variants/large_1800.jpg"} {
		data, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		img, err := DecodeImage(bytes.NewReader(data), name)
		if err != nil {
			b.Fatal(err)
		}
		sz := img.Bounds().Size()
		dims := fmt.Sprintf("%dx%d", sz.X, sz.Y)
		base := filepath.Ext(name)[1:]
		dst := make([]float32, 3*224*224)
		b.Run("impl=decode/size="+base+dims, func(b *testing.B) {
			for b.Loop() {
				if _, err := DecodeImage(bytes.NewReader(data), name); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
		b.Run("impl=eval/size="+base+dims, func(b *testing.B) {
			for b.Loop() {
				PreprocessInto(dst, img, 224)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
		b.Run("impl=train/size="+base+dims, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			for b.Loop() {
				RandomResizedCropInto(dst, img, 224, rng)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
