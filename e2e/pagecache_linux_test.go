package e2e

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropFromPageCache writes path back and drops its pages from the page cache, as a binary
// installed a while ago (or after a restart) is read from disk: a file just written stays
// in the page cache in the large folios the writes created, and pages mapped from those
// count in a process's RSS whole (docs/operations.md, Memory).
func dropFromPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
