package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
	"github.com/gococa/gococa/tensor/torchfile"
	"github.com/gococa/gococa/tokenizer"
)

// modelFlags are the flags every inference command shares.
type modelFlags struct {
	config, checkpoint, tokenizer, weights, device string
	log                                            io.Writer // receives the device line
}

func addModelFlags(fs *flag.FlagSet) *modelFlags {
	mf := &modelFlags{}
	fs.StringVar(&mf.config, "config", "", "built-in config name (e.g. coca_ViT-B-32) or open_clip model-config JSON file (default: the config stored in a .safetensors checkpoint written by coca train, else coca_ViT-B-32)")
	fs.StringVar(&mf.checkpoint, "checkpoint", "", "model weights: open_clip's .bin/.pt (torch.save) or .safetensors (required)")
	fs.StringVar(&mf.tokenizer, "tokenizer", "auto", "clip, a BPE merges file, or auto (tokenizer.txt beside the checkpoint when there is one, else clip)")
	fs.StringVar(&mf.weights, "weights", "f32", "weight precision: f32, or bf16 (matrices rounded to bfloat16, the text stacks' kept in 16 bits: half their memory, and decoding reads 16-bit weights; read straight from float16/bfloat16 checkpoints)")
	fs.StringVar(&mf.device, "device", "cpu", deviceUsage)
	mf.log = fs.Output()
	return mf
}

// load builds the model and reads the checkpoint.
func (mf *modelFlags) load() (*coca.Model, error) {
	if err := useDevice(mf.device, mf.log); err != nil {
		return nil, err
	}
	if mf.weights != "f32" && mf.weights != "bf16" {
		return nil, fmt.Errorf("--weights %q: want f32 or bf16", mf.weights)
	}
	if mf.checkpoint == "" {
		return nil, errors.New("--checkpoint is required (open_clip's open_clip_pytorch_model.bin or a .safetensors file; see coca convert)")
	}
	st, err := os.Stat(mf.checkpoint)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("checkpoint %s: no such file", mf.checkpoint)
		}
		return nil, fmt.Errorf("checkpoint %s: %w", mf.checkpoint, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("checkpoint %s: is a directory", mf.checkpoint)
	}
	isST := strings.HasSuffix(strings.ToLower(mf.checkpoint), ".safetensors")
	var stFile *safetensors.File
	if isST {
		stFile, err = safetensors.Open(mf.checkpoint)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", mf.checkpoint, err)
		}
		defer stFile.Close()
	}
	var cfg *coca.Config
	cfgName := mf.config
	switch {
	case mf.config != "":
		cfg, err = coca.ResolveConfig(mf.config)
	case stFile != nil && stFile.Metadata()["coca_config"] != "":
		cfgName = mf.checkpoint + " (stored config)"
		cfg, err = coca.ParseConfig([]byte(stFile.Metadata()["coca_config"]), cfgName)
	default:
		cfgName = "coca_ViT-B-32"
		cfg, err = coca.Builtin(cfgName)
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	m := coca.New(cfg)
	// With --weights bf16 the model is built from the file's values
	// directly (LoadBF16): no float32 copy of the decoder's matrices.
	load := m.Load
	if mf.weights == "bf16" {
		load = m.LoadBF16
	}
	if isST {
		err = load(coca.SafetensorsSource(stFile), mf.checkpoint)
	} else {
		var ck *torchfile.Checkpoint
		ck, err = torchfile.Open(mf.checkpoint)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", mf.checkpoint, err)
		}
		defer ck.Close()
		err = load(ck, mf.checkpoint)
	}
	if err != nil {
		return nil, fmt.Errorf("%s (config %s)", summarizeLoadError(err), cfgName)
	}
	return m, nil
}

// summarizeLoadError turns coca's multi-line mismatch report into one line
// with at most three names per list.
func summarizeLoadError(err error) string {
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	if len(lines) == 1 {
		return lines[0]
	}
	out := []string{strings.TrimSuffix(lines[0], ":")}
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		head, list, ok := strings.Cut(l, ": ")
		if !ok {
			out = append(out, l)
			continue
		}
		names := strings.Split(list, "; ")
		if len(names) > 3 {
			names = append(names[:3], "…")
		}
		out = append(out, head+" ("+strings.Join(names, "; ")+")")
	}
	return out[0] + ": " + strings.Join(out[1:], ", ")
}

// loadTokenizer resolves --tokenizer.
func (mf *modelFlags) loadTokenizer() (*tokenizer.Tokenizer, error) {
	name := mf.tokenizer
	if name == "auto" {
		name = "clip"
		if mf.checkpoint != "" {
			if p := filepath.Join(filepath.Dir(mf.checkpoint), "tokenizer.txt"); fileExists(p) {
				name = p
			}
		}
	}
	if name == "clip" {
		return tokenizer.New(), nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	t, err := tokenizer.LoadMerges(f, 0)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", name, err)
	}
	return t, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// textTokenizer returns a function tokenizing to the model's context
// length, or an error when the tokenizer's ids do not fit the model.
func textTokenizer(m *coca.Model, tok *tokenizer.Tokenizer) (func(string) []int, error) {
	if v := m.Config.Text.VocabSize; tok.VocabSize() > v {
		return nil, fmt.Errorf("the tokenizer has %d tokens but the model's vocabulary has %d: pass --tokenizer with the merges file the model was trained with", tok.VocabSize(), v)
	}
	ctx := m.Config.Text.ContextLength
	return func(s string) []int { return tok.Tokenize(s, ctx) }, nil
}

// specialTokens picks the start and end tokens: the flags when set
// (start ≥ 0; end ≥ -1, -1 never stopping), else the tokenizer's when its
// vocabulary is the model's, else CLIP's 49406/49407 for a 49408-token
// model; other vocabularies need the flags.
func specialTokens(m *coca.Model, tok *tokenizer.Tokenizer, start, end int) (int, int, error) {
	v := m.Config.Multimodal.VocabSize
	if start < 0 || end < -1 {
		var s, e int
		switch {
		case tok.VocabSize() == v:
			s, e = tok.SOT(), tok.EOT()
		case v == 49408:
			s, e = coca.StartOfText, coca.EndOfText
		default:
			return 0, 0, fmt.Errorf("the model's vocabulary has %d tokens, not CLIP's 49408, and the tokenizer has %d: pass --start and --end (or --tokenizer)", v, tok.VocabSize())
		}
		if start < 0 {
			start = s
		}
		if end < -1 {
			end = e
		}
	}
	if start >= v || end >= v {
		return 0, 0, fmt.Errorf("start token %d or end token %d outside the model's vocabulary of %d", start, end, v)
	}
	return start, end, nil
}

var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true, ".webp": true}

// collectImages expands directories (their image files, sorted; not
// recursive) and checks that every named file exists.
func collectImages(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("image %s: no such file or directory", a)
			}
			return nil, fmt.Errorf("image %s: %w", a, err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return nil, fmt.Errorf("image directory %s: %w", a, err)
		}
		var found []string
		for _, e := range ents {
			if !e.IsDir() && imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
				found = append(found, filepath.Join(a, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("image directory %s: no image files (%s)", a, strings.Join(sortedExts(), ", "))
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

func sortedExts() []string {
	var e []string
	for k := range imageExts {
		e = append(e, k)
	}
	sort.Strings(e)
	return e
}

// loadImages decodes and preprocesses paths in parallel into (N, 3, S, S).
// The error names the first unreadable file.
func loadImages(paths []string, size int) (*tensor.Tensor, error) {
	per := 3 * size * size
	buf := make([]float32, len(paths)*per)
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(paths)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				img, err := data.LoadImage(paths[i])
				if err != nil {
					errs[i] = err
					continue
				}
				data.PreprocessInto(buf[i*per:(i+1)*per], img, size)
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, paths[i]) {
				return nil, fmt.Errorf("image %s: %w", paths[i], err)
			}
			return nil, err
		}
	}
	return tensor.FromSlice(buf, len(paths), 3, size, size), nil
}

// progress draws a one-line progress bar on w.
type progress struct {
	w     io.Writer
	what  string
	total int
	start time.Time
	on    bool
}

func newProgress(w io.Writer, what string, total int, on bool) *progress {
	return &progress{w: w, what: what, total: total, start: time.Now(), on: on}
}

func (p *progress) update(done int) {
	if !p.on {
		return
	}
	const width = 30
	n := width * done / max(p.total, 1)
	rate := float64(done) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d images, %.2f images/s", p.what, strings.Repeat("=", n), strings.Repeat(" ", width-n), done, p.total, rate)
	if done == p.total {
		fmt.Fprintln(p.w)
	}
}

// readLines returns the non-empty lines of a file, trimmed.
func readLines(path, what string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s %s: no lines", what, path)
	}
	return out, nil
}

// parseArgs parses flags that may come before, between or after the
// positional arguments (a lone "--" ends the flags) and returns the
// positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func tensorOf(v []float32, shape ...int) *tensor.Tensor { return tensor.FromSlice(v, shape...) }
