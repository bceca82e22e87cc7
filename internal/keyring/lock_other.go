//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package keyring

import (
	"errors"
	"os"
)

// lockFile is not implemented on platforms without flock; Sluice targets
// Linux and macOS, and refusing to change the ring beats two writers losing
// each other's keys.
func lockFile(path string) (*os.File, error) {
	return nil, errors.New("lock " + path + ": file locking not supported on this platform")
}
