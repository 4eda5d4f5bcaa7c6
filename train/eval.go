package train

import (
	"fmt"
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
	ZeroShotTop1      *float64 `json:"zeroshot_top1,omitempty"` // nil without a zero-shot split
	CaptionExactMatch float64  `json:"caption_exact_match"`
	Samples           []Sample `json:"-"`
}

// summary is the one-line form of m.
func (m *Metrics) summary() string {
	zs := ""
	if m.ZeroShotTop1 != nil {
		zs = fmt.Sprintf(", zero-shot top-1 %.3f", *m.ZeroShotTop1)
	}
	return fmt.Sprintf("image→text R@1 %.3f, text→image R@1 %.3f%s, exact captions %.3f", m.ImageToTextR1, m.TextToImageR1, zs, m.CaptionExactMatch)
}

// Summary is the one-line form of m, as coca train prints it.
func (m *Metrics) Summary() string { return m.summary() }

// Sample is one held-out image's caption and the model's.
type Sample struct {
	Index     int
	Caption   string
	Generated string
	Image     []float32 // the (3, S, S) normalised pixels the model saw
	Size      int       // S
}

// evalSet is a held-out split, read in batches at every evaluation.
type evalSet struct {
	ds      data.Dataset
	labels  []int // zero-shot class of every item, or nil
	size    int
	workers int
	skipBad bool
}

// newEvalSet checks that every item of ds loads (so a bad evaluation image
// stops the run before it starts, not at its first evaluation).
func newEvalSet(ds data.Dataset, size int, labels []int, o *Options) (*evalSet, error) {
	e := &evalSet{ds: ds, labels: labels, size: size, workers: o.Workers, skipBad: o.SkipBad}
	err := e.each(func(*data.Batch) error { return nil })
	return e, err
}

// each runs fn over the set in batches of 64.
func (e *evalSet) each(fn func(b *data.Batch) error) error {
	l, err := data.NewLoader(e.ds, data.LoaderConfig{BatchSize: 64, ImageSize: e.size, KeepLast: true, Workers: e.workers, SkipBad: e.skipBad})
	if err != nil {
		return err
	}
	it := l.Epoch(0)
	defer it.Close()
	for {
		b, err := it.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		err = fn(b)
		it.Recycle(b)
		if err != nil {
			return err
		}
	}
}

func batchTensor(b *data.Batch) *tensor.Tensor {
	return tensor.FromSlice(b.Images, b.Len(), 3, b.Size, b.Size)
}

// encodeTexts returns normalised features (len(texts), D).
func encodeTexts(m *coca.Model, tok *tokenizer.Tokenizer, texts []string, ctx int) [][]float32 {
	f, err := m.EncodeTexts(texts, func(s string) []int { return tok.Tokenize(s, ctx) }, 256)
	if err != nil {
		panic(err) // the tokenizer's ids fit the model it was built with
	}
	return rows(f)
}

func rows(t *tensor.Tensor) [][]float32 {
	n, d := t.Dim(0), t.Dim(1)
	all := tensor.HostValues(t, nil) // one copy from a device
	out := make([][]float32, n)
	for i := range out {
		out[i] = append([]float32(nil), all[i*d:(i+1)*d]...)
	}
	return out
}

// similarity returns the inner products of the rows of a and b, (len(a),
// len(b)), computed by the tensor backend.
func similarity(a, b [][]float32) [][]float32 {
	if len(a) == 0 || len(b) == 0 {
		return make([][]float32, len(a))
	}
	d := len(a[0])
	flat := func(x [][]float32) *tensor.Tensor {
		f := make([]float32, 0, len(x)*d)
		for _, r := range x {
			f = append(f, r...)
		}
		return tensor.FromSlice(f, len(x), d)
	}
	s := tensor.MatMul(flat(a), flat(b), false, true)
	out := rows(s)
	tensor.Release(s)
	return out
}

// evaluate computes retrieval R@1 both ways and caption exact match on the
// held-out set, and zero-shot top-1 on the zero-shot set (when there is one),
// with gradients off.
func (r *run) evaluate() (Metrics, error) {
	return evaluate(r.model, r.tok, r.held, r.zs, r.classes, r.cfg.Text.ContextLength, r.o.Samples)
}

func evaluate(m *coca.Model, tok *tokenizer.Tokenizer, held, zs *evalSet, classes []string, ctx int, samples int) (Metrics, error) {
	var res Metrics
	// Image features, tokens → greedy captions.
	var imgFeat [][]float32
	var generated, captions []string
	opt := coca.GenerateOptions{MaxLen: ctx, MinLen: 0, Start: tok.SOT(), End: tok.EOT()}
	err := held.each(func(b *data.Batch) error {
		f, toks := m.EncodeImage(batchTensor(b))
		imgFeat = append(imgFeat, rows(f)...)
		for _, s := range m.GreedyFromTokens(toks, opt) {
			generated = append(generated, tok.Decode(tok.TrimSpecial(s)))
		}
		n := 3 * b.Size * b.Size
		for i := 0; i < b.Len() && len(res.Samples) < samples; i++ {
			res.Samples = append(res.Samples, Sample{Index: b.Indices[i], Caption: b.Captions[i],
				Image: append([]float32(nil), b.Images[i*n:(i+1)*n]...), Size: b.Size})
		}
		captions = append(captions, b.Captions...)
		return nil
	})
	if err != nil {
		return res, err
	}
	if len(captions) == 0 {
		return res, fmt.Errorf("train: evaluation: no held-out pair loaded")
	}
	for i := range res.Samples {
		res.Samples[i].Generated = generated[i]
	}
	// Candidate captions: the distinct held-out captions.
	uniq := map[string]int{}
	var texts []string
	for _, c := range captions {
		if _, ok := uniq[c]; !ok {
			uniq[c] = len(texts)
			texts = append(texts, c)
		}
	}
	txtFeat := encodeTexts(m, tok, texts, ctx)
	sim := similarity(imgFeat, txtFeat)
	var i2t, exact int
	for i := range imgFeat {
		best, bestS := -1, float32(0)
		for j := range txtFeat {
			if s := sim[i][j]; best < 0 || s > bestS {
				best, bestS = j, s
			}
		}
		if texts[best] == captions[i] {
			i2t++
		}
		if normalizeCaption(generated[i]) == normalizeCaption(captions[i]) {
			exact++
		}
	}
	var t2i int
	for j := range txtFeat {
		best, bestS := -1, float32(0)
		for i := range imgFeat {
			if s := sim[i][j]; best < 0 || s > bestS {
				best, bestS = i, s
			}
		}
		if captions[best] == texts[j] {
			t2i++
		}
	}
	res.ImageToTextR1 = float64(i2t) / float64(len(captions))
	res.TextToImageR1 = float64(t2i) / float64(len(texts))
	res.CaptionExactMatch = float64(exact) / float64(len(captions))
	if zs != nil && len(classes) > 0 {
		clsFeat := encodeTexts(m, tok, classes, ctx)
		correct, total := 0, 0
		err := zs.each(func(b *data.Batch) error {
			f := m.EncodeImageFeatures(batchTensor(b))
			for i, si := range similarity(rows(f), clsFeat) {
				best, bestS := -1, float32(0)
				for c := range clsFeat {
					if s := si[c]; best < 0 || s > bestS {
						best, bestS = c, s
					}
				}
				if best == zs.labels[b.Indices[i]] {
					correct++
				}
				total++
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		top1 := float64(correct) / float64(max(total, 1))
		res.ZeroShotTop1 = &top1
	}
	return res, nil
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
