package coca

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca/generate"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor"
)

// tinyModel loads open_clip's tiny fixture.
func tinyModel(t *testing.T) *Model {
	t.Helper()
	cfg, err := LoadConfig(tinyConfig)
	if err != nil {
		t.Fatal(err)
	}
	m := New(cfg)
	if err := m.LoadSafetensors(tinyWeights); err != nil {
		t.Fatal(err)
	}
	return m
}

type testImageSet struct {
	images []image.Image
	tensor *tensor.Tensor // (N, 3, S, S), preprocessed by the data package
}

// testImages draws n random images of different sizes.
func testImages(t *testing.T, n, size int) testImageSet {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	var s testImageSet
	var px []float32
	for i := 0; i < n; i++ {
		img := image.NewNRGBA(image.Rect(0, 0, 30+9*i, 41-3*i))
		for y := 0; y < img.Bounds().Dy(); y++ {
			for x := 0; x < img.Bounds().Dx(); x++ {
				img.Set(x, y, color.NRGBA{uint8(rng.IntN(256)), uint8(x * 7), uint8(y * 5), 255})
			}
		}
		s.images = append(s.images, img)
		px = append(px, data.Preprocess(img, size)...)
	}
	s.tensor = tensor.FromSlice(px, n, 3, size, size)
	return s
}

var bg = context.Background()

// openTiny opens open_clip's tiny fixture with the start and end tokens
// the package's tests use.
func openTiny(t *testing.T, opts ...OpenOption) *Pipeline {
	t.Helper()
	p, err := Open(tinyWeights, append([]OpenOption{WithSpecialTokens(62, 63)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCaptionBatchMatchesGenerate checks the pipeline's captions against
// Model.Generate on the same preprocessed images, for every strategy, at
// several batch sizes and with bfloat16 weights.
func TestCaptionBatchMatchesGenerate(t *testing.T) {
	img := testImages(t, 5, 32)
	for _, bf16 := range []bool{false, true} {
		m := tinyModel(t)
		var opts []OpenOption
		if bf16 {
			m.QuantizeBF16()
			opts = append(opts, WithBF16())
		}
		for _, o := range []GenerateOptions{
			{Strategy: StrategyGreedy, MaxLen: 12, MinLen: 3},
			{Strategy: StrategyBeam, Beams: 4, LengthPenalty: 1, MaxLen: 12, MinLen: 5},
			{Strategy: StrategyTopK, TopK: 5, Seed: 3, MaxLen: 12},
			{Strategy: StrategyTopP, TopP: 0.7, Seed: 4, Temperature: 1.5, MaxLen: 12},
		} {
			ref := o
			ref.Start, ref.End = 62, 63
			want, err := m.Generate(img.tensor, ref)
			if err != nil {
				t.Fatal(err)
			}
			for _, batch := range []int{2, 8} {
				p := openTiny(t, append(opts, WithBatchSize(batch, 64))...)
				got, err := p.CaptionBatch(bg, img.images, WithGenerateOptions(o))
				if err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if len(got[i].Captions) != 1 || !slicesEqual(got[i].Captions[0].Tokens, want[i]) {
						t.Fatalf("bf16 %v %s batch %d image %d: %v, want %v", bf16, o.Strategy, batch, i, got[i].Captions, want[i])
					}
				}
			}
		}
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// beamScore is the score StrategyBeamLogProb ranks a hypothesis by
// (beam.go): the sum of its tokens' log-probabilities (no processor acts
// with MinLen 0 and no repetition penalty) over its length, counted as the
// tokens before the end token plus one, or MaxLen for a hypothesis still
// open there: len(Tokens) either way.
func beamScore(c Caption, alpha float64) float64 {
	return c.LogProb / math.Pow(float64(len(c.Tokens)), alpha)
}

// TestNBest checks n-best captions: beam search's hypotheses come best
// first (their scores recomputed from teacher-forced log-likelihoods,
// WithLogProb), the first is Generate's; sampled captions draw from the
// streams WithNBest documents.
func TestNBest(t *testing.T) {
	m := tinyModel(t)
	p := openTiny(t, WithBatchSize(2, 64))
	img := testImages(t, 3, 32)
	beam := GenerateOptions{Strategy: StrategyBeamLogProb, Beams: 5, LengthPenalty: 1, MaxLen: 12}
	res, err := p.CaptionBatch(bg, img.images, WithGenerateOptions(beam), WithNBest(4), WithLogProb())
	if err != nil {
		t.Fatal(err)
	}
	ref := beam
	ref.Start, ref.End = 62, 63
	best, _ := m.Generate(img.tensor, ref)
	for i, r := range res {
		if len(r.Captions) != 4 || !slicesEqual(r.Captions[0].Tokens, best[i]) {
			t.Fatalf("image %d: %v, Generate %v", i, r.Captions, best[i])
		}
		for j := 1; j < len(r.Captions); j++ {
			a, b := beamScore(r.Captions[j-1], 1), beamScore(r.Captions[j], 1)
			// Beam scores sum float32 log-softmaxes of the cached decoder's
			// logits; LogProb comes from a teacher-forced float32 pass: they
			// agree to ~1e-6 here.
			if b > a+1e-5 || slicesEqual(r.Captions[j-1].Tokens, r.Captions[j].Tokens) {
				t.Errorf("image %d: caption %d (%v, score %.6f) after %v (%.6f)", i, j, r.Captions[j].Tokens, b, r.Captions[j-1].Tokens, a)
			}
		}
	}
	// Sampling: caption s of image i is the caption of image i alone drawn
	// from stream (RowOffset+i)·n+s.
	topk := GenerateOptions{Strategy: StrategyTopK, TopK: 8, Seed: 9, MaxLen: 12, RowOffset: 10}
	res, err = p.CaptionBatch(bg, img.images, WithGenerateOptions(topk), WithNBest(3))
	if err != nil {
		t.Fatal(err)
	}
	distinct := 0
	for i, r := range res {
		for s, c := range r.Captions {
			one := topk
			one.Start, one.End, one.RowOffset = 62, 63, (10+i)*3+s
			want, _ := m.Generate(tensor.FromSlice(img.tensor.Data()[i*3*32*32:(i+1)*3*32*32], 1, 3, 32, 32), one)
			if !slicesEqual(c.Tokens, want[0]) {
				t.Fatalf("image %d sample %d: %v, want %v", i, s, c.Tokens, want[0])
			}
			if s > 0 && !slicesEqual(c.Tokens, r.Captions[0].Tokens) {
				distinct++
			}
		}
	}
	if distinct == 0 {
		t.Error("every sample of every image is the same caption")
	}
	for _, c := range []struct {
		o    GenerateOptions
		n    int
		want string
	}{
		{GenerateOptions{Strategy: StrategyGreedy}, 2, "greedy decoding makes one caption"},
		{GenerateOptions{Strategy: StrategyBeam, Beams: 3}, 4, "4 captions from a search of 3 beams"},
		{GenerateOptions{Strategy: StrategyBeam, Beams: 6, BeamGroups: 3}, 3, "3 captions from a search of 2 beams"},
		{GenerateOptions{Strategy: StrategyBeam}, 0, "0 captions per image"},
	} {
		if _, err := p.CaptionBatch(bg, img.images[:1], WithGenerateOptions(c.o), WithNBest(c.n)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v n %d: %v, want %q", c.o, c.n, err, c.want)
		}
	}
}

// teacherLogits returns the decoder's next-token logits (L, V) for every
// position of seq given one image, from the training forward pass.
func teacherLogits(m *Model, pixels *tensor.Tensor, seq []int) []float32 {
	sc := tensor.NoGrad()
	defer sc.End()
	out := m.Forward(sc.Use(pixels), append(slices.Clone(seq), 0), 1, len(seq)+1)
	return out.Logits.Data()
}

func argmaxOf(row []float32) int {
	best := 0
	for i, x := range row {
		if x > row[best] {
			best = i
		}
	}
	return best
}

// TestPrefix checks captions that start with a prefix: with greedy
// decoding, every token after the prefix is the argmax of the training
// forward pass's logits for the caption so far, and the cached decoder
// agrees with the uncached reference for beam search and sampling.
func TestPrefix(t *testing.T) {
	m := tinyModel(t)
	p := openTiny(t)
	img := testImages(t, 3, 32)
	prefix := []int{17, 5, 40}
	o := GenerateOptions{Strategy: StrategyGreedy, MaxLen: 11, Prefix: prefix} // 11: teacherLogits appends a token
	res, err := p.CaptionBatch(bg, img.images, WithGenerateOptions(o))
	if err != nil {
		t.Fatal(err)
	}
	v := m.Config.Multimodal.VocabSize
	for i, r := range res {
		seq := r.Captions[0].Tokens
		if !slicesEqual(seq[:4], []int{62, 17, 5, 40}) || len(seq) < 5 {
			t.Fatalf("image %d: %v does not start with the start token and the prefix", i, seq)
		}
		logits := teacherLogits(m, tensor.FromSlice(img.tensor.Data()[i*3*32*32:(i+1)*3*32*32], 1, 3, 32, 32), seq)
		last := len(seq)
		if last == o.MaxLen && seq[last-1] == 63 {
			last-- // open_clip writes the end token at the last position of a row still open
		}
		for j := 4; j < last; j++ {
			if want := argmaxOf(logits[(j-1)*v : j*v]); seq[j] != want {
				t.Fatalf("image %d: token %d is %d, the forward pass's argmax %d (%v)", i, j, seq[j], want, seq)
			}
		}
	}
	for _, o := range []GenerateOptions{
		{Strategy: StrategyBeam, Beams: 3, LengthPenalty: 1, MaxLen: 12, MinLen: 6, Prefix: prefix},
		{Strategy: StrategyTopP, TopP: 0.8, Seed: 2, MaxLen: 12, RepetitionPenalty: 1.3, Prefix: prefix},
	} {
		ref := o
		ref.Start, ref.End = 62, 63
		want, err := m.GenerateReference(img.tensor, ref)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.CaptionBatch(bg, img.images, WithGenerateOptions(o))
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if s := got[i].Captions[0].Tokens; !slicesEqual(s, want[i]) || !slicesEqual(s[1:4], prefix) {
				t.Fatalf("%s image %d: %v, uncached %v", o.Strategy, i, s, want[i])
			}
		}
	}
	for _, c := range []struct {
		o    GenerateOptions
		want string
	}{
		{GenerateOptions{MaxLen: 4, Prefix: prefix}, "leaves no room"},
		{GenerateOptions{MaxLen: 10, Prefix: []int{64}}, "prefix token 64 outside"},
	} {
		if _, err := p.CaptionBatch(bg, img.images, WithGenerateOptions(c.o)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
	if _, err := p.Caption(bg, img.images[0], WithPrefix("a photo of")); err == nil || !strings.Contains(err.Error(), "text prefix needs the model's tokenizer") {
		t.Errorf("text prefix on a model without its tokenizer: %v", err)
	}

	// A model with its own tokenizer takes the prefix as text.
	dir := t.TempDir()
	_, tok := trainedRun(t, dir)
	tp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tp.CaptionBatch(bg, img.images[:1], WithPrefix("a small red"), WithGenerateOptions(GenerateOptions{Strategy: StrategyGreedy, MaxLen: 10}))
	if err != nil {
		t.Fatal(err)
	}
	c := r[0].Captions[0]
	ids := tok.Encode("a small red")
	if !slicesEqual(c.Tokens[1:1+len(ids)], ids) || !strings.HasPrefix(c.Text, "a small red") {
		t.Errorf("text prefix: %q %v", c.Text, c.Tokens)
	}
}

// TestScore checks caption log-likelihoods three ways: a greedy caption's
// equals the sum of the cached decoder's log-softmaxes along it; a text's
// equals its tokens'; the mean over tokens is the caption loss of the
// training forward pass (which averages the same cross-entropies).
func TestScore(t *testing.T) {
	m := tinyModel(t)
	p := openTiny(t)
	img := testImages(t, 1, 32)
	res, err := p.CaptionBatch(bg, img.images, WithGenerateOptions(GenerateOptions{Strategy: StrategyGreedy, MaxLen: 10}), WithLogProb())
	if err != nil {
		t.Fatal(err)
	}
	c := res[0].Captions[0]
	_, tokens := m.EncodeImage(img.tensor)
	dec := m.NewDecoder(tokens, 12)
	want := 0.0
	for j := 0; j+1 < len(c.Tokens); j++ {
		lp := slices.Clone(dec.Step(c.Tokens[j : j+1]))
		logSoftmaxRow(lp)
		want += float64(lp[c.Tokens[j+1]])
	}
	// float32 logits from two computations (cached steps, one batched
	// pass): 2e-6 apart here.
	if math.Abs(c.LogProb-want) > 1e-4 || want == 0 {
		t.Errorf("greedy caption %v: LogProb %.6f, decoder steps %.6f", c.Tokens, c.LogProb, want)
	}
	seqs := [][]int{{62, 3, 9, 27, 63}, {62, 44, 63}, {62, 8, 8, 8, 8, 8, 8, 63}}
	scores, err := p.ScoreTokens(bg, img.images[0], seqs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		// The caption loss of this one sequence: 2 × mean cross-entropy over
		// its tokens after the start (no pad among them).
		out := m.Forward(img.tensor, s, 1, len(s))
		loss := m.Loss(out, s, 1, len(s), LossWeights{Caption: 1})
		if got := -scores[i].Mean(); scores[i].Tokens != len(s)-1 || math.Abs(got-float64(loss.Caption.Item())) > 1e-5 {
			t.Errorf("%v: mean NLL %.6f over %d tokens, caption loss %.6f", s, got, scores[i].Tokens, loss.Caption.Item())
		}
	}
	if _, err := p.Score(bg, img.images[0], "a cat"); err == nil || !strings.Contains(err.Error(), "ScoreTokens") {
		t.Errorf("text on a model without its tokenizer: %v", err)
	}
	if _, err := p.ScoreTokens(bg, img.images[0], []int{62, 70}); err == nil || !strings.Contains(err.Error(), "token 70") {
		t.Errorf("token outside the vocabulary: %v", err)
	}
	if _, err := p.ScoreTokens(bg, img.images[0], make([]int, 13)); err == nil || !strings.Contains(err.Error(), "context length 12") {
		t.Errorf("sequence too long: %v", err)
	}

	dir := t.TempDir()
	_, tok := trainedRun(t, dir)
	tp, _ := Open(dir)
	byText, err := tp.Score(bg, img.images[0], "a small red circle", "two large red crosses")
	if err != nil {
		t.Fatal(err)
	}
	byIDs, _ := tp.ScoreTokens(bg, img.images[0], append(append([]int{tok.SOT()}, tok.Encode("a small red circle")...), tok.EOT()))
	// Batched with a longer caption, the first is padded: 7.5e-7 apart.
	if math.Abs(byText[0].LogProb-byIDs[0].LogProb) > 1e-5 || byText[0].Tokens != byIDs[0].Tokens || byText[1].LogProb >= 0 {
		t.Errorf("Score %+v, ScoreTokens %+v", byText, byIDs)
	}
}

// countingCtx reports cancellation from its n-th Err call on.
type countingCtx struct {
	context.Context
	calls, n int
}

func (c *countingCtx) Err() error {
	c.calls++
	if c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

// TestCancel checks that a cancelled context stops captioning between
// decoding steps (and embedding between batches) with the context's error.
func TestCancel(t *testing.T) {
	p := openTiny(t, WithBatchSize(1, 1))
	img := testImages(t, 3, 32)
	for _, o := range []GenerateOptions{
		{Strategy: StrategyGreedy, MaxLen: 12, MinLen: 11},
		{Strategy: StrategyBeam, Beams: 3, MaxLen: 12, MinLen: 11},
	} {
		// Call 1 is before the first batch; calls 2, 3, ... before each step.
		ctx := &countingCtx{Context: bg, n: 5}
		_, err := p.CaptionBatch(ctx, img.images, WithGenerateOptions(o))
		if !errors.Is(err, context.Canceled) || ctx.calls != 5 {
			t.Errorf("%s: %v after %d checks, want context.Canceled after 5", o.Strategy, err, ctx.calls)
		}
		// The pipeline is unchanged: the next call runs to the end.
		if res, err := p.CaptionBatch(bg, img.images, WithGenerateOptions(o)); err != nil || len(res[2].Captions[0].Tokens) != 12 {
			t.Errorf("%s after a cancellation: %v", o.Strategy, err)
		}
	}
	ctx := &countingCtx{Context: bg, n: 3}
	if _, err := p.Embed(ctx, img.images...); !errors.Is(err, context.Canceled) || ctx.calls != 3 {
		t.Errorf("Embed: %v after %d checks", err, ctx.calls)
	}
	dir := t.TempDir()
	trainedRun(t, dir)
	tp, err := Open(dir, WithBatchSize(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	ctx = &countingCtx{Context: bg, n: 2}
	if _, err := tp.EmbedTexts(ctx, "a", "b", "c"); !errors.Is(err, context.Canceled) || ctx.calls != 2 {
		t.Errorf("EmbedTexts: %v after %d checks", err, ctx.calls)
	}
}

// TestEmbedAndClassify compares embeddings and zero-shot probabilities
// with the model's own entry points.
func TestEmbedAndClassify(t *testing.T) {
	dir := t.TempDir()
	m, tok := trainedRun(t, dir)
	p, err := Open(dir, WithBatchSize(2, 3))
	if err != nil {
		t.Fatal(err)
	}
	img := testImages(t, 5, 32)
	got, err := p.Embed(bg, img.images...)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.EncodeImage(img.tensor)
	closeRows(t, "Embed", got, want.Data(), 1e-5)
	texts := []string{"a small red circle", "two large red crosses", "a star", "a large blue square left of a small green star"}
	gotT, err := p.EmbedTexts(bg, texts...)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, s := range texts {
		ids = append(ids, tok.Tokenize(s, 12)...)
	}
	closeRows(t, "EmbedTexts", gotT, m.EncodeText(ids, len(texts), 12).Data(), 1e-5)

	classes := []string{"red circle", "blue square", "green star"}
	templates := []string{"a small {}", "a large {}"}
	c, err := p.NewClassifier(bg, classes, templates...)
	if err != nil {
		t.Fatal(err)
	}
	preds, err := c.Classify(bg, img.images...)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := m.ClassEmbeddings(classes, templates, func(s string) []int { return tok.Tokenize(s, 12) }, 64)
	probs := m.ZeroShotProbs(want, w)
	for i, row := range preds {
		for r, pr := range row {
			if math.Abs(float64(pr.Prob-probs[i*3+pr.Index])) > 1e-5 || pr.Class != classes[pr.Index] || (r > 0 && pr.Prob > row[r-1].Prob) {
				t.Fatalf("image %d: %+v, library %v", i, row, probs[i*3:i*3+3])
			}
		}
	}
	one, err := p.Classify(bg, img.images[4], classes, templates...)
	if err != nil || one[0] != preds[4][0] {
		t.Errorf("Classify %v %v, Classifier %v", one, err, preds[4])
	}
	for _, c := range []struct {
		classes, templates []string
		want               string
	}{
		{nil, nil, "no classes"},
		{classes, []string{"a photo"}, `template "a photo" has no {}`},
	} {
		if _, err := p.NewClassifier(bg, c.classes, c.templates...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v", c.classes, c.templates, err)
		}
	}
	if _, err := p.Embed(bg, img.images[0], nil); err == nil || !strings.Contains(err.Error(), "image 1 is nil") {
		t.Errorf("nil image: %v", err)
	}
	if _, err := p.Embed(bg, image.NewRGBA(image.Rect(0, 0, 0, 5))); err == nil || !strings.Contains(err.Error(), "no pixels") {
		t.Errorf("empty image: %v", err)
	}
}

func closeRows(t *testing.T, what string, got [][]float32, want []float32, tol float64) {
	t.Helper()
	d := len(want) / len(got)
	for i, row := range got {
		for j, x := range row {
			if diff := math.Abs(float64(x - want[i*d+j])); diff > tol || len(row) != d {
				t.Fatalf("%s[%d][%d] = %g, want %g", what, i, j, x, want[i*d+j])
			}
		}
	}
}

// logSoftmaxRow replaces row by log_softmax(row), computed in float64.
func logSoftmaxRow(row []float32) {
	ls := generate.LogSumExp(row)
	for i, x := range row {
		row[i] = float32(float64(x) - ls)
	}
}
