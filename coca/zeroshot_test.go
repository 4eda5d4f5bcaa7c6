package coca

import (
	"math"
	"strings"
	"testing"
)

// byteTokens is a toy tokenizer for the fixture's 64-token vocabulary:
// start 62, one id per byte (mod 60), end 63, padded with 0 to 12 ids.
func byteTokens(s string) []int {
	ids := []int{62}
	for i := 0; i < len(s) && len(ids) < 11; i++ {
		ids = append(ids, 1+int(s[i])%60)
	}
	ids = append(ids, 63)
	for len(ids) < 12 {
		ids = append(ids, 0)
	}
	return ids
}

// TestClassEmbeddings compares the batched zero-shot classifier with the
// text features of each prompt averaged by hand, and the probabilities
// with a softmax computed by hand.
func TestClassEmbeddings(t *testing.T) {
	m, images := tinyFixture(t)
	classes := []string{"cat", "dog", "red car"}
	templates := []string{"a photo of a {}.", "{}", "art of the {}."}
	if len(OpenAIImageNetTemplates) != 80 || !strings.Contains(OpenAIImageNetTemplates[39], "{}") {
		t.Fatalf("%d templates", len(OpenAIImageNetTemplates))
	}
	d := m.Config.EmbedDim
	want := make([]float64, len(classes)*d)
	for c, name := range classes {
		var s float64
		for _, tp := range templates {
			f := m.EncodeText(byteTokens(strings.ReplaceAll(tp, "{}", name)), 1, 12).Data()
			for j := 0; j < d; j++ {
				want[c*d+j] += float64(f[j])
			}
		}
		for j := 0; j < d; j++ {
			s += want[c*d+j] * want[c*d+j]
		}
		for j := 0; j < d; j++ {
			want[c*d+j] /= math.Sqrt(s)
		}
	}
	for _, batch := range []int{1, 4, 100} {
		got, err := m.ClassEmbeddings(classes, templates, byteTokens, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got.Data() {
			if math.Abs(float64(v)-want[i]) > 1e-5 {
				t.Fatalf("batch %d: value %d = %g, want %g", batch, i, v, want[i])
			}
		}
	}
	cls, _ := m.ClassEmbeddings(classes, templates, byteTokens, 2)
	img, _ := m.EncodeImage(images)
	probs := m.ZeroShotProbs(img, cls)
	scale := math.Exp(float64(m.LogitScale.Item()))
	for i := 0; i < img.Dim(0); i++ {
		logits := make([]float64, len(classes))
		sum := 0.0
		for c := range classes {
			for j := 0; j < d; j++ {
				logits[c] += scale * float64(img.Data()[i*d+j]) * float64(cls.Data()[c*d+j])
			}
			sum += math.Exp(logits[c])
		}
		for c := range classes {
			if w := math.Exp(logits[c]) / sum; math.Abs(float64(probs[i*len(classes)+c])-w) > 1e-5 {
				t.Fatalf("image %d class %d: %g, want %g", i, c, probs[i*len(classes)+c], w)
			}
		}
	}
	if _, err := m.ClassEmbeddings(nil, templates, byteTokens, 2); err == nil {
		t.Fatal("no error for no classes")
	}
	if _, err := m.ClassEmbeddings(classes, templates, func(string) []int { return []int{49406, 1, 49407} }, 2); err == nil {
		t.Fatal("no error for ids outside the vocabulary")
	}
}

// TestClassEmbeddingsOrder checks that ClassEmbeddings encodes its prompts
// shortest first (a batch costs its longest prompt), ties in the order of
// classes and templates, and still sums each class's own prompts (against
// a class encoded alone: max |diff| 6e-8 at AVX-512, 0 at AVX2 and
// generic; held to 1e-6).
func TestClassEmbeddingsOrder(t *testing.T) {
	m, _ := tinyFixture(t)
	classes := []string{"horse", "ox", "cat"}
	templates := []string{"{}", "a photo of the {}", "{} art"}
	var seen []string
	record := func(s string) []int {
		seen = append(seen, s)
		return byteTokens(s)
	}
	all, err := m.ClassEmbeddings(classes, templates, record, 2)
	if err != nil {
		t.Fatal(err)
	}
	// The first pass tokenizes in the callers' order, then the batches
	// in the order encoded.
	n := len(classes) * len(templates)
	if len(seen) != 2*n {
		t.Fatalf("%d tokenizations, want %d", len(seen), 2*n)
	}
	// (byteTokens keeps 10 bytes: the last three are ties)
	want := []string{"ox", "cat", "horse", "ox art", "cat art", "horse art", "a photo of the horse", "a photo of the ox", "a photo of the cat"}
	if got := strings.Join(seen[n:], "|"); got != strings.Join(want, "|") {
		t.Errorf("encoded in the order %s, want %s", got, strings.Join(want, "|"))
	}
	d := m.Config.EmbedDim
	for c, name := range classes {
		one, err := m.ClassEmbeddings([]string{name}, templates, byteTokens, 2)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < d; j++ {
			if g, w := all.Data()[c*d+j], one.Data()[j]; math.Abs(float64(g-w)) > 1e-6 {
				t.Fatalf("class %q value %d: %g among three classes, %g alone", name, j, g, w)
			}
		}
	}
}
