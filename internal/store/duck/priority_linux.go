package duck

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// onNicedThread runs f on a new OS thread whose nice value is nice more than the
// process's (at most 19), and waits for it. DuckDB materialises a query's result inside
// QueryContext, so the whole of its execution on the calling thread happens there;
// fetching the rows later is a copy.
func onNicedThread(nice int, f func()) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		tid := unix.Gettid()
		// The raw getpriority system call answers 20 - nice (1 to 40).
		prio, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
		if err == nil {
			err = unix.Setpriority(unix.PRIO_PROCESS, tid, min(19, 20-prio+nice))
		}
		if err != nil {
			done <- fmt.Errorf("raise the nice value of a query thread by %d: %w", nice, err)
			return
		}
		f()
		done <- nil
	}()
	return <-done
}
