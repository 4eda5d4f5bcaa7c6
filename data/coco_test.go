package data

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeCOCOFixture writes images 0..3 under root/val2017 and returns the root.
func writeCOCOFixture(t testing.TB, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "images")
	for k := 0; k < 4; k++ {
		writeFile(t, filepath.Join(root, "val2017", "0000"+strconv.Itoa(k)+".png"), encodePNG(t, fixtureImage(k, 12+k, 10)))
	}
	return root
}

const cocoFixtureJSON = `{
  "info": {"description": "test"},
  "images": [
    {"id": 42, "file_name": "val2017/00000.png", "width": 12, "height": 10},
    {"id": 7, "file_name": "val2017/00001.png"},
    {"id": 9, "file_name": "val2017/00002.png"},
    {"id": 11, "file_name": "val2017/00003.png"}
  ],
  "annotations": [
    {"id": 1, "image_id": 7, "caption": "picture number 1"},
    {"id": 2, "image_id": 42, "caption": " picture number 0\n"},
    {"id": 3, "image_id": 7, "caption": "picture number 1"},
    {"id": 4, "image_id": 9, "caption": "picture number 2"}
  ]
}`

func TestCOCO(t *testing.T) {
	dir := t.TempDir()
	root := writeCOCOFixture(t, dir)
	ann := filepath.Join(dir, "annotations", "captions_val2017.json")
	writeFile(t, ann, []byte(cocoFixtureJSON))
	d, err := OpenCOCO(ann, root, COCOOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 4 || d.NumImages() != 2+1 {
		t.Fatalf("Len %d NumImages %d, want 4 and 3", d.Len(), d.NumImages())
	}
	wantImg := []int{0, 1, 0, 2}
	wantID := []int64{7, 42, 7, 9}
	for i := 0; i < d.Len(); i++ {
		img, c, err := d.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		k := captionNumber(t, c)
		checkSolid(t, Preprocess(img, 6), k, 0, "coco item")
		if d.ImageIndex(i) != wantImg[i] || d.ImageID(d.ImageIndex(i)) != wantID[i] {
			t.Fatalf("pair %d: image index %d id %d, want %d and %d", i, d.ImageIndex(i), d.ImageID(d.ImageIndex(i)), wantImg[i], wantID[i])
		}
	}
	if d.Caption(1) != "picture number 0" {
		t.Fatalf("caption not trimmed: %q", d.Caption(1))
	}
}

func TestCOCOErrors(t *testing.T) {
	dir := t.TempDir()
	root := writeCOCOFixture(t, dir)
	cases := []struct {
		name       string
		edit       func(string) string
		want       []string
		len, skips int
	}{
		{"unknown_id.json", func(s string) string { return strings.Replace(s, `"image_id": 9,`, `"image_id": 99,`, 1) },
			[]string{"unknown_id.json: annotations[3]", "image_id 99"}, 3, 1},
		{"empty_caption.json", func(s string) string { return strings.Replace(s, `"picture number 2"`, `"  "`, 1) },
			[]string{"empty_caption.json: annotations[3]", "empty caption"}, 3, 1},
		{"missing_file.json", func(s string) string { return strings.Replace(s, "val2017/00001.png", "val2017/gone.png", 1) },
			[]string{"missing_file.json: images[1]", "gone.png", "id 7"}, 2, 1},
		{"empty_name.json", func(s string) string { return strings.Replace(s, `"val2017/00002.png"`, `""`, 1) },
			[]string{"empty_name.json: images[2]", "file_name"}, 3, 1},
	}
	for _, c := range cases {
		ann := filepath.Join(dir, c.name)
		writeFile(t, ann, []byte(c.edit(cocoFixtureJSON)))
		_, err := OpenCOCO(ann, root, COCOOptions{})
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		t.Logf("%s: %v", c.name, err)
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
		d, err := OpenCOCO(ann, root, COCOOptions{SkipBad: true})
		if err != nil {
			t.Fatalf("%s with SkipBad: %v", c.name, err)
		}
		if d.Len() != c.len || d.Skipped().Count() != c.skips {
			t.Errorf("%s with SkipBad: Len %d skipped %d, want %d and %d", c.name, d.Len(), d.Skipped().Count(), c.len, c.skips)
		}
	}
	for name, body := range map[string]string{
		"bad.json":     `{"images": [`,
		"noann.json":   `{"images": []}`,
		"zero.json":    `{"images": [], "annotations": []}`,
		"noid.json":    `{"images": [{"file_name": "a.png"}], "annotations": []}`,
		"dupid.json":   `{"images": [{"id": 1, "file_name": "val2017/00000.png"}, {"id": 1, "file_name": "val2017/00001.png"}], "annotations": []}`,
		"badtype.json": `{"images": [{"id": "x", "file_name": "a.png"}], "annotations": []}`,
	} {
		ann := filepath.Join(dir, name)
		writeFile(t, ann, []byte(body))
		if _, err := OpenCOCO(ann, root, COCOOptions{SkipBad: true}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
}
