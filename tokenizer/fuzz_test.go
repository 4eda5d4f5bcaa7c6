package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// dropSpace removes the characters the pre-tokenizer skips: white space, and
// U+0345 (COMBINING GREEK YPOGEGRAMMENI), which under regex.IGNORECASE
// matches neither [\p{L}] (it is a mark) nor [^\s\p{L}\p{N}] (its capital,
// U+0399, is a letter), so open_clip drops it.
func dropSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || isPySpace(r) || r == 0x345 {
			return -1
		}
		return r
	}, s)
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{
		"", "a photo of a cat", "A Photo Of A CAT.", "it's they're we've I'm you'll he'd",
		"Tom &amp;amp; Jerry &lt;b&gt; &#x1F600; &#128512 &EACUTE; &notit;",
		"café naïve résumé ÀÉÎÕÜ İstanbul ΟΔΥΣΣΕΥΣ", "東京タワーの写真", "👨‍👩‍👧‍👦 family 🏳️‍🌈",
		"<start_of_text>x<end_of_text>", "<ſtart_of_text>", "'ſ", "a\u0345b", "\x00\x1b[31mred\x1b[0m\x7f",
		"“curly” ‘quotes’ ﬁne ＦＵＬＬ ｶﾀｶﾅ", "line\r\nbreak\u2028sep\u0085", string([]byte{0xe2, 0x82, 'a', 0xff, 0xc0}),
		strings.Repeat("x", 300), strings.Repeat("ab", 200) + " " + strings.Repeat("1", 100),
	} {
		f.Add(s)
	}
	tok := New()
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range []int{2, 5, 77} {
			ids := tok.Tokenize(s, n)
			if len(ids) != n {
				t.Fatalf("Tokenize(%q, %d): %d ids", s, n, len(ids))
			}
			if ids[0] != SOT || !slices.Contains(ids, EOT) {
				t.Fatalf("Tokenize(%q, %d) = %v: want SOT first and an EOT", s, n, ids)
			}
			for _, id := range ids {
				if id < 0 || id >= tok.VocabSize() {
					t.Fatalf("Tokenize(%q, %d): id %d out of range", s, n, id)
				}
			}
		}
		enc := tok.Encode(s)
		full := tok.Tokenize(s, len(enc)+2)
		if !slices.Equal(full[1:len(full)-1], enc) {
			t.Fatalf("Tokenize(%q, %d) = %v, Encode = %v", s, len(enc)+2, full, enc)
		}
		if !utf8.ValidString(s) {
			return
		}
		if got, want := dropSpace(tok.Decode(enc)), dropSpace(Clean(s)); got != want {
			t.Fatalf("Decode(Encode(%q)) = %q, want %q (cleaned, spaces dropped)", s, got, want)
		}
	})
}

// TestBPELongMatchesShort checks the heap-based merge loop used for long words
// against the quadratic one.
func TestBPELongMatchesShort(t *testing.T) {
	tok := New()
	words := []string{
		strings.Repeat("x", 100), strings.Repeat("ab", 40), strings.Repeat("na", 33) + "batman",
		"pneumonoultramicroscopicsilicovolcanoconiosis" + "supercalifragilisticexpialidocious" + "antidisestablishmentarianism",
		strings.Repeat("東京", 20), strings.Repeat("!?", 50), strings.Repeat("aaab", 30),
	}
	for _, w := range words {
		n := len(w)
		word := make([]int32, n)
		for i := 0; i < n-1; i++ {
			word[i] = tok.byteID[w[i]]
		}
		word[n-1] = tok.byteEndID[w[n-1]]
		long := tok.bpeLong(slices.Clone(word))
		// the quadratic loop, on the same symbols
		short := bpeQuadratic(tok, slices.Clone(word))
		if !slices.Equal(long, short) {
			t.Errorf("%q: bpeLong %v, quadratic %v", w, long, short)
		}
	}
}

func bpeQuadratic(t *Tokenizer, word []int32) []int32 {
	for len(word) > 1 {
		best := int32(-1)
		var bm merge
		var a, b int32
		for i := 0; i+1 < len(word); i++ {
			if m, ok := t.ranks[pairKey(word[i], word[i+1])]; ok && (best < 0 || m.rank < best) {
				best, bm, a, b = m.rank, m, word[i], word[i+1]
			}
		}
		if best < 0 {
			break
		}
		var out []int32
		for i := 0; i < len(word); {
			if i+1 < len(word) && word[i] == a && word[i+1] == b {
				out = append(out, bm.merged)
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
