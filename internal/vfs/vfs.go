// Package vfs is the filesystem seam under storage: everything storage does to
// files goes through FS, so tests can run it on an in-memory filesystem that
// simulates power loss (MemFS.CrashClone) or on one that injects I/O errors
// (NewErrorFS). Pebble's vfs package is the model.
//
// Paths are plain OS-style paths; MemFS cleans them with path/filepath. All
// implementations are safe for concurrent use; a File is safe for concurrent
// ReadAt calls, and for one writer concurrent with readers of other ranges.
package vfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// ErrLocked is returned (wrapped) by FS.Lock when another holder has the lock.
var ErrLocked = errors.New("file is locked")

// File is an open file.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	// WriteAt writes at an absolute position with one pwrite; storage uses it
	// so the write position never depends on a shared file cursor.
	io.WriterAt
	io.Closer
	// Sync makes the file's data, and the metadata needed to read it back
	// (its size), durable: fdatasync semantics. It does not make the file's
	// directory entry durable; see FS.SyncDir.
	Sync() error
	// Truncate changes the file's size.
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
}

// WritebackStarter is a File that can start writing a range of its data
// to the device without waiting for it (the operating system's files on
// Linux). It promises nothing about durability: only Sync does.
type WritebackStarter interface {
	StartWriteback(off, n int64) error
}

// FS is the part of a filesystem that storage needs.
type FS interface {
	// Create creates or truncates the named file for reading and writing.
	Create(name string) (File, error)
	// OpenReadWrite opens an existing file for reading and writing; the
	// error wraps os.ErrNotExist if it is missing.
	OpenReadWrite(name string) (File, error)
	// Open opens an existing file read-only.
	Open(name string) (File, error)
	// MkdirAll creates dir and any missing parents.
	MkdirAll(dir string, perm os.FileMode) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes name and everything below it; a missing name is not
	// an error.
	RemoveAll(name string) error
	// Rename renames oldname to newname, replacing newname if it is a file.
	Rename(oldname, newname string) error
	// List returns the names (not paths) of dir's entries, sorted.
	List(dir string) ([]string, error)
	// Stat describes the named file or directory.
	Stat(name string) (os.FileInfo, error)
	// Lock creates name if missing and takes an exclusive, non-blocking
	// process lock on it (flock on the OS). The lock is held until the
	// returned Closer is closed; a lock already held returns an error
	// wrapping ErrLocked.
	Lock(name string) (io.Closer, error)
	// SyncDir makes the directory's entries (files created, renamed or
	// removed in it) durable.
	SyncDir(dir string) error
	// OpenSyncer opens a handle on the filesystem that holds dir, whose
	// Sync makes every file on it durable at once; see Syncer.
	OpenSyncer(dir string) (Syncer, error)
}

// Syncer syncs a whole filesystem: syncfs(2) on Linux, through a
// descriptor held open from OpenSyncer to Close.
type Syncer interface {
	// Sync makes the data and sizes of every file on the filesystem
	// durable, as a File.Sync of each would, in one call. An error means
	// that writeback of some file on the filesystem failed since the
	// Syncer was opened or its last Sync returned, without saying which
	// (Linux reports each writeback error once to each open descriptor).
	// It does not promise to make directory entries durable; see SyncDir.
	Sync() error
	io.Closer
}

// Default returns the operating system's filesystem.
func Default() FS { return osFS{} }

type osFS struct{}

// osFile adds nothing to *os.File; the type exists so that Sync is
// fdatasync where the platform has it (see sync_*.go).
type osFile struct{ *os.File }

func (osFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) OpenReadWrite(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }
func (osFS) Remove(name string) error                    { return os.Remove(name) }
func (osFS) RemoveAll(name string) error                 { return os.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error        { return os.Rename(oldname, newname) }
func (osFS) Stat(name string) (os.FileInfo, error)       { return os.Stat(name) }

func (osFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names, nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	// A directory needs a full fsync: fdatasync does not promise to flush
	// the entries.
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return serr
	}
	return cerr
}
