package tokenizer

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// This file ports ftfy's fix_encoding (ftfy 6.3): text that looks like
// mojibake (ftfy's "badness" heuristic) is encoded in each single-byte
// encoding ftfy knows and decoded as UTF-8, with ftfy's repairs for bytes
// that were lost or turned into spaces on the way.

// badnessRE is BADNESS_RE compiled by Go's regexp; tests check isBad
// against it.
var badnessRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(badnessPattern) })

// badAtom is one character test of BADNESS_RE (see badAtoms).
type badAtom struct {
	kind uint8
	set  string
}

// badAlt is one alternative of BADNESS_RE: a fixed sequence of atoms.
type badAlt struct {
	anchored bool
	atoms    []uint8
}

type atomMask [2]uint64

func (m *atomMask) set(i int)       { m[i>>6] |= 1 << (i & 63) }
func (m atomMask) has(i uint8) bool { return m[i>>6]&(1<<(i&63)) != 0 }

// badMasks maps characters to the set atoms that contain them; badFirst
// holds, for each alternative, its first atom as a mask.
var badMasks = sync.OnceValue(func() map[rune]atomMask {
	if len(badAtoms) > 128 {
		panic("tokenizer: too many BADNESS_RE atoms")
	}
	m := map[rune]atomMask{}
	for i, a := range badAtoms {
		if a.kind != 0 {
			continue // tested directly
		}
		for _, r := range a.set {
			v := m[r]
			v.set(i)
			m[r] = v
		}
	}
	return m
})

var badASCIIMasks = sync.OnceValue(func() *[128]atomMask {
	m := badMasks()
	var t [128]atomMask
	for r := range t {
		t[r] = m[rune(r)]
	}
	return &t
})

func atomMatches(a uint8, mask atomMask, r rune) bool {
	at := &badAtoms[a]
	switch at.kind {
	case 0:
		return mask.has(a)
	case 1:
		return !strings.ContainsRune(at.set, r)
	case 2:
		return isPySpace(r)
	case 3:
		return isPyWord(r)
	default:
		return r != '\n'
	}
}

func isPyWord(r rune) bool {
	lo, hi := 0, len(pyWordRanges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if pyWordRanges[m][1] < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(pyWordRanges) && pyWordRanges[lo][0] <= r
}

// maxBadAlt is the length of the longest alternative of BADNESS_RE.
var maxBadAlt = func() int {
	n := 0
	for _, a := range badAlts {
		n = max(n, len(a.atoms))
	}
	return n
}()

// isBad is ftfy.badness.is_bad: whether text contains a sequence that is
// likely mojibake (a match of BADNESS_RE anywhere).
func isBad(s string) bool {
	masks := badMasks()
	ascii := badASCIIMasks()
	rs := []rune(s)
	ms := make([]atomMask, len(rs))
	any := false
	for i, r := range rs {
		if r >= 0x80 {
			ms[i] = masks[r]
			any = any || ms[i] != atomMask{}
		} else {
			ms[i] = ascii[r]
		}
	}
	if !any {
		// Every alternative needs a character outside ASCII from a set.
		return false
	}
	// Every alternative needs one of its characters to be outside ASCII and
	// in a set (TestBadAltsNeedNonASCII), so only positions at most
	// maxBadAlt-1 characters before such a character can start a match.
	next := len(rs) + maxBadAlt
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] >= 0x80 && ms[i] != (atomMask{}) {
			next = i
		}
		if next-i >= maxBadAlt {
			continue
		}
		for _, alt := range badAlts {
			if alt.anchored && i != 0 || i+len(alt.atoms) > len(rs) {
				continue
			}
			if a0 := alt.atoms[0]; badAtoms[a0].kind == 0 && !ms[i].has(a0) {
				continue
			}
			ok := true
			for k, a := range alt.atoms {
				if !atomMatches(a, ms[i+k], rs[i+k]) {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
}

type charmap struct {
	name   string
	decode *[256]rune
	encode map[rune]byte
}

var charmaps = sync.OnceValue(func() []charmap {
	out := make([]charmap, len(charmapNames))
	for e := range charmapNames {
		m := make(map[rune]byte, 256)
		for b, r := range charmapDecode[e] {
			m[r] = byte(b)
		}
		out[e] = charmap{name: charmapNames[e], decode: &charmapDecode[e], encode: m}
	}
	return out
})

// encodeString encodes s in cm, or reports false if some character is not in
// it (ftfy's possible_encoding).
func (cm *charmap) encodeString(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x80 && r != 0x1a {
			out = append(out, byte(r))
			continue
		}
		b, ok := cm.encode[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

func isASCIIString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// fixEncoding is ftfy.fix_encoding: one repair step at a time until nothing
// changes.
func fixEncoding(s string) string {
	for {
		fixed := fixEncodingStep(s)
		if fixed == s {
			return s
		}
		s = fixed
	}
}

// fixEncodingStep is ftfy's _fix_encoding_one_step_and_explain.
func fixEncodingStep(s string) string {
	if s == "" || isASCIIString(s) {
		return s
	}
	type encoded struct {
		cm *charmap
		b  []byte
	}
	var encs []encoded
	cms := charmaps()
	for i := range cms {
		if b, ok := cms[i].encodeString(s); ok {
			encs = append(encs, encoded{&cms[i], b})
		}
	}
	hasC1 := strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 && r <= 0x9f })
	if len(encs) == 0 && !hasC1 && !hasUTF8Mojibake(s) {
		return s // every branch below would return s
	}
	if !isBad(s) {
		return s
	}
	latin1 := false
	for _, e := range encs {
		b := e.b
		if e.cm == &cms[0] {
			latin1 = true
		}
		if e.cm.name != "macroman" && alteredUTF8RE.MatchString(latin1String(b)) {
			b = restoreByteA0(b)
		}
		if strings.HasPrefix(e.cm.name, "sloppy") {
			b = replaceLossySequences(b)
		}
		var fixed string
		var ok bool
		if bytes.IndexByte(b, 0xED) >= 0 || bytes.IndexByte(b, 0xC0) >= 0 {
			fixed, ok = decodeUTF8Variants(b)
		} else {
			fixed, ok = string(b), utf8.Valid(b)
		}
		if ok {
			return fixed
		}
	}
	if hasUTF8Mojibake(s) {
		if fixed := decodeInconsistentUTF8(s); fixed != s {
			return fixed
		}
	}
	if latin1 {
		// Latin-1 text that is not windows-1252: C1 controls meant as
		// windows-1252 characters.
		var sb strings.Builder
		ok := true
		for _, r := range s {
			v := windows1252Strict[r]
			if v < 0 {
				ok = false
				break
			}
			sb.WriteRune(rune(v))
		}
		if fixed := sb.String(); ok && fixed != s {
			return fixed
		}
	}
	if hasC1 {
		return fixC1Controls(s)
	}
	return s
}

// latin1String maps each byte to the code point of the same value, so that
// byte patterns can be matched with regexp.
func latin1String(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func fromLatin1String(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		out = append(out, byte(r))
	}
	return out
}

// alteredUTF8RE is ftfy's ALTERED_UTF8_RE: UTF-8 sequences in which byte A0
// seems to have become a space.
var alteredUTF8RE = regexp.MustCompile(`[\x{c2}\x{c3}\x{c5}\x{ce}\x{d0}\x{d9}] ` +
	`|[\x{e2}\x{e3}] [\x{80}-\x{84}\x{86}-\x{9f}\x{a1}-\x{bf}]` +
	`|[\x{e0}-\x{e3}][\x{80}-\x{84}\x{86}-\x{9f}\x{a1}-\x{bf}] ` +
	`|\x{f0} [\x{80}-\x{bf}][\x{80}-\x{bf}]` +
	`|\x{f0}[\x{80}-\x{bf}] [\x{80}-\x{bf}]` +
	`|\x{f0}[\x{80}-\x{bf}][\x{80}-\x{bf}] `)

// lossyUTF8RE is ftfy's LOSSY_UTF8_RE: UTF-8 sequences with bytes replaced by
// 0x1A (what the sloppy codecs make of U+FFFD) or '?'.
var lossyUTF8RE = regexp.MustCompile(`[\x{c2}-\x{df}][\x{1a}]` +
	`|[\x{c2}-\x{c3}][?]` +
	`|\x{ed}[\x{a0}-\x{af}][\x{1a}?]\x{ed}[\x{b0}-\x{bf}][\x{1a}?\x{80}-\x{bf}]` +
	`|\x{ed}[\x{a0}-\x{af}][\x{1a}?\x{80}-\x{bf}]\x{ed}[\x{b0}-\x{bf}][\x{1a}?]` +
	`|[\x{e0}-\x{ef}][\x{1a}?][\x{1a}\x{80}-\x{bf}]` +
	`|[\x{e0}-\x{ef}][\x{1a}\x{80}-\x{bf}][\x{1a}?]` +
	`|[\x{f0}-\x{f4}][\x{1a}?][\x{1a}\x{80}-\x{bf}][\x{1a}\x{80}-\x{bf}]` +
	`|[\x{f0}-\x{f4}][\x{1a}\x{80}-\x{bf}][\x{1a}?][\x{1a}\x{80}-\x{bf}]` +
	`|[\x{f0}-\x{f4}][\x{1a}\x{80}-\x{bf}][\x{1a}\x{80}-\x{bf}][\x{1a}?]` +
	`|\x{1a}`)

// restoreByteA0 is ftfy.fixes.restore_byte_a0.
func restoreByteA0(b []byte) []byte {
	// A_GRAVE_WORD_RE: b"\xc3 (?! |quele|quela|quilo|s )" -> b"\xc3\xa0 "
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == 0xC3 && i+1 < len(b) && b[i+1] == ' ' {
			rest := b[i+2:]
			if !(bytes.HasPrefix(rest, []byte(" ")) || bytes.HasPrefix(rest, []byte("quele")) ||
				bytes.HasPrefix(rest, []byte("quela")) || bytes.HasPrefix(rest, []byte("quilo")) ||
				bytes.HasPrefix(rest, []byte("s "))) {
				out = append(out, 0xC3, 0xA0, ' ')
				i++
				continue
			}
		}
		out = append(out, b[i])
	}
	s := alteredUTF8RE.ReplaceAllStringFunc(latin1String(out), func(m string) string {
		return strings.ReplaceAll(m, " ", "\u00a0")
	})
	return fromLatin1String(s)
}

// replaceLossySequences is ftfy.fixes.replace_lossy_sequences.
func replaceLossySequences(b []byte) []byte {
	s := latin1String(b)
	if !lossyUTF8RE.MatchString(s) {
		return b
	}
	return fromLatin1String(lossyUTF8RE.ReplaceAllLiteralString(s, "\u00ef\u00bf\u00bd"))
}

// decodeUTF8Variants is strict UTF-8 decoding that also accepts ftfy's
// "utf-8-variants": C0 80 for U+0000 and CESU-8 surrogate pairs.
func decodeUTF8Variants(b []byte) (string, bool) {
	var sb strings.Builder
	for i := 0; i < len(b); {
		switch {
		case b[i] == 0xC0 && i+1 < len(b) && b[i+1] == 0x80:
			sb.WriteByte(0)
			i += 2
			continue
		case b[i] == 0xED && i+5 < len(b) && 0xA0 <= b[i+1] && b[i+1] <= 0xAF &&
			0x80 <= b[i+2] && b[i+2] <= 0xBF && b[i+3] == 0xED &&
			0xB0 <= b[i+4] && b[i+4] <= 0xBF && 0x80 <= b[i+5] && b[i+5] <= 0xBF:
			r := rune(b[i+1]&0x0F)<<16 + rune(b[i+2]&0x3F)<<10 + rune(b[i+4]&0x0F)<<6 + rune(b[i+5]&0x3F) + 0x10000
			sb.WriteRune(r)
			i += 6
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return "", false
		}
		sb.Write(b[i : i+size])
		i += size
	}
	return sb.String(), true
}

// Bits of utf8Clues: which of ftfy's UTF8_CLUES sets hold a character.
const (
	clueFirst2 = 1 << iota
	clueFirst3
	clueFirst4
	clueCont
	clueContStrict
)

var utf8Clues = sync.OnceValue(func() map[rune]uint8 {
	m := map[rune]uint8{}
	for _, c := range []struct {
		set string
		bit uint8
	}{{utf8First2, clueFirst2}, {utf8First3, clueFirst3}, {utf8First4, clueFirst4},
		{utf8Cont, clueCont}, {utf8ContStrict, clueContStrict}} {
		for _, r := range c.set {
			m[r] |= c.bit
		}
	}
	return m
})

func clue(r rune) uint8 {
	if r < 0x80 {
		if r == ' ' {
			return utf8Clues()[' ']
		}
		return 0
	}
	return utf8Clues()[r]
}

// utf8MojibakeAt matches ftfy's UTF8_DETECTOR_RE at rs[i] (without its
// look-behind) and returns the end of the match, or i if there is none.
func utf8MojibakeAt(rs []rune, i int) int {
	p := i
	cont := func(k, n int) bool {
		if k+n > len(rs) {
			return false
		}
		for j := k; j < k+n; j++ {
			if clue(rs[j])&clueCont == 0 {
				return false
			}
		}
		return true
	}
	for p < len(rs) {
		switch {
		case clue(rs[p])&clueFirst2 != 0 && cont(p+1, 1):
			p += 2
		case clue(rs[p])&clueFirst3 != 0 && cont(p+1, 2):
			p += 3
		case clue(rs[p])&clueFirst4 != 0 && cont(p+1, 3):
			p += 4
		default:
			return p
		}
	}
	return p
}

func hasUTF8Mojibake(s string) bool {
	rs := []rune(s)
	for i := range rs {
		if clue(rs[i])&(clueFirst2|clueFirst3|clueFirst4) == 0 {
			continue
		}
		if i > 0 && clue(rs[i-1])&clueContStrict != 0 {
			continue
		}
		if utf8MojibakeAt(rs, i) > i {
			return true
		}
	}
	return false
}

// decodeInconsistentUTF8 is ftfy.fixes.decode_inconsistent_utf8: each run that
// looks like UTF-8 mojibake, shorter than the text and bad by itself, is fixed
// on its own.
func decodeInconsistentUTF8(s string) string {
	rs := []rune(s)
	var sb strings.Builder
	last := 0
	for i := 0; i < len(rs); {
		if i > 0 && clue(rs[i-1])&clueContStrict != 0 {
			i++
			continue
		}
		end := utf8MojibakeAt(rs, i)
		if end == i {
			i++
			continue
		}
		sub := string(rs[i:end])
		if end-i < len(rs) && isBad(sub) {
			sb.WriteString(string(rs[last:i]))
			sb.WriteString(fixEncoding(sub))
			last = end
		}
		i = end
	}
	if last == 0 {
		return s
	}
	sb.WriteString(string(rs[last:]))
	return sb.String()
}
