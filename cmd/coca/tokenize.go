package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gococa/gococa/coca"
)

func init() {
	register("tokenize", "CLIP BPE token ids for texts, one JSON array per line", runTokenize)
}

func runTokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", "[flags] [FILE ...]   (standard input without files)",
		"echo \"a photo of a cat\" | coca tokenize --context-length 76\n  coca tokenize --jsonl --context-length 0 texts.jsonl", stderr)
	ctx := fs.Int("context-length", 77, "ids per text: start, text, end, cut keeping the end token and padded with 0, as open_clip's tokenize (CoCa uses 76); 0: no cut or padding")
	jsonl := fs.Bool("jsonl", false, "input lines are JSON strings or objects with a \"text\" field (texts may then hold newlines)")
	tokName := fs.String("tokenizer", "clip", "clip or a BPE merges file")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *ctx != 0 && *ctx < 2 {
		return usagef("--context-length %d: want 0 or at least 2", *ctx)
	}
	tok, err := coca.LoadTokenizer(*tokName)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	do := func(r io.Reader, name string) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		line := 0
		for sc.Scan() {
			line++
			text := strings.TrimRight(sc.Text(), "\r")
			if *jsonl {
				if strings.TrimSpace(text) == "" {
					continue
				}
				var s string
				if err := json.Unmarshal([]byte(text), &s); err != nil {
					var obj struct {
						Text *string `json:"text"`
					}
					if err2 := json.Unmarshal([]byte(text), &obj); err2 != nil || obj.Text == nil {
						return fmt.Errorf("%s:%d: want a JSON string or an object with a \"text\" field", name, line)
					}
					s = *obj.Text
				}
				text = s
			}
			var ids []int
			if *ctx == 0 {
				ids = append(append([]int{tok.SOT()}, tok.Encode(text)...), tok.EOT())
			} else {
				ids = tok.Tokenize(text, *ctx)
			}
			b, _ := json.Marshal(ids)
			w.Write(b)
			w.WriteByte('\n')
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	if len(rest) == 0 {
		return do(stdin, "standard input")
	}
	for _, p := range rest {
		if p == "-" {
			if err := do(stdin, "standard input"); err != nil {
				return err
			}
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = do(f, p)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
