// Package tokenizer is CLIP's byte-level BPE tokenizer, a port of open_clip's
// SimpleTokenizer that produces the same ids, and a trainer for new merges.
//
// Text is cleaned (see Clean), split into words by open_clip's pattern
//
//	<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// (matched case-insensitively, as open_clip compiles it with regex.IGNORECASE),
// each word's UTF-8 bytes are mapped to the 256 byte symbols, the last one
// marked as a word end ("</w>"), and merged by the ranks in a merges file. The
// CLIP merges file (bpe_simple_vocab_16e6.txt.gz, OpenAI CLIP, MIT licence) is
// embedded; New returns a Tokenizer for it.
//
// A Tokenizer is safe for concurrent use.
package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Special token ids of the CLIP vocabulary.
const (
	SOT = 49406 // <start_of_text>
	EOT = 49407 // <end_of_text>
	Pad = 0     // padding after EOT (also the id of "!")
)

// ContextLength is CLIP's default context length. CoCa models use 76.
const ContextLength = 77

// MaxMerges is how many merges open_clip reads from a merges file
// (49152 - 256 - 2): the lines after the header, at most this many.
const MaxMerges = 49152 - 256 - 2

//go:embed bpe_simple_vocab_16e6.txt.gz
var clipMerges []byte

// Special tokens, in vocabulary order after the merges.
const (
	sotText = "<start_of_text>"
	eotText = "<end_of_text>"
)

// Tokenizer encodes text to CLIP BPE ids and decodes ids back to text.
type Tokenizer struct {
	encoder   map[string]int // token (byte symbols, UTF-8) -> id; a later duplicate wins
	tokens    [][]byte       // id -> the token's bytes ("</w>" kept literally)
	byteID    [256]int32     // id of each byte symbol
	byteEndID [256]int32     // id of each byte symbol followed by "</w>"
	ranks     map[uint64]merge
	numMerges int
	sot, eot  int
	cache     wordCache
}

type merge struct {
	rank   int32
	merged int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

var (
	defaultOnce sync.Once
	defaultTok  *Tokenizer
)

// New returns a Tokenizer for the embedded CLIP merges: vocabulary size 49408,
// SOT 49406, EOT 49407. It is built once and shared.
func New() *Tokenizer {
	defaultOnce.Do(func() {
		t, err := LoadMerges(bytes.NewReader(clipMerges), MaxMerges)
		if err != nil {
			panic("tokenizer: embedded merges: " + err.Error())
		}
		defaultTok = t
	})
	return defaultTok
}

// Load reads a merges file (gzip-compressed or plain) as open_clip does: the
// first line is a header and is skipped, and at most MaxMerges merges are read.
func Load(r io.Reader) (*Tokenizer, error) {
	return LoadMerges(r, MaxMerges)
}

// LoadMerges reads a merges file (gzip-compressed or plain) and uses at most
// maxMerges of its merges (all of them if maxMerges <= 0). The vocabulary is
// the 256 byte symbols, the same with "</w>", one token per merge, then
// <start_of_text> and <end_of_text>.
//
// Each merge line holds two symbols separated by a space, written with the
// byte-to-character table CLIP uses (see ByteSymbol). Blank lines are skipped.
func LoadMerges(r io.Reader, maxMerges int) (*Tokenizer, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: merges file: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var pairs [][2]string
	line := 0
	for {
		s, err := br.ReadString('\n')
		if len(s) > 0 {
			line++
			if line > 1 && (maxMerges <= 0 || len(pairs) < maxMerges) {
				s = strings.TrimRight(s, "\r\n")
				if strings.TrimSpace(s) != "" {
					f := strings.Fields(s)
					if len(f) != 2 {
						return nil, fmt.Errorf("tokenizer: merges file line %d: want 2 symbols separated by a space, got %d", line, len(f))
					}
					pairs = append(pairs, [2]string{f[0], f[1]})
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tokenizer: merges file line %d: %w", line+1, err)
		}
		if maxMerges > 0 && len(pairs) >= maxMerges {
			break
		}
	}
	if line == 0 {
		return nil, errors.New("tokenizer: merges file: empty (want a header line, then merges)")
	}
	return fromPairs(pairs)
}

// fromPairs builds a tokenizer from merges in rank order.
func fromPairs(pairs [][2]string) (*Tokenizer, error) {
	vocab := make([]string, 0, 512+len(pairs)+2)
	for b := 0; b < 256; b++ {
		vocab = append(vocab, string(byteRune[byteOrder[b]]))
	}
	for b := 0; b < 256; b++ {
		vocab = append(vocab, string(byteRune[byteOrder[b]])+"</w>")
	}
	for _, p := range pairs {
		vocab = append(vocab, p[0]+p[1])
	}
	vocab = append(vocab, sotText, eotText)

	t := &Tokenizer{
		encoder:   make(map[string]int, len(vocab)),
		tokens:    make([][]byte, len(vocab)),
		ranks:     make(map[uint64]merge, len(pairs)),
		numMerges: len(pairs),
	}
	for id, v := range vocab {
		t.encoder[v] = id
		raw, ok := symbolBytes(v)
		if !ok {
			return nil, fmt.Errorf("tokenizer: merges file line %d: merge %q has a character outside the byte-symbol alphabet", id-512+2, v)
		}
		t.tokens[id] = raw
	}
	for b := 0; b < 256; b++ {
		t.byteID[b] = int32(t.encoder[string(byteRune[b])])
		t.byteEndID[b] = int32(t.encoder[string(byteRune[b])+"</w>"])
	}
	for rank, p := range pairs {
		a, okA := t.encoder[p[0]]
		b, okB := t.encoder[p[1]]
		if !okA || !okB {
			continue // can never apply: one side is not a token
		}
		t.ranks[pairKey(int32(a), int32(b))] = merge{rank: int32(rank), merged: int32(t.encoder[p[0]+p[1]])}
	}
	t.sot = t.encoder[sotText]
	t.eot = t.encoder[eotText]
	t.cache.init(defaultCacheSize)
	return t, nil
}

// VocabSize is the number of ids: 512 byte symbols, one per merge, and the two
// special tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// NumMerges is the number of merges in use.
func (t *Tokenizer) NumMerges() int { return t.numMerges }

// SOT is the id of <start_of_text> (49406 for CLIP).
func (t *Tokenizer) SOT() int { return t.sot }

// EOT is the id of <end_of_text> (49407 for CLIP).
func (t *Tokenizer) EOT() int { return t.eot }

// Encode returns the BPE ids of text, without SOT and EOT.
func (t *Tokenizer) Encode(text string) []int {
	return t.appendEncode(nil, Clean(text), -1)
}

// Tokenize returns SOT, the ids of text and EOT, cut to contextLength ids with
// EOT kept in the last slot when the text is too long, and padded with Pad
// (0) to exactly contextLength ids, as open_clip's tokenize does (so a
// contextLength of 1 gives just EOT). It panics if contextLength < 1.
func (t *Tokenizer) Tokenize(text string, contextLength int) []int {
	if contextLength < 1 {
		panic(fmt.Sprintf("tokenizer.Tokenize: contextLength %d < 1", contextLength))
	}
	out := make([]int, 1, contextLength+1)
	out[0] = t.sot
	out = t.appendEncode(out, Clean(text), contextLength)
	if len(out) >= contextLength {
		out = out[:contextLength]
		out[contextLength-1] = t.eot
	} else {
		out = append(out, t.eot)
	}
	for len(out) < contextLength {
		out = append(out, Pad)
	}
	return out
}

// TokenizeBatch tokenizes each text with Tokenize and returns the rows.
func (t *Tokenizer) TokenizeBatch(texts []string, contextLength int) [][]int {
	out := make([][]int, len(texts))
	for i, s := range texts {
		out[i] = t.Tokenize(s, contextLength)
	}
	return out
}

// Decode turns ids back into text as open_clip's decode does: the bytes of the
// tokens are joined, decoded as UTF-8 with invalid sequences replaced by
// U+FFFD, and every "</w>" becomes a space. Special tokens decode to their
// names. An id outside [0, VocabSize()) decodes to U+FFFD.
func (t *Tokenizer) Decode(ids []int) string {
	n := 0
	for _, id := range ids {
		if id >= 0 && id < len(t.tokens) {
			n += len(t.tokens[id])
		}
	}
	raw := make([]byte, 0, n)
	for _, id := range ids {
		if id < 0 || id >= len(t.tokens) {
			// U+FFFD's bytes can't form "</w>" with their neighbours.
			raw = append(raw, "\uFFFD"...)
			continue
		}
		raw = append(raw, t.tokens[id]...)
	}
	s := string(appendPythonUTF8(make([]byte, 0, len(raw)), raw))
	return strings.ReplaceAll(s, "</w>", " ")
}

// TrimSpecial returns the ids between a leading SOT and the first EOT (or the
// first padding after the text when there is no EOT): the caption part of a
// Tokenize row or a generated sequence.
func (t *Tokenizer) TrimSpecial(ids []int) []int {
	if len(ids) > 0 && ids[0] == t.sot {
		ids = ids[1:]
	}
	for i, id := range ids {
		if id == t.eot {
			return ids[:i]
		}
	}
	return ids
}

// Token returns the text form of id as the vocabulary stores it (byte symbols,
// with "</w>" marking a word end), and false if id is out of range.
func (t *Tokenizer) Token(id int) (string, bool) {
	if id < 0 || id >= len(t.tokens) {
		return "", false
	}
	return symbolString(t.tokens[id]), true
}

// ID returns the id of a token written in vocabulary form (see Token).
func (t *Tokenizer) ID(token string) (int, bool) {
	id, ok := t.encoder[token]
	return id, ok
}
