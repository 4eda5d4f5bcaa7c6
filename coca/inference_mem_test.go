package coca

import (
	"math"
	"runtime"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// TestInferenceReusesBuffers: without gradients, the layers hand their
// intermediates back to the buffer pool, so that a second EncodeImage and
// EncodeText allocate less than three quarters of what the first (cold,
// pool emptied) ones did (coca_tiny: 48%, 49-54% under the race detector,
// with the intermediates reused; 99.5% with tensor.Release a no-op), and
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
	// A first pass pays what a process allocates once (GEMM scratch sized
	// for these shapes, sync.Pool contents, lazily built tables), which
	// earlier tests may or may not have paid; DropPool then empties only the
	// tensor buffer pool, so that the cold pass differs from the warm one by
	// the intermediates alone. Without it the ratio depended on what ran
	// before: 34% in a fresh process, 49% after the package's other tests,
	// 51-53% under the race detector (whose sync.Pool drops a quarter of
	// Puts), failing there.
	m.EncodeImage(img)
	m.EncodeText(text, b, l)
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
	if warm*4 > cold*3 {
		t.Errorf("the second pass allocated %d bytes, more than three quarters of the first pass's %d: intermediates are not reused", warm, cold)
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
