package data

import (
	"path/filepath"
	"strings"
	"testing"
)

// A value of the wrong type in a COCO file is reported with its item and
// field ("annotations[0]: "caption" is a number, want a string"), and with
// SkipBad the item is skipped like any other bad entry.
func TestCOCOTypeErrors(t *testing.T) {
	dir := t.TempDir()
	root := writeCOCOFixture(t, dir)
	const img = `{"id": 42, "file_name": "val2017/00000.png"}`
	const ann = `{"image_id": 42, "caption": "picture number 0"}`
	for _, c := range []struct {
		name, body, want string
		skippable        bool
	}{
		{"file_name.json", `{"images": [{"id": 7, "file_name": 5}, ` + img + `], "annotations": [` + ann + `]}`,
			`file_name.json: images[0] (id 7): "file_name" is a number, want a string`, true},
		{"caption.json", `{"images": [` + img + `], "annotations": [{"image_id": 42, "caption": ["a"]}, ` + ann + `]}`,
			`caption.json: annotations[0]: "caption" is a list, want a string`, true},
		{"image_id.json", `{"images": [` + img + `], "annotations": [` + ann + `, {"image_id": "42", "caption": "x"}]}`,
			`image_id.json: annotations[1]: "image_id" is a string, want an integer`, true},
		{"fraction.json", `{"images": [` + img + `], "annotations": [` + ann + `, {"image_id": 4.5, "caption": "x"}]}`,
			`fraction.json: annotations[1]: "image_id" is a number 4.5, want an integer`, true},
		{"item.json", `{"images": ["val2017/00000.png"], "annotations": []}`,
			`item.json: images[0]: is a string, want an object`, false},
		{"id.json", `{"images": [{"id": "x", "file_name": "a.png"}], "annotations": []}`,
			`id.json: images[0]: "id" is a string, want an integer`, false},
		{"images.json", `{"images": {"id": 1}, "annotations": []}`,
			`images.json: not a COCO captions file: "images" is an object, want a list`, false},
		{"top.json", `[1, 2]`, `top.json: not a COCO captions file: the top level is a list, want an object`, false},
	} {
		path := filepath.Join(dir, c.name)
		writeFile(t, path, []byte(c.body))
		_, err := OpenCOCO(path, root, COCOOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), "data: "+dir) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant %q", c.name, err, c.want)
		}
		d, err := OpenCOCO(path, root, COCOOptions{SkipBad: true})
		if c.skippable && (err != nil || d.Len() != 1 || d.Skipped().Count() != 1) {
			t.Errorf("%s with SkipBad: %v", c.name, err)
		}
		if !c.skippable && err == nil {
			t.Errorf("%s with SkipBad: no error", c.name)
		}
	}
}

// A UTF-8 byte-order mark before a headerless TSV (as Windows editors
// write) is not part of the first image path.
func TestTSVByteOrderMark(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.png"), encodePNG(t, fixtureImage(0, 12, 10)))
	for name, body := range map[string]string{
		"pairs.tsv": "\ufeffa.png\tpicture number 0\n",
		"pairs.csv": "\ufeff\"a.png\",picture number 0\n",
		"head.tsv":  "\ufefffilepath\ttitle\na.png\tpicture number 0\n",
	} {
		path := filepath.Join(dir, name)
		writeFile(t, path, []byte(body))
		d, err := OpenTSV(path, TSVOptions{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d.Len() != 1 || d.Path(0) != filepath.Join(dir, "a.png") || d.Caption(0) != "picture number 0" {
			t.Errorf("%s: %d items, %q %q", name, d.Len(), d.Path(0), d.Caption(0))
		}
	}
}
