//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package main

import "errors"

// Without a known terminal API, the password comes from standard input (--password-stdin).
func isTerminal(int) bool { return false }

func readNoEcho(int) (string, error) {
	return "", errors.New("cannot turn off echo here: pass the password with --password-stdin")
}
