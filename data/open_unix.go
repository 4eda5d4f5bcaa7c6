//go:build unix

package data

import (
	"os"
	"syscall"
)

// openNonblock opens path read-only without blocking: opening a FIFO for
// reading would otherwise wait for a writer. Reads from a regular file are
// unaffected by O_NONBLOCK.
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
