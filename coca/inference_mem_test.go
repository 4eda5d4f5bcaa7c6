package coca

import (
	"math"
	"runtime"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// TestInferenceReusesBuffers: without gradients, the layers hand their
// intermediates back to the buffer pool, so that a second EncodeImage and
// EncodeText allocate less than half of what the first (cold) ones did
// (coca_tiny: 34% with the blocks' intermediates reused, 81% without), and
// the reused memory does not change the results.
func TestInferenceReusesBuffers(t *testing.T) {
	cfg, _ := Builtin("coca_tiny")
	m := New(cfg)
	m.Init(3)
	g := tensor.NewRNG(4)
	const b = 3
	s := cfg.Vision.ImageSize
	img := tensor.New(b, 3, s, s)
	g.Normal(img, 0, 1)
	l := cfg.Text.ContextLength
	text := make([]int, b*l)
	for i := range text {
		text[i] = 1 + g.IntN(cfg.Text.VocabSize-1)
	}
	defer tensor.NoGrad()()
	tensor.DropPool()
	allocated := func(f func()) uint64 {
		var a, z runtime.MemStats
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&z)
		return z.TotalAlloc - a.TotalAlloc
	}
	var img1, txt1 []float32
	cold := allocated(func() {
		f, _ := m.EncodeImage(img)
		img1 = append([]float32(nil), f.Data()...)
		txt1 = append([]float32(nil), m.EncodeText(text, b, l).Data()...)
	})
	var img2, txt2 []float32
	warm := allocated(func() {
		f, _ := m.EncodeImage(img)
		img2 = append([]float32(nil), f.Data()...)
		txt2 = append([]float32(nil), m.EncodeText(text, b, l).Data()...)
	})
	t.Logf("first EncodeImage+EncodeText allocated %d bytes, the second %d", cold, warm)
	if warm*2 > cold {
		t.Errorf("the second pass allocated %d bytes, more than half of the first pass's %d: intermediates are not reused", warm, cold)
	}
	for i := range img1 {
		if math.Float32bits(img1[i]) != math.Float32bits(img2[i]) {
			t.Fatalf("image feature %d: %v, then %v on reused memory", i, img1[i], img2[i])
		}
	}
	for i := range txt1 {
		if math.Float32bits(txt1[i]) != math.Float32bits(txt2[i]) {
			t.Fatalf("text feature %d: %v, then %v on reused memory", i, txt1[i], txt2[i])
		}
	}
}
