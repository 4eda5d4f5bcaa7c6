package data

import (
	"bytes"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// imgFuzzSeeds returns small valid images in every supported format, plus
// truncated and bit-flipped copies.
func imgFuzzSeeds(t testing.TB) [][]byte {
	src := image.NewNRGBA(image.Rect(0, 0, 13, 9))
	for y := 0; y < 9; y++ {
		for x := 0; x < 13; x++ {
			src.SetNRGBA(x, y, color.NRGBA{uint8(20 * x), uint8(28 * y), uint8(x * y), uint8(255 - 9*x)})
		}
	}
	opaque := image.NewRGBA(src.Rect)
	draw.Draw(opaque, opaque.Rect, src, image.Point{}, draw.Src)
	grey := image.NewGray(src.Rect)
	draw.Draw(grey, grey.Rect, src, image.Point{}, draw.Src)
	pal := image.NewPaletted(src.Rect, palette.Plan9)
	draw.Draw(pal, pal.Rect, src, image.Point{}, draw.Src)
	g16 := image.NewGray16(src.Rect)
	draw.Draw(g16, g16.Rect, src, image.Point{}, draw.Src)

	var seeds [][]byte
	add := func(enc func(*bytes.Buffer) error) {
		var b bytes.Buffer
		if err := enc(&b); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b.Bytes())
	}
	add(func(b *bytes.Buffer) error { return png.Encode(b, src) })
	add(func(b *bytes.Buffer) error { return png.Encode(b, grey) })
	add(func(b *bytes.Buffer) error { return png.Encode(b, pal) })
	add(func(b *bytes.Buffer) error { return png.Encode(b, g16) })
	add(func(b *bytes.Buffer) error { return jpeg.Encode(b, opaque, &jpeg.Options{Quality: 80}) })
	add(func(b *bytes.Buffer) error { return jpeg.Encode(b, grey, nil) })
	add(func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) })
	add(func(b *bytes.Buffer) error { return bmp.Encode(b, opaque) })
	add(func(b *bytes.Buffer) error { return bmp.Encode(b, pal) })
	add(func(b *bytes.Buffer) error { return tiff.Encode(b, src, nil) })
	add(func(b *bytes.Buffer) error { return tiff.Encode(b, grey, &tiff.Options{Compression: tiff.Deflate}) })
	// WebP (Go has no encoder): the small files made by Pillow.
	for _, n := range []string{"pil_lossy.webp", "pil_lossless.webp", "pil_alpha_lossy.webp", "pil_cmyk.jpg", "pil_bilevel.png"} {
		b, err := os.ReadFile(filepath.Join("testdata", "variants", n))
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	n := len(seeds)
	for _, s := range seeds[:n] {
		seeds = append(seeds, s[:len(s)/2], s[:min(len(s), 40)])
		flipped := bytes.Clone(s)
		for i := len(flipped) / 3; i < len(flipped); i += 97 {
			flipped[i] ^= 0x21
		}
		seeds = append(seeds, flipped)
	}
	return append(seeds, nil, []byte("GIF89a"), []byte("\x89PNG\r\n\x1a\n"), []byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
}

// FuzzDecodeImage checks that decoding and preprocessing arbitrary bytes never
// panics: either an error, or an image Preprocess and RandomResizedCrop accept.
func FuzzDecodeImage(f *testing.F) {
	for _, s := range imgFuzzSeeds(f) {
		f.Add(s)
	}
	opts := ImageOptions{MaxPixels: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := opts.Decode(bytes.NewReader(data), "fuzz.bin")
		if err != nil {
			if img != nil {
				t.Fatalf("image and error %v", err)
			}
			return
		}
		if b := img.Bounds(); b.Empty() || int64(b.Dx())*int64(b.Dy()) > 1<<20 {
			t.Fatalf("decoded bounds %v", b)
		}
		x := Preprocess(img, 8)
		for i, v := range x {
			if v != v || v < -2 || v > 2.2 {
				t.Fatalf("value %d = %v out of the normalised range", i, v)
			}
		}
	})
}

// TestFuzzSeedsDecode checks that the fuzz seeds themselves (the valid ones)
// decode, so the corpus exercises every decoder.
func TestFuzzSeedsDecode(t *testing.T) {
	seeds := imgFuzzSeeds(t)
	formats := map[string]bool{}
	for _, s := range seeds[:16] {
		img, err := DecodeImage(bytes.NewReader(s), "seed")
		if err != nil {
			t.Errorf("seed does not decode: %v", err)
			continue
		}
		_, format, _ := image.DecodeConfig(bytes.NewReader(s))
		formats[format] = true
		_ = Preprocess(img, 8)
	}
	for _, f := range []string{"png", "jpeg", "gif", "bmp", "tiff", "webp"} {
		if !formats[f] {
			t.Errorf("no valid %s seed", f)
		}
	}
}
