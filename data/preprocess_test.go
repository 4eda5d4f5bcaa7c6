package data

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// imgTestTensor is one tensor of a safetensors file read by readImgTestSafetensors.
type imgTestTensor struct {
	shape []int
	data  []float32
}

// readImgTestSafetensors is a minimal safetensors reader for the fixtures of
// these tests (F32, F16 and U8 tensors, all returned as float32): 8-byte little-endian header length N, N
// bytes of JSON, then the raw little-endian data.
func readImgTestSafetensors(t testing.TB, path string) map[string]imgTestTensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 8 {
		t.Fatalf("%s: too short", path)
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		t.Fatalf("%s: header length %d beyond file", path, n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatalf("%s: header: %v", path, err)
	}
	body := b[8+n:]
	out := map[string]imgTestTensor{}
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var info struct {
			Dtype   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			t.Fatalf("%s: tensor %s: %v", path, name, err)
		}
		raw := body[info.Offsets[0]:info.Offsets[1]]
		var v []float32
		switch info.Dtype {
		case "F32":
			v = make([]float32, len(raw)/4)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		case "F16":
			v = make([]float32, len(raw)/2)
			for i := range v {
				v[i] = imgTestHalf(binary.LittleEndian.Uint16(raw[2*i:]))
			}
		case "U8":
			v = make([]float32, len(raw))
			for i, b := range raw {
				v[i] = float32(b)
			}
		default:
			t.Fatalf("%s: tensor %s: dtype %s not supported by this reader", path, name, info.Dtype)
		}
		out[name] = imgTestTensor{shape: info.Shape, data: v}
	}
	return out
}

// imgTestHalf converts IEEE binary16 bits to float32.
func imgTestHalf(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / 1024 / 16384
		if sign != 0 {
			return -f
		}
		return f
	case exp == 31:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// imgTestStats compares got with want: max and mean |diff|, cosine similarity,
// and the number of values whose difference exceeds one 8-bit step (1/255/std).
type imgTestStats struct {
	maxDiff, meanDiff, cosine float64
	overStep                  int
}

func (s imgTestStats) String() string {
	return fmt.Sprintf("max|diff| %.3g mean|diff| %.3g cosine %.7f values>1/255/std %d",
		s.maxDiff, s.meanDiff, s.cosine, s.overStep)
}

func imgTestCompare(got, want []float32) imgTestStats {
	var s imgTestStats
	var dot, ng, nw float64
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		s.maxDiff = max(s.maxDiff, d)
		s.meanDiff += d
		if d > 1.0/255/StdG+1e-6 {
			s.overStep++
		}
		dot += float64(got[i]) * float64(want[i])
		ng += float64(got[i]) * float64(got[i])
		nw += float64(want[i]) * float64(want[i])
	}
	s.meanDiff /= float64(len(want))
	s.cosine = dot / math.Sqrt(ng*nw)
	return s
}

// TestPreprocessOpenCLIPFixture checks Preprocess against open_clip's eval
// transform of four photos from scikit-image's sample data
// (testdata/preprocess224.safetensors: one [3,224,224] float32 tensor per file,
// written by open_clip's image_transform(224, is_train=False) with Pillow and
// PyTorch 1.13; copied with the photos from the project's golden fixtures).
func TestPreprocessOpenCLIPFixture(t *testing.T) {
	ref := readImgTestSafetensors(t, filepath.Join("testdata", "preprocess224.safetensors"))
	names := make([]string, 0, len(ref))
	for n := range ref {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) != 4 {
		t.Fatalf("fixture holds %d tensors, want 4", len(names))
	}
	for _, name := range names {
		want := ref[name]
		if fmt.Sprint(want.shape) != "[3 224 224]" {
			t.Fatalf("%s: shape %v", name, want.shape)
		}
		got, err := PreprocessFile(filepath.Join("testdata", name), 224)
		if err != nil {
			t.Fatal(err)
		}
		s := imgTestCompare(got, want.data)
		t.Logf("%-14s %v", name, s)
		if s.meanDiff > 0.01 || s.cosine < 0.999 {
			t.Errorf("%s: %v; want mean|diff| <= 0.01 and cosine >= 0.999", name, s)
		}
		// The pipeline reproduces Pillow's integer arithmetic: PNG input must match exactly.
		if s.maxDiff != 0 {
			t.Errorf("%s: max|diff| %g, want exact agreement with Pillow for a PNG", name, s.maxDiff)
		}
	}
}

// imgTestLossy lists the variants whose decoder differs from Pillow's (Go's
// JPEG IDCT is not libjpeg's): they are held to the README tolerances only.
// Lossy WebP is not among them: VP8 reconstruction is exact, and the colour
// conversion reproduces libwebp's.
var imgTestLossy = map[string]bool{
	".jpg": true,
}

// TestPreprocessPillowVariants checks Preprocess on grey, RGBA, palette, 16-bit
// grey and colour, bilevel, grey+alpha, tRNS colour keys, small, tall, BMP,
// TIFF, GIF (with transparency), JPEG and WebP files against Pillow
// (testdata/refs64.safetensors, written by testdata/make_refs.py). Lossless
// formats must match Pillow's 8-bit pixels exactly (the float16 reference then
// differs by its own rounding only); lossy ones must meet mean |diff| <= 0.01 and
// cosine >= 0.999.
func TestPreprocessPillowVariants(t *testing.T) {
	ref := readImgTestSafetensors(t, filepath.Join("testdata", "refs64.safetensors"))
	var names []string
	for n := range ref {
		if filepath.Dir(n) == "." {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) < 20 {
		t.Fatalf("refs64.safetensors holds %d references, want >= 20", len(names))
	}
	for _, name := range names {
		want := ref[name]
		size := want.shape[len(want.shape)-1] // 64, or 32 for the small modes_* files
		got, err := PreprocessFile(filepath.Join("testdata", "variants", name), size)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		s := imgTestCompare(got, want.data)
		// Values that differ by more than the float16 rounding of the reference:
		// those are different 8-bit pixels.
		off := 0
		for i, w := range want.data {
			if math.Abs(float64(got[i]-w)) > math.Abs(float64(w))/2048+1e-7 {
				off++
			}
		}
		t.Logf("%-28s %v pixels-off %d/%d", name, s, off, len(got))
		if s.meanDiff > 0.01 || s.cosine < 0.999 {
			t.Errorf("%s: %v; want mean|diff| <= 0.01 and cosine >= 0.999", name, s)
		}
		if !imgTestLossy[filepath.Ext(name)] && off != 0 {
			t.Errorf("%s: %d values differ from Pillow's by more than float16 rounding", name, off)
		}
	}
}
