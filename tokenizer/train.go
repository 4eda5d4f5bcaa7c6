package tokenizer

import (
	"bufio"
	"bytes"
	"container/heap"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Merges is a learned list of BPE merges, in rank order.
type Merges struct {
	// Pairs holds the two symbols of each merge, written with byte symbols
	// (see ByteSymbol); the second ends in "</w>" when the merge ends a word.
	Pairs [][2]string
}

// MergesHeader is the first line of a merges file written by WriteTo. Readers,
// like open_clip's, skip the first line whatever it holds.
const MergesHeader = "#version: 0.2"

// WriteTo writes m in the merges-file format: a header line, then one merge a
// line, the two symbols separated by a space. The last line has no newline, so
// open_clip reads exactly len(m.Pairs) merges.
func (m *Merges) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	var n int64
	k, err := bw.WriteString(MergesHeader)
	n += int64(k)
	for _, p := range m.Pairs {
		if err != nil {
			break
		}
		k, err = fmt.Fprintf(bw, "\n%s %s", p[0], p[1])
		n += int64(k)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return n, fmt.Errorf("tokenizer: writing merges: %w", err)
	}
	return n, nil
}

// Tokenizer returns a Tokenizer that uses all of m's merges.
func (m *Merges) Tokenizer() (*Tokenizer, error) {
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return nil, err
	}
	return LoadMerges(&buf, 0)
}

// Train learns BPE merges from a text corpus, one document a line, so that the
// vocabulary (512 byte symbols, the merges and the two special tokens) has
// vocabSize entries. Text is cleaned and split into words as Encode does; each
// step merges the most frequent adjacent pair of symbols (ties go to the pair
// whose symbols were created first). It returns an error if vocabSize is below
// 514 or the corpus runs out of pairs before reaching it.
func Train(corpus io.Reader, vocabSize int) (*Merges, error) {
	const base = 512 + 2
	if vocabSize < base {
		return nil, fmt.Errorf("tokenizer: Train: vocabSize %d is below the %d byte and special tokens", vocabSize, base)
	}
	want := vocabSize - base

	// Count words.
	counts := map[string]int64{}
	br := bufio.NewReader(corpus)
	line := 0
	for {
		s, err := br.ReadString('\n')
		if len(s) > 0 {
			line++
			c := Clean(s)
			for i := 0; i < len(c); {
				end := nextWord(c, i)
				if end < 0 {
					i += runeLen(c, i)
					continue
				}
				if w := c[i:end]; w != sotText && w != eotText {
					counts[w]++
				}
				i = end
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tokenizer: Train: corpus line %d: %w", line+1, err)
		}
	}

	// Symbols: ids 0-511 as in the vocabulary, then one per merge.
	syms := make([]string, 0, 512+want)
	var index [256]int32
	for i, b := range byteOrder {
		index[b] = int32(i)
	}
	for _, b := range byteOrder {
		syms = append(syms, string(byteRune[b]))
	}
	for _, b := range byteOrder {
		syms = append(syms, string(byteRune[b])+"</w>")
	}

	type word struct {
		sym   []int32
		count int64
	}
	words := make([]word, 0, len(counts))
	for w, c := range counts {
		s := make([]int32, len(w))
		for i := 0; i < len(w); i++ {
			s[i] = index[w[i]]
		}
		s[len(w)-1] += 256
		words = append(words, word{s, c})
	}

	pairCount := map[uint64]int64{}
	where := map[uint64][]int32{}
	h := &countHeap{}
	bump := func(k uint64, d int64, wi int32) {
		c := pairCount[k] + d
		pairCount[k] = c
		if d > 0 {
			where[k] = append(where[k], wi)
		}
		if c > 0 {
			heap.Push(h, countItem{count: c, key: k})
		}
	}
	for wi, w := range words {
		for i := 0; i+1 < len(w.sym); i++ {
			bump(pairKey(w.sym[i], w.sym[i+1]), w.count, int32(wi))
		}
	}

	m := &Merges{}
	for len(m.Pairs) < want {
		// Most frequent pair; stale heap entries are skipped.
		var best countItem
		found := false
		for h.Len() > 0 {
			it := heap.Pop(h).(countItem)
			if pairCount[it.key] == it.count {
				best, found = it, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("tokenizer: Train: corpus has no more pairs to merge after %d merges (vocabulary %d < %d asked)", len(m.Pairs), base+len(m.Pairs), vocabSize)
		}
		a, b := int32(best.key>>32), int32(uint32(best.key))
		merged := int32(len(syms))
		syms = append(syms, syms[a]+syms[b])
		m.Pairs = append(m.Pairs, [2]string{syms[a], syms[b]})

		list := where[best.key]
		delete(where, best.key)
		seen := map[int32]bool{}
		for _, wi := range list {
			if seen[wi] {
				continue
			}
			seen[wi] = true
			w := &words[wi]
			has := false
			for i := 0; i+1 < len(w.sym); i++ {
				if w.sym[i] == a && w.sym[i+1] == b {
					has = true
					break
				}
			}
			if !has {
				continue
			}
			for i := 0; i+1 < len(w.sym); i++ {
				bump(pairKey(w.sym[i], w.sym[i+1]), -w.count, wi)
			}
			out := w.sym[:0]
			for i := 0; i < len(w.sym); {
				if i+1 < len(w.sym) && w.sym[i] == a && w.sym[i+1] == b {
					out = append(out, merged)
					i += 2
				} else {
					out = append(out, w.sym[i])
					i++
				}
			}
			w.sym = out
			for i := 0; i+1 < len(w.sym); i++ {
				bump(pairKey(w.sym[i], w.sym[i+1]), w.count, wi)
			}
		}
		delete(pairCount, best.key)
	}
	return m, nil
}

func runeLen(s string, i int) int {
	if s[i] < 0x80 {
		return 1
	}
	_, size := utf8.DecodeRuneInString(s[i:])
	return size
}

type countItem struct {
	count int64
	key   uint64
}

type countHeap []countItem

func (h countHeap) Len() int { return len(h) }
func (h countHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].key < h[j].key
}
func (h countHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *countHeap) Push(x any)   { *h = append(*h, x.(countItem)) }
func (h *countHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// String returns the merges file text (see WriteTo).
func (m *Merges) String() string {
	var sb strings.Builder
	m.WriteTo(&sb)
	return sb.String()
}
