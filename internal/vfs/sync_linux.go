package vfs

import "syscall"

// Sync uses fdatasync: a log append changes the data and the size, which
// fdatasync flushes, and not the timestamps, which it skips.
func (f osFile) Sync() error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
