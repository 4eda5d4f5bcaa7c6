package tokenizer

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// TestConcurrentUse tokenizes from several goroutines with a tiny cache, so
// that the cache is emptied often while others read it.
func TestConcurrentUse(t *testing.T) {
	base := New()
	tok := freshCache(base)
	tok.cache.init(8)
	texts := make([]string, 0, 4*len(benchCaptions))
	for i, c := range benchCaptions {
		texts = append(texts, c, fmt.Sprintf("%s #%d", c, i))
	}
	want := make([][]int, len(texts))
	for i, s := range texts {
		want[i] = base.Tokenize(s, 76)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for r := 0; r < 20; r++ {
				for k := range texts {
					i := (k + g*7 + r) % len(texts)
					if got := tok.Tokenize(texts[i], 76); !slices.Equal(got, want[i]) {
						errs <- fmt.Sprintf("goroutine %d: %q: got %v, want %v", g, texts[i], got, want[i])
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := len(tok.cache.m); n > 8 {
		t.Errorf("cache holds %d words, bound is 8", n)
	}
}
