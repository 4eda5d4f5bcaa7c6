package data

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCSVWithTabs: open_clip writes and reads tab-separated .csv files
// (csv_separator defaults to a tab); such a file opens with no options,
// with or without a header, while a comma-separated .csv still does.
func TestCSVWithTabs(t *testing.T) {
	dir := t.TempDir()
	rel := writeTSVFixture(t, dir, 3)
	cases := map[string]string{
		"header.csv":   "filepath\ttitle\n" + rel[0] + "\ta caption, with a comma\n" + rel[1] + "\t" + fixtureCaption(1) + "\n",
		"headless.csv": "\n" + rel[0] + "\ta caption, with a comma\n" + rel[1] + "\t" + fixtureCaption(1) + "\n",
		"comma.csv":    "filepath,title\n" + rel[0] + ",\"a caption, with a comma\"\n" + rel[1] + "," + fixtureCaption(1) + "\n",
	}
	for name, body := range cases {
		path := filepath.Join(dir, name)
		writeFile(t, path, []byte(body))
		d, err := OpenTSV(path, TSVOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.Len() != 2 || d.Caption(0) != "a caption, with a comma" || d.Caption(1) != fixtureCaption(1) {
			t.Fatalf("%s: Len %d, captions %q %q", name, d.Len(), d.Caption(0), d.Caption(1))
		}
	}
	// An explicit separator wins over the sniffing: a tab file read as
	// comma-separated has one field per line.
	_, err := OpenTSV(filepath.Join(dir, "header.csv"), TSVOptions{Sep: ','})
	if err == nil || !strings.Contains(err.Error(), "1 field(s)") {
		t.Fatalf("tab file with Sep ',': error %v, want a field count", err)
	}
}

// TestCSVKeysMustMatchHeader: column keys given for a file whose header
// lacks them fail naming the missing key and the header's columns, instead
// of reading the header as a data line.
func TestCSVKeysMustMatchHeader(t *testing.T) {
	dir := t.TempDir()
	rel := writeTSVFixture(t, dir, 1)
	path := filepath.Join(dir, "k.csv")
	writeFile(t, path, []byte("image\tcaption\n"+rel[0]+"\tok\n"))
	_, err := OpenTSV(path, TSVOptions{ImageKey: "image", CaptionKey: "title"})
	if err == nil {
		t.Fatal("no error for a missing caption column")
	}
	for _, want := range []string{"k.csv:1", `caption column "title"`, `"image", "caption"`, "tabs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	d, err := OpenTSV(path, TSVOptions{ImageKey: "image", CaptionKey: "caption"})
	if err != nil || d.Len() != 1 || d.Caption(0) != "ok" {
		t.Fatalf("matching keys: %v", err)
	}
	// Through OpenDataset, as coca train passes them.
	d2, err := OpenDataset(path, OpenOptions{Sep: '\t', ImageKey: "image", CaptionKey: "caption"})
	if err != nil || d2.Len() != 1 {
		t.Fatalf("OpenDataset: %v", err)
	}
}

func TestParseSeparator(t *testing.T) {
	for in, want := range map[string]rune{"\t": '\t', `\t`: '\t', "tab": '\t', "TAB": '\t', ",": ',', "comma": ',', ";": ';', "|": '|', "space": ' '} {
		got, err := ParseSeparator(in)
		if err != nil || got != want {
			t.Errorf("ParseSeparator(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", ",,", `"`, "\n", "tabs"} {
		if _, err := ParseSeparator(in); err == nil {
			t.Errorf("ParseSeparator(%q): no error", in)
		}
	}
}
