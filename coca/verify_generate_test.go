package coca

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestVerifyGenerateFixtures reproduces open_clip's generate() output
// token for token: tiny/ was written by open_clip 2.29 itself (10 cases,
// 12 images), parallel_wide/ (multimodal_cfg.mlp_ratio 1, which open_clip
// ignores), odd/ (context 9, vocabulary 50) and cascade/ by open_clip 2.29
// through golden/pytorch/openclip_generate.py (7 cases, 8 images each).
func TestVerifyGenerateFixtures(t *testing.T) {
	for _, c := range []struct {
		dir         string
		cases, rows int
	}{{"tiny", 10, 12}, {"parallel_wide", 7, 8}, {"odd", 7, 8}, {"cascade", 7, 8}} {
		var buf bytes.Buffer
		fails, err := VerifyGenerate("../golden/testdata/generate/"+c.dir, &buf, VerifyGenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if fails > 0 {
			t.Fatalf("%s: %d cases differ:\n%s", c.dir, fails, out)
		}
		want := fmt.Sprintf("%d/%d rows match", c.rows, c.rows)
		if n := strings.Count(out, want); n != c.cases || !strings.HasSuffix(out, fmt.Sprintf("PASS (%d cases)\n", c.cases)) {
			t.Fatalf("%s: %d lines with %q, want %d:\n%s", c.dir, n, want, c.cases, out)
		}
	}
}
