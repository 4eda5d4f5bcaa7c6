//go:build !unix

package main

import (
	"os"
	"testing"
)

func mkfifo(t *testing.T, path string) bool { return false }

func openPTY(t *testing.T) *os.File {
	t.Skip("no pseudo-terminals here")
	return nil
}
