//go:build unix

package data

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Only regular files are read as images: a FIFO named like a JPEG (which
// would block the reader for ever), a directory and a device are errors
// naming the path, returned at once.
func TestLoadRefusesIrregularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x.jpg")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	sub := filepath.Join(dir, "dir.png")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, c := range []struct{ path, kind string }{{fifo, "a named pipe"}, {sub, "a directory"}, {os.DevNull, "a character device"}} {
			for _, load := range []func(string) error{
				func(p string) error { _, err := LoadImage(p); return err },
				func(p string) error { _, err := PreprocessFile(p, 32); return err },
			} {
				err := load(c.path)
				if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.kind) {
					t.Errorf("%s: %v", c.path, err)
				}
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("loading a FIFO blocked") // not a timing assertion: without the check it never returns
	}
}
