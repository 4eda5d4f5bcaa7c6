package main

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// termSafe returns s with every control character (C0, DEL and the C1
// range U+0080-U+009F) and every invalid UTF-8 byte written as a Go escape
// (\t, \n, \x1b, \u009b, ...), so that text read from files (paths, class
// names, captions, tensor names, index texts) cannot move the cursor,
// retitle the terminal, hide output or break a tab-separated line. Other
// text, backslashes included, is unchanged.
func termSafe(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			q := strconv.QuoteRune(r) // '\x1b', '\t', '\u009b'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// safeJSON writes JSON with the characters encoding/json leaves raw that a
// terminal may act on (DEL and the C1 controls U+0080-U+009F) written as
// \u escapes: the same JSON values, safe to print. encoding/json already
// escapes the C0 controls and replaces invalid UTF-8.
type safeJSON struct{ w io.Writer }

func (s safeJSON) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, 0x7f) < 0 && bytes.IndexByte(p, 0xc2) < 0 {
		return s.w.Write(p)
	}
	out := make([]byte, 0, len(p)+16)
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == 0x7f:
			out = append(out, `\u007f`...)
		case c == 0xc2 && i+1 < len(p) && p[i+1] >= 0x80 && p[i+1] <= 0x9f:
			out = append(out, `\u00`...)
			out = append(out, "0123456789abcdef"[p[i+1]>>4], "0123456789abcdef"[p[i+1]&15])
			i++
		default:
			out = append(out, c)
		}
	}
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
