package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/gococa/gococa/coca"
)

func init() {
	register("caption", "write a caption for each image (beam search, greedy or sampling)", runCaption)
}

func runCaption(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("caption", "[flags] IMAGE|DIR ...",
		"coca caption --pretrained coca_ViT-B-32:mscoco_finetuned_laion2b_s13b_b90k photos/\n"+
			"  coca caption --checkpoint runs/shapes --write-txt -r dataset/\n"+
			"  find photos -name '*.jpg' | coca caption --checkpoint open_clip_pytorch_model.bin --files-from - --json --embed\n"+
			"  coca caption --checkpoint model.safetensors --strategy top-p --n 3 --prefix \"a photo of\" --seed 1 cat.jpg", stderr)
	mf := addModelFlags(fs)
	imf := addImageFlags(fs, "caption")
	// The defaults are open_clip's CoCa.generate defaults.
	def := coca.OpenCLIPGenerateOptions
	strategy := fs.String("strategy", def.Strategy, "beam (open_clip's beam_search: raw logit scores), beam-logprob (beam search over log-probabilities), greedy, top-k or top-p")
	beams := fs.Int("beams", def.Beams, "beam search: num_beams")
	beamGroups := fs.Int("beam-groups", def.BeamGroups, "beam search: num_beam_groups; open_clip applies no diversity penalty, so this is one search of beams/groups beams")
	maxLen := fs.Int("max-len", def.MaxLen, "tokens per caption including the start token (capped at the context length)")
	minLen := fs.Int("min-len", def.MinLen, "no end token before this many tokens")
	lengthPenalty := fs.Float64("length-penalty", def.LengthPenalty, "beam search: a hypothesis scores its sum / length^penalty")
	topK := fs.Int("top-k", def.TopK, "top-k: tokens kept")
	topP := fs.Float64("top-p", def.TopP, "top-p: probability mass kept")
	temperature := fs.Float64("temperature", 1, "sampling temperature (applied after top-k/top-p, as open_clip does)")
	repetition := fs.Float64("repetition-penalty", 1, "divide positive (multiply negative) logits of tokens already in the caption by this")
	seed := fs.Uint64("seed", 0, "sampling seed")
	n := fs.Int("n", 1, "captions per image, best first: beam search's n best hypotheses (at most --beams / --beam-groups), or n samples with top-k/top-p; plain output then has one line per caption, PATH<TAB>RANK<TAB>CAPTION")
	prefix := fs.String("prefix", "", "text every caption starts with (a prompt; the captions include it)")
	batch := fs.Int("batch", 8, "images per batch")
	jsonOut := fs.Bool("json", false, "write JSON lines {\"image\", \"caption\", \"tokens\"} (with --n > 1 also \"captions\": [{\"caption\", \"tokens\"}]) instead of PATH<TAB>CAPTION")
	embed := fs.Bool("embed", false, "with --json: add each image's normalised embedding (\"embedding\"), computed in the same pass")
	score := fs.Bool("score", false, "add each caption's log-likelihood under the model (natural log, summed over its tokens): a column before the caption, or \"logprob\" with --json")
	writeTxt := fs.Bool("write-txt", false, "also write each image's caption(s) to a .txt file beside it (photo.jpg: photo.txt, one caption per line)")
	overwrite := fs.Bool("overwrite", false, "with --write-txt: replace existing .txt files (without it, existing ones stop the command before anything is captioned)")
	attention := fs.String("attention", "", "write, per image, the decoder's cross-attention over the image for each token of the (best) caption as heatmap PNGs (averaged over heads and layers, carried to the patches through the captioning pooler) with attention.json, into DIR/IMAGE-NAME/; needs --weights f32")
	start := fs.Int("start", -1, "start token (default: the tokenizer's, 49406 for CLIP)")
	end := fs.Int("end", -2, "end token (default: the tokenizer's, 49407 for CLIP; -1 never stops early)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 && imf.filesFrom == "" {
		fs.Usage()
		return exitError{2}
	}
	switch {
	case *batch < 1:
		return usagef("--batch %d: want at least 1", *batch)
	case *n < 1:
		return usagef("--n %d: want at least 1", *n)
	case *beams < 1:
		return usagef("--beams %d: want at least 1", *beams)
	case *beamGroups < 1 || *beams%*beamGroups != 0:
		return usagef("--beam-groups %d: want at least 1, dividing --beams %d", *beamGroups, *beams)
	case !(*temperature > 0) || math.IsInf(*temperature, 0):
		return usagef("--temperature %g: want a number above 0 (for the most likely tokens, use --strategy greedy or beam)", *temperature)
	case *maxLen < 2:
		return usagef("--max-len %d: want at least 2 (the start token and one more)", *maxLen)
	case *minLen < 0:
		return usagef("--min-len %d: want at least 0", *minLen)
	case *minLen >= *maxLen:
		return usagef("--min-len %d must be below --max-len %d (no caption could end)", *minLen, *maxLen)
	case *topK < 1:
		return usagef("--top-k %d: want at least 1", *topK)
	case !(*topP > 0 && *topP <= 1):
		return usagef("--top-p %g: want 0 < p ≤ 1", *topP)
	case !(*repetition > 0) || math.IsInf(*repetition, 0):
		return usagef("--repetition-penalty %g: want a number above 0", *repetition)
	case math.IsNaN(*lengthPenalty) || math.IsInf(*lengthPenalty, 0):
		return usagef("--length-penalty %g: want a finite number", *lengthPenalty)
	case *start < -1:
		return usagef("--start %d: want a token id", *start)
	case *end < -2:
		return usagef("--end %d: want a token id, or -1 to never stop early", *end)
	case *embed && !*jsonOut:
		return usagef("--embed adds embeddings to the JSON lines: add --json")
	case *overwrite && !*writeTxt:
		return usagef("--overwrite replaces the files --write-txt writes: add --write-txt")
	case *attention != "" && mf.weights != "f32":
		return usagef("--attention reads the decoder's float32 weights: drop --weights %s", mf.weights)
	}
	switch *strategy {
	case coca.StrategyGreedy, coca.StrategyTopK, coca.StrategyTopP:
		if *n > 1 && *strategy == coca.StrategyGreedy {
			return usagef("--n %d: greedy decoding makes one caption per image (use --strategy beam, top-k or top-p)", *n)
		}
	case coca.StrategyBeam, coca.StrategyBeamLogProb:
		if k := *beams / max(*beamGroups, 1); *n > k {
			return usagef("--n %d is more than the %d beams of one search (--beams %d / --beam-groups %d)", *n, k, *beams, *beamGroups)
		}
	default:
		return usagef("--strategy %q: want beam, beam-logprob, greedy, top-k or top-p", *strategy)
	}
	if err := mf.check(); err != nil {
		return err
	}
	paths, err := imf.collect(rest)
	if err != nil {
		return err
	}
	if *writeTxt {
		if err := checkCaptionFiles(paths, *overwrite); err != nil {
			return err
		}
	}
	openOpts := []coca.OpenOption{coca.WithBatchSize(*batch, 64)}
	if *start >= 0 && *end >= -1 {
		openOpts = append(openOpts, coca.WithSpecialTokens(*start, *end))
	}
	p, err := mf.open(openOpts...)
	if err != nil {
		return err
	}
	s, e, err := specialTokens(p, *start, *end)
	if err != nil {
		return err
	}
	o := coca.GenerateOptions{MaxLen: *maxLen, MinLen: *minLen, Start: s, End: e, Strategy: *strategy, Beams: *beams, BeamGroups: *beamGroups,
		LengthPenalty: *lengthPenalty, TopK: *topK, TopP: *topP, Temperature: *temperature, RepetitionPenalty: *repetition, Seed: *seed}
	opts := []coca.CaptionOption{coca.WithNBest(*n)}
	if *prefix != "" {
		opts = append(opts, coca.WithPrefix(*prefix))
	}
	if *embed {
		opts = append(opts, coca.WithEmbedding())
	}
	if *score {
		opts = append(opts, coca.WithLogProb())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// Check the options before decoding any image.
	if _, err := p.CaptionBatch(ctx, nil, append(opts, coca.WithGenerateOptions(o))...); err != nil {
		return err
	}
	enc := json.NewEncoder(safeJSON{stdout})
	enc.SetEscapeHTML(false)
	done := 0
	var heat *attentionWriter
	if *attention != "" {
		if err := os.MkdirAll(*attention, 0o755); err != nil {
			return fmt.Errorf("--attention: %w", err)
		}
		heat = &attentionWriter{dir: *attention, used: map[string]int{}}
	}
	prog := newProgress(stderr, "caption", len(paths), len(paths) > *batch)
	err = imf.eachBatch(paths, *batch, prog, func(group []string, imgs []image.Image) error {
		ob := o
		ob.RowOffset = done // each image keeps its sampling stream whatever the batching
		res, err := p.CaptionBatch(ctx, imgs, append(opts, coca.WithGenerateOptions(ob))...)
		if err != nil {
			return err
		}
		done += len(imgs)
		for i, r := range res {
			if err := writeCaptions(stdout, enc, group[i], r, *jsonOut, *score, *n > 1); err != nil {
				return err
			}
			if *writeTxt {
				if err := writeCaptionFile(group[i], r.Captions); err != nil {
					return err
				}
			}
			if heat != nil {
				maps, err := p.CrossAttention(ctx, imgs[i], r.Captions[0].Tokens)
				if err != nil {
					return err
				}
				if err := heat.write(p, group[i], imgs[i], r.Captions[0], maps); err != nil {
					return err
				}
			}
		}
		return nil
	})
	imf.summary()
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	return err
}

// specialTokens picks the start and end tokens: the flags when set
// (start ≥ 0; end ≥ -1, -1 never stopping), else the pipeline's.
func specialTokens(p *coca.Pipeline, start, end int) (int, int, error) {
	s, e, err := p.SpecialTokens()
	if start >= 0 && end >= -1 {
		return start, end, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%w (or pass --start and --end)", err)
	}
	if start >= 0 {
		s = start
	}
	if end >= -1 {
		e = end
	}
	return s, e, nil
}

type jsonCaption struct {
	Caption string   `json:"caption"`
	Tokens  []int    `json:"tokens"`
	LogProb *float64 `json:"logprob,omitempty"`
}

type jsonCaptions struct {
	Image string `json:"image"`
	jsonCaption
	Captions  []jsonCaption `json:"captions,omitempty"`
	Embedding []float32     `json:"embedding,omitempty"`
}

// writeCaptions writes one image's captions: a JSON line, or lines of
// PATH [RANK] [LOGPROB] CAPTION separated by tabs.
func writeCaptions(w io.Writer, enc *json.Encoder, path string, r coca.CaptionResult, asJSON, score, nbest bool) error {
	if asJSON {
		var cs []jsonCaption
		for _, c := range r.Captions {
			jc := jsonCaption{Caption: c.Text, Tokens: c.Tokens}
			if score {
				lp := c.LogProb
				jc.LogProb = &lp
			}
			cs = append(cs, jc)
		}
		line := jsonCaptions{Image: path, jsonCaption: cs[0], Embedding: r.Embedding}
		if nbest {
			line.Captions = cs
		}
		return enc.Encode(line)
	}
	for k, c := range r.Captions {
		cols := []string{termSafe(path)}
		if nbest {
			cols = append(cols, fmt.Sprint(k+1))
		}
		if score {
			cols = append(cols, fmt.Sprintf("%.4f", c.LogProb))
		}
		cols = append(cols, termSafe(c.Text))
		if _, err := fmt.Fprintln(w, strings.Join(cols, "\t")); err != nil {
			return err
		}
	}
	return nil
}

// captionFile is the .txt beside an image.
func captionFile(path string) string { return strings.TrimSuffix(path, filepath.Ext(path)) + ".txt" }

// checkCaptionFiles refuses, before anything is captioned, images whose
// caption files would collide or (without --overwrite) exist.
func checkCaptionFiles(paths []string, overwrite bool) error {
	owner := map[string]string{}
	var existing []string
	for _, p := range paths {
		t := captionFile(p)
		if q, dup := owner[t]; dup {
			return fmt.Errorf("--write-txt: images %s and %s would both write %s", q, p, t)
		}
		owner[t] = p
		if _, err := os.Lstat(t); err == nil && !overwrite {
			existing = append(existing, t)
		}
	}
	if len(existing) > 0 {
		more := ""
		if len(existing) > 1 {
			more = fmt.Sprintf(" (and %d more caption files)", len(existing)-1)
		}
		return fmt.Errorf("--write-txt: %s exists%s: nothing was captioned; --overwrite replaces them", existing[0], more)
	}
	return nil
}

// writeCaptionFile writes the captions of an image beside it, one per
// line, atomically (a temporary file renamed over the old one).
func writeCaptionFile(image string, caps []coca.Caption) error {
	path := captionFile(image)
	var b strings.Builder
	for _, c := range caps {
		b.WriteString(strings.Join(strings.Fields(c.Text), " "))
		b.WriteByte('\n')
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("--write-txt %s: %w", path, err)
	}
	_, err = tmp.WriteString(b.String())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("--write-txt %s: %w", path, err)
	}
	return nil
}
