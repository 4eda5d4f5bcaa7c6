//go:build unix

package main

import (
	"os"
	"syscall"
	"testing"
)

// mkfifo makes a named pipe at path (a file that would block a reader).
func mkfifo(t *testing.T, path string) bool {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	return true
}

// openPTY opens a pseudo-terminal and returns its terminal side.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	name, err := ptsName(master)
	if err != nil {
		t.Skipf("pseudo-terminal: %v", err)
	}
	pts, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Skipf("pseudo-terminal %s: %v", name, err)
	}
	t.Cleanup(func() { pts.Close() })
	return pts
}
