//go:build !linux

package server

// dropCleanFilePages does nothing outside Linux.
func dropCleanFilePages(bool) (int64, error) { return 0, nil }
