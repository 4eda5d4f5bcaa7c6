package coca

import (
	"math"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// TestEncodeImageFeatures checks EncodeImageFeatures, which computes only
// the pooler rows the features read (VisionTower.Latent), against
// EncodeImage's features in each pooler layout (legacy: the first query of
// one pooler; parallel: the contrastive pooler alone; cascade: both), and
// that it hands every pooled buffer back. At coca_ViT-B-32's sizes the
// first query's products run on one row (the small-M kernels) where
// EncodeImage runs all queries' (the golden fixtures compare both with
// open_clip); at these tiny sizes they take the same kernels: measured
// max |diff| 0, held to 1e-6 (a wrong query or pooler differs by ~0.1-1).
func TestEncodeImageFeatures(t *testing.T) {
	for _, pool := range []string{PoolLegacy, PoolParallel, PoolCascade} {
		t.Run(pool, func(t *testing.T) {
			cfg, err := Builtin("coca_tiny")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Vision.AttentionalPool = pool
			if pool != PoolLegacy { // the vision width must be embed_dim's
				cfg.Vision.Width, cfg.Vision.HeadWidth = cfg.EmbedDim, 8
			}
			m := New(cfg)
			m.Init(7)
			const b = 3
			s := cfg.Vision.ImageSize
			g := tensor.NewRNG(11)
			img := tensor.New(b, 3, s, s)
			g.Normal(img, 0, 1)
			want, _ := m.EncodeImage(img)
			got := m.EncodeImageFeatures(img)
			if got.Dim(0) != b || got.Dim(1) != cfg.EmbedDim {
				t.Fatalf("shape %v, want [%d %d]", got.Shape(), b, cfg.EmbedDim)
			}
			worst := 0.0
			for i, v := range got.Data() {
				d := math.Abs(float64(v - want.Data()[i]))
				if !(d <= 1e-6) {
					t.Fatalf("feature %d = %g, EncodeImage's %g", i, v, want.Data()[i])
				}
				worst = math.Max(worst, d)
			}
			t.Logf("max |diff| %.1e", worst)
			before := tensor.PoolInUse()
			m.EncodeImageFeatures(img)
			if after := tensor.PoolInUse(); after != before {
				t.Fatalf("pooled bytes in use %d after EncodeImageFeatures, %d before", after, before)
			}
		})
	}
}
