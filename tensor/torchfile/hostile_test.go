package torchfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gococa/gococa/internal/hostile"
)

// hostileCases are small files that, read without budgets, exhaust the
// machine (issue 16): each must fail with an error naming the file and,
// where a limit stops it, the limit. The sizes are smaller than the issue's
// (scripts/hostile.sh runs those) but far past what a naive reader survives.
func hostileCases() []struct {
	name, want string
	file       []byte
} {
	set, nested := 50_000, 200_000 // set(L) on a 200k list
	return []struct {
		name, want string
		file       []byte
	}{
		// Hashed by identity, the doubling key costs its 100 distinct
		// tuples; the file then fails as not a state dict.
		{"doubling.bin", "state dict key 0 is a tuple, not a string", hostile.Wrap(hostile.DoublingTupleKey(100))},
		{"nested.bin", "tuples nested more than 100 deep (the limit)", hostile.Wrap(hostile.NestedTupleKey(nested))},
		// set(L) shares L's elements: 200k calls on a 1M list are cheap.
		{"set.bin", "pickled object is a list, not a state dict", hostile.Wrap(hostile.SetCalls(set, 200_000))},
		{"ordereddict.bin", "(the limit, MaxPickleMemory)", hostile.Wrap(hostile.OrderedDictCalls(100, 300_000))},
		{"bigkeys.bin", "(the limit, MaxPickleWork)", hostile.Wrap(hostile.BigStringKeys(1<<20, 100_000))},
		{"bomb.bin", "over the decompression limit of", hostile.DeflateBombCheckpoint(256 << 20)},
	}
}

func TestHostile(t *testing.T) {
	dir := t.TempDir()
	for _, c := range hostileCases() {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.file, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, open := range []func(string) error{
			func(p string) error { _, err := Load(p); return err },
			func(p string) error { _, err := Open(p); return err },
		} {
			err := open(path)
			if err == nil || !strings.HasPrefix(err.Error(), "torchfile: "+path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v\nwant an error naming the file and containing %q", c.name, err, c.want)
			}
		}
	}
}

// A one-element view of a large compressed storage reads only the element
// it views: the bytes the tensors need bound the decompression, not the
// storage's size.
func TestViewReadsOnlyWhatItNeeds(t *testing.T) {
	b := hostile.DeflateBombView(256 << 20)
	ts, err := Read(bytes.NewReader(b), int64(len(b)), "view.bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || len(ts[0].Raw()) != 4 || ts[0].Float32()[0] != 0 {
		t.Fatalf("got %d tensors, %v", len(ts), ts)
	}
	path := filepath.Join(t.TempDir(), "view.bin")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, raw, err := c.Raw("w"); err != nil || len(raw) != 4 || cap(c.a.scratch) != 4 {
		t.Fatalf("Raw: %d bytes (buffer %d), %v", len(raw), cap(c.a.scratch), err)
	}
}

// The budgets leave real checkpoints far inside them: the fixtures' pickles
// use under 1/1000 of each.
func TestBudgetsFitRealCheckpoints(t *testing.T) {
	for _, file := range []string{"tiny_ckpt.pt", "tiny_f32.bin", "views.bin"} {
		pkl := pickleOf(t, "testdata/"+file)
		m := &machine{data: pkl, memo: map[int64]any{}, storages: map[string]*pyStorage{},
			tuples: map[string]tupleKey{}, tupleIDs: map[tupleIdent]tupleKey{}}
		if _, err := m.run(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d-byte pickle: %d units of work, %d bytes of objects", file, len(pkl), m.work, m.mem)
		if m.work > MaxPickleWork/1000 || m.mem > MaxPickleMemory/1000 {
			t.Errorf("%s: work %d, memory %d: more than 1/1000 of the budgets", file, m.work, m.mem)
		}
	}
}
