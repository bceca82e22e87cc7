package vfs

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemFS is an in-memory filesystem that remembers what a real disk would
// still hold after a power loss: file data up to each file's last Sync, and
// directory entries as of each directory's last SyncDir. CrashClone returns
// that state. Pebble's NewCrashableMem is the model.
//
// Hard links, permissions and modification times beyond "now" are not
// modelled. All methods are safe for concurrent use; one mutex guards the
// whole tree because MemFS exists for tests, not speed.
type MemFS struct {
	mu struct {
		sync.Mutex
		root  *memNode
		locks map[string]bool
	}
}

// memNode is a file or a directory. Directories keep two views of their
// entries: children is what a running process sees, syncedChildren what
// survives a crash. Files keep data and synced the same way; synced is never
// mutated in place once set, so it may share data's backing array (shared).
type memNode struct {
	isDir   bool
	modTime time.Time

	data   []byte
	synced []byte
	// shared is true while data's backing array holds synced's bytes; a
	// write into [0, len(synced)) must then copy data first.
	shared bool

	children       map[string]*memNode
	syncedChildren map[string]*memNode

	// lost holds the pages (index = byte offset / memPageBytes) whose
	// writeback failed (FailWriteback): their data stays readable but no
	// Sync writes it until a write touches the page again.
	lost map[int64]bool
}

// memPageBytes is the page size FailWriteback works in, as the kernel's
// page cache does.
const memPageBytes = 4096

func newDirNode() *memNode {
	return &memNode{isDir: true, modTime: time.Now(),
		children: map[string]*memNode{}, syncedChildren: map[string]*memNode{}}
}

// NewMem returns an empty in-memory filesystem whose root directory exists.
func NewMem() *MemFS {
	m := &MemFS{}
	m.mu.root = newDirNode()
	m.mu.locks = map[string]bool{}
	return m
}

// CrashClone returns a new MemFS holding only what had been made durable:
// each file reachable through synced directory entries, with the data it had
// at its last Sync. Open files and locks of m are not carried over, as a
// process does not survive a power loss.
func (m *MemFS) CrashClone() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMem()
	c.mu.root = cloneSynced(m.mu.root)
	return c
}

func cloneSynced(n *memNode) *memNode {
	if !n.isDir {
		// The clone's data aliases synced; shared makes the first write
		// copy, so neither filesystem can change the other's bytes.
		s := n.synced[:len(n.synced):len(n.synced)]
		return &memNode{modTime: n.modTime, data: s, synced: s, shared: true}
	}
	d := newDirNode()
	for name, child := range n.syncedChildren {
		cc := cloneSynced(child)
		d.children[name] = cc
		d.syncedChildren[name] = cc
	}
	return d
}

// splitPath cleans name into components below the root; "", "." and "/"
// are the root itself.
func splitPath(name string) []string {
	p := filepath.ToSlash(filepath.Clean(name))
	p = strings.TrimPrefix(p, "/")
	if p == "." || p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// lookupLocked finds the node for name.
func (m *MemFS) lookupLocked(name string) (*memNode, error) {
	n := m.mu.root
	for _, part := range splitPath(name) {
		if !n.isDir {
			return nil, fmt.Errorf("not a directory")
		}
		c, ok := n.children[part]
		if !ok {
			return nil, fs.ErrNotExist
		}
		n = c
	}
	return n, nil
}

// parentLocked finds name's parent directory and name's last component.
func (m *MemFS) parentLocked(name string) (*memNode, string, error) {
	parts := splitPath(name)
	if len(parts) == 0 {
		return nil, "", fmt.Errorf("invalid argument: root")
	}
	dir, err := m.lookupLocked(strings.Join(parts[:len(parts)-1], "/"))
	if err != nil {
		return nil, "", err
	}
	if !dir.isDir {
		return nil, "", fmt.Errorf("not a directory")
	}
	return dir, parts[len(parts)-1], nil
}

func pathErr(op, name string, err error) error {
	return &os.PathError{Op: op, Path: name, Err: err}
}

// Create implements FS.
func (m *MemFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentLocked(name)
	if err != nil {
		return nil, pathErr("create", name, err)
	}
	n, ok := dir.children[base]
	if ok && n.isDir {
		return nil, pathErr("create", name, fmt.Errorf("is a directory"))
	}
	if ok {
		n.truncateLocked(0)
	} else {
		n = &memNode{modTime: time.Now()}
		dir.children[base] = n
	}
	return &memFile{fs: m, n: n, name: name, writable: true}, nil
}

// OpenReadWrite implements FS.
func (m *MemFS) OpenReadWrite(name string) (File, error) { return m.open(name, true) }

// Open implements FS.
func (m *MemFS) Open(name string) (File, error) { return m.open(name, false) }

func (m *MemFS) open(name string, writable bool) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if n.isDir {
		return nil, pathErr("open", name, fmt.Errorf("is a directory"))
	}
	return &memFile{fs: m, n: n, name: name, writable: writable}, nil
}

// MkdirAll implements FS.
func (m *MemFS) MkdirAll(dir string, _ os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.mu.root
	for _, part := range splitPath(dir) {
		c, ok := n.children[part]
		if !ok {
			c = newDirNode()
			n.children[part] = c
		} else if !c.isDir {
			return pathErr("mkdir", dir, fmt.Errorf("not a directory"))
		}
		n = c
	}
	return nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentLocked(name)
	if err != nil {
		return pathErr("remove", name, err)
	}
	n, ok := dir.children[base]
	if !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if n.isDir && len(n.children) > 0 {
		return pathErr("remove", name, fmt.Errorf("directory not empty"))
	}
	delete(dir.children, base)
	return nil
}

// RemoveAll implements FS.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentLocked(name)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return pathErr("removeall", name, err)
	}
	delete(dir.children, base)
	return nil
}

// Rename implements FS.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	odir, obase, err := m.parentLocked(oldname)
	if err != nil {
		return pathErr("rename", oldname, err)
	}
	n, ok := odir.children[obase]
	if !ok {
		return pathErr("rename", oldname, fs.ErrNotExist)
	}
	ndir, nbase, err := m.parentLocked(newname)
	if err != nil {
		return pathErr("rename", newname, err)
	}
	if old, ok := ndir.children[nbase]; ok && old.isDir {
		return pathErr("rename", newname, fmt.Errorf("file exists"))
	}
	delete(odir.children, obase)
	ndir.children[nbase] = n
	return nil
}

// List implements FS.
func (m *MemFS) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(dir)
	if err != nil {
		return nil, pathErr("list", dir, err)
	}
	if !n.isDir {
		return nil, pathErr("list", dir, fmt.Errorf("not a directory"))
	}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return n.infoLocked(filepath.Base(name)), nil
}

// Lock implements FS. Locks live in the MemFS, so two "processes" sharing
// one MemFS exclude each other.
func (m *MemFS) Lock(name string) (io.Closer, error) {
	f, err := m.open(name, true)
	if err != nil {
		if f, err = m.Create(name); err != nil {
			return nil, err
		}
	}
	f.Close()
	key := strings.Join(splitPath(name), "/")
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.locks[key] {
		return nil, fmt.Errorf("lock %s: %w", name, ErrLocked)
	}
	m.mu.locks[key] = true
	return &memLock{fs: m, key: key}, nil
}

type memLock struct {
	fs   *MemFS
	key  string
	once sync.Once
}

func (l *memLock) Close() error {
	l.once.Do(func() {
		l.fs.mu.Lock()
		delete(l.fs.mu.locks, l.key)
		l.fs.mu.Unlock()
	})
	return nil
}

// SyncDir implements FS: the directory's current entries become the ones
// that survive a crash.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(dir)
	if err != nil {
		return pathErr("syncdir", dir, err)
	}
	if !n.isDir {
		return pathErr("syncdir", dir, fmt.Errorf("not a directory"))
	}
	n.syncedChildren = make(map[string]*memNode, len(n.children))
	for k, v := range n.children {
		n.syncedChildren[k] = v
	}
	return nil
}

// OpenSyncer implements FS: the Syncer's Sync makes every file's current
// data what survives a crash (lost pages excepted, as for Sync), and
// leaves directory entries alone.
func (m *MemFS) OpenSyncer(dir string) (Syncer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(dir)
	if err != nil {
		return nil, pathErr("opensyncer", dir, err)
	}
	if !n.isDir {
		return nil, pathErr("opensyncer", dir, fmt.Errorf("not a directory"))
	}
	return &memSyncer{m: m}, nil
}

type memSyncer struct {
	m      *MemFS
	closed bool
}

func (s *memSyncer) Sync() error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.closed {
		return pathErr("syncfs", "", os.ErrClosed)
	}
	var walk func(n *memNode)
	walk = func(n *memNode) {
		for _, c := range n.children {
			if c.isDir {
				walk(c)
			} else {
				c.syncLocked()
			}
		}
	}
	walk(s.m.mu.root)
	return nil
}

func (s *memSyncer) Close() error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.closed = true
	return nil
}

func (n *memNode) infoLocked(name string) os.FileInfo {
	fi := memFileInfo{name: name, size: int64(len(n.data)), modTime: n.modTime, mode: 0o644}
	if n.isDir {
		fi.size = 0
		fi.mode = fs.ModeDir | 0o755
	}
	return fi
}

// FailWriteback makes the named file behave as Linux leaves a file whose
// writeback failed (the "fsyncgate" behaviour an fsync error reports): every
// page written since the last Sync keeps its new data for readers, but is
// marked clean, so no later Sync writes it and a crash finds the page as it
// was at the last Sync (zeros past the synced length). A page becomes dirty
// again only when a write touches it; Truncate drops the pages wholly past
// the new size but leaves the page it cuts through marked, the worst case
// (ext4 and XFS happen to re-dirty that page). The file's size is still
// persisted by the next Sync, as fdatasync does. Tests call it from an
// Injector that fails a Sync, to check that storage never trusts data a
// failed fsync covered.
func (m *MemFS) FailWriteback(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(name)
	if err != nil {
		return pathErr("failwriteback", name, err)
	}
	if n.isDir {
		return pathErr("failwriteback", name, fmt.Errorf("is a directory"))
	}
	for p := int64(0); p*memPageBytes < int64(len(n.data)); p++ {
		lo, hi := p*memPageBytes, min((p+1)*memPageBytes, int64(len(n.data)))
		if hi > int64(len(n.synced)) || !bytes.Equal(n.data[lo:hi], n.synced[lo:hi]) {
			if n.lost == nil {
				n.lost = map[int64]bool{}
			}
			n.lost[p] = true
		}
	}
	return nil
}

// syncLocked makes the file's data what survives a crash, except for lost
// pages, which keep their previously synced bytes.
func (n *memNode) syncLocked() {
	d := n.data
	if len(n.lost) == 0 {
		n.synced = d[:len(d):len(d)]
		n.shared = true
		return
	}
	s := slices.Clone(d)
	for p := range n.lost {
		lo := p * memPageBytes
		if lo >= int64(len(s)) {
			continue
		}
		hi := min(lo+memPageBytes, int64(len(s)))
		clear(s[lo:hi])
		if lo < int64(len(n.synced)) {
			copy(s[lo:hi], n.synced[lo:min(hi, int64(len(n.synced)))])
		}
	}
	n.synced, n.shared = s, false
}

// writeAtLocked copies p into the file at off, zero-filling any gap.
func (n *memNode) writeAtLocked(p []byte, off int64) {
	if len(n.lost) > 0 && len(p) > 0 {
		for pg := off / memPageBytes; pg <= (off+int64(len(p))-1)/memPageBytes; pg++ {
			delete(n.lost, pg)
		}
	}
	if n.shared && off < int64(len(n.synced)) {
		n.data = slices.Clone(n.data)
		n.shared = false
	}
	end := off + int64(len(p))
	if end > int64(len(n.data)) {
		n.growLocked(end)
	}
	copy(n.data[off:], p)
	n.modTime = time.Now()
}

// growLocked extends data to size with zeros. Bytes between len and cap
// may be stale from an earlier truncate, so they are cleared.
func (n *memNode) growLocked(size int64) {
	old := len(n.data)
	if size <= int64(cap(n.data)) {
		n.data = n.data[:size]
		clear(n.data[old:])
		return
	}
	nd := make([]byte, size, max(size, 2*int64(cap(n.data))))
	copy(nd, n.data)
	n.data = nd
	n.shared = false
}

func (n *memNode) truncateLocked(size int64) {
	for p := range n.lost {
		if p*memPageBytes >= size {
			delete(n.lost, p)
		}
	}
	switch {
	case size < int64(len(n.data)):
		if n.shared && size < int64(len(n.synced)) {
			n.data = slices.Clone(n.data[:size])
			n.shared = false
			return
		}
		n.data = n.data[:size]
	case size > int64(len(n.data)):
		n.growLocked(size)
	}
}

type memFile struct {
	fs       *MemFS
	n        *memNode
	name     string
	writable bool
	pos      int64 // guarded by fs.mu
	closed   bool  // guarded by fs.mu
}

func (f *memFile) checkLocked(op string, write bool) error {
	if f.closed {
		return pathErr(op, f.name, os.ErrClosed)
	}
	if write && !f.writable {
		return pathErr(op, f.name, fmt.Errorf("bad file descriptor"))
	}
	return nil
}

func (f *memFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("read", false); err != nil {
		return 0, err
	}
	if f.pos >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	k := copy(p, f.n.data[f.pos:])
	f.pos += int64(k)
	return k, nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, fmt.Errorf("negative offset"))
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	k := copy(p, f.n.data[off:])
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("write", true); err != nil {
		return 0, err
	}
	f.n.writeAtLocked(p, f.pos)
	f.pos += int64(len(p))
	return len(p), nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("write", f.name, fmt.Errorf("negative offset"))
	}
	f.n.writeAtLocked(p, off)
	return len(p), nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, os.ErrClosed)
	}
	f.closed = true
	return nil
}

// Sync makes the file's current data what survives a crash.
func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("sync", false); err != nil {
		return err
	}
	f.n.syncLocked()
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", f.name, fmt.Errorf("negative size"))
	}
	f.n.truncateLocked(size)
	return nil
}

func (f *memFile) Stat() (os.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("stat", false); err != nil {
		return nil, err
	}
	return f.n.infoLocked(filepath.Base(f.name)), nil
}

type memFileInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (fi memFileInfo) Name() string       { return fi.name }
func (fi memFileInfo) Size() int64        { return fi.size }
func (fi memFileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi memFileInfo) ModTime() time.Time { return fi.modTime }
func (fi memFileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi memFileInfo) Sys() any           { return nil }
