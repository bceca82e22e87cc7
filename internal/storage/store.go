package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sluicedata/sluice/internal/vfs"
)

const (
	lockFileName    = "LOCK"
	versionFileName = "VERSION"
	catalogFileName = "catalog.db"
	shardsDirName   = "shards"
	versionPrefix   = "sluice-storage-format "
	// maxShardKeyBytes bounds a shard key, and so the shard's path length.
	maxShardKeyBytes = 512
	// maxVersionFileBytes bounds how much of VERSION is read.
	maxVersionFileBytes = 64

	// Options.SegmentMaxAge: the default, and its range. The minimum keeps
	// age rolls (two fsyncs, three files created, a directory fsync)
	// rare; the maximum (the longest Kinesis retention) keeps the
	// millisecond arithmetic far from overflow.
	defaultSegmentMaxAge = time.Hour
	minSegmentMaxAge     = time.Minute
	maxSegmentMaxAge     = 365 * 24 * time.Hour

	// Options.MaxPendingAppendBytes and AppendWait defaults: room for two
	// of the largest batches per shard, and a wait longer than a slow
	// fsync but well inside an SDK's patience.
	defaultMaxPendingAppendBytes = 2 * maxBatchBytes
	defaultAppendWait            = 5 * time.Second
)

// shardKeyPart is one '/'-separated part of a shard key.
var shardKeyPart = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// SegmentBytes: roll to a new segment when the active one would grow
	// past this size. 0 means 64 MiB; at most 1 GiB.
	SegmentBytes int64
	// SegmentMaxAge: Append rolls to a new segment when the active one's
	// first record arrived at least this long before the nowMillis it is
	// given, so that TrimBefore, which deletes whole segments, can trim a
	// slow shard at this granularity. 0 means 1 hour; at least 1 minute,
	// which bounds age rolls to one per minute per shard.
	SegmentMaxAge time.Duration
	// IndexIntervalBytes: one sparse offset-index and time-index entry per
	// this many bytes of batches. 0 means 4096.
	IndexIntervalBytes int
	// Logger receives recovery and failure reports. nil means slog.Default().
	Logger *slog.Logger
	// DataKeys provides the data keys of encrypted segments. nil: appends
	// with a key reference and reads of encrypted segments fail with
	// ErrNoDataKeys.
	DataKeys DataKeys
	// MaxPendingAppendBytes bounds, per shard log, the batch bytes of
	// Appends in progress: encoded, written, or waiting for their fsync.
	// An Append that would pass it waits for room (at most AppendWait)
	// before it encodes its batch, and then returns ErrBusy having
	// written nothing. A batch is always admitted when no other is in
	// progress, so one larger than the bound still goes through alone.
	// 0 means 32 MiB (two of the largest batches); negative is refused.
	MaxPendingAppendBytes int64
	// AppendWait is how long an Append waits for room under
	// MaxPendingAppendBytes. 0 means 5 seconds; negative is refused.
	AppendWait time.Duration
	// CatalogPath is where the bbolt catalog lives, on the operating
	// system's filesystem: bbolt memory-maps its file and cannot go through
	// vfs. Empty means <dir>/catalog.db. Tests that run the logs on a
	// vfs.MemFS set it to a file in a temporary directory.
	CatalogPath string
	// NoSync acknowledges an Append once its batch is written to the
	// file, without waiting for an fdatasync: records a crash of the
	// machine (not of the process) can lose. Rolls and Close still sync,
	// so a clean shutdown leaves everything on disk. For measurements and
	// throwaway environments only (`sluice serve --fsync off`).
	NoSync bool
	// PreallocBytes: once the active segment holds this many bytes of
	// batches, zeros are written this far ahead of its last batch, so that
	// later batches overwrite blocks the file already has and their
	// fdatasync needs no journal commit (shard_prealloc.go). 0 means
	// 1 MiB, or off with SharedSync; negative turns it off; at most 16 MiB.
	PreallocBytes int64
	// SharedSync makes Appends durable with one sync of the whole
	// filesystem that holds the data directory (syncfs(2)) per group
	// commit, shared by all of the Store's shard logs, instead of an
	// fdatasync of each log's segment (store_sync.go). On ext4 one syncfs
	// costs about what one fdatasync does, so a write spread over N
	// shards is about N times cheaper; but it also writes back whatever
	// else is dirty on that filesystem, so it suits a data directory on a
	// filesystem of its own, or one without heavy writers besides. Logs
	// opened without a Store, and platforms without syncfs, sync per log.
	// Ignored with NoSync. `sluice serve --fsync filesystem`.
	SharedSync bool
}

// withDefaults checks o and fills in zero fields.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.SegmentBytes < 0 || o.SegmentBytes > maxSegmentBytes:
		return o, fmt.Errorf("segment size %d bytes out of range [0, %d]", o.SegmentBytes, maxSegmentBytes)
	case o.IndexIntervalBytes < 0:
		return o, fmt.Errorf("index interval %d bytes is negative", o.IndexIntervalBytes)
	case o.SegmentMaxAge != 0 && (o.SegmentMaxAge < minSegmentMaxAge || o.SegmentMaxAge > maxSegmentMaxAge):
		return o, fmt.Errorf("segment max age %v out of range [%v, %v]", o.SegmentMaxAge, minSegmentMaxAge, maxSegmentMaxAge)
	case o.PreallocBytes > maxPreallocBytes:
		return o, fmt.Errorf("preallocation of %d bytes is over %d", o.PreallocBytes, maxPreallocBytes)
	case o.MaxPendingAppendBytes < 0 || o.AppendWait < 0:
		return o, fmt.Errorf("pending append bound %d bytes or wait %v is negative", o.MaxPendingAppendBytes, o.AppendWait)
	}
	if o.MaxPendingAppendBytes == 0 {
		o.MaxPendingAppendBytes = defaultMaxPendingAppendBytes
	}
	if o.AppendWait == 0 {
		o.AppendWait = defaultAppendWait
	}
	if o.SegmentMaxAge == 0 {
		o.SegmentMaxAge = defaultSegmentMaxAge
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = defaultSegmentBytes
	}
	if o.PreallocBytes == 0 && (!o.SharedSync || o.NoSync) {
		// A filesystem sync commits the journal whatever the files'
		// sizes (their timestamps change with every write), so zeros
		// ahead would only double the bytes written back.
		o.PreallocBytes = defaultPreallocBytes
	}
	if o.IndexIntervalBytes == 0 {
		o.IndexIntervalBytes = defaultIndexIntervalBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Store is an open data directory: the shard logs and the catalog. Its
// methods are safe for concurrent use. Shard lifecycle calls (Create, Open,
// Delete) are serialized with each other; they are rare and do file-system
// work that must not interleave for one key.
type Store struct {
	fs      vfs.FS
	dir     string
	opts    Options
	lock    io.Closer
	catalog *Catalog
	// syncer is the shared group commit with Options.SharedSync; nil
	// when each log syncs its own files.
	syncer *storeSyncer

	mu struct {
		sync.Mutex
		closed bool
		shards map[string]*ShardLog // open logs by key
	}
}

// Open opens (creating if missing) the data directory dir on fs. It takes
// the directory's process lock (ErrLocked if another process or Store holds
// it), checks or writes the format version (ErrIncompatibleVersion), and
// opens the catalog. Shard logs are opened on demand with OpenShard.
func Open(fs vfs.FS, dir string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := fs.MkdirAll(filepath.Join(dir, shardsDirName), 0o755); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	lock, err := fs.Lock(filepath.Join(dir, lockFileName))
	if errors.Is(err, vfs.ErrLocked) {
		return nil, fmt.Errorf("open %s: %w", dir, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	s := &Store{fs: fs, dir: dir, opts: opts, lock: lock}
	s.mu.shards = map[string]*ShardLog{}
	if err := s.checkVersion(); err != nil {
		lock.Close()
		return nil, err
	}
	catPath := opts.CatalogPath
	if catPath == "" {
		catPath = filepath.Join(dir, catalogFileName)
	}
	if s.catalog, err = openCatalog(catPath); err != nil {
		lock.Close()
		return nil, err
	}
	if opts.SharedSync && !opts.NoSync {
		y, err := fs.OpenSyncer(dir)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			opts.Logger.Warn("storage: this platform cannot sync a whole filesystem; syncing each shard's files", "err", err)
			if s.opts.PreallocBytes == 0 {
				s.opts.PreallocBytes = defaultPreallocBytes
			}
		case err != nil:
			s.catalog.close()
			lock.Close()
			return nil, fmt.Errorf("open data directory %s: %w", dir, err)
		default:
			s.syncer = newStoreSyncer(y, dir)
		}
	}
	return s, nil
}

// checkVersion reads VERSION, or writes it into a new directory. The new
// directory's own entry and shards/ are made durable at the same time.
func (s *Store) checkVersion() error {
	path := filepath.Join(s.dir, versionFileName)
	f, err := s.fs.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		want := fmt.Appendf(nil, "%s%d\n", versionPrefix, FormatVersion)
		if err := writeFileAtomicNoDirSync(s.fs, path, want); err != nil {
			return fmt.Errorf("write version file: %w", err)
		}
		return syncDirs(s.fs, s.dir, filepath.Dir(filepath.Clean(s.dir)))
	}
	if err != nil {
		return fmt.Errorf("open version file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxVersionFileBytes))
	if err != nil {
		return fmt.Errorf("read version file: %w", err)
	}
	var v int
	line, ok := bytes.CutSuffix(b, []byte("\n"))
	if !ok || !bytes.HasPrefix(line, []byte(versionPrefix)) {
		return &CorruptionError{File: path, Offset: 0, Reason: fmt.Sprintf("unrecognized version file %q", b)}
	}
	if _, err := fmt.Sscanf(string(line[len(versionPrefix):]), "%d", &v); err != nil {
		return &CorruptionError{File: path, Offset: 0, Reason: fmt.Sprintf("unrecognized version file %q", b)}
	}
	if v != FormatVersion {
		return fmt.Errorf("%w: %s has format %d, this binary reads %d", ErrIncompatibleVersion, s.dir, v, FormatVersion)
	}
	return nil
}

// syncDirs fsyncs each directory named, in order.
func syncDirs(fs vfs.FS, dirs ...string) error {
	for _, d := range dirs {
		if err := fs.SyncDir(d); err != nil {
			return fmt.Errorf("sync dir %s: %w", d, err)
		}
	}
	return nil
}

// Catalog returns the store's catalog.
func (s *Store) Catalog() *Catalog { return s.catalog }

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// checkShardKey validates a key where it enters storage.
func checkShardKey(key string) error {
	if len(key) == 0 || len(key) > maxShardKeyBytes {
		return fmt.Errorf("shard key %q: length %d out of range [1, %d]", key, len(key), maxShardKeyBytes)
	}
	for _, part := range strings.Split(key, "/") {
		if !shardKeyPart.MatchString(part) || part == "." || part == ".." {
			return fmt.Errorf("shard key %q: part %q is not [a-zA-Z0-9_.-]+", key, part)
		}
	}
	return nil
}

func (s *Store) shardDir(key string) string {
	return filepath.Join(s.dir, shardsDirName, filepath.FromSlash(key))
}

// hasSegments reports whether dir holds a shard: at least one segment file.
func hasSegments(fs vfs.FS, dir string) (bool, error) {
	names, err := fs.List(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("list %s: %w", dir, err)
	}
	for _, n := range names {
		if _, ok := parseSegmentName(n); ok {
			return true, nil
		}
	}
	return false, nil
}
