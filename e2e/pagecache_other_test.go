//go:build !linux

package e2e

import "os"

// dropFromPageCache writes path back (Linux also drops it from the page cache).
func dropFromPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
