//go:build !cuda || !cgo

package cuda

import (
	"strings"
	"testing"
)

func TestStub(t *testing.T) {
	if Available() {
		t.Fatal("Available() is true in a build without CUDA")
	}
	b, err := New(Options{})
	if b != nil || err == nil || !strings.Contains(err.Error(), "built without CUDA support (rebuild with -tags cuda)") {
		t.Fatalf("New = %v, %v; want the built-without-CUDA error", b, err)
	}
}
