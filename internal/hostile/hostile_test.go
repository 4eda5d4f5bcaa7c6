package hostile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed fuzz corpus is what Corpus generates: after a change here,
// go run ./scripts/hostile -corpus . rewrites it.
func TestCorpusCommitted(t *testing.T) {
	for path, want := range Corpus() {
		got, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("%v (go run ./scripts/hostile -corpus . writes it)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what Corpus generates (go run ./scripts/hostile -corpus . rewrites it)", path)
		}
	}
}
