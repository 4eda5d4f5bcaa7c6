package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tokenizer"
)

func init() {
	register("caption", "write a caption for each image (beam search, greedy or sampling)", runCaption)
}

func runCaption(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("caption", "[flags] IMAGE|DIR ...",
		"coca caption --config coca_ViT-B-32 --checkpoint open_clip_pytorch_model.bin photos/\n"+
			"  coca caption --checkpoint model.safetensors --strategy top-p --top-p 0.9 --seed 1 --json cat.jpg\n"+
			"  coca caption --config golden/testdata/tiny/config.json --checkpoint golden/testdata/tiny/weights.safetensors --start 62 --end 63 --max-len 12 img.png", stderr)
	mf := addModelFlags(fs)
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
	batch := fs.Int("batch", 8, "images per batch")
	jsonOut := fs.Bool("json", false, "write JSON lines {\"image\", \"caption\", \"tokens\"} instead of path<TAB>caption")
	start := fs.Int("start", -1, "start token (default: the tokenizer's, 49406 for CLIP)")
	end := fs.Int("end", -2, "end token (default: the tokenizer's, 49407 for CLIP; -1 never stops early)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		fs.Usage()
		return exitError{2}
	}
	if *batch < 1 {
		return fmt.Errorf("--batch %d: want at least 1", *batch)
	}
	paths, err := collectImages(rest)
	if err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	tok, err := mf.loadTokenizer()
	if err != nil {
		return err
	}
	s, e, err := specialTokens(m, tok, *start, *end)
	if err != nil {
		return err
	}
	o := coca.GenerateOptions{MaxLen: *maxLen, MinLen: *minLen, Start: s, End: e, Strategy: *strategy, Beams: *beams, BeamGroups: *beamGroups,
		LengthPenalty: *lengthPenalty, TopK: *topK, TopP: *topP, Temperature: *temperature, RepetitionPenalty: *repetition, Seed: *seed}
	// Check the options before decoding any image.
	if err := m.CheckGenerateOptions(o); err != nil {
		return err
	}
	decode := captionText(m, tok)
	prog := newProgress(stderr, "caption", len(paths), len(paths) > *batch)
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for b0 := 0; b0 < len(paths); b0 += *batch {
		group := paths[b0:min(b0+*batch, len(paths))]
		images, err := loadImages(group, m.Config.Vision.ImageSize)
		if err != nil {
			return err
		}
		o.RowOffset = b0
		seqs, err := m.Generate(images, o)
		if err != nil {
			return err
		}
		for i, p := range group {
			text := decode(seqs[i], e)
			if *jsonOut {
				if err := enc.Encode(struct {
					Image   string `json:"image"`
					Caption string `json:"caption"`
					Tokens  []int  `json:"tokens"`
				}{p, text, seqs[i]}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(stdout, "%s\t%s\n", p, text)
			}
		}
		prog.update(b0 + len(group))
	}
	return nil
}

// captionText decodes a generated sequence as open_clip does (text between
// the start and end tokens, stripped) when the tokenizer's vocabulary is
// the model's; otherwise it writes the token ids.
func captionText(m *coca.Model, tok *tokenizer.Tokenizer) func(seq []int, end int) string {
	if tok.VocabSize() == m.Config.Multimodal.VocabSize {
		return func(seq []int, _ int) string {
			return strings.TrimSpace(tok.Decode(tok.TrimSpecial(seq)))
		}
	}
	return func(seq []int, end int) string {
		var parts []string
		for _, id := range seq[1:] {
			if id == end {
				break
			}
			parts = append(parts, strconv.Itoa(id))
		}
		return strings.Join(parts, " ")
	}
}
