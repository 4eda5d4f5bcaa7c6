package tokenizer

import "testing"

// TestCharFixesPrefilter checks that charFixes' range test lets through every
// character that one of its four maps changes.
func TestCharFixesPrefilter(t *testing.T) {
	for r := rune(0); r < 0x30000; r++ {
		want := string(r)
		if r >= 0x80 && r <= 0x9f {
			want = string(rune(c1Windows1252[r-0x80]))
		}
		want = mapRunes(want, ligature)
		want = mapRunes(want, charWidth)
		want = mapRunes(want, uncurl)
		got, ok := charFixes(r)
		if !ok {
			got = string(r)
		}
		if got != want {
			t.Fatalf("charFixes(%U) = %q, want %q", r, got, want)
		}
	}
}
