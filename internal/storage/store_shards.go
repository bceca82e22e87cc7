package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicedata/sluice/internal/vfs"
)

// CreateShard creates an empty shard log under key and returns it open.
// key is one or more [a-zA-Z0-9_.-] parts joined by '/'. It returns
// ErrShardExists if the key already holds a log.
func (s *Store) CreateShard(key string) (*ShardLog, error) {
	if err := checkShardKey(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	dir := s.shardDir(key)
	exists, err := hasSegments(s.fs, dir)
	if err != nil {
		return nil, fmt.Errorf("create shard %s: %w", key, err)
	}
	if exists {
		return nil, fmt.Errorf("create shard %s: %w", key, ErrShardExists)
	}
	if err := createShardFiles(s.fs, dir, filepath.Join(s.dir, shardsDirName)); err != nil {
		return nil, fmt.Errorf("create shard %s: %w", key, err)
	}
	return s.openLocked(key)
}

// createShardFiles writes the first segment of a new log in dir and makes
// it and every directory down to it from top durable.
func createShardFiles(fs vfs.FS, dir, top string) error {
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Stray files from a crash during an earlier create or delete would be
	// taken for part of the new log.
	if err := removeShardFiles(fs, dir); err != nil {
		return err
	}
	path := filepath.Join(dir, segmentName(0, segmentSuffix))
	f, err := fs.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(encodeSegmentHeader(0, segmentKeyInfo{}))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if err := fs.SyncDir(d); err != nil {
			return fmt.Errorf("sync dir %s: %w", d, err)
		}
		if d == top || d == filepath.Dir(d) {
			return nil
		}
	}
}

// OpenShard opens the log under key, recovering it (see
// docs/format/segment.md): a torn tail is cut off; corruption opens the log
// failed, readable up to the damage, with Err() reporting it. Opening a key
// that is already open returns the same *ShardLog. It returns
// ErrShardNotFound if the key holds no log.
func (s *Store) OpenShard(key string) (*ShardLog, error) {
	if err := checkShardKey(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	return s.openLocked(key)
}

func (s *Store) openLocked(key string) (*ShardLog, error) {
	if l, ok := s.mu.shards[key]; ok {
		return l, nil
	}
	l, err := openShardLog(s.fs, s.shardDir(key), key, s.opts)
	if err != nil {
		return nil, fmt.Errorf("open shard %s: %w", key, err)
	}
	l.onClose = s.forget
	l.syncer = s.syncer
	s.mu.shards[key] = l
	return l, nil
}

// forget drops a closed log from the open set.
func (s *Store) forget(l *ShardLog) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.shards[l.key] == l {
		delete(s.mu.shards, l.key)
	}
}

// DeleteShard closes the log under key if it is open and removes its
// files, then its directory and any parents left empty, fsyncing each
// directory changed. Files of other shards nested below key are kept.
// It returns ErrShardNotFound if the key's directory does not exist.
func (s *Store) DeleteShard(key string) error {
	if err := checkShardKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	l, open := s.mu.shards[key]
	if s.mu.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	delete(s.mu.shards, key)
	s.mu.Unlock()
	// Close outside s.mu: it syncs, and its onClose would take s.mu.
	if open {
		if err := l.Close(); err != nil {
			s.opts.Logger.Warn("storage: close before delete", "shard", key, "err", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.shardDir(key)
	if _, err := s.fs.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete shard %s: %w", key, ErrShardNotFound)
	}
	if err := removeShardFiles(s.fs, dir); err != nil {
		return fmt.Errorf("delete shard %s: %w", key, err)
	}
	if err := removeEmptyDirs(s.fs, dir, filepath.Join(s.dir, shardsDirName)); err != nil {
		return fmt.Errorf("delete shard %s: %w", key, err)
	}
	return nil
}

// removeShardFiles removes a log's own files from dir: index and temporary
// files first, then segments newest first, so that a crash part way leaves
// a shorter log rather than one with a hole.
func removeShardFiles(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	var segs []string
	changed := false
	for _, n := range names {
		if _, ok := parseSegmentName(n); ok {
			segs = append(segs, n)
			continue
		}
		if isShardAuxFile(n) {
			if err := fs.Remove(filepath.Join(dir, n)); err != nil {
				return fmt.Errorf("remove %s: %w", n, err)
			}
			changed = true
		}
	}
	for i := len(segs) - 1; i >= 0; i-- {
		if err := fs.Remove(filepath.Join(dir, segs[i])); err != nil {
			return fmt.Errorf("remove %s: %w", segs[i], err)
		}
		changed = true
	}
	if !changed {
		return nil
	}
	return syncDirs(fs, dir)
}

// isShardAuxFile reports whether name is an index or temporary file of a
// segment.
func isShardAuxFile(name string) bool {
	for _, suffix := range []string{offsetIndexSuffix, timeIndexSuffix, tmpSuffix} {
		if n, ok := cutAnySuffix(name, suffix); ok && len(n) >= segmentNameDigits {
			return true
		}
	}
	return false
}

func cutAnySuffix(name, suffix string) (string, bool) {
	if len(name) > len(suffix) && name[len(name)-len(suffix):] == suffix {
		return name[:len(name)-len(suffix)], true
	}
	return "", false
}

// removeEmptyDirs removes dir and then its parents while they are empty,
// stopping below top, fsyncing each parent whose entry it removed.
func removeEmptyDirs(fs vfs.FS, dir, top string) error {
	for d := dir; d != top && d != filepath.Dir(d); d = filepath.Dir(d) {
		names, err := fs.List(d)
		if err != nil {
			return fmt.Errorf("list %s: %w", d, err)
		}
		if len(names) > 0 {
			return nil
		}
		if err := fs.Remove(d); err != nil {
			return fmt.Errorf("remove %s: %w", d, err)
		}
		if err := syncDirs(fs, filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// Close closes every open shard log (making appended data durable), the
// catalog and the directory lock. The Store is unusable afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	logs := make([]*ShardLog, 0, len(s.mu.shards))
	for _, l := range s.mu.shards {
		logs = append(logs, l)
	}
	s.mu.Unlock()
	var err error
	for _, l := range logs {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close shard %s: %w", l.key, cerr))
		}
	}
	if s.syncer != nil {
		err = errors.Join(err, s.syncer.close())
	}
	err = errors.Join(err, s.catalog.close(), s.lock.Close())
	return err
}
