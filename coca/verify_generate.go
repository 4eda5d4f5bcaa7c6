package coca

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// VerifyGenerateOptions select how VerifyGenerate runs the model.
type VerifyGenerateOptions struct {
	// BF16 decodes with the weights rounded to bfloat16 (QuantizeBF16).
	// Decisions that open_clip won by less than the rounding moves the
	// logits can flip.
	BF16 bool
	// Int8 decodes with the text stacks' weights in int8 (QuantizeInt8),
	// which moves the logits more than bfloat16 rounding does.
	Int8 bool
}

// GenerateCase is one case of a generate fixture directory: open_clip's
// generate() keyword arguments and what they mean here.
type GenerateCase struct {
	Name    string
	Options GenerateOptions
}

// VerifyGenerate runs every case of the generate fixture directory dir and
// compares the rows with open_clip's. The layout (golden/testdata/generate/
// README.md): config.json (or open_clip_config.json), weights.safetensors,
// and per case <case>.json, whose "generate_kwargs" are the keyword
// arguments passed to open_clip's CoCa.generate, with <case>.safetensors
// holding input.image (N, 3, H, W) and open_clip's output.tokens (N, L),
// and optionally output.lengths and output.ended (N). A row matches when
// its L tokens (the caption padded with the pad token as open_clip pads
// it), its length and how it ended are open_clip's, and the output has L
// columns. It writes one line per case and a final verdict to w, and
// returns the number of cases that differ.
func VerifyGenerate(dir string, w io.Writer, vo VerifyGenerateOptions) (int, error) {
	cfgPath := filepath.Join(dir, "config.json")
	if _, err := os.Stat(cfgPath); err != nil {
		if alt := filepath.Join(dir, "open_clip_config.json"); fileExists(alt) {
			cfgPath = alt
		}
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return 0, err
	}
	model := New(cfg)
	if err := model.LoadSafetensors(filepath.Join(dir, "weights.safetensors")); err != nil {
		return 0, err
	}
	if vo.BF16 && vo.Int8 {
		return 0, fmt.Errorf("coca: verify generate: BF16 and Int8 both set the weights")
	}
	if vo.BF16 {
		model.QuantizeBF16()
	}
	if vo.Int8 {
		if err := model.QuantizeInt8(); err != nil {
			return 0, err
		}
	}
	names, err := generateCaseNames(dir)
	if err != nil {
		return 0, err
	}
	fails := 0
	for _, name := range names {
		line, ok, err := verifyCase(model, dir, name)
		if err != nil {
			return 0, err
		}
		status := "ok  "
		if !ok {
			status = "FAIL"
			fails++
		}
		fmt.Fprintf(w, "%s %-28s %s\n", status, name, line)
	}
	if fails == 0 {
		fmt.Fprintf(w, "verify --generate: PASS (%d cases)\n", len(names))
	} else {
		fmt.Fprintf(w, "verify --generate: FAIL (%d of %d cases)\n", fails, len(names))
	}
	return fails, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// generateCaseNames lists the cases of dir: every <case>.json beside a
// <case>.safetensors.
func generateCaseNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("coca: verify: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".json") || n == "config.json" || n == "open_clip_config.json" {
			continue
		}
		c := strings.TrimSuffix(n, ".json")
		if fileExists(filepath.Join(dir, c+".safetensors")) {
			names = append(names, c)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("coca: verify: %s: no case (<case>.json beside <case>.safetensors)", dir)
	}
	return names, nil
}

// verifyCase runs one case and returns its report line.
func verifyCase(m *Model, dir, name string) (string, bool, error) {
	jsonPath := filepath.Join(dir, name+".json")
	gc, err := LoadGenerateCase(jsonPath, m)
	if err != nil {
		return "", false, err
	}
	stPath := filepath.Join(dir, name+".safetensors")
	f, err := safetensors.Open(stPath)
	if err != nil {
		return "", false, fmt.Errorf("coca: verify: %w", err)
	}
	defer f.Close()
	img, ishape, err := readF32(f, stPath, "input.image")
	if err != nil {
		return "", false, err
	}
	want, wshape, err := readI64(f, stPath, "output.tokens")
	if err != nil {
		return "", false, err
	}
	s := m.Config.Vision.ImageSize
	if len(ishape) != 4 || ishape[1] != 3 || ishape[2] != s || ishape[3] != s {
		return "", false, fmt.Errorf("coca: verify: %s: input.image has shape %v, want [N, 3, %d, %d]", stPath, ishape, s, s)
	}
	n := ishape[0]
	if len(wshape) != 2 || wshape[0] != n {
		return "", false, fmt.Errorf("coca: verify: %s: output.tokens has shape %v, want [%d, L]", stPath, wshape, n)
	}
	var lengths, ended []int64
	if _, ok := f.Info("output.lengths"); ok {
		if lengths, err = readRow(f, stPath, "output.lengths", n); err != nil {
			return "", false, err
		}
	}
	if _, ok := f.Info("output.ended"); ok {
		if ended, err = readRow(f, stPath, "output.ended", n); err != nil {
			return "", false, err
		}
	}
	images := tensor.FromSlice(img, ishape...)
	g, err := m.GenerateOutput(images, gc.Options)
	if err != nil {
		return "", false, fmt.Errorf("coca: verify: %s: %w", jsonPath, err)
	}
	l := wshape[1]
	rows := g.Matrix()
	match := 0
	var first string
	for i := range n {
		wr := make([]int, l)
		for j := range wr {
			wr[j] = int(want[i*l+j])
		}
		why := ""
		switch {
		case !slices.Equal(rows[i], wr):
			why = fmt.Sprintf("tokens %v, open_clip %v", rows[i], wr)
		case lengths != nil && !lengthMatches(g.Tokens[i], g.Pad, lengths[i]):
			why = fmt.Sprintf("length %d, open_clip %d", len(g.Tokens[i]), lengths[i])
		case ended != nil && g.Ended[i] != (ended[i] != 0):
			why = fmt.Sprintf("ended %v, open_clip %v", g.Ended[i], ended[i] != 0)
		}
		if why == "" {
			match++
		} else if first == "" {
			first = fmt.Sprintf("row %d: %s", i, why)
		}
	}
	desc := describeOptions(gc.Options)
	if match == n && g.Width == l {
		return fmt.Sprintf("%d/%d rows match, width %d (%s)", match, n, l, desc), true, nil
	}
	msg := fmt.Sprintf("%d/%d rows match", match, n)
	if g.Width != l {
		msg += fmt.Sprintf(", width %d, open_clip %d", g.Width, l)
	}
	if first != "" {
		msg += "; " + first
	}
	if s := gc.Options.Strategy; s == StrategyTopK || s == StrategyTopP {
		o := gc.Options
		o.Seed++
		if other, err := m.Generate(images, o); err == nil && !slices.EqualFunc(other, g.Tokens, slices.Equal) {
			msg += "; the rows depend on the random draw (torch's cannot be reproduced)"
		}
	}
	return msg + " (" + desc + ")", false, nil
}

// lengthMatches compares a row's length with a fixture's: a beam search
// can end a row with a generated pad token, which a fixture may count or,
// stripping the output's padding, not.
func lengthMatches(row []int, pad int, want int64) bool {
	n := len(row)
	if int64(n) == want {
		return true
	}
	for n > 1 && row[n-1] == pad {
		n--
	}
	return int64(n) == want
}

func describeOptions(o GenerateOptions) string {
	var s string
	switch o.Strategy {
	case StrategyBeam, StrategyBeamLogProb:
		s = fmt.Sprintf("%s, %d beams in %d groups", o.Strategy, o.Beams, max(o.BeamGroups, 1))
	case StrategyTopK:
		s = fmt.Sprintf("top-k %d", o.TopK)
	case StrategyTopP:
		s = fmt.Sprintf("top-p %g", o.TopP)
	default:
		s = o.Strategy
	}
	s += fmt.Sprintf(", seq_len %d, min_seq_len %d", o.MaxLen, o.MinLen)
	if o.RepetitionPenalty != 1 {
		s += fmt.Sprintf(", repetition %g", o.RepetitionPenalty)
	}
	if o.FixedLength {
		s += ", fixed length"
	}
	return s
}

func readF32(f *safetensors.File, path, name string) ([]float32, []int, error) {
	info, ok := f.Info(name)
	if !ok {
		return nil, nil, fmt.Errorf("coca: verify: %s: missing tensor %q", path, name)
	}
	v, err := f.Float32(name)
	if err != nil {
		return nil, nil, fmt.Errorf("coca: verify: %s: %w", path, err)
	}
	return v, info.Shape, nil
}

func readI64(f *safetensors.File, path, name string) ([]int64, []int, error) {
	info, ok := f.Info(name)
	if !ok {
		return nil, nil, fmt.Errorf("coca: verify: %s: missing tensor %q", path, name)
	}
	v, err := f.Int64(name)
	if err != nil {
		return nil, nil, fmt.Errorf("coca: verify: %s: %w", path, err)
	}
	return v, info.Shape, nil
}

func readRow(f *safetensors.File, path, name string, n int) ([]int64, error) {
	v, shape, err := readI64(f, path, name)
	if err != nil {
		return nil, err
	}
	if len(shape) != 1 || shape[0] != n {
		return nil, fmt.Errorf("coca: verify: %s: %s has shape %v, want [%d]", path, name, shape, n)
	}
	return v, nil
}

// maxCaseJSON bounds a case file: its arguments and notes are kilobytes.
const maxCaseJSON = 1 << 20

// LoadGenerateCase reads a case file's "generate_kwargs" (open_clip's
// CoCa.generate keyword arguments; absent ones take open_clip's defaults)
// as GenerateOptions for m. Arguments that open_clip would refuse, or that
// this package cannot reproduce (text prompts, stopping criteria, a
// seq_len past the context), are errors naming the file and key.
func LoadGenerateCase(path string, m *Model) (*GenerateCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("coca: verify: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCaseJSON+1))
	if err != nil {
		return nil, fmt.Errorf("coca: verify: %s: %w", path, err)
	}
	if len(data) > maxCaseJSON {
		return nil, fmt.Errorf("coca: verify: %s: larger than %d bytes", path, maxCaseJSON)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("coca: verify: %s: %v", path, err)
	}
	kw, ok := top["generate_kwargs"]
	if !ok {
		return nil, fmt.Errorf("coca: verify: %s: no \"generate_kwargs\"", path)
	}
	o, err := parseGenerateKwargs(kw, m)
	if err != nil {
		return nil, fmt.Errorf("coca: verify: %s: %w", path, err)
	}
	return &GenerateCase{Name: strings.TrimSuffix(filepath.Base(path), ".json"), Options: o}, nil
}

// parseGenerateKwargs maps open_clip's generate() arguments to options.
func parseGenerateKwargs(data json.RawMessage, m *Model) (GenerateOptions, error) {
	var kw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&kw); err != nil {
		return GenerateOptions{}, fmt.Errorf("generate_kwargs: %v", err)
	}
	// open_clip's defaults.
	o := OpenCLIPGenerateOptions
	o.Pad = m.Config.PadID
	maxSeqLen := 77
	genType := "beam_search"
	for _, k := range sortedKeys(kw) {
		v := kw[k]
		isNull := strings.TrimSpace(string(v)) == "null"
		var err error
		switch k {
		case "seq_len":
			err = decodeInt(v, &o.MaxLen)
		case "max_seq_len":
			err = decodeInt(v, &maxSeqLen)
		case "min_seq_len":
			err = decodeInt(v, &o.MinLen)
		case "temperature":
			err = json.Unmarshal(v, &o.Temperature)
		case "top_p":
			err = json.Unmarshal(v, &o.TopP)
		case "top_k":
			err = decodeInt(v, &o.TopK)
		case "num_beams":
			err = decodeInt(v, &o.Beams)
		case "num_beam_groups":
			err = decodeInt(v, &o.BeamGroups)
		case "repetition_penalty":
			err = json.Unmarshal(v, &o.RepetitionPenalty)
		case "fixed_output_length":
			err = json.Unmarshal(v, &o.FixedLength)
		case "generation_type":
			err = json.Unmarshal(v, &genType)
		case "pad_token_id":
			if !isNull {
				err = decodeInt(v, &o.Pad)
				if err == nil && o.Pad == 0 && m.Config.PadID != 0 {
					err = fmt.Errorf("0 while the model's pad_id is %d: not expressible in GenerateOptions (0 selects the model's)", m.Config.PadID)
				}
			}
		case "eos_token_id":
			if !isNull {
				err = decodeInt(v, &o.End)
			}
		case "sot_token_id":
			if !isNull {
				err = decodeInt(v, &o.Start)
			}
		case "text", "stopping_criteria":
			if !isNull {
				err = fmt.Errorf("not supported")
			}
		default:
			err = fmt.Errorf("unknown argument of open_clip's generate()")
		}
		if err != nil {
			return o, fmt.Errorf("generate_kwargs.%s: %v", k, err)
		}
	}
	switch genType {
	case "beam_search":
		o.Strategy = StrategyBeam
	case "top_k":
		o.Strategy = StrategyTopK
	case "top_p":
		o.Strategy = StrategyTopP
	default:
		return o, fmt.Errorf("generate_kwargs.generation_type: %q (open_clip's are beam_search, top_k, top_p)", genType)
	}
	if ctx := m.maxGenerateLen(); o.MaxLen > ctx {
		return o, fmt.Errorf("generate_kwargs.seq_len: %d exceeds the model's context length %d", o.MaxLen, ctx)
	}
	if o.MaxLen > maxSeqLen {
		return o, fmt.Errorf("generate_kwargs.seq_len: %d exceeds max_seq_len %d (open_clip then decodes from a sliding window, not supported)", o.MaxLen, maxSeqLen)
	}
	if o.MaxLen <= o.MinLen {
		return o, fmt.Errorf("generate_kwargs.seq_len: %d must exceed min_seq_len %d (open_clip asserts it)", o.MaxLen, o.MinLen)
	}
	if err := m.CheckGenerateOptions(o); err != nil {
		return o, err
	}
	return o, nil
}
