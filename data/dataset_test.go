package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fixtureColour is the colour of fixture image k: every image of a fixture
// has its own colour, so a loaded batch shows which file each slot holds.
func fixtureColour(k int) color.NRGBA {
	return color.NRGBA{uint8(20 + 9*k), uint8(240 - 7*k), uint8(60 + 5*(k%20)), 255}
}

// fixtureImage is a w×h image of solid fixture colour k.
func fixtureImage(k, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	c := fixtureColour(k)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixtureCaption is the caption of fixture image k.
func fixtureCaption(k int) string { return "picture number " + strconv.Itoa(k) }

// captionNumber inverts fixtureCaption.
func captionNumber(t testing.TB, c string) int {
	t.Helper()
	s, ok := strings.CutPrefix(c, "picture number ")
	if !ok {
		t.Fatalf("caption %q is not a fixture caption", c)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("caption %q: %v", c, err)
	}
	return n
}

// checkSolid checks that a preprocessed (3, S, S) image is fixture colour k:
// every value is the normalised colour within tol (JPEG needs a few levels).
func checkSolid(t testing.TB, chw []float32, k int, tol float32, what string) {
	t.Helper()
	c := fixtureColour(k)
	want := [3]float32{chwLUT[0][c.R], chwLUT[1][c.G], chwLUT[2][c.B]}
	n := len(chw) / 3
	for ch := 0; ch < 3; ch++ {
		for i := 0; i < n; i += 7 {
			if d := chw[ch*n+i] - want[ch]; d > tol || d < -tol {
				t.Fatalf("%s: channel %d value %d = %v, want %v (colour of image %d)", what, ch, i, chw[ch*n+i], want[ch], k)
			}
		}
	}
}

func TestSkipLog(t *testing.T) {
	var s SkipLog
	if s.Count() != 0 || s.String() != "0 skipped" {
		t.Fatalf("empty log: %d %q", s.Count(), s.String())
	}
	for i := 0; i < MaxSkipErrors+5; i++ {
		s.add(os.ErrNotExist)
	}
	if s.Count() != MaxSkipErrors+5 || len(s.Errors()) != MaxSkipErrors {
		t.Fatalf("count %d, %d errors kept", s.Count(), len(s.Errors()))
	}
	if !strings.HasPrefix(s.String(), fmt.Sprintf("%d skipped; first: ", MaxSkipErrors+5)) {
		t.Fatalf("String() = %q", s.String())
	}
}

func TestOpenDataset(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.png"), encodePNG(t, fixtureImage(0, 8, 8)))
	writeFile(t, filepath.Join(dir, "list.tsv"), []byte("a.png\tone\n"))
	writeFile(t, filepath.Join(dir, "list.csv"), []byte("filepath,title\na.png,\"one, two\"\n"))
	writeFile(t, filepath.Join(dir, "caps.json"), []byte(`{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"image_id": 1, "caption": "coco"}]}`))
	writeTar(t, filepath.Join(dir, "s-0.tar"), []tarMember{{name: "k.png", body: encodePNG(t, fixtureImage(1, 8, 8))}, {name: "k.txt", body: []byte("tar")}})
	for _, c := range []struct {
		path, caption string
		kind          any
	}{
		{"list.tsv", "one", &TSVDataset{}},
		{"list.csv", "one, two", &TSVDataset{}},
		{"caps.json", "coco", &COCODataset{}},
		{"s-0.tar", "tar", &WebDataset{}},
		{"s-{0..0}.tar", "tar", &WebDataset{}},
	} {
		d, err := OpenDataset(filepath.Join(dir, c.path), OpenOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if fmt.Sprintf("%T", d) != fmt.Sprintf("%T", c.kind) || d.Len() != 1 {
			t.Fatalf("%s: opened as %T with %d items", c.path, d, d.Len())
		}
		if _, capt, err := d.Item(0); err != nil || capt != c.caption {
			t.Fatalf("%s: item 0: %q, %v", c.path, capt, err)
		}
	}
}
