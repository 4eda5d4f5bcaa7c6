package data

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestJPEGDecodeVsPillow measures the difference between Go's JPEG decoder plus
// this package's libjpeg-style colour conversion and Pillow's decoded pixels
// (libjpeg-turbo), per 8-bit sample, and compares it with Go's own YCbCr
// conversion (nearest-neighbour chroma, its own rounding). The remaining
// difference comes from the IDCT: Go's is not libjpeg's jidctint.
func TestJPEGDecodeVsPillow(t *testing.T) {
	ref := readImgTestSafetensors(t, filepath.Join("testdata", "refs64.safetensors"))
	var names []string
	for n := range ref {
		if strings.HasPrefix(n, "decoded/") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatal("no decoded/ references")
	}
	for _, n := range names {
		file := strings.TrimPrefix(n, "decoded/")
		img, err := LoadImage(filepath.Join("testdata", "variants", file))
		if err != nil {
			t.Fatal(err)
		}
		want := ref[n]
		p := newPilImage(img)
		got := p.resizeWindow(0, 0, p.w, p.h, p.w, p.h, 0, 0, p.w, p.h)
		if len(got) != len(want.data) {
			t.Fatalf("%s: %d samples, reference %d", file, len(got), len(want.data))
		}
		ours := jpegTestDiff(got, want.data)
		// Go's standard conversion, for comparison.
		b := img.Bounds()
		std := make([]uint8, 0, len(got))
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				std = append(std, c.R, c.G, c.B)
			}
		}
		goStd := jpegTestDiff(std, want.data)
		t.Logf("%-12s %T %v: libjpeg-style %v | Go's conversion %v", file, img, b.Size(), ours, goStd)
		if ours.mean > goStd.mean && ours.mean > 0 {
			t.Errorf("%s: libjpeg-style conversion (%v) is further from Pillow than Go's (%v)", file, ours, goStd)
		}
		// Measured: max 2-5 levels, mean <= 0.15 levels (IDCT rounding).
		if ours.max > 8 || ours.mean > 0.3 {
			t.Errorf("%s: %v; want max <= 8 and mean <= 0.3 levels", file, ours)
		}
	}
}

type jpegTestStats struct {
	max      int
	mean     float64
	differ   float64 // fraction of samples that differ
	hist1    float64 // fraction differing by exactly 1
	nSamples int
}

func (s jpegTestStats) String() string {
	return fmt.Sprintf("max %d mean %.3f levels, %.1f%% of samples differ (%.1f%% by 1)",
		s.max, s.mean, 100*s.differ, 100*s.hist1)
}

func jpegTestDiff(got []uint8, want []float32) jpegTestStats {
	var s jpegTestStats
	s.nSamples = len(got)
	var sum, nd, n1 float64
	for i, g := range got {
		d := int(math.Abs(float64(g) - float64(want[i])))
		s.max = max(s.max, d)
		sum += float64(d)
		if d != 0 {
			nd++
		}
		if d == 1 {
			n1++
		}
	}
	s.mean = sum / float64(len(got))
	s.differ = nd / float64(len(got))
	s.hist1 = n1 / float64(len(got))
	return s
}
