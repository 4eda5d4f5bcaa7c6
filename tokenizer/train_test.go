package tokenizer

import (
	"bytes"
	"strings"
	"testing"
)

// trainCorpus is a small corpus with repeated words, numbers, punctuation
// and non-ASCII text.
func trainCorpus() string {
	var sb strings.Builder
	for i := 0; i < 20; i++ {
		for _, c := range benchCaptions {
			sb.WriteString(c)
			sb.WriteByte('\n')
		}
	}
	sb.WriteString("Café crème brûlée, naïve façade; 東京タワーの写真 🐶🐱\n")
	sb.WriteString("Numbers 12345 and 3.14159, e-mail someone@example.com!!\n")
	return sb.String()
}

func spaceless(s string) string {
	return strings.Join(strings.Fields(s), "")
}

func TestTrainRoundTrip(t *testing.T) {
	corpus := trainCorpus()
	const vocab = 514 + 300
	m, err := Train(strings.NewReader(corpus), vocab)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Pairs) != 300 {
		t.Fatalf("len(Pairs) = %d, want 300", len(m.Pairs))
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	file := buf.String()
	if first, _, _ := strings.Cut(file, "\n"); first != MergesHeader {
		t.Errorf("first line %q, want %q", first, MergesHeader)
	}
	if n := strings.Count(file, "\n"); n != 300 {
		t.Errorf("file has %d newlines, want 300 (header + 300 merges, no trailing newline)", n)
	}
	tok, err := Load(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.VocabSize(); got != vocab {
		t.Errorf("VocabSize = %d, want %d", got, vocab)
	}
	if tok.SOT() != vocab-2 || tok.EOT() != vocab-1 {
		t.Errorf("SOT, EOT = %d, %d, want %d, %d", tok.SOT(), tok.EOT(), vocab-2, vocab-1)
	}
	// Merges are learnt in frequency order: the corpus compresses well.
	nBytes, nIDs := 0, 0
	for _, line := range strings.Split(corpus, "\n") {
		ids := tok.Encode(line)
		for _, id := range ids {
			if id < 0 || id >= vocab-2 {
				t.Fatalf("id %d out of range", id)
			}
		}
		if got, want := spaceless(tok.Decode(ids)), spaceless(Clean(line)); got != want {
			t.Errorf("round trip of %q:\n got %q\nwant %q", line, got, want)
		}
		nBytes += len(Clean(line))
		nIDs += len(ids)
	}
	if nIDs*2 > nBytes {
		t.Errorf("%d ids for %d bytes: merges do not compress the corpus", nIDs, nBytes)
	}
	// The learnt merges are the first tokens after the byte symbols.
	if got, _ := tok.Token(512); got != m.Pairs[0][0]+m.Pairs[0][1] {
		t.Errorf("Token(512) = %q, want %q", got, m.Pairs[0][0]+m.Pairs[0][1])
	}
	// Training is deterministic.
	m2, err := Train(strings.NewReader(corpus), vocab)
	if err != nil {
		t.Fatal(err)
	}
	if m2.String() != file {
		t.Error("two Train runs on the same corpus differ")
	}
}

func TestTrainFirstMergeIsMostFrequentPair(t *testing.T) {
	// In "ababa" (a b a b a</w>) the pair (a, b) occurs twice, the others once.
	m, err := Train(strings.NewReader("ababa\nxy\n"), 515)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Pairs[0]; got != [2]string{"a", "b"} {
		t.Errorf("first merge %q, want [a b]", got)
	}
}

func TestTrainErrors(t *testing.T) {
	if _, err := Train(strings.NewReader("abc"), 100); err == nil {
		t.Error("vocabSize 100: no error")
	}
	if _, err := Train(strings.NewReader("ab"), 514+10); err == nil || !strings.Contains(err.Error(), "no more pairs") {
		t.Errorf("tiny corpus: error = %v", err)
	}
}
