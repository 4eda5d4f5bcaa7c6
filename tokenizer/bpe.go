package tokenizer

import (
	"container/heap"
	"strings"
	"sync"
	"unicode/utf8"
)

// byteRune maps each byte to the character CLIP uses for it in the
// vocabulary: printable Latin-1 bytes stand for themselves, the others
// (controls, space, 0x7F-0xA0, 0xAD) get U+0100 onwards, in byte order.
// byteOrder lists the bytes in vocabulary order (the printable ones first).
var byteRune, byteOrder = func() (r [256]rune, order [256]byte) {
	printable := func(b int) bool {
		return '!' <= b && b <= '~' || 0xA1 <= b && b <= 0xAC || 0xAE <= b && b <= 0xFF
	}
	n := 0
	for b := 0; b < 256; b++ {
		if printable(b) {
			r[b] = rune(b)
			order[n] = byte(b)
			n++
		}
	}
	extra := 0
	for b := 0; b < 256; b++ {
		if !printable(b) {
			r[b] = rune(256 + extra)
			extra++
			order[n] = byte(b)
			n++
		}
	}
	return r, order
}()

var runeByte = func() map[rune]byte {
	m := make(map[rune]byte, 256)
	for b, r := range byteRune {
		m[r] = byte(b)
	}
	return m
}()

// ByteSymbol returns the character that stands for byte b in merges files and
// vocabulary tokens.
func ByteSymbol(b byte) rune { return byteRune[b] }

// symbolBytes turns a token written in byte symbols back into its bytes.
func symbolBytes(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := runeByte[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// symbolString writes bytes as byte symbols.
func symbolString(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(byteRune[c])
	}
	return sb.String()
}

// defaultCacheSize bounds the word cache of each Tokenizer.
const defaultCacheSize = 1 << 16

// maxCachedWord is the longest word (in bytes) kept in the cache.
const maxCachedWord = 128

// wordCache maps words to their ids. It is bounded: when full it is emptied
// and refilled. Reads take a shared lock, so it is safe for concurrent use.
type wordCache struct {
	mu  sync.RWMutex
	m   map[string][]int32
	max int
}

func (c *wordCache) init(max int) {
	c.m = make(map[string][]int32)
	c.max = max
}

func (c *wordCache) get(w string) ([]int32, bool) {
	c.mu.RLock()
	v, ok := c.m[w]
	c.mu.RUnlock()
	return v, ok
}

func (c *wordCache) put(w string, ids []int32) {
	if len(w) > maxCachedWord {
		return
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[strings.Clone(w)] = ids
	c.mu.Unlock()
}

// appendWord appends the ids of one pre-tokenized word.
func (t *Tokenizer) appendWord(dst []int, w string) []int {
	if ids, ok := t.cache.get(w); ok {
		for _, id := range ids {
			dst = append(dst, int(id))
		}
		return dst
	}
	var ids []int32
	switch w {
	case sotText:
		ids = []int32{int32(t.sot)}
	case eotText:
		ids = []int32{int32(t.eot)}
	default:
		ids = t.bpe(w)
	}
	t.cache.put(w, ids)
	for _, id := range ids {
		dst = append(dst, int(id))
	}
	return dst
}

// bpe splits the bytes of a word into byte symbols (the last marked as a word
// end) and applies merges: the pair of lowest rank first, every occurrence of
// it from left to right, until no pair has a rank.
func (t *Tokenizer) bpe(w string) []int32 {
	n := len(w)
	word := make([]int32, n)
	for i := 0; i < n-1; i++ {
		word[i] = t.byteID[w[i]]
	}
	word[n-1] = t.byteEndID[w[n-1]]
	if n > 64 {
		return t.bpeLong(word)
	}
	for len(word) > 1 {
		best := int32(-1)
		var bestMerge merge
		var first, second int32
		for i := 0; i+1 < len(word); i++ {
			m, ok := t.ranks[pairKey(word[i], word[i+1])]
			if ok && (best < 0 || m.rank < best) {
				best, bestMerge, first, second = m.rank, m, word[i], word[i+1]
			}
		}
		if best < 0 {
			break
		}
		out := word[:0]
		for i := 0; i < len(word); {
			if i+1 < len(word) && word[i] == first && word[i+1] == second {
				out = append(out, bestMerge.merged)
				i += 2
			} else {
				out = append(out, word[i])
				i++
			}
		}
		word = out
	}
	return word
}

// bpeLong is bpe for long words, in O(n log n): the symbols form a linked
// list and candidate pairs wait in a heap ordered by (rank, position). All
// occurrences of one rank are merged, left to right, before the next rank is
// looked at, which is what the quadratic loop in bpe does.
func (t *Tokenizer) bpeLong(word []int32) []int32 {
	n := len(word)
	prev := make([]int32, n)
	next := make([]int32, n)
	for i := range word {
		prev[i] = int32(i - 1)
		next[i] = int32(i + 1)
	}
	next[n-1] = -1
	h := &pairHeap{}
	push := func(i int32) {
		j := next[i]
		if i < 0 || j < 0 {
			return
		}
		if m, ok := t.ranks[pairKey(word[i], word[j])]; ok {
			heap.Push(h, pairItem{rank: m.rank, pos: i, a: word[i], b: word[j]})
		}
	}
	for i := 0; i+1 < n; i++ {
		push(int32(i))
	}
	alive := make([]bool, n)
	for i := range alive {
		alive[i] = true
	}
	var batch []pairItem
	for h.Len() > 0 {
		r := (*h)[0].rank
		batch = batch[:0]
		for h.Len() > 0 && (*h)[0].rank == r {
			batch = append(batch, heap.Pop(h).(pairItem))
		}
		// batch is in position order (the heap breaks ties by position).
		var created []int32
		for _, it := range batch {
			i := it.pos
			if !alive[i] || word[i] != it.a {
				continue
			}
			j := next[i]
			if j < 0 || word[j] != it.b {
				continue
			}
			m := t.ranks[pairKey(it.a, it.b)]
			word[i] = m.merged
			alive[j] = false
			k := next[j]
			next[i] = k
			if k >= 0 {
				prev[k] = i
			}
			created = append(created, i)
		}
		// New pairs around merged symbols take part from the next rank on.
		for _, i := range created {
			if !alive[i] {
				continue
			}
			if p := prev[i]; p >= 0 {
				push(p)
			}
			push(i)
		}
	}
	out := make([]int32, 0, n)
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, word[i])
	}
	return out
}

type pairItem struct {
	rank int32
	pos  int32
	a, b int32
}

type pairHeap []pairItem

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairItem)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// appendEncode splits cleaned text into words and appends their ids to dst.
// With limit > 0 it stops once dst holds at least limit ids.
func (t *Tokenizer) appendEncode(dst []int, s string, limit int) []int {
	for i := 0; i < len(s); {
		if limit > 0 && len(dst) >= limit {
			break
		}
		end := nextWord(s, i)
		if end < 0 {
			// no alternative matches here: skip one character
			if s[i] < 0x80 {
				i++
			} else {
				_, size := utf8.DecodeRuneInString(s[i:])
				i += size
			}
			continue
		}
		dst = t.appendWord(dst, s[i:end])
		i = end
	}
	return dst
}
