package train

import (
	"io"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tokenizer"
)

// Metrics are the evaluation figures written to metrics.jsonl.
type Metrics struct {
	ImageToTextR1     float64  `json:"image_to_text_R@1"`
	TextToImageR1     float64  `json:"text_to_image_R@1"`
	ZeroShotTop1      float64  `json:"zeroshot_top1"`
	CaptionExactMatch float64  `json:"caption_exact_match"`
	Samples           []Sample `json:"-"`
}

// Sample is one held-out image's caption and the model's.
type Sample struct {
	Index     int
	Caption   string
	Generated string
}

// evalSet is a held-out split loaded once: images and captions.
type evalSet struct {
	images   []float32 // (N, 3, S, S)
	captions []string
	labels   []int // zero-shot classes, or nil
	size     int
}

func loadEvalSet(ds data.Dataset, size int, labels []int) (*evalSet, error) {
	l, err := data.NewLoader(ds, data.LoaderConfig{BatchSize: 64, ImageSize: size, KeepLast: true})
	if err != nil {
		return nil, err
	}
	it := l.Epoch(0)
	defer it.Close()
	e := &evalSet{size: size, labels: labels}
	for {
		b, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		e.images = append(e.images, b.Images...)
		e.captions = append(e.captions, b.Captions...)
	}
	return e, nil
}

func (e *evalSet) len() int { return len(e.captions) }

// batchImages returns images [lo, hi) as a tensor.
func (e *evalSet) batchImages(lo, hi int) *tensor.Tensor {
	n := 3 * e.size * e.size
	return tensor.FromSlice(e.images[lo*n:hi*n], hi-lo, 3, e.size, e.size)
}

// encodeTexts returns normalised features (len(texts), D).
func encodeTexts(m *coca.Model, tok *tokenizer.Tokenizer, texts []string, ctx int) [][]float32 {
	var out [][]float32
	for lo := 0; lo < len(texts); lo += 256 {
		hi := min(lo+256, len(texts))
		ids := make([]int, 0, (hi-lo)*ctx)
		for _, t := range texts[lo:hi] {
			ids = append(ids, tok.Tokenize(t, ctx)...)
		}
		f := m.EncodeText(ids, hi-lo, ctx)
		out = append(out, rows(f)...)
	}
	return out
}

func rows(t *tensor.Tensor) [][]float32 {
	n, d := t.Dim(0), t.Dim(1)
	out := make([][]float32, n)
	for i := range out {
		out[i] = append([]float32(nil), t.Data()[i*d:(i+1)*d]...)
	}
	return out
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// evaluate computes retrieval R@1 both ways and caption exact match on
// held, and zero-shot top-1 on zs (when not nil), with gradients off.
func evaluate(m *coca.Model, tok *tokenizer.Tokenizer, held, zs *evalSet, classes []string, ctx int, samples int) Metrics {
	defer tensor.NoGrad()()
	var res Metrics
	// Image features, tokens → greedy captions.
	var imgFeat [][]float32
	var generated []string
	opt := coca.GenerateOptions{MaxLen: ctx, MinLen: 0, Start: tok.SOT(), End: tok.EOT()}
	for lo := 0; lo < held.len(); lo += 64 {
		hi := min(lo+64, held.len())
		f, toks := m.EncodeImage(held.batchImages(lo, hi))
		imgFeat = append(imgFeat, rows(f)...)
		for _, s := range m.GreedyFromTokens(toks, opt) {
			generated = append(generated, tok.Decode(tok.TrimSpecial(s)))
		}
	}
	// Candidate captions: the distinct held-out captions.
	uniq := map[string]int{}
	var texts []string
	for _, c := range held.captions {
		if _, ok := uniq[c]; !ok {
			uniq[c] = len(texts)
			texts = append(texts, c)
		}
	}
	txtFeat := encodeTexts(m, tok, texts, ctx)
	var i2t, exact int
	for i, f := range imgFeat {
		best, bestS := -1, 0.0
		for j, g := range txtFeat {
			if s := dot(f, g); best < 0 || s > bestS {
				best, bestS = j, s
			}
		}
		if texts[best] == held.captions[i] {
			i2t++
		}
		if normalizeCaption(generated[i]) == normalizeCaption(held.captions[i]) {
			exact++
		}
	}
	var t2i int
	for j, g := range txtFeat {
		best, bestS := -1, 0.0
		for i, f := range imgFeat {
			if s := dot(f, g); best < 0 || s > bestS {
				best, bestS = i, s
			}
		}
		if held.captions[best] == texts[j] {
			t2i++
		}
	}
	res.ImageToTextR1 = float64(i2t) / float64(held.len())
	res.TextToImageR1 = float64(t2i) / float64(len(texts))
	res.CaptionExactMatch = float64(exact) / float64(held.len())
	for i := 0; i < samples && i < held.len(); i++ {
		res.Samples = append(res.Samples, Sample{Index: i, Caption: held.captions[i], Generated: generated[i]})
	}
	if zs != nil && len(classes) > 0 {
		clsFeat := encodeTexts(m, tok, classes, ctx)
		correct := 0
		for lo := 0; lo < zs.len(); lo += 64 {
			hi := min(lo+64, zs.len())
			f, _ := m.EncodeImage(zs.batchImages(lo, hi))
			for i, fi := range rows(f) {
				best, bestS := -1, 0.0
				for c, g := range clsFeat {
					if s := dot(fi, g); best < 0 || s > bestS {
						best, bestS = c, s
					}
				}
				if best == zs.labels[lo+i] {
					correct++
				}
			}
		}
		res.ZeroShotTop1 = float64(correct) / float64(zs.len())
	}
	return res
}

// normalizeCaption compares captions the way a person would: the
// tokenizer's decode adds a trailing space and lower-cases.
func normalizeCaption(s string) string {
	out := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' {
			space = len(out) > 0
			continue
		}
		if space {
			out = append(out, ' ')
			space = false
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return string(out)
}
