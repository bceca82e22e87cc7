//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package vfs

import (
	"errors"
	"io"
)

// Lock is not implemented on platforms without flock; Sluice targets Linux
// and macOS, and refusing to run beats running two processes on one
// directory.
func (osFS) Lock(name string) (io.Closer, error) {
	return nil, errors.New("lock " + name + ": file locking not supported on this platform")
}
