package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzFile writes data to a new file named name in a directory of its own.
func fuzzFile(t *testing.T, name string, data []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The hostile inputs of issue 16 are in testdata/fuzz/Fuzz*/hostile-*
// (internal/hostile.Corpus), run by go test with the seeds below.

// FuzzTSV opens arbitrary captions files, tab- and comma-separated, with
// and without SkipBad: no input may panic, and a file that opens holds
// items with a trimmed, non-empty caption and a non-empty image path.
func FuzzTSV(f *testing.F) {
	for _, s := range []string{
		"a.png\ta red circle\nb.jpg\ttwo blue stars\n",
		"filepath\ttitle\na.png\tx\n",
		"title,filepath\n\"a cat, sitting\",a.png\n\"say \"\"hi\"\"\",b.png\n",
		"\ufeffa.png\tpicture number 0\r\n",
		"\ufefffilepath\ttitle\n",
		"a.png\n\tcaption\n\n  \n",
		"\"unterminated,a.png\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"f.tsv", "f.csv"} {
			path := fuzzFile(t, name, data)
			for _, skip := range []bool{false, true} {
				d, err := OpenTSV(path, TSVOptions{NoStat: true, SkipBad: skip})
				if err != nil {
					if !strings.HasPrefix(err.Error(), "data: ") {
						t.Fatalf("error without the package prefix: %v", err)
					}
					continue
				}
				if d.Len() == 0 {
					t.Fatal("opened with no items")
				}
				for i := range d.Len() {
					c := d.Caption(i)
					if c == "" || c != strings.TrimSpace(c) {
						t.Fatalf("item %d: caption %q", i, c)
					}
					// (The path may name anything, "." included, with
					// NoStat: loading the item then fails.)
					if d.Path(i) == "" {
						t.Fatalf("item %d: empty path", i)
					}
				}
			}
		}
	})
}

// FuzzCOCO opens arbitrary COCO captions files: no input may panic, and a
// file that opens has items whose image index is in range and whose
// caption is trimmed and non-empty.
func FuzzCOCO(f *testing.F) {
	f.Add([]byte(cocoFixtureJSON))
	for _, s := range []string{
		`{"images": {"id": 1}, "annotations": []}`,
		`[1, 2]`,
		`{"images": [null, "x", {"id": null}], "annotations": [null]}`,
		`{"images": [{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "b.png"}], "annotations": [{"image_id": 1, "caption": " "}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := fuzzFile(t, "captions.json", data)
		for _, skip := range []bool{false, true} {
			d, err := OpenCOCO(path, filepath.Dir(path), COCOOptions{NoStat: true, SkipBad: skip})
			if err != nil {
				if !strings.HasPrefix(err.Error(), "data: ") {
					t.Fatalf("error without the package prefix: %v", err)
				}
				continue
			}
			if d.Len() == 0 || d.NumImages() == 0 || d.NumImages() > d.Len() {
				t.Fatalf("%d items of %d images", d.Len(), d.NumImages())
			}
			for i := range d.Len() {
				if k := d.ImageIndex(i); k < 0 || k >= d.NumImages() {
					t.Fatalf("item %d: image index %d of %d", i, k, d.NumImages())
				}
				if c := d.Caption(i); c == "" || c != strings.TrimSpace(c) {
					t.Fatalf("item %d: caption %q", i, c)
				}
			}
		}
	})
}

// FuzzWebDataset indexes arbitrary tar shards and reads their first
// samples: no input may panic; a shard that opens has samples with a
// caption, and reading one gives an image or an error naming the shard.
func FuzzWebDataset(f *testing.F) {
	dir := f.TempDir()
	f.Add(writeTar(f, filepath.Join(dir, "a.tar"), wdsFixture(f, 0, 3)))
	ms := wdsFixture(f, 0, 2)
	full := writeTar(f, filepath.Join(dir, "c.tar"), ms)
	f.Add(full[:len(full)/2]) // truncated
	opts := ImageOptions{MaxPixels: 1 << 16, MaxBytes: 8 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		shard := fuzzFile(t, "shard.tar", data)
		for _, skip := range []bool{false, true} {
			d, err := OpenWebDataset([]string{shard}, WebDatasetOptions{SkipBad: skip, Image: opts})
			if err != nil {
				if !strings.HasPrefix(err.Error(), "data: ") {
					t.Fatalf("error without the package prefix: %v", err)
				}
				continue
			}
			for i := range min(d.Len(), 3) {
				if d.Caption(i) == "" {
					t.Fatalf("sample %d: empty caption", i)
				}
				img, c, err := d.Item(i)
				if err != nil {
					if img != nil || !strings.Contains(err.Error(), shard) {
						t.Fatalf("sample %d: %v", i, err)
					}
					continue
				}
				if c != d.Caption(i) || img.Bounds().Empty() {
					t.Fatalf("sample %d: caption %q, bounds %v", i, c, img.Bounds())
				}
			}
		}
	})
}
