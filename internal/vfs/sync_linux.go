package vfs

import (
	"errors"
	"fmt"
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
// Before Linux 5.8 syncfs reports no writeback errors at all, so there
// the answer wraps errors.ErrUnsupported.
func (osFS) OpenSyncer(dir string) (Syncer, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return nil, err
	}
	if release := unix.ByteSliceToString(u.Release[:]); !syncfsReportsErrors(release) {
		return nil, fmt.Errorf("sync the filesystem of %s: syncfs reports no writeback errors before Linux 5.8, this is %s: %w",
			dir, release, errors.ErrUnsupported)
	}
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

// syncfsReportsErrors reports whether a kernel release string such as
// "6.18.44-fc" is Linux 5.8 or later; one it cannot read counts as older.
func syncfsReportsErrors(release string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(release, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 5 || major == 5 && minor >= 8
}

// StartWriteback implements WritebackStarter with sync_file_range(2) and
// SYNC_FILE_RANGE_WRITE alone, which neither waits nor consumes a
// writeback error: the file's fdatasync and the filesystem's syncfs still
// report it.
func (f osFile) StartWriteback(off, n int64) error {
	for {
		err := unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
		if err != syscall.EINTR {
			return err
		}
	}
}
