// Package storage keeps Sluice's data on disk: one segmented append-only log
// per shard and a catalog of streams and shards in bbolt. It knows nothing of
// HTTP, JSON or Kinesis rules; the engine above it assigns meaning to the
// offsets and times it hands out.
//
// This file is the contract the engine codes against. The embedded segment
// log implements it; a replicated backend will implement the same contract.
//
// On-disk formats are specified in docs/format (README.md: the data
// directory; segment.md: segments, indexes, recovery and bounds). Files:
// store.go and store_shards.go (data directory, shard lifecycle),
// catalog.go (bbolt), shard.go (ShardLog state and views), shard_open.go
// (recovery), shard_open_index.go (opening the active segment from the
// index files of a clean close), shard_append.go (append, group commit,
// segment roll, the bound on pending appends; StartAppendWithKey and
// PendingAppend.Wait split an append so that one caller can write
// batches to several logs before waiting for their sync), shard_rearm.go
// (re-arming a log after a write or fsync failure), shard_read.go (Read, SeekTime),
// shard_retention.go (TrimBefore), shard_prealloc.go (zeros ahead of
// busy segments), store_sync.go (Options.SharedSync: one filesystem sync
// per group commit for every log of the store),
// segment.go (segment and index files, segment reference counts),
// format.go (byte layouts).
//
// Concurrency: storage starts two kinds of goroutines: a Store with
// SharedSync runs one syncer until Close, and a log with NoSync runs a
// short-lived background fdatasync every 4 MiB it writes, which its roll
// and Close wait for. Lock order is Store.mu, then ShardLog.trimMu, then
// ShardLog.mu, then the syncer's mu; a log's append gate has a mutex of
// its own that is never held with another. A caller with appends started
// on several logs starts them in one order shared by all such callers,
// since a failed log's re-arm waits for the appends started on it.
// Appenders hold ShardLog.mu only to write their batch and while waiting
// on its condition variable; the fdatasync (or the round's syncfs) runs
// without it, and no other fsync of the active segment runs at the same
// time. TrimBefore holds trimMu throughout and ShardLog.mu only to roll
// the active segment and to publish a new start;
// file deletes run without it. Readers take no lock: they read an
// immutable snapshot (logView) that is replaced after every sync and trim,
// and pin each segment they read with a reference count, so a trimmed
// segment's files are closed only when its last reader is done.
package storage

import "errors"

// FormatVersion is the on-disk format version written into the data
// directory. A directory written by another version is refused at open with
// ErrIncompatibleVersion.
const FormatVersion = 1

// Entry is one record handed to Append. The log copies what it needs before
// Append returns; the caller keeps ownership of the slices.
type Entry struct {
	PartitionKey string
	Data         []byte
}

// Record is one record read back from a shard log.
//
// Ownership: the slices in a Record returned by Read belong to the caller and
// stay valid after further calls on the log.
type Record struct {
	// Offset is the record's position in its shard log: the first record
	// ever appended is 0, and offsets are contiguous and strictly increasing.
	Offset uint64
	// ArrivalMillis is the Unix time in milliseconds that Append stamped.
	// It is non-decreasing in offset order within a shard.
	ArrivalMillis int64
	PartitionKey  string
	Data          []byte
	// Encrypted: the record's batch was sealed under a data key
	// (AppendWithKey with a keyRef).
	Encrypted bool
}

// AppendResult says where a batch landed.
type AppendResult struct {
	// FirstOffset is the offset of the batch's first record; the batch's
	// records occupy [FirstOffset, FirstOffset+len(entries)).
	FirstOffset uint64
	// ArrivalMillis is the arrival time stamped on every record of the
	// batch: max(nowMillis, the previous batch's ArrivalMillis).
	ArrivalMillis int64
}

// Errors a caller can act on. Match them with errors.Is.
var (
	// ErrIncompatibleVersion: the data directory was written by a format
	// version this binary cannot read.
	ErrIncompatibleVersion = errors.New("incompatible data directory version")
	// ErrLocked: another process holds the data directory.
	ErrLocked = errors.New("data directory is locked by another process")
	// ErrClosed: the store or log was closed.
	ErrClosed = errors.New("storage closed")
	// ErrShardExists / ErrShardNotFound: CreateShard/OpenShard on a key that
	// already exists / does not exist.
	ErrShardExists   = errors.New("shard log already exists")
	ErrShardNotFound = errors.New("shard log not found")
	// ErrOffsetTrimmed: a read asked for an offset below Start().
	ErrOffsetTrimmed = errors.New("offset is below the log start")
	// ErrNoDataKeys: an encrypted append or read on a store opened without
	// Options.DataKeys.
	ErrNoDataKeys = errors.New("encryption at rest is not configured (no data key provider)")
)

// DataKeys makes and unwraps the per-segment data keys of encrypted
// segments (envelope encryption). keyRef is opaque to storage: it is
// stored in the segment header as given and handed back to the provider.
// Errors are passed through to the caller of Append or Read, wrapped.
type DataKeys interface {
	// GenerateDataKey returns a fresh 32-byte key and its wrapped form
	// (at most 1024 bytes) under the key keyRef names.
	GenerateDataKey(keyRef string) (plaintext, wrapped []byte, err error)
	// Decrypt unwraps a wrapped key GenerateDataKey returned.
	Decrypt(wrapped []byte) ([]byte, error)
}
