//go:build !(linux || aix || solaris || zos || darwin || dragonfly || freebsd || netbsd || openbsd || windows)

package main

// isTerminalFd reports false: terminals are not detected on this system.
func isTerminalFd(fd uintptr) bool { return false }
