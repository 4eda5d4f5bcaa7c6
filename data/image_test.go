package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image/color"
	"io"
	"math"
	"os"
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

// imgTestPNGHeader returns a PNG signature and IHDR chunk claiming a w×h 8-bit
// RGB image, with a valid CRC, and no image data.
func imgTestPNGHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := make([]byte, 0, 17)
	chunk = append(chunk, "IHDR"...)
	chunk = binary.BigEndian.AppendUint32(chunk, w)
	chunk = binary.BigEndian.AppendUint32(chunk, h)
	chunk = append(chunk, 8, 2, 0, 0, 0) // depth 8, RGB, deflate, no filter, no interlace
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// failAfter serves data, then fails the test if anything reads further.
type failAfter struct {
	t    *testing.T
	data []byte
}

func (r *failAfter) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		r.t.Errorf("read past the header")
		return 0, errors.New("read past the header")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestDecodeRefusesTooManyPixels(t *testing.T) {
	// 100000×100000 RGB would need 40 GB once decoded: refused from the header,
	// without reading beyond it.
	hdr := imgTestPNGHeader(100000, 100000)
	_, err := DecodeImage(&failAfter{t: t, data: hdr}, "bomb.png")
	if !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("err = %v, want ErrTooManyPixels", err)
	}
	if !strings.Contains(err.Error(), "bomb.png") || !strings.Contains(err.Error(), "100000x100000") {
		t.Errorf("error %q does not name the file and its size", err)
	}
	t.Log(err)

	// The limit is configurable, and a negative limit disables it.
	path := filepath.Join("testdata", "variants", "small.png") // 60×45
	if _, err := (ImageOptions{MaxPixels: 60*45 - 1}).Load(path); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("MaxPixels 2699: err = %v, want ErrTooManyPixels", err)
	}
	for _, lim := range []int{60 * 45, -1} {
		if _, err := (ImageOptions{MaxPixels: lim}).Load(path); err != nil {
			t.Errorf("MaxPixels %d: %v", lim, err)
		}
	}
	// Just over Pillow's limit is refused by default.
	if _, err := DecodeImage(bytes.NewReader(imgTestPNGHeader(DefaultMaxPixels+1, 1)), "wide.png"); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("%d×1: err = %v, want ErrTooManyPixels", DefaultMaxPixels+1, err)
	}
}

func TestDecodeBadFiles(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "variants", "chelsea_q90.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	goodPNG, err := os.ReadFile(filepath.Join("testdata", "variants", "small.png"))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(goodPNG)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] ^= 0x5a
	}
	corruptJPEG := bytes.Clone(good)
	for i := 200; i < 260; i++ { // inside the quantisation/Huffman tables
		corruptJPEG[i] = 0xff
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"photo.jpg", good[:len(good)/2], "unexpected EOF"},
		{"header-only.jpg", good[:300], ""},
		{"cut.png", goodPNG[:len(goodPNG)/3], "unexpected EOF"},
		{"corrupt.png", corrupt, ""},
		{"corrupt.jpg", corruptJPEG, ""},
		{"empty.jpg", nil, "empty file"},
		{"notes.jpg", []byte("these are notes, not a JPEG\n"), "unknown format"},
		{"zero.png", imgTestPNGHeader(0, 10), ""},
	}
	dir := t.TempDir()
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, via := range []string{"LoadImage", "PreprocessFile"} {
			var err error
			if via == "LoadImage" {
				_, err = LoadImage(path)
			} else {
				_, err = PreprocessFile(path, 32)
			}
			if err == nil {
				t.Errorf("%s(%s): no error", via, c.name)
				continue
			}
			if !strings.HasPrefix(err.Error(), "data: decode ") || !strings.Contains(err.Error(), c.name) {
				t.Errorf("%s(%s): error %q does not name the file", via, c.name, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s(%s): error %q, want it to contain %q", via, c.name, err, c.want)
			}
			if c.want == "unexpected EOF" && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s(%s): error %q does not wrap io.ErrUnexpectedEOF", via, c.name, err)
			}
			if via == "LoadImage" {
				t.Logf("%v", err)
			}
		}
	}
	if _, err := LoadImage(filepath.Join(dir, "missing.jpg")); err == nil || !strings.Contains(err.Error(), "missing.jpg") {
		t.Errorf("missing file: err = %v", err)
	}
}
