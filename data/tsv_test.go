package data

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeTSVFixture writes n PNGs under dir/img (sizes vary) and returns their
// paths relative to dir.
func writeTSVFixture(t testing.TB, dir string, n int) []string {
	t.Helper()
	var rel []string
	for k := 0; k < n; k++ {
		r := filepath.Join("img", "p"+strings.Repeat("x", k%3)+"_"+strconv.Itoa(k)+".png")
		writeFile(t, filepath.Join(dir, r), encodePNG(t, fixtureImage(k, 20+k%5, 17+k%7)))
		rel = append(rel, filepath.ToSlash(r))
	}
	return rel
}

func TestTSVNoHeader(t *testing.T) {
	dir := t.TempDir()
	rel := writeTSVFixture(t, dir, 4)
	var b strings.Builder
	for k, r := range rel {
		b.WriteString(r + "\t" + fixtureCaption(k) + "\r\n")
		if k == 1 {
			b.WriteString("\n") // blank lines are ignored
		}
	}
	path := filepath.Join(dir, "train.tsv")
	writeFile(t, path, []byte(b.String()))
	d, err := OpenTSV(path, TSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 4 {
		t.Fatalf("Len = %d, want 4", d.Len())
	}
	for k := 0; k < 4; k++ {
		img, c, err := d.Item(k)
		if err != nil {
			t.Fatal(err)
		}
		if c != fixtureCaption(k) {
			t.Fatalf("caption %d = %q", k, c)
		}
		if img.Bounds().Dx() != 20+k%5 {
			t.Fatalf("image %d width %d, want %d", k, img.Bounds().Dx(), 20+k%5)
		}
		checkSolid(t, Preprocess(img, 8), k, 0, "tsv item")
		if want := filepath.Join(dir, filepath.FromSlash(rel[k])); d.Path(k) != want {
			t.Fatalf("Path(%d) = %s, want %s", k, d.Path(k), want)
		}
	}
}

func TestTSVHeaderAndCSV(t *testing.T) {
	dir := t.TempDir()
	rel := writeTSVFixture(t, dir, 3)
	abs := filepath.Join(dir, filepath.FromSlash(rel[2]))
	// Header in another column order with an extra column; an absolute path.
	tsv := "id\ttitle\tfilepath\n" +
		"a\t" + fixtureCaption(0) + "\t" + rel[0] + "\n" +
		"b\t  " + fixtureCaption(1) + " \t" + rel[1] + "\n" +
		"c\t" + fixtureCaption(2) + "\t" + abs + "\n"
	writeFile(t, filepath.Join(dir, "h.tsv"), []byte(tsv))
	d, err := OpenTSV(filepath.Join(dir, "h.tsv"), TSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || d.Caption(1) != fixtureCaption(1) || d.Path(2) != abs {
		t.Fatalf("Len %d, caption 1 %q, path 2 %s", d.Len(), d.Caption(1), d.Path(2))
	}
	// CSV with quotes and custom keys (open_clip's --csv-img-key/--csv-caption-key).
	csv := "image,text\n" +
		rel[0] + ",\"a caption, with a comma\"\n" +
		rel[1] + ",\"say \"\"cheese\"\"\"\n"
	writeFile(t, filepath.Join(dir, "c.csv"), []byte(csv))
	d, err = OpenTSV(filepath.Join(dir, "c.csv"), TSVOptions{ImageKey: "image", CaptionKey: "text"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 2 || d.Caption(0) != "a caption, with a comma" || d.Caption(1) != `say "cheese"` {
		t.Fatalf("csv: Len %d, captions %q %q", d.Len(), d.Caption(0), d.Caption(1))
	}
	// A semicolon-separated file with the default keys.
	semi := "filepath;title\n" + rel[2] + ";" + fixtureCaption(2) + "\n"
	writeFile(t, filepath.Join(dir, "s.txt"), []byte(semi))
	d, err = OpenTSV(filepath.Join(dir, "s.txt"), TSVOptions{Sep: ';'})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 1 || d.Caption(0) != fixtureCaption(2) {
		t.Fatalf("semicolon: Len %d", d.Len())
	}
}

func TestTSVErrors(t *testing.T) {
	dir := t.TempDir()
	rel := writeTSVFixture(t, dir, 3)
	cases := []struct {
		name, body string
		want       []string // substrings of the error
	}{
		{"missing.tsv", rel[0] + "\tok\n" + rel[1] + "\tok\nimg/nothere.png\tgone\n" + rel[2] + "\tok\n",
			[]string{"missing.tsv:3", "img/nothere.png", "no such file"}},
		{"empty.tsv", rel[0] + "\tok\n" + rel[1] + "\t   \n" + rel[2] + "\tok\n" + rel[1] + "\tok\n",
			[]string{"empty.tsv:2", "empty caption"}},
		{"short.tsv", rel[0] + "\tok\n" + rel[1] + "\n" + rel[2] + "\tok\n" + rel[1] + "\tok\n",
			[]string{"short.tsv:2", "1 field"}},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		writeFile(t, path, []byte(c.body))
		_, err := OpenTSV(path, TSVOptions{})
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		t.Logf("%s: %v", c.name, err)
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
		d, err := OpenTSV(path, TSVOptions{SkipBad: true})
		if err != nil {
			t.Fatalf("%s with SkipBad: %v", c.name, err)
		}
		if d.Len() != 3 || d.Skipped().Count() != 1 {
			t.Fatalf("%s with SkipBad: Len %d skipped %d, want 3 and 1", c.name, d.Len(), d.Skipped().Count())
		}
		if !strings.Contains(d.Skipped().Errors()[0].Error(), c.want[0]) {
			t.Errorf("%s: skip reason %q lacks %q", c.name, d.Skipped().Errors()[0], c.want[0])
		}
	}
	// With NoStat, a missing image fails when loaded, naming the line.
	d, err := OpenTSV(filepath.Join(dir, "missing.tsv"), TSVOptions{NoStat: true})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = d.Item(2)
	if err == nil || !strings.Contains(err.Error(), "missing.tsv:3") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Item(2) error %v, want one naming missing.tsv:3 wrapping ErrNotExist", err)
	}
	// A corrupt image names the line and the image.
	writeFile(t, filepath.Join(dir, "img", "bad.png"), []byte("\x89PNG\r\n\x1a\nnot really"))
	writeFile(t, filepath.Join(dir, "corrupt.tsv"), []byte(rel[0]+"\tok\nimg/bad.png\tbad\n"))
	d, err = OpenTSV(filepath.Join(dir, "corrupt.tsv"), TSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err = d.Item(1); err == nil || !strings.Contains(err.Error(), "corrupt.tsv:2") || !strings.Contains(err.Error(), "bad.png") {
		t.Fatalf("corrupt image error %v", err)
	}
	if _, err := OpenTSV(filepath.Join(dir, "nope.tsv"), TSVOptions{}); err == nil || !strings.Contains(err.Error(), "nope.tsv") {
		t.Fatalf("missing captions file: %v", err)
	}
	// An empty captions file, or one whose every line is bad, names the file.
	writeFile(t, filepath.Join(dir, "void.tsv"), nil)
	writeFile(t, filepath.Join(dir, "allbad.tsv"), []byte("img/none.png\tx\n"))
	for _, name := range []string{"void.tsv", "allbad.tsv"} {
		if _, err := OpenTSV(filepath.Join(dir, name), TSVOptions{SkipBad: true}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
