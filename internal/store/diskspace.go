package store

import (
	"fmt"
	"syscall"
)

// FreeBytes is the space an unprivileged process can still write in dir's file system.
// The stores' disk guards refuse writes below their reserve (ErrDiskFull).
func FreeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// FormatBytes renders a byte count for messages: MiB with one decimal, or KiB below that.
func FormatBytes(n int64) string {
	if n >= 1<<20 || n <= -(1<<20) {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
