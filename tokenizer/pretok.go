package tokenizer

import "unicode/utf8"

// Character classes of the pre-tokenizer pattern, from classRunBits.
const (
	clsLetter = 1 // matches [\p{L}] (case-insensitively)
	clsNumber = 2 // matches [\p{N}]
	clsOther  = 4 // matches [^\s\p{L}\p{N}]
)

// classBMP caches the classes of the Basic Multilingual Plane.
var classBMP = func() (t [0x10000]uint8) {
	for i, start := range classRunStart {
		if start >= 0x10000 {
			break
		}
		end := uint32(0x10000)
		if i+1 < len(classRunStart) && classRunStart[i+1] < end {
			end = classRunStart[i+1]
		}
		for r := start; r < end; r++ {
			t[r] = classRunBits[i]
		}
	}
	return t
}()

func class(r rune) uint8 {
	if r < 0x10000 {
		return classBMP[r]
	}
	return classRunBits[runIndex(classRunStart[:], r)]
}

// classAt returns the class and size of the character at s[i].
func classAt(s string, i int) (uint8, int) {
	c := s[i]
	if c < 0x80 {
		return classBMP[c], 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	return class(r), size
}

// matchFold matches the ASCII literal lit at s[i] the way the pattern does
// with IGNORECASE, and returns the end of the match.
func matchFold(s string, i int, lit string) (int, bool) {
	for k := 0; k < len(lit); k++ {
		if i >= len(s) {
			return 0, false
		}
		c := s[i]
		if c == lit[k] {
			i++
			continue
		}
		l := lit[k]
		if 'a' <= l && l <= 'z' && c == l-'a'+'A' {
			i++
			continue
		}
		folds := foldSet[l]
		if len(folds) == 0 || c < 0x80 {
			return 0, false
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		ok := false
		for _, f := range folds {
			if f == r {
				ok = true
				break
			}
		}
		if !ok {
			return 0, false
		}
		i += size
	}
	return i, true
}

var contractions = [...]string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

// Whether '<' and the apostrophe match anything but themselves (they do
// not in the regex version the tables come from; the checks keep the code
// general).
var (
	ltFolds    = len(foldSet['<']) > 0
	quoteFolds = len(foldSet['\'']) > 0
)

// nextWord returns the end of the pattern's match starting at s[i], or -1 if
// no alternative matches there.
func nextWord(s string, i int) int {
	c := s[i]
	if c == '<' || ltFolds {
		if end, ok := matchFold(s, i, sotText); ok {
			return end
		}
		if end, ok := matchFold(s, i, eotText); ok {
			return end
		}
	}
	if c == '\'' || quoteFolds {
		for _, lit := range contractions {
			if end, ok := matchFold(s, i, lit); ok {
				return end
			}
		}
	}
	cls, size := classAt(s, i)
	switch {
	case cls&clsLetter != 0:
		j := i + size
		for j < len(s) {
			cl, sz := classAt(s, j)
			if cl&clsLetter == 0 {
				break
			}
			j += sz
		}
		return j
	case cls&clsNumber != 0:
		return i + size
	case cls&clsOther != 0:
		j := i + size
		for j < len(s) {
			cl, sz := classAt(s, j)
			if cl&clsOther == 0 {
				break
			}
			j += sz
		}
		return j
	}
	return -1
}
