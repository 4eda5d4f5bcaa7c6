//go:build linux || darwin

package safetensors

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Open maps the named file read-only and parses its header. The file must not
// be truncated while it is open (the mapping would fault).
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, errorf("%v", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, errorf("%v", err)
	}
	size := st.Size()
	if !st.Mode().IsRegular() || size < 8 {
		// Not mappable (a pipe, or too short to be valid): read it and let
		// Parse report what is wrong.
		buf, err := io.ReadAll(fd)
		if err != nil {
			return nil, errorf("%s: %v", path, err)
		}
		return Parse(buf, path)
	}
	if int64(int(size)) != size {
		return nil, errorf("%s: file size %d does not fit in the address space", path, size)
	}
	data, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, errorf("%s: mmap: %v", path, err)
	}
	f, err := parse(data, path)
	if err != nil {
		unix.Munmap(data)
		return nil, err
	}
	f.release = func() error { return unix.Munmap(data) }
	base := int64(len(data) - len(f.data)) // the data buffer's offset in the mapping
	page := int64(os.Getpagesize())
	f.dontNeed = func(begin, end int64) error {
		lo := (base + begin + page - 1) / page * page
		hi := (base + end) / page * page
		if lo >= hi {
			return nil
		}
		return unix.Madvise(data[lo:hi], unix.MADV_DONTNEED)
	}
	return f, nil
}
