//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package keyring

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on path, creating the file if needed,
// and waits for it as long as another process or Ring holds it. flock locks
// belong to the open file description, so two Rings in one process exclude
// each other too. Closing the returned file releases the lock; the kernel
// releases it if the process dies, so there is no stale lock to clean up.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock key ring: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
