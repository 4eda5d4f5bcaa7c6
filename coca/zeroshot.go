package coca

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gococa/gococa/tensor"
)

// OpenAIImageNetTemplates are the 80 prompt templates of OpenAI's CLIP
// ImageNet evaluation (open_clip's OPENAI_IMAGENET_TEMPLATES); "{}" stands
// for the class name.
var OpenAIImageNetTemplates = []string{
	"a bad photo of a {}.",
	"a photo of many {}.",
	"a sculpture of a {}.",
	"a photo of the hard to see {}.",
	"a low resolution photo of the {}.",
	"a rendering of a {}.",
	"graffiti of a {}.",
	"a bad photo of the {}.",
	"a cropped photo of the {}.",
	"a tattoo of a {}.",
	"the embroidered {}.",
	"a photo of a hard to see {}.",
	"a bright photo of a {}.",
	"a photo of a clean {}.",
	"a photo of a dirty {}.",
	"a dark photo of the {}.",
	"a drawing of a {}.",
	"a photo of my {}.",
	"the plastic {}.",
	"a photo of the cool {}.",
	"a close-up photo of a {}.",
	"a black and white photo of the {}.",
	"a painting of the {}.",
	"a painting of a {}.",
	"a pixelated photo of the {}.",
	"a sculpture of the {}.",
	"a bright photo of the {}.",
	"a cropped photo of a {}.",
	"a plastic {}.",
	"a photo of the dirty {}.",
	"a jpeg corrupted photo of a {}.",
	"a blurry photo of the {}.",
	"a photo of the {}.",
	"a good photo of the {}.",
	"a rendering of the {}.",
	"a {} in a video game.",
	"a photo of one {}.",
	"a doodle of a {}.",
	"a close-up photo of the {}.",
	"a photo of a {}.",
	"the origami {}.",
	"the {} in a video game.",
	"a sketch of a {}.",
	"a doodle of the {}.",
	"a origami {}.",
	"a low resolution photo of a {}.",
	"the toy {}.",
	"a rendition of the {}.",
	"a photo of the clean {}.",
	"a photo of a large {}.",
	"a rendition of a {}.",
	"a photo of a nice {}.",
	"a photo of a weird {}.",
	"a blurry photo of a {}.",
	"a cartoon {}.",
	"art of a {}.",
	"a sketch of the {}.",
	"a embroidered {}.",
	"a pixelated photo of a {}.",
	"itap of the {}.",
	"a jpeg corrupted photo of the {}.",
	"a good photo of a {}.",
	"a plushie {}.",
	"a photo of the nice {}.",
	"a photo of the small {}.",
	"a photo of the weird {}.",
	"the cartoon {}.",
	"art of the {}.",
	"a drawing of the {}.",
	"a photo of the large {}.",
	"a black and white photo of a {}.",
	"the plushie {}.",
	"a dark photo of a {}.",
	"itap of a {}.",
	"graffiti of the {}.",
	"a toy {}.",
	"itap of my {}.",
	"a photo of a cool {}.",
	"a photo of a small {}.",
	"a tattoo of the {}.",
}

// ClassEmbeddings builds zero-shot classifier weights (C, D): for each
// class, the text features of every template with "{}" replaced by the
// class name, summed and L2-normalised (the direction of their mean), as
// open_clip's build_zero_shot_classifier does. tokenize maps a text to
// exactly contextLength ids (tokenizer.Tokenize with the model's context
// length); the prompts are encoded batch at a time (EncodeTexts),
// shortest first, since a batch costs its longest. An empty class or
// template list is an error. The result is Go memory.
func (m *Model) ClassEmbeddings(classes, templates []string, tokenize func(string) []int, batch int) (*tensor.Tensor, error) {
	if len(classes) == 0 || len(templates) == 0 {
		return nil, fmt.Errorf("coca: zero-shot: %d classes and %d templates (want at least one of each)", len(classes), len(templates))
	}
	texts := make([]string, 0, len(classes)*len(templates))
	for _, name := range classes {
		for _, t := range templates {
			texts = append(texts, strings.ReplaceAll(t, "{}", name))
		}
	}
	// A batch costs its longest text (EncodeText), so the texts are
	// encoded shortest first (ties in their order): each class's sum only
	// adds its features in another order.
	order := make([]int, len(texts))
	used := make([]int, len(texts))
	for i, t := range texts {
		order[i] = i
		ids := tokenize(t)
		for j := len(ids) - 1; j >= 0; j-- {
			if ids[j] != m.Text.padID {
				used[i] = j + 1
				break
			}
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return used[order[a]] < used[order[b]] })
	sorted := make([]string, len(texts))
	for i, o := range order {
		sorted[i] = texts[o]
	}
	s := tensor.NoGrad()
	defer s.End()
	sums := tensor.Zeros(len(classes), m.Config.EmbedDim)
	defer tensor.Drop(sums)
	owner := make([]int, 0, batch)
	err := m.encodeTexts(s, sorted, tokenize, batch, func(lo int, f *tensor.Tensor) {
		owner = owner[:0]
		for i := range f.Dim(0) {
			owner = append(owner, order[lo+i]/len(templates))
		}
		tensor.AddRows(sums, owner, f)
	})
	if err != nil {
		return nil, fmt.Errorf("coca: zero-shot: %w", err)
	}
	return hostCopy(tensor.Normalize(s.Use(sums), 1e-12)), nil
}

// EncodeTexts returns the normalised text features (N, D) of texts, each
// tokenized by tokenize to the same number of ids (tokenizer.Tokenize with
// the model's context length), encoded batch texts at a time (64 when
// batch < 1). Ids outside the vocabulary, texts of different lengths and
// lengths past the context are errors naming the text. The result is Go
// memory.
func (m *Model) EncodeTexts(texts []string, tokenize func(string) []int, batch int) (*tensor.Tensor, error) {
	s := tensor.NoGrad()
	defer s.End()
	d := m.Config.EmbedDim
	out := make([]float32, len(texts)*d)
	err := m.encodeTexts(s, texts, tokenize, batch, func(lo int, f *tensor.Tensor) {
		tensor.CopyOut(out[lo*d:], f.Data()) // one copy from a device
	})
	if err != nil {
		return nil, fmt.Errorf("coca: encode texts: %w", err)
	}
	return tensor.FromSlice(out, len(texts), d), nil
}

// encodeTexts encodes texts batch at a time in scope s and hands each
// batch's normalised features (n, D), texts [lo, lo+n), to use, which must
// not keep them.
func (m *Model) encodeTexts(s *tensor.Scope, texts []string, tokenize func(string) []int, batch int, use func(lo int, f *tensor.Tensor)) error {
	if batch < 1 {
		batch = 64
	}
	v := m.Config.Text.VocabSize
	l := 0
	var ids []int
	for lo := 0; lo < len(texts); lo += batch {
		hi := min(lo+batch, len(texts))
		ids = ids[:0]
		for i, t := range texts[lo:hi] {
			row := tokenize(t)
			if lo+i == 0 {
				l = len(row)
				if l+1 > m.Text.PositionalEmbedding.Dim(0) {
					return fmt.Errorf("%d ids per text, the model's context length is %d", l, m.Config.Text.ContextLength)
				}
			}
			if len(row) != l {
				return fmt.Errorf("tokenizer gave %d ids for %q and %d for %q", len(row), t, l, texts[0])
			}
			for _, id := range row {
				if id < 0 || id >= v {
					return fmt.Errorf("token id %d of %q is outside the model's vocabulary of %d", id, t, v)
				}
			}
			ids = append(ids, row...)
		}
		f := m.encodeText(s, ids, hi-lo, l)
		use(lo, f)
		tensor.Drop(f)
	}
	return nil
}

// ZeroShotProbs returns, for image features (N, D) and class embeddings
// (C, D), both normalised, softmax(exp(logit_scale) · I·Cᵀ) row by row
// (N × C, row-major, Go memory).
func (m *Model) ZeroShotProbs(imageFeatures, classes *tensor.Tensor) []float32 {
	s := tensor.NoGrad()
	defer s.End()
	logits := tensor.MatMul(s.Use(imageFeatures), classes, false, true)
	scale := tensor.Exp(s.Use(m.LogitScale))
	scaled := tensor.Mul(logits, scale)
	probs := tensor.Softmax(scaled)
	out := make([]float32, probs.Numel())
	tensor.CopyOut(out, probs.Data()) // one copy from a device
	tensor.Drop(logits, scale, scaled, probs)
	return out
}
