package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Clean returns text as open_clip's SimpleTokenizer sees it before splitting it
// into words (its "lower" cleaning): ftfy.fix_text, html.unescape applied twice,
// whitespace runs collapsed to one space and the ends stripped, then Python's
// str.lower().
//
// The ftfy step follows ftfy 6.3's fix_text with its default configuration:
// per line, and until nothing changes, HTML entity decoding (ftfy's strict
// decoder, off from the first line that contains '<'), mojibake repair
// (fix_encoding: text that looks like UTF-8 read in a single-byte encoding is
// re-decoded), C1 control characters read as windows-1252, Latin ligatures,
// full- and half-width forms, curly quotes, line breaks, terminal escapes,
// control-character removal and NFC normalisation. Differences: ftfy also
// cuts lines longer than 1,000,000 code points into separate segments, and
// NFC here uses golang.org/x/text's Unicode tables, which may be newer than
// those of the Python the reference runs on.
//
// Invalid UTF-8 in text is first replaced the way Python's
// bytes.decode("utf-8", errors="replace") does it.
func Clean(text string) string {
	if s, ok := cleanASCII(text); ok {
		return s
	}
	s := validUTF8(text)
	s = fixText(s)
	s = htmlUnescape(htmlUnescape(s))
	s = collapseSpaces(s)
	return pyLower(s)
}

// cleanASCII is Clean for the common case: printable ASCII and ordinary
// whitespace with no '&', which every cleaning step but whitespace collapsing
// and lowercasing leaves alone. ok is false when text needs the full path.
func cleanASCII(text string) (string, bool) {
	changed := false
	prevSpace := true // strips leading space
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= 0x80 || c == '&' || c == 0x7f:
			return "", false
		case c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r':
			if c != ' ' || prevSpace {
				changed = true
			}
			prevSpace = true
		case c < 0x20:
			return "", false
		default:
			if 'A' <= c && c <= 'Z' {
				changed = true
			}
			prevSpace = false
		}
	}
	if prevSpace && len(text) > 0 {
		changed = true
	}
	if !changed {
		return text, true
	}
	b := make([]byte, 0, len(text))
	pending := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' {
			pending = len(b) > 0
			continue
		}
		if pending {
			b = append(b, ' ')
			pending = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b), true
}

// validUTF8 replaces invalid UTF-8 the way Python's
// bytes.decode("utf-8", errors="replace") does: one U+FFFD for each maximal
// prefix of a valid sequence, and one for each other invalid byte.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(appendPythonUTF8(nil, []byte(s)))
}

// appendPythonUTF8 appends b decoded as UTF-8 with Python's "replace" error
// handler (maximal subparts, as the Unicode standard recommends).
func appendPythonUTF8(dst []byte, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			dst = append(dst, c)
			i++
			continue
		}
		if r, size := utf8.DecodeRune(b[i:]); r != utf8.RuneError || size > 1 {
			dst = append(dst, b[i:i+size]...)
			i += size
			continue
		}
		// Invalid: find how many bytes form a valid prefix of a sequence.
		var need int
		lo, hi := byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c == 0xE0:
			need, lo = 2, 0xA0
		case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
			need = 2
		case c == 0xED:
			need, hi = 2, 0x9F
		case c == 0xF0:
			need, lo = 3, 0x90
		case c >= 0xF1 && c <= 0xF3:
			need = 3
		case c == 0xF4:
			need, hi = 3, 0x8F
		}
		j := i + 1
		for k := 0; k < need && j < len(b); k++ {
			if b[j] < lo || b[j] > hi {
				break
			}
			lo, hi = 0x80, 0xBF
			j++
		}
		dst = append(dst, "\uFFFD"...)
		i = j
	}
	return dst
}

// fixText is ftfy.fix_text (ftfy 6.3, default configuration) as described in
// Clean's documentation. Like ftfy it works on segments that end
// after each '\n'; once a segment contains '<', HTML unescaping stays off for
// the rest of the text.
func fixText(s string) string {
	if s == "" {
		return s
	}
	var out strings.Builder
	unescape := true
	for pos := 0; pos < len(s); {
		end := strings.IndexByte(s[pos:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += pos + 1
		}
		seg := s[pos:end]
		if unescape && strings.IndexByte(seg, '<') >= 0 {
			unescape = false
		}
		for {
			orig := seg
			if unescape {
				seg = ftfyUnescapeHTML(seg)
			}
			seg = fixEncoding(seg)
			// fix_c1_controls, fix_latin_ligatures, fix_character_width and
			// uncurl_quotes each map single characters, so one pass that
			// composes them gives the same text.
			seg = mapRunes(seg, charFixes)
			seg = fixLineBreaks(seg)
			seg = removeTerminalEscapes(seg)
			seg = mapRunes(seg, controlChar)
			seg = norm.NFC.String(seg)
			if seg == orig {
				break
			}
		}
		out.WriteString(seg)
		pos = end
	}
	return out.String()
}

// mapRunes rewrites the runes of s for which f reports a replacement.
func mapRunes(s string, f func(r rune) (string, bool)) string {
	var b []byte
	for i, r := range s {
		if r < 0x80 && r != 0x7f && (r >= 0x20 || r == '\t' || r == '\n' || r == '\f' || r == '\r') {
			if b != nil {
				b = append(b, byte(r))
			}
			continue
		}
		rep, ok := f(r)
		if ok && b == nil {
			b = append(make([]byte, 0, len(s)), s[:i]...)
		}
		if b != nil {
			if ok {
				b = append(b, rep...)
			} else {
				b = utf8.AppendRune(b, r)
			}
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

// charFixes maps r through fix_c1_controls, fix_latin_ligatures,
// fix_character_width and uncurl_quotes, in that order.
func charFixes(r rune) (string, bool) {
	if !(r >= 0x80 && r <= 0x9f || r >= 0x132 && r <= 0x1f3 || r == 0x2bc || r >= 0x2018 && r <= 0x201f ||
		r == 0x3000 || r >= 0xfb00 && r <= 0xfb06 || r >= 0xff01 && r < 0xfff0) {
		return "", false
	}
	s := string(r)
	if r >= 0x80 && r <= 0x9f {
		s = string(rune(c1Windows1252[r-0x80]))
	}
	s = mapRunes(s, ligature)
	s = mapRunes(s, charWidth)
	s = mapRunes(s, uncurl)
	return s, s != string(r)
}

func fixC1Controls(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		if r >= 0x80 && r <= 0x9f {
			return string(rune(c1Windows1252[r-0x80])), true
		}
		return "", false
	})
}

var ligatures = map[rune]string{
	'Ĳ': "IJ", 'ĳ': "ij", 'ŉ': "ʼn", 'Ǳ': "DZ", 'ǲ': "Dz", 'ǳ': "dz",
	'Ǆ': "DŽ", 'ǅ': "Dž", 'ǆ': "dž", 'Ǉ': "LJ", 'ǈ': "Lj", 'ǉ': "lj",
	'Ǌ': "NJ", 'ǋ': "Nj", 'ǌ': "nj", 'ﬀ': "ff", 'ﬁ': "fi", 'ﬂ': "fl",
	'ﬃ': "ffi", 'ﬄ': "ffl", 'ﬅ': "ſt", 'ﬆ': "st",
}

func ligature(r rune) (string, bool) {
	s, ok := ligatures[r]
	return s, ok
}

func charWidth(r rune) (string, bool) {
	if r != 0x3000 && (r < 0xFF01 || r >= 0xFFF0) {
		return "", false
	}
	s, ok := widthMap[r]
	return s, ok
}

func uncurl(r rune) (string, bool) {
	switch {
	case r == 0x02BC || (r >= 0x2018 && r <= 0x201B):
		return "'", true
	case r >= 0x201C && r <= 0x201F:
		return "\"", true
	}
	return "", false
}

// controlChar implements ftfy's remove_control_chars.
func controlChar(r rune) (string, bool) {
	switch {
	case r <= 0x08, r == 0x0B, r >= 0x0E && r <= 0x1F, r == 0x7F,
		r >= 0x206A && r <= 0x206F, r == 0xFEFF, r >= 0xFFF9 && r <= 0xFFFC:
		return "", true
	}
	return "", false
}

func fixLineBreaks(s string) string {
	if strings.IndexByte(s, '\r') < 0 && !strings.ContainsAny(s, "\u2028\u2029\u0085") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\u2028", "\n")
	s = strings.ReplaceAll(s, "\u2029", "\n")
	return strings.ReplaceAll(s, "\u0085", "\n")
}

// removeTerminalEscapes removes matches of "\x1b\[(?:\d|;)*[a-zA-Z]" (Python's
// \d: any Unicode decimal digit).
func removeTerminalEscapes(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) {
				r, size := utf8.DecodeRuneInString(s[j:])
				if r == ';' || isDecimal(r) {
					j += size
					continue
				}
				break
			}
			if j < len(s) && (s[j]|0x20 >= 'a' && s[j]|0x20 <= 'z') {
				i = j + 1
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// ftfyUnescapeHTML implements ftfy.fixes.unescape_html: entities matching
// "&#?[0-9A-Za-z]{1,24};" are decoded when they are HTML5 names ending in ';'
// (or ftfy's all-caps variants), or numeric references that html.unescape
// decodes completely.
func ftfyUnescapeHTML(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '&' {
			continue
		}
		j := i + 1
		if j < len(s) && s[j] == '#' {
			j++
		}
		k := j
		for k < len(s) && isASCIIAlnum(s[k]) {
			k++
		}
		if k == j || k-j > 24 || k >= len(s) || s[k] != ';' {
			continue
		}
		ent := s[i : k+1]
		rep, ok := ftfyEntity(ent)
		if !ok {
			i = k
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(rep)
		last = k + 1
		i = k
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func ftfyEntity(ent string) (string, bool) {
	if v, ok := html5Entities[ent[1:]]; ok {
		return v, true
	}
	if v, ok := ftfyUpperEntities[ent]; ok {
		return v, true
	}
	if strings.HasPrefix(ent, "&#") {
		u := htmlUnescape(ent)
		if strings.IndexByte(u, ';') >= 0 {
			return "", false
		}
		return u, true
	}
	return "", false
}

func isASCIIAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// htmlUnescape is Python's html.unescape.
func htmlUnescape(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '&' {
			continue
		}
		rep, end, ok := charref(s, i)
		if !ok {
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(rep)
		last = end
		i = end - 1
	}
	b.WriteString(s[last:])
	return b.String()
}

// charref matches Python's html._charref at s[i] == '&' and returns the
// replacement and the end of the match.
func charref(s string, i int) (string, int, bool) {
	j := i + 1
	if j < len(s) && s[j] == '#' {
		// "#[0-9]+;?" then "#[xX][0-9a-fA-F]+;?"
		k := j + 1
		base := 10
		if k < len(s) && (s[k] == 'x' || s[k] == 'X') {
			base = 16
			k++
		}
		d := k
		num := 0
		for k < len(s) && (base == 10 && '0' <= s[k] && s[k] <= '9' || base == 16 && isHex(s[k])) {
			v := int(s[k] - '0')
			if s[k] >= 'a' {
				v = int(s[k]-'a') + 10
			} else if s[k] >= 'A' {
				v = int(s[k]-'A') + 10
			}
			if num <= 0x10FFFF {
				num = num*base + v
			}
			k++
		}
		if k == d {
			// "&#" and "&#x" without digits: the named alternative cannot
			// start with '#', so there is no match.
			return "", 0, false
		}
		if k < len(s) && s[k] == ';' {
			k++
		}
		return numericCharref(num), k, true
	}
	// "[^\t\n\f <&#;]{1,32};?", counted in code points.
	k := j
	for n := 0; n < 32 && k < len(s); n++ {
		c := s[k]
		if c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';' {
			break
		}
		_, size := utf8.DecodeRuneInString(s[k:])
		k += size
	}
	if k == j {
		return "", 0, false
	}
	if k < len(s) && s[k] == ';' {
		k++
	}
	name := s[j:k]
	if v, ok := html5Entities[name]; ok {
		return v, k, true
	}
	// Longest prefix (in code points, at least 2) that is an entity.
	cuts := make([]int, 0, 33)
	for p := range name {
		cuts = append(cuts, p)
	}
	for x := len(cuts) - 1; x > 1; x-- {
		if v, ok := html5Entities[name[:cuts[x]]]; ok {
			return v + name[cuts[x]:], k, true
		}
	}
	return "&" + name, k, true
}

func numericCharref(num int) string {
	switch {
	case num == 0:
		return "\uFFFD"
	case num == 0x0d:
		return "\r"
	case num >= 0x80 && num <= 0x9f:
		return string(rune(c1Windows1252[num-0x80]))
	case num >= 0xD800 && num <= 0xDFFF, num > 0x10FFFF:
		return "\uFFFD"
	case num >= 0x1 && num <= 0x8, num >= 0xe && num <= 0x1f, num == 0x7f, num == 0xb,
		num >= 0xfdd0 && num <= 0xfdef, num&0xfffe == 0xfffe:
		return ""
	}
	return string(rune(num))
}

// collapseSpaces is Python's " ".join(text.split()) (which also strips).
func collapseSpaces(s string) string {
	var b []byte
	pending := false
	start := true
	for i := 0; i < len(s); {
		c := s[i]
		var sp bool
		size := 1
		if c < 0x80 {
			sp = asciiSpace[c]
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			sp = isPySpace(r)
		}
		if sp {
			pending = !start
			i += size
			continue
		}
		if pending {
			b = append(b, ' ')
			pending = false
		}
		start = false
		b = append(b, s[i:i+size]...)
		i += size
	}
	return string(b)
}

var asciiSpace = func() (t [128]bool) {
	for _, r := range pySpaces {
		if r < 0x80 {
			t[r] = true
		}
	}
	return t
}()

func isPySpace(r rune) bool {
	for _, s := range pySpaces {
		if rune(s) == r {
			return true
		}
		if rune(s) > r {
			return false
		}
	}
	return false
}

// pyLower is Python's str.lower(), including its multi-code-point mappings
// and the final-sigma rule.
func pyLower(s string) string {
	ascii := true
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if ascii {
		if !upper {
			return s
		}
		b := []byte(s)
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		return string(b)
	}
	b := make([]byte, 0, len(s)+8)
	for i, r := range s {
		switch {
		case r < 0x80:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b = append(b, byte(r))
		case r == 0x3A3:
			if finalSigma(s, i) {
				b = utf8.AppendRune(b, 0x3C2)
			} else {
				b = utf8.AppendRune(b, 0x3C3)
			}
		default:
			if m, ok := lowerMulti[r]; ok {
				b = append(b, m...)
			} else {
				b = utf8.AppendRune(b, lowerRune(r))
			}
		}
	}
	return string(b)
}

func lowerRune(r rune) rune {
	lo, hi := 0, len(lowerFrom)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rune(lowerFrom[m]) < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(lowerFrom) && rune(lowerFrom[lo]) == r {
		return rune(lowerTo[lo])
	}
	return r
}

// sigmaClass is 1 for case-ignorable and 2 for cased (not case-ignorable)
// code points, as CPython's final-sigma rule sees them.
func sigmaClass(r rune) uint8 {
	return sigmaRunClass[runIndex(sigmaRunStart[:], r)]
}

func runIndex(starts []uint32, r rune) int {
	lo, hi := 0, len(starts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rune(starts[m]) <= r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// finalSigma reports whether the capital sigma at s[i] ends a word: a cased
// letter before it and none after it, skipping case-ignorable code points.
func finalSigma(s string, i int) bool {
	j := i
	found := false
	for j > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:j])
		j -= size
		c := sigmaClass(r)
		if c == 1 {
			continue
		}
		found = c == 2
		break
	}
	if !found {
		return false
	}
	for _, r := range s[i+2:] {
		c := sigmaClass(r)
		if c == 1 {
			continue
		}
		return c != 2
	}
	return true
}

func isDecimal(r rune) bool {
	if r < 0x80 {
		return '0' <= r && r <= '9'
	}
	return unicode.IsDigit(r)
}
