//go:build !linux && !darwin

package safetensors

import "os"

// Open reads the named file into memory and parses its header (memory mapping
// is used on Linux and macOS only).
func Open(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errorf("%v", err)
	}
	return Parse(data, path)
}
