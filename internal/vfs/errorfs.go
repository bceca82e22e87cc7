package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInjected is the error an ErrorFS returns (wrapped with the operation
// and path) when an Injector built by FailNth or FailFrom fires.
var ErrInjected = errors.New("injected I/O error")

// Op names a kind of filesystem operation for an Injector.
type Op int

// The operation kinds an Injector sees. Read covers Read and ReadAt, Write
// covers Write and WriteAt, Open covers Open and OpenReadWrite, Remove
// covers Remove and RemoveAll.
const (
	OpCreate Op = iota
	OpOpen
	OpRead
	OpWrite
	OpSync
	OpTruncate
	OpFileStat
	OpMkdirAll
	OpRemove
	OpRename
	OpList
	OpStat
	OpLock
	OpSyncDir
	// OpSyncFS is a Syncer's Sync (the path is the directory it was
	// opened on); opening one is OpOpen.
	OpSyncFS
)

var opNames = [...]string{"create", "open", "read", "write", "sync", "truncate", "filestat",
	"mkdirall", "remove", "rename", "list", "stat", "lock", "syncdir", "syncfs"}

func (o Op) String() string {
	if o < 0 || int(o) >= len(opNames) {
		return fmt.Sprintf("Op(%d)", int(o))
	}
	return opNames[o]
}

// Injector decides whether an operation fails. MaybeError is called before
// the operation runs, from any goroutine; a non-nil error is returned to the
// caller and the operation is not performed (so an injected write writes
// nothing and an injected sync syncs nothing), except that a
// *ShortWriteError for a write performs part of it first. An Injector that
// sleeps before returning nil simulates a slow disk.
type Injector interface {
	MaybeError(op Op, path string) error
}

// InjectorFunc adapts a function to Injector.
type InjectorFunc func(op Op, path string) error

// MaybeError implements Injector.
func (f InjectorFunc) MaybeError(op Op, path string) error { return f(op, path) }

// FailNth fails only the nth (counting from 1) operation of kind op whose
// path satisfies match (nil matches every path).
func FailNth(op Op, match func(path string) bool, n int64) Injector {
	return counting(op, match, n, false)
}

// FailFrom fails the nth matching operation and every matching one after
// it, like a disk that has gone bad.
func FailFrom(op Op, match func(path string) bool, n int64) Injector {
	return counting(op, match, n, true)
}

func counting(op Op, match func(string) bool, n int64, sticky bool) Injector {
	var count atomic.Int64
	return InjectorFunc(func(o Op, path string) error {
		if o != op || (match != nil && !match(path)) {
			return nil
		}
		c := count.Add(1)
		if c == n || (sticky && c > n) {
			return fmt.Errorf("%s %s (call %d): %w", o, path, c, ErrInjected)
		}
		return nil
	})
}

// NewErrorFS wraps inner so that every operation first asks inj whether to
// fail. Pebble's vfs/errorfs is the model.
func NewErrorFS(inner FS, inj Injector) FS { return &errorFS{inner: inner, inj: inj} }

type errorFS struct {
	inner FS
	inj   Injector
}

func (e *errorFS) Create(name string) (File, error) {
	if err := e.inj.MaybeError(OpCreate, name); err != nil {
		return nil, err
	}
	f, err := e.inner.Create(name)
	if err != nil {
		return nil, err
	}
	return &errorFile{f: f, path: name, inj: e.inj}, nil
}

func (e *errorFS) OpenReadWrite(name string) (File, error) {
	return e.open(name, e.inner.OpenReadWrite)
}

func (e *errorFS) Open(name string) (File, error) { return e.open(name, e.inner.Open) }

func (e *errorFS) open(name string, fn func(string) (File, error)) (File, error) {
	if err := e.inj.MaybeError(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := fn(name)
	if err != nil {
		return nil, err
	}
	return &errorFile{f: f, path: name, inj: e.inj}, nil
}

func (e *errorFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := e.inj.MaybeError(OpMkdirAll, dir); err != nil {
		return err
	}
	return e.inner.MkdirAll(dir, perm)
}

func (e *errorFS) Remove(name string) error {
	if err := e.inj.MaybeError(OpRemove, name); err != nil {
		return err
	}
	return e.inner.Remove(name)
}

func (e *errorFS) RemoveAll(name string) error {
	if err := e.inj.MaybeError(OpRemove, name); err != nil {
		return err
	}
	return e.inner.RemoveAll(name)
}

func (e *errorFS) Rename(oldname, newname string) error {
	if err := e.inj.MaybeError(OpRename, newname); err != nil {
		return err
	}
	return e.inner.Rename(oldname, newname)
}

func (e *errorFS) List(dir string) ([]string, error) {
	if err := e.inj.MaybeError(OpList, dir); err != nil {
		return nil, err
	}
	return e.inner.List(dir)
}

func (e *errorFS) Stat(name string) (os.FileInfo, error) {
	if err := e.inj.MaybeError(OpStat, name); err != nil {
		return nil, err
	}
	return e.inner.Stat(name)
}

func (e *errorFS) Lock(name string) (io.Closer, error) {
	if err := e.inj.MaybeError(OpLock, name); err != nil {
		return nil, err
	}
	return e.inner.Lock(name)
}

func (e *errorFS) OpenSyncer(dir string) (Syncer, error) {
	if err := e.inj.MaybeError(OpOpen, dir); err != nil {
		return nil, err
	}
	s, err := e.inner.OpenSyncer(dir)
	if err != nil {
		return nil, err
	}
	return &errorSyncer{s: s, dir: dir, inj: e.inj}, nil
}

type errorSyncer struct {
	s   Syncer
	dir string
	inj Injector
}

func (e *errorSyncer) Sync() error {
	if err := e.inj.MaybeError(OpSyncFS, e.dir); err != nil {
		return err
	}
	return e.s.Sync()
}

func (e *errorSyncer) Close() error { return e.s.Close() }

func (e *errorFS) SyncDir(dir string) error {
	if err := e.inj.MaybeError(OpSyncDir, dir); err != nil {
		return err
	}
	return e.inner.SyncDir(dir)
}

type errorFile struct {
	f    File
	path string
	inj  Injector
}

func (e *errorFile) Read(p []byte) (int, error) {
	if err := e.inj.MaybeError(OpRead, e.path); err != nil {
		return 0, err
	}
	return e.f.Read(p)
}

func (e *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if err := e.inj.MaybeError(OpRead, e.path); err != nil {
		return 0, err
	}
	return e.f.ReadAt(p, off)
}

func (e *errorFile) Write(p []byte) (int, error) {
	if err := e.inj.MaybeError(OpWrite, e.path); err != nil {
		return e.shortWrite(err, p, func(b []byte) (int, error) { return e.f.Write(b) })
	}
	return e.f.Write(p)
}

func (e *errorFile) WriteAt(p []byte, off int64) (int, error) {
	if err := e.inj.MaybeError(OpWrite, e.path); err != nil {
		return e.shortWrite(err, p, func(b []byte) (int, error) { return e.f.WriteAt(b, off) })
	}
	return e.f.WriteAt(p, off)
}

// shortWrite returns an injected write error, first writing the part of p
// a *ShortWriteError asks for.
func (e *errorFile) shortWrite(err error, p []byte, write func([]byte) (int, error)) (int, error) {
	var sw *ShortWriteError
	if !errors.As(err, &sw) {
		return 0, err
	}
	n, werr := write(p[:min(max(sw.N, 0), len(p))])
	if werr != nil {
		return n, werr
	}
	return n, &os.PathError{Op: "write", Path: e.path, Err: sw.Err}
}

func (e *errorFile) Sync() error {
	if err := e.inj.MaybeError(OpSync, e.path); err != nil {
		return err
	}
	return e.f.Sync()
}

func (e *errorFile) Truncate(size int64) error {
	if err := e.inj.MaybeError(OpTruncate, e.path); err != nil {
		return err
	}
	return e.f.Truncate(size)
}

func (e *errorFile) Stat() (os.FileInfo, error) {
	if err := e.inj.MaybeError(OpFileStat, e.path); err != nil {
		return nil, err
	}
	return e.f.Stat()
}

// Close is never injected: a test that fails Close learns nothing storage
// can act on, and leaking the inner file would trip leak checks.
func (e *errorFile) Close() error { return e.f.Close() }

// ShortWriteError is what an Injector returns to make a write behave like
// one that ran out of space part way, as write(2) does on a full disk: the
// first N bytes are written and the call then fails with Err (wrapped in an
// *os.PathError), reporting N bytes written. For other operations it is an
// ordinary injected error.
type ShortWriteError struct {
	N   int
	Err error
}

func (e *ShortWriteError) Error() string {
	return fmt.Sprintf("short write of %d bytes: %v", e.N, e.Err)
}

func (e *ShortWriteError) Unwrap() error { return e.Err }

// Faults is an Injector that tests switch while the code under test runs:
// each rule fails, or stalls, one kind of operation on the paths it
// matches, until Clear. A failing rule returns its error in an
// *os.PathError (or as is, for a *ShortWriteError), as the OS would; a
// stalling rule sleeps before letting the operation run, like a slow disk.
// The zero value injects nothing. Safe for concurrent use.
type Faults struct {
	mu    sync.Mutex
	rules []faultRule
	fired atomic.Int64
}

type faultRule struct {
	op    Op
	match func(string) bool
	err   error
	delay time.Duration
}

// Fail makes every op on a path that match accepts (nil: every path) fail
// with err, from now until Clear.
func (f *Faults) Fail(op Op, match func(path string) bool, err error) {
	f.add(faultRule{op: op, match: match, err: err})
}

// Stall makes every op on a path that match accepts (nil: every path) wait
// d before it runs, from now until Clear. A stall already sleeping when
// Clear is called finishes its sleep.
func (f *Faults) Stall(op Op, match func(path string) bool, d time.Duration) {
	f.add(faultRule{op: op, match: match, delay: d})
}

func (f *Faults) add(r faultRule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, r)
}

// Clear removes every rule.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Fired returns how many operations a rule has failed or stalled so far.
func (f *Faults) Fired() int64 { return f.fired.Load() }

// MaybeError implements Injector. The first matching rule applies.
func (f *Faults) MaybeError(op Op, path string) error {
	f.mu.Lock()
	var rule *faultRule
	for i := range f.rules {
		if r := &f.rules[i]; r.op == op && (r.match == nil || r.match(path)) {
			rule = r
			break
		}
	}
	var r faultRule
	if rule != nil {
		r = *rule
	}
	f.mu.Unlock()
	if rule == nil {
		return nil
	}
	f.fired.Add(1)
	if r.err == nil {
		time.Sleep(r.delay)
		return nil
	}
	var sw *ShortWriteError
	if errors.As(r.err, &sw) {
		return r.err
	}
	return &os.PathError{Op: op.String(), Path: path, Err: r.err}
}
