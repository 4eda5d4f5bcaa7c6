package coca

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// TestBF16VisionStorage checks where a bfloat16 model keeps the matrices
// of its vision tower's blocks: in bfloat16 with bfloat16 products,
// whichever comes first (SetPrecision, QuantizeBF16 or LoadBF16), and in
// float32 again after SetPrecision(PrecisionF32), holding the same
// rounded values; and that image features and tokens of more than 32
// rows per product (37 tokens per image: one image takes the dot form
// for c_fc and the attention's in_proj and the packed GEMM for out_proj
// and c_proj; four images the packed GEMM throughout) are bit for bit
// those of the same model with those matrices widened to float32 (the
// storage before this switch); that such a model saves and loads back
// with those values. With fewer rows a product reads the 16-bit weights
// with float32 activations, like a decoding step.
func TestBF16VisionStorage(t *testing.T) {
	cfg := Config{EmbedDim: 256,
		Vision:     VisionConfig{ImageSize: 48, PatchSize: 8, Width: 256, Layers: 2, HeadWidth: 64, MLPRatio: 4, AttentionalPool: PoolParallel, AttnPoolerQueries: 8, AttnPoolerHeads: 4},
		Text:       TextConfig{ContextLength: 8, VocabSize: 100, Width: 256, Heads: 4, Layers: 1, MLPRatio: 4},
		Multimodal: MultimodalConfig{ContextLength: 8, VocabSize: 100, Width: 256, Heads: 4, Layers: 1, MLPRatio: 4}}
	dtypes := func(m *Model) map[tensor.DType]int {
		n := map[tensor.DType]int{}
		for _, sl := range m.visionSlots(nil) {
			n[sl.t.DType()]++
		}
		return n
	}
	slots := len(New(&cfg).visionSlots(nil))
	if slots != 2*4 { // in_proj, out_proj, c_fc, c_proj per block
		t.Fatalf("%d vision slots, want 8", slots)
	}
	f32 := New(&cfg)
	f32.Init(5)
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := f32.SaveSafetensors(path); err != nil {
		t.Fatal(err)
	}
	build := map[string]func() *Model{
		"precision then quantize": func() *Model {
			m := New(&cfg)
			m.Init(5)
			must(t, m.SetPrecision(tensor.PrecisionBF16))
			m.QuantizeBF16()
			return m
		},
		"quantize then precision": func() *Model {
			m := New(&cfg)
			m.Init(5)
			m.QuantizeBF16()
			if n := dtypes(m); n[tensor.Float32] != slots {
				t.Fatalf("float32 products: vision matrices %v, want all float32", n)
			}
			must(t, m.SetPrecision(tensor.PrecisionBF16))
			return m
		},
		"precision then LoadBF16": func() *Model {
			m := New(&cfg)
			must(t, m.SetPrecision(tensor.PrecisionBF16))
			must(t, m.LoadSafetensorsBF16(path))
			return m
		},
	}
	// The reference: the same model with the vision matrices widened.
	ref := build["quantize then precision"]()
	for _, sl := range ref.visionSlots(nil) {
		sl.t.ToFloat32()
	}
	g := tensor.NewRNG(6)
	images := map[int]*tensor.Tensor{}
	for _, b := range []int{1, 4} {
		images[b] = tensor.New(b, 3, 48, 48)
		g.Normal(images[b], 0, 1)
	}
	for name, mk := range build {
		t.Run(name, func(t *testing.T) {
			m := mk()
			if n := dtypes(m); n[tensor.BFloat16] != slots {
				t.Fatalf("bf16 products: vision matrices %v, want all bfloat16", n)
			}
			for i, sl := range m.visionSlots(nil) {
				h, tr := sl.t.BF16()
				want := ref.visionSlots(nil)[i].t.Data()
				for j, v := range h {
					if tr || safetensors.BF16ToFloat32(v) != want[j] {
						t.Fatalf("vision matrix %d [%d] = %v (transposed %v), rounded %v", i, j, safetensors.BF16ToFloat32(v), tr, want[j])
					}
				}
			}
			for _, b := range []int{1, 4} {
				f, tok := m.EncodeImage(images[b])
				rf, rtok := ref.EncodeImage(images[b])
				sameBits(t, "features", b, f.Data(), rf.Data())
				sameBits(t, "tokens", b, tok.Data(), rtok.Data())
			}
			// Saved with its vision matrices in 16 bits, it loads back
			// as a float32 model with the rounded values.
			saved := filepath.Join(t.TempDir(), "m.safetensors")
			must(t, m.SaveSafetensors(saved))
			back := New(&cfg)
			must(t, back.LoadSafetensors(saved))
			refSlots := ref.visionSlots(nil)
			for i, sl := range back.visionSlots(nil) {
				if !sameFloats(sl.t.Data(), refSlots[i].t.Data()) {
					t.Fatalf("saved and loaded: vision matrix %d differs from the rounded values", i)
				}
			}
			must(t, m.SetPrecision(tensor.PrecisionF32))
			if n := dtypes(m); n[tensor.Float32] != slots {
				t.Fatalf("back to float32 products: vision matrices %v, want all float32", n)
			}
			for i, sl := range m.visionSlots(nil) {
				if got, want := sl.t.Data(), ref.visionSlots(nil)[i].t.Data(); !sameFloats(got, want) {
					t.Fatalf("vision matrix %d widened back differs from the rounded values", i)
				}
			}
		})
	}
}

// TestInt8VisionFloat32 checks that int8 weights keep the vision tower in
// float32, with its values, under bfloat16 products, from float32 weights
// and from bfloat16 ones (whose vision matrices bfloat16 products keep in
// 16 bits).
func TestInt8VisionFloat32(t *testing.T) {
	if tensor.CheckInt8() != nil {
		t.Skip("no int8 weights on this backend")
	}
	cfg, err := Builtin("coca_small")
	must(t, err)
	for _, fromBF16 := range []bool{false, true} {
		m := New(cfg)
		m.Init(1)
		must(t, m.SetPrecision(tensor.PrecisionBF16))
		if fromBF16 {
			m.QuantizeBF16()
		}
		must(t, m.QuantizeInt8())
		if !m.IsInt8() {
			t.Fatal("not int8")
		}
		// The values: the float32 model's, or the rounded ones of a
		// bfloat16 model with float32 products.
		ref := New(cfg)
		ref.Init(1)
		if fromBF16 {
			ref.QuantizeBF16()
		}
		refSlots := ref.visionSlots(nil)
		for i, sl := range m.visionSlots(nil) {
			if d := sl.t.DType(); d != tensor.Float32 {
				t.Fatalf("from bf16 %v: vision matrix %d is %v, want float32", fromBF16, i, d)
			}
			if !sameFloats(sl.t.Data(), refSlots[i].t.Data()) {
				t.Fatalf("from bf16 %v: vision matrix %d changed", fromBF16, i)
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sameBits fails the test unless got holds want's values bit for bit.
func sameBits(t *testing.T, what string, b int, got, want []float32) {
	t.Helper()
	if i := firstDiff(got, want); i >= 0 {
		if i >= min(len(got), len(want)) {
			t.Fatalf("%d images: %s has %d values, float32-stored %d", b, what, len(got), len(want))
		}
		t.Fatalf("%d images: %s[%d] = %v, float32-stored %v", b, what, i, got[i], want[i])
	}
}

func sameFloats(a, b []float32) bool { return firstDiff(a, b) < 0 }

// firstDiff returns the first index where a and b differ in their bits
// (or the shorter one's length), or -1.
func firstDiff(a, b []float32) int {
	for i := range min(len(a), len(b)) {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
