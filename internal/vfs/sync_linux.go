package vfs

import (
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

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

// OpenSyncer implements FS. The descriptor stays open so that its Sync
// reports writeback errors from the moment of opening, not of each call.
func (osFS) OpenSyncer(dir string) (Syncer, error) {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return nil, err
	}
	return osSyncer{d}, nil
}

type osSyncer struct{ *os.File }

// Sync is syncfs(2): every dirty page and inode of the filesystem written
// back, the journal committed and the device cache flushed. Since Linux
// 5.8 it reports writeback errors (earlier kernels return 0 regardless).
func (s osSyncer) Sync() error {
	for {
		err := unix.Syncfs(int(s.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
