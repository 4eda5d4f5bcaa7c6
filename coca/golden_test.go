package coca

import (
	"bytes"
	"strings"
	"testing"
)

// TestGoldenFixtures runs every fixture in golden/testdata (two written by
// open_clip itself, the rest by golden/pytorch/coca_ref.py) through Verify.
func TestGoldenFixtures(t *testing.T) {
	dirs, err := FixtureDirs("../golden/testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 5 {
		t.Fatalf("found %d fixtures in ../golden/testdata, want at least 5", len(dirs))
	}
	for _, d := range dirs {
		t.Run(d[strings.LastIndex(d, "/")+1:], func(t *testing.T) {
			var buf bytes.Buffer
			fails, err := Verify(d, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if fails > 0 {
				t.Fatalf("%d tensors differ (regenerate with golden/pytorch/make_fixtures.sh if the reference changed):\n%s", fails, failLines(buf.String()))
			}
		})
	}
}

func failLines(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "verify:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
