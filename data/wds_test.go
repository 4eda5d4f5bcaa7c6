package data

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

type tarMember struct {
	name string
	body []byte
	dir  bool
}

func writeTar(t testing.TB, path string, members []tarMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg}
		if m.dir {
			h = &tar.Header{Name: m.name, Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
	return buf.Bytes()
}

// wdsFixture returns the members of a shard with samples first..first+n-1,
// alternating PNG/.txt and JPEG/.json, with a directory and unrelated members.
func wdsFixture(t testing.TB, first, n int) []tarMember {
	var ms []tarMember
	ms = append(ms, tarMember{name: "shard/", dir: true})
	for k := first; k < first+n; k++ {
		key := fmt.Sprintf("shard/%06d", k)
		if k%2 == 0 {
			ms = append(ms,
				tarMember{name: key + ".png", body: encodePNG(t, fixtureImage(k, 16, 12))},
				tarMember{name: key + ".txt", body: []byte(fixtureCaption(k) + "\n")},
				tarMember{name: key + ".cls", body: []byte("3")})
		} else {
			ms = append(ms,
				tarMember{name: key + ".json", body: []byte(`{"caption": "` + fixtureCaption(k) + `", "width": 16}`)},
				tarMember{name: key + ".jpg", body: encodeJPEG(t, fixtureImage(k, 16, 16))})
		}
	}
	return ms
}

func TestWebDataset(t *testing.T) {
	dir := t.TempDir()
	writeTar(t, filepath.Join(dir, "train-000.tar"), wdsFixture(t, 0, 3))
	writeTar(t, filepath.Join(dir, "train-001.tar"), wdsFixture(t, 3, 4))
	shards, err := ExpandShards(filepath.Join(dir, "train-{000..001}.tar"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenWebDataset(shards, WebDatasetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 7 {
		t.Fatalf("Len = %d, want 7", d.Len())
	}
	for i := 0; i < d.Len(); i++ {
		img, c, err := d.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		if c != fixtureCaption(i) {
			t.Fatalf("sample %d caption %q", i, c)
		}
		tol := float32(0)
		if i%2 == 1 {
			tol = 0.1 // JPEG
		}
		checkSolid(t, Preprocess(img, 8), i, tol, "webdataset sample")
		shard, key := d.Key(i)
		if wantShard := shards[min(i/3, 1)]; shard != wantShard || key != fmt.Sprintf("shard/%06d", i) {
			t.Fatalf("sample %d: shard %s key %s", i, shard, key)
		}
	}
}

func TestWebDatasetErrors(t *testing.T) {
	dir := t.TempDir()
	good := wdsFixture(t, 0, 4)
	type tc struct {
		name    string
		members []tarMember
		cut     int // truncate the file to this many bytes (0: keep)
		garble  int // overwrite 512 bytes at this offset with junk (0: none)
		want    []string
		len     int
	}
	cases := []tc{}
	// An empty caption file: sample 2's .txt.
	{
		ms := append([]tarMember(nil), good...)
		for i := range ms {
			if ms[i].name == "shard/000002.txt" {
				ms[i].body = []byte("  \n")
			}
		}
		cases = append(cases, tc{name: "empty.tar", members: ms, want: []string{"empty.tar", "000002.txt", "empty caption"}, len: 3})
	}
	// A JSON caption without "caption".
	{
		ms := append([]tarMember(nil), good...)
		for i := range ms {
			if ms[i].name == "shard/000001.json" {
				ms[i].body = []byte(`{"text": "x"}`)
			}
		}
		cases = append(cases, tc{name: "json.tar", members: ms, want: []string{"json.tar", "000001.json", "caption"}, len: 3})
	}
	// A sample without a caption.
	{
		var ms []tarMember
		for _, m := range good {
			if m.name != "shard/000003.json" {
				ms = append(ms, m)
			}
		}
		cases = append(cases, tc{name: "nocap.tar", members: ms, want: []string{"nocap.tar", "shard/000003", "no caption"}, len: 3})
	}
	// Truncated inside the image member of sample 2: samples 0 and 1 survive.
	{
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		cut := 0
		for _, m := range good {
			h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg}
			if m.dir {
				h = &tar.Header{Name: m.name, Mode: 0o755, Typeflag: tar.TypeDir}
			}
			tw.WriteHeader(h)
			tw.Flush()
			if m.name == "shard/000002.png" {
				cut = buf.Len() + len(m.body)/2
			}
			tw.Write(m.body)
		}
		tw.Close()
		cases = append(cases, tc{name: "truncated.tar", members: good, cut: cut, want: []string{"truncated.tar", "000002.png", "truncated"}, len: 2})
	}
	// A garbled header after the first sample's members.
	{
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		garble := 0
		for _, m := range good {
			h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg}
			if m.dir {
				h = &tar.Header{Name: m.name, Mode: 0o755, Typeflag: tar.TypeDir}
			}
			tw.Flush()
			if m.name == "shard/000001.json" {
				garble = buf.Len()
			}
			tw.WriteHeader(h)
			tw.Write(m.body)
		}
		tw.Close()
		cases = append(cases, tc{name: "garbled.tar", members: good, garble: garble, want: []string{"garbled.tar", "after shard/000000.cls", "malformed"}, len: 1})
		// Cut inside that header.
		cases = append(cases, tc{name: "cuthdr.tar", members: good, cut: garble + 100, want: []string{"cuthdr.tar", "after shard/000000.cls", "truncated"}, len: 1})
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		b := writeTar(t, path, c.members)
		if c.cut > 0 {
			writeFile(t, path, b[:c.cut])
		}
		if c.garble > 0 {
			copy(b[c.garble:c.garble+512], bytes.Repeat([]byte("junk"), 128))
			writeFile(t, path, b)
		}
		_, err := OpenWebDataset([]string{path}, WebDatasetOptions{})
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		t.Logf("%s: %v", c.name, err)
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
		d, err := OpenWebDataset([]string{path}, WebDatasetOptions{SkipBad: true})
		if err != nil {
			t.Fatalf("%s with SkipBad: %v", c.name, err)
		}
		if d.Len() != c.len || d.Skipped().Count() != 1 {
			t.Errorf("%s with SkipBad: Len %d skipped %d (%v), want %d and 1", c.name, d.Len(), d.Skipped().Count(), d.Skipped().Errors(), c.len)
		}
		for i := 0; i < d.Len(); i++ {
			if _, cap, err := d.Item(i); err != nil || captionNumber(t, cap) > 3 {
				t.Errorf("%s: surviving sample %d: %q %v", c.name, i, cap, err)
			}
		}
	}
	// A corrupt image member fails when loaded, naming shard and member, and
	// the loader skips it under SkipBad.
	{
		ms := append([]tarMember(nil), good...)
		for i := range ms {
			if ms[i].name == "shard/000002.png" {
				ms[i].body = ms[i].body[:40]
			}
		}
		path := filepath.Join(dir, "corrupt.tar")
		writeTar(t, path, ms)
		d, err := OpenWebDataset([]string{path}, WebDatasetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.Item(2); err == nil || !strings.Contains(err.Error(), "corrupt.tar") || !strings.Contains(err.Error(), "000002.png") {
			t.Fatalf("corrupt member: %v", err)
		}
		l := newTestLoader(t, d, LoaderConfig{BatchSize: 3, ImageSize: 8, SkipBad: true})
		bs := collect(t, l.Epoch(0))
		if len(bs) != 1 || l.Skipped() != 1 || !slices.Equal(bs[0].Indices, []int{0, 1, 3}) {
			t.Fatalf("loader over corrupt shard: %d batches, %d skipped", len(bs), l.Skipped())
		}
	}
	// A shard that changed after indexing: the read names shard and member.
	path := filepath.Join(dir, "shrunk.tar")
	writeTar(t, path, good)
	d, err := OpenWebDataset([]string{path}, WebDatasetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 1024); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Item(3); err == nil || !strings.Contains(err.Error(), "shrunk.tar") || !strings.Contains(err.Error(), "000003.jpg") {
		t.Fatalf("read after truncation: %v", err)
	}
	writeTar(t, filepath.Join(dir, "void.tar"), nil)
	if _, err := OpenWebDataset([]string{filepath.Join(dir, "void.tar")}, WebDatasetOptions{SkipBad: true}); err == nil || !strings.Contains(err.Error(), "void.tar") {
		t.Fatalf("empty shard: %v", err)
	}
	if _, err := OpenWebDataset([]string{filepath.Join(dir, "none.tar")}, WebDatasetOptions{}); err == nil || !strings.Contains(err.Error(), "none.tar") {
		t.Fatalf("missing shard: %v", err)
	}
}

func TestExpandShards(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"a.tar", []string{"a.tar"}},
		{"s-{08..11}.tar", []string{"s-08.tar", "s-09.tar", "s-10.tar", "s-11.tar"}},
		{"{x,y}/{0..1}.tar", []string{"x/0.tar", "x/1.tar", "y/0.tar", "y/1.tar"}},
		{"{a,b{1..2}}.tar::c.tar", []string{"a.tar", "b1.tar", "b2.tar", "c.tar"}},
	} {
		got, err := ExpandShards(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ExpandShards(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"a{1..2", "a}b", "{3..1}.tar"} {
		if _, err := ExpandShards(bad); err == nil {
			t.Errorf("ExpandShards(%q) succeeded", bad)
		}
	}
}
