//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package main

import (
	"golang.org/x/sys/unix"
)

// isTerminal reports whether fd is a terminal.
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	return err == nil
}

// readNoEcho reads a line from the terminal fd with echo turned off, so that a password
// typed is not shown, and restores the terminal's settings after.
func readNoEcho(fd int) (string, error) {
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return "", err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &quiet); err != nil {
		return "", err
	}
	defer func() { _ = unix.IoctlSetTermios(fd, ioctlSetTermios, old) }()
	return readLineFD(fd)
}

// readLineFD reads bytes up to a newline one at a time, so that nothing after the line is
// consumed from the terminal.
func readLineFD(fd int) (string, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if err != nil {
			return "", err
		}
		if n == 0 || b[0] == '\n' {
			return string(line), nil
		}
		if b[0] != '\r' {
			line = append(line, b[0])
		}
	}
}
