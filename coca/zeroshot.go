package coca

import (
	"fmt"
	"math"
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
// class name, averaged and L2-normalised, as open_clip's
// build_zero_shot_classifier does. tokenize maps a text to exactly
// contextLength ids (tokenizer.Tokenize with the model's context length);
// texts are encoded batch at a time. An empty class or template list is an
// error.
func (m *Model) ClassEmbeddings(classes, templates []string, tokenize func(string) []int, batch int) (*tensor.Tensor, error) {
	if len(classes) == 0 || len(templates) == 0 {
		return nil, fmt.Errorf("coca: zero-shot: %d classes and %d templates (want at least one of each)", len(classes), len(templates))
	}
	if batch < 1 {
		batch = 64
	}
	d := m.Config.EmbedDim
	out := make([]float32, len(classes)*d)
	var texts []string
	var owner []int
	flush := func() error {
		if len(texts) == 0 {
			return nil
		}
		var ids []int
		l := 0
		for i, s := range texts {
			row := tokenize(s)
			if i == 0 {
				l = len(row)
			}
			if len(row) != l {
				return fmt.Errorf("coca: zero-shot: tokenizer gave %d ids for %q and %d for %q", len(row), s, l, texts[0])
			}
			for _, id := range row {
				if id < 0 || id >= m.Config.Text.VocabSize {
					return fmt.Errorf("coca: zero-shot: token id %d of %q is outside the model's vocabulary of %d", id, s, m.Config.Text.VocabSize)
				}
			}
			ids = append(ids, row...)
		}
		if l+1 > m.Text.PositionalEmbedding.Dim(0) {
			return fmt.Errorf("coca: zero-shot: %d ids per text, the model's context length is %d", l, m.Config.Text.ContextLength)
		}
		f := m.EncodeText(ids, len(texts), l).Data()
		for i, c := range owner {
			for j := 0; j < d; j++ {
				out[c*d+j] += f[i*d+j]
			}
		}
		texts, owner = texts[:0], owner[:0]
		return nil
	}
	for c, name := range classes {
		for _, t := range templates {
			texts = append(texts, strings.ReplaceAll(t, "{}", name))
			owner = append(owner, c)
			if len(texts) == batch {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	for c := range classes {
		normalize(out[c*d : (c+1)*d])
	}
	return tensor.FromSlice(out, len(classes), d), nil
}

func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := math.Max(math.Sqrt(s), 1e-12)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
}

// ZeroShotProbs returns, for image features (N, D) and class embeddings
// (C, D), both normalised, softmax(exp(logit_scale) · I·Cᵀ) row by row
// (N × C, row-major).
func (m *Model) ZeroShotProbs(imageFeatures, classes *tensor.Tensor) []float32 {
	scale := math.Exp(float64(m.LogitScale.Item()))
	logits := tensor.MatMul(imageFeatures, classes, false, true).Data()
	n, c := imageFeatures.Dim(0), classes.Dim(0)
	probs := make([]float32, n*c)
	for i := 0; i < n; i++ {
		row := logits[i*c : (i+1)*c]
		mx := math.Inf(-1)
		for _, x := range row {
			mx = math.Max(mx, scale*float64(x))
		}
		sum := 0.0
		for j, x := range row {
			e := math.Exp(scale*float64(x) - mx)
			probs[i*c+j] = float32(e)
			sum += e
		}
		for j := range row {
			probs[i*c+j] = float32(float64(probs[i*c+j]) / sum)
		}
	}
	return probs
}
