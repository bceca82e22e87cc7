//go:build !linux

package vfs

import (
	"errors"
	"fmt"
)

// Sync falls back to fsync where fdatasync is not available.
func (f osFile) Sync() error { return f.File.Sync() }

// OpenSyncer implements FS: only Linux has syncfs(2) with error reports,
// so elsewhere the answer wraps errors.ErrUnsupported and callers sync
// file by file.
func (osFS) OpenSyncer(dir string) (Syncer, error) {
	return nil, fmt.Errorf("sync the filesystem of %s: %w", dir, errors.ErrUnsupported)
}
