//go:build unix && !linux

package main

import (
	"errors"
	"os"
)

func ptsName(master *os.File) (string, error) { return "", errors.New("not on this system") }
