package tokenizer

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestIsBadMatchesRegexp checks the direct BADNESS_RE matcher against the
// same pattern compiled by Go's regexp, on random strings made of the
// pattern's characters.
func TestIsBadMatchesRegexp(t *testing.T) {
	var pool []rune
	seen := map[rune]bool{}
	for _, a := range badAtoms {
		for _, r := range a.set {
			if !seen[r] {
				seen[r] = true
				pool = append(pool, r)
			}
		}
	}
	pool = append(pool, []rune("aZ e.,?!_1\n\t\u00a0\u3000é東")...)
	rng := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	bad := 0
	for i := 0; i < n; i++ {
		var sb strings.Builder
		for k := rng.IntN(8); k >= 0; k-- {
			sb.WriteRune(pool[rng.IntN(len(pool))])
		}
		s := sb.String()
		want := badnessRE().MatchString(s)
		if got := isBad(s); got != want {
			t.Fatalf("isBad(%q) = %v, regexp says %v", s, got, want)
		}
		if want {
			bad++
		}
	}
	if bad < n/10 || bad > n*9/10 {
		t.Errorf("%d of %d random strings bad: the test does not exercise both outcomes", bad, n)
	}
}

// TestBadAltsNeedNonASCII checks the premise of isBad's early exit: every
// alternative contains a set of characters that are all outside ASCII.
func TestBadAltsNeedNonASCII(t *testing.T) {
	for i, alt := range badAlts {
		found := false
		for _, a := range alt.atoms {
			at := badAtoms[a]
			if at.kind == 0 && strings.IndexFunc(at.set, func(r rune) bool { return r < 0x80 }) < 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("alternative %d has no all-non-ASCII set", i)
		}
	}
}

func TestFixEncoding(t *testing.T) {
	// Examples from ftfy's documentation.
	for in, want := range map[string]string{
		"Ã³":                "ó",
		"voilÃ  le travail": "voilà le travail",
		"â€œ like this â€�": "\u201c like this \ufffd",
		"&ATILDE;&SUP3;":    "&ATILDE;&SUP3;",
		"plain ascii":       "plain ascii",
		"café":              "café",
	} {
		if got := fixEncoding(in); got != want {
			t.Errorf("fixEncoding(%q) = %q, want %q", in, got, want)
		}
	}
}
