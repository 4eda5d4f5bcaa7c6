package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixture is one line of a testdata/*.jsonl file written by open_clip.
type fixture struct {
	Text   string `json:"text"`
	IDs77  []int  `json:"ids77"`
	Encode []int  `json:"encode"`
	Decode string `json:"decode"`
	// Optional fields of the extra fixtures.
	ContextLength int    `json:"context_length"`
	IDs           []int  `json:"ids"`
	Clean         string `json:"clean"`
}

func readFixtures(t testing.TB, name string) []fixture {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []fixture
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		var fx fixture
		if err := json.Unmarshal(sc.Bytes(), &fx); err != nil {
			t.Fatalf("%s line %d: %v", name, line, err)
		}
		out = append(out, fx)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no fixtures", name)
	}
	return out
}

func checkFixtures(t *testing.T, name string) {
	tok := New()
	for i, fx := range readFixtures(t, name) {
		label := fx.Text
		if len(label) > 60 {
			label = label[:60] + "..."
		}
		if fx.Encode != nil || len(fx.IDs77) > 0 {
			if got := tok.Encode(fx.Text); !slices.Equal(got, fx.Encode) && !(len(got) == 0 && len(fx.Encode) == 0) {
				t.Errorf("%s #%d %q: Encode\n got %v\nwant %v\nclean %q", name, i, label, got, fx.Encode, Clean(fx.Text))
			}
		}
		if len(fx.IDs77) > 0 {
			if got := tok.Tokenize(fx.Text, 77); !slices.Equal(got, fx.IDs77) {
				t.Errorf("%s #%d %q: Tokenize(77)\n got %v\nwant %v", name, i, label, got, fx.IDs77)
			}
		}
		if fx.ContextLength > 0 {
			if got := tok.Tokenize(fx.Text, fx.ContextLength); !slices.Equal(got, fx.IDs) {
				t.Errorf("%s #%d %q: Tokenize(%d)\n got %v\nwant %v", name, i, label, fx.ContextLength, got, fx.IDs)
			}
		}
		if got := tok.Decode(fx.Encode); got != fx.Decode {
			t.Errorf("%s #%d %q: Decode\n got %q\nwant %q", name, i, label, got, fx.Decode)
		}
		if fx.Clean != "" || name != "tokens.jsonl" {
			if got := Clean(fx.Text); got != fx.Clean {
				t.Errorf("%s #%d %q: Clean\n got %q\nwant %q", name, i, label, got, fx.Clean)
			}
		}
	}
}

func TestOpenCLIPFixtures(t *testing.T) { checkFixtures(t, "tokens.jsonl") }

func TestVocab(t *testing.T) {
	tok := New()
	if got := tok.VocabSize(); got != 49408 {
		t.Errorf("VocabSize = %d, want 49408", got)
	}
	if tok.SOT() != SOT || tok.EOT() != EOT {
		t.Errorf("SOT, EOT = %d, %d, want %d, %d", tok.SOT(), tok.EOT(), SOT, EOT)
	}
	// The first 512 ids are the byte symbols, then the same with "</w>".
	for i, want := range map[int]string{0: "!", 93: "~", 94: "¡", 256: "!</w>", 511: "Ń</w>", 49406: "<start_of_text>", 49407: "<end_of_text>"} {
		if got, _ := tok.Token(i); got != want {
			t.Errorf("Token(%d) = %q, want %q", i, got, want)
		}
	}
	// Line 2 of the merges file is "i n": the first merge, id 512.
	if got, _ := tok.Token(512); got != "in" {
		t.Errorf("Token(512) = %q, want %q", got, "in")
	}
	if id, ok := tok.ID("in"); !ok || id != 512 {
		t.Errorf("ID(in) = %d, %v", id, ok)
	}
}

func TestTokenizeTruncates(t *testing.T) {
	tok := New()
	long := strings.Repeat("cat ", 100)
	if got := tok.Tokenize(long, 1); !slices.Equal(got, []int{EOT}) {
		t.Errorf("Tokenize(long, 1) = %v, want [EOT] as open_clip gives", got)
	}
	for _, n := range []int{2, 3, 10, 76, 77} {
		got := tok.Tokenize(long, n)
		if len(got) != n || got[0] != SOT || got[n-1] != EOT {
			t.Fatalf("Tokenize(long, %d) = %v", n, got)
		}
		for _, id := range got[1 : n-1] {
			if id != 2368 { // "cat</w>"
				t.Fatalf("Tokenize(long, %d) = %v", n, got)
			}
		}
	}
	got := tok.Tokenize("cat", 5)
	if want := []int{SOT, 2368, EOT, Pad, Pad}; !slices.Equal(got, want) {
		t.Errorf("Tokenize(cat, 5) = %v, want %v", got, want)
	}
}

func TestTokenizeBatch(t *testing.T) {
	tok := New()
	texts := []string{"a photo of a cat", "", "Two dogs"}
	got := tok.TokenizeBatch(texts, 76)
	for i, s := range texts {
		if want := tok.Tokenize(s, 76); !slices.Equal(got[i], want) {
			t.Errorf("row %d = %v, want %v", i, got[i], want)
		}
	}
}

func TestTrimSpecial(t *testing.T) {
	tok := New()
	row := tok.Tokenize("a photo of a cat", 77)
	if got, want := tok.TrimSpecial(row), tok.Encode("a photo of a cat"); !slices.Equal(got, want) {
		t.Errorf("TrimSpecial = %v, want %v", got, want)
	}
}

func TestDecodeInvalid(t *testing.T) {
	tok := New()
	// 49406 decodes to its name; out-of-range ids to U+FFFD.
	if got, want := tok.Decode([]int{SOT, -1, 49408}), "<start_of_text>\uFFFD\uFFFD"; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}
	// A lone lead byte of a multi-byte character: 'â' (0xE2) ends a
	// sequence early, and Python writes one U+FFFD for it.
	id, _ := tok.ID("â")
	if got, want := tok.Decode([]int{id, 320}), "\uFFFDa "; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}
}

func TestLoadMatchesEmbedded(t *testing.T) {
	f, err := os.Open("bpe_simple_vocab_16e6.txt.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 49408 {
		t.Fatalf("VocabSize = %d", tok.VocabSize())
	}
	s := "Load reads the same file: ids must agree."
	if got, want := tok.Encode(s), New().Encode(s); !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"#version: 0.2\na b c\n", "line 2"},
		{"#version: 0.2\nab\n", "line 2"},
		{"#version: 0.2\ni n\n\u4e00 x\n", "outside the byte-symbol alphabet"},
	} {
		_, err := Load(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q) error = %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

// TestOpenCLIPExtraFixtures checks texts beyond tokens.jsonl, written by
// open_clip with ftfy installed (see testdata/README.md).
func TestOpenCLIPExtraFixtures(t *testing.T) { checkFixtures(t, "openclip_extra.jsonl") }

// TestOpenCLIPRandomFixtures checks random strings (with mojibake that ftfy
// repairs among them) against open_clip (see testdata/README.md).
func TestOpenCLIPRandomFixtures(t *testing.T) { checkFixtures(t, "openclip_random.jsonl") }

func TestLoadFile(t *testing.T) {
	tok, err := LoadFile("bpe_simple_vocab_16e6.txt.gz")
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 49408 {
		t.Errorf("VocabSize = %d", tok.VocabSize())
	}
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("#version: 0.2\na b c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("LoadFile(bad) error = %v, want one naming the file and line 2", err)
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("LoadFile(missing): no error")
	}
}
