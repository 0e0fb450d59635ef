//go:build !linux

package duck

// onNicedThread runs f. Thread priorities are set on Linux only (priority_linux.go).
func onNicedThread(nice int, f func()) error {
	f()
	return nil
}
