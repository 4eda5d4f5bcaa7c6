package data

import (
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color/palette"
	"image/draw"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// readImgTestMetadata returns the __metadata__ of a safetensors file.
func readImgTestMetadata(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var hdr struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.Meta
}

// TestResizedCropVsPillow checks the crop-then-resize of RandomResizedCrop
// against Pillow's img.crop(box).resize((64, 64), BICUBIC) for fixed boxes
// (RGBA premultiplied, palette nearest-neighbour with offsets, WebP).
func TestResizedCropVsPillow(t *testing.T) {
	path := filepath.Join("testdata", "refs64.safetensors")
	ref := readImgTestSafetensors(t, path)
	var boxes map[string][4]int
	if err := json.Unmarshal([]byte(readImgTestMetadata(t, path)["crop_boxes"]), &boxes); err != nil {
		t.Fatal(err)
	}
	if len(boxes) == 0 {
		t.Fatal("no crop boxes in the reference metadata")
	}
	for name, box := range boxes {
		want := ref["crop/"+name]
		img, err := LoadImage(filepath.Join("testdata", "variants", name))
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, 3*64*64)
		newPilImage(img).resizedCropInto(got, box[0], box[1], box[2], box[3], 64)
		s := imgTestCompare(got, want.data)
		off := 0
		for i, w := range want.data {
			if math.Abs(float64(got[i]-w)) > math.Abs(float64(w))/2048+1e-7 {
				off++
			}
		}
		t.Logf("%-16s box %v: %v pixels-off %d", name, box, s, off)
		if off != 0 {
			t.Errorf("%s: %d values differ from Pillow's beyond float16 rounding", name, off)
		}
	}
}

// TestRandomCropBox checks torchvision's sampling rules: the box lies inside the
// image and either covers 90-100% of it (up to rounding of the sides) with an
// aspect ratio within 3/4..4/3, or is the center-crop fallback torchvision takes
// after 10 failed draws (always, for an image whose own ratio is outside the
// range, since the area is at least 90%).
func TestRandomCropBox(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][2]int{{451, 300}, {300, 451}, {224, 224}, {1800, 1350}, {64, 48}, {40, 512}, {512, 40}} {
		W, H := sz[0], sz[1]
		fallback := [4]int{0, 0, W, H}
		switch r := float64(W) / float64(H); {
		case r < 0.75:
			h := int(math.RoundToEven(float64(W) / 0.75))
			fallback = [4]int{0, (H - h) / 2, W, h}
		case r > 4.0/3:
			w := int(math.RoundToEven(float64(H) * 4 / 3))
			fallback = [4]int{(W - w) / 2, 0, w, H}
		}
		inRange := float64(W)/float64(H) >= 0.75 && float64(W)/float64(H) <= 4.0/3
		nFallback := 0
		for range 2000 {
			x, y, w, h := randomCropBox(W, H, rng)
			if x < 0 || y < 0 || w < 1 || h < 1 || x+w > W || y+h > H {
				t.Fatalf("%dx%d: box (%d,%d,%d,%d) outside the image", W, H, x, y, w, h)
			}
			if [4]int{x, y, w, h} == fallback {
				nFallback++
			}
			if !inRange {
				continue
			}
			frac := float64(w*h) / float64(W*H)
			ratio := float64(w) / float64(h)
			// Rounding each side to an integer moves area and ratio a little.
			slack := 1/float64(w) + 1/float64(h)
			if frac < 0.9-2*slack || frac > 1+2*slack || ratio < 0.75*(1-slack) || ratio > 4.0/3*(1+slack) {
				t.Fatalf("%dx%d: box %dx%d: area %.3f ratio %.3f", W, H, w, h, frac, ratio)
			}
		}
		t.Logf("%dx%d: %d/2000 boxes equal the fallback %v", W, H, nFallback, fallback)
		if !inRange && nFallback != 2000 {
			t.Errorf("%dx%d: ratio outside 3/4..4/3 but %d/2000 boxes are not the fallback", W, H, 2000-nFallback)
		}
	}
}

func TestRandomResizedCropDeterministic(t *testing.T) {
	img, err := LoadImage(filepath.Join("testdata", "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	a := RandomResizedCrop(img, 64, rand.New(rand.NewPCG(7, 7)))
	b := RandomResizedCrop(img, 64, rand.New(rand.NewPCG(7, 7)))
	c := RandomResizedCrop(img, 64, rand.New(rand.NewPCG(8, 8)))
	if !slices.Equal(a, b) {
		t.Error("same seed, different crops")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds, identical crops")
	}
	// The output is the resized crop of the box the same draws give.
	x, y, w, h := randomCropBox(512, 512, rand.New(rand.NewPCG(7, 7)))
	want := make([]float32, 3*64*64)
	newPilImage(img).resizedCropInto(want, x, y, w, h, 64)
	if !slices.Equal(a, want) {
		t.Errorf("RandomResizedCrop differs from the resized crop of its box (%d,%d,%d,%d)", x, y, w, h)
	}
}

// TestPreprocessSubImages checks that images with a non-zero origin and a
// larger stride (SubImage) preprocess like a compact copy of the same pixels,
// for every concrete type Preprocess handles directly.
func TestPreprocessSubImages(t *testing.T) {
	src, err := LoadImage(filepath.Join("testdata", "variants", "rgba.png"))
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	r := image.Rect(13, 7, 13+91, 7+67) // odd origin, odd size
	pal := image.NewPaletted(b, palette.Plan9)
	draw.Draw(pal, b, src, b.Min, draw.Src)
	makers := map[string]func(image.Rectangle) draw.Image{
		"Gray":    func(r image.Rectangle) draw.Image { return image.NewGray(r) },
		"Gray16":  func(r image.Rectangle) draw.Image { return image.NewGray16(r) },
		"NRGBA":   func(r image.Rectangle) draw.Image { return image.NewNRGBA(r) },
		"RGBA":    func(r image.Rectangle) draw.Image { return image.NewRGBA(r) },
		"NRGBA64": func(r image.Rectangle) draw.Image { return image.NewNRGBA64(r) },
		"RGBA64":  func(r image.Rectangle) draw.Image { return image.NewRGBA64(r) },
		"CMYK":    func(r image.Rectangle) draw.Image { return image.NewCMYK(r) },
		"Paletted": func(r image.Rectangle) draw.Image {
			return image.NewPaletted(r, palette.Plan9)
		},
	}
	for name, mk := range makers {
		full := mk(b)
		if name == "Paletted" {
			full = pal
		} else {
			draw.Draw(full, b, src, b.Min, draw.Src)
		}
		sub := full.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(r)
		compact := mk(image.Rect(0, 0, r.Dx(), r.Dy()))
		if p, ok := compact.(*image.Paletted); ok {
			for y := 0; y < r.Dy(); y++ {
				for x := 0; x < r.Dx(); x++ {
					p.SetColorIndex(x, y, pal.ColorIndexAt(r.Min.X+x, r.Min.Y+y))
				}
			}
		} else {
			draw.Draw(compact, compact.Bounds(), full, r.Min, draw.Src)
		}
		for _, size := range []int{24, 100} {
			a, c := Preprocess(sub, size), Preprocess(compact, size)
			if !slices.Equal(a, c) {
				t.Errorf("%s size %d: SubImage and compact copy preprocess differently (%v)", name, size, imgTestCompare(a, c))
			}
		}
		// The crop path with a box inside the sub-image.
		pa, pc := newPilImage(sub), newPilImage(compact)
		a, c := make([]float32, 3*32*32), make([]float32, 3*32*32)
		pa.resizedCropInto(a, 5, 3, 70, 60, 32)
		pc.resizedCropInto(c, 5, 3, 70, 60, 32)
		if !slices.Equal(a, c) {
			t.Errorf("%s: resized crop of SubImage and compact copy differ", name)
		}
	}
}

func TestPreprocessMisusePanics(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	for name, f := range map[string]func(){
		"size 0":      func() { Preprocess(img, 0) },
		"short dst":   func() { PreprocessInto(make([]float32, 10), img, 4) },
		"empty image": func() { Preprocess(image.NewGray(image.Rectangle{}), 4) },
		"nil rng":     func() { RandomResizedCrop(img, 4, nil) },
		"nil image":   func() { Preprocess(nil, 4) },
	} {
		func() {
			defer func() {
				p := recover()
				if p == nil {
					t.Errorf("%s: no panic", name)
					return
				}
				if s, _ := p.(string); len(s) < 6 || s[:6] != "data: " {
					t.Errorf("%s: panic %v does not start with the package name", name, p)
				}
			}()
			f()
		}()
	}
}
