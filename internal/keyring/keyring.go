package keyring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultAlias names the key that protects streams when no other key is
// given. It always exists and cannot be moved.
const DefaultAlias = "alias/aws/kinesis"

const defaultKeyDescription = "Default key that protects Kinesis streams when no other key is given"

// Sentinel errors; match them with errors.Is.
var (
	// ErrWrongMasterKey: the master key given to Open is not the one the
	// ring was written under. Nothing was written.
	ErrWrongMasterKey = errors.New("wrong master key")
	// ErrNotFound: a key reference names no key in the ring, or a wrapped
	// data key names a key or material version the ring does not have. The
	// error's text is KMS's NotFoundException message (see resolve.go).
	ErrNotFound = errors.New("key not found")
	// ErrInvalidAlias: SetAlias was given a name KMS would refuse.
	ErrInvalidAlias = errors.New("invalid alias name")
	// ErrInvalidCiphertext: Decrypt was given something that is not a data
	// key wrapped by this ring, or one that was changed: it fails
	// authentication. KMS answers InvalidCiphertextException for these.
	ErrInvalidCiphertext = errors.New("invalid ciphertext")
	// ErrLimitExceeded: Create, SetAlias or Rotate would pass one of the
	// ring's limits (maxKeys, maxAliases, maxMaterialVersions).
	ErrLimitExceeded = errors.New("key ring limit exceeded")
	// ErrIncompatibleVersion: the file has a format version this Sluice does
	// not read.
	ErrIncompatibleVersion = errors.New("incompatible key ring format version")
	// ErrCorrupt: the file is not a key ring Sluice wrote; the error is a
	// *CorruptionError.
	ErrCorrupt = errors.New("key ring corrupt")
)

// Error is an error whose whole text is meant for the user: for ErrNotFound
// it is KMS's NotFoundException message, so a caller can answer with
// Message as is. Kind is the sentinel it matches with errors.Is.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// CorruptionError reports a key ring file that is not what Sluice wrote:
// not JSON, a field out of range, or a MAC that does not match. Offset is
// the byte offset in File where JSON decoding failed, or -1 when the file
// parsed but its content is wrong. It matches ErrCorrupt.
type CorruptionError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptionError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("key ring %s is corrupt at byte %d: %s", e.File, e.Offset, e.Reason)
	}
	return fmt.Sprintf("key ring %s is corrupt: %s", e.File, e.Reason)
}

func (e *CorruptionError) Unwrap() error { return ErrCorrupt }

// Options are the settings of Open.
type Options struct {
	// Region and AccountID go into key and alias ARNs:
	// arn:aws:kms:<region>:<account>:key/<id> and ...:alias/<name>. ARNs
	// given to Resolve must name them. Zero means us-east-1 and
	// 000000000000, the defaults of `sluice serve`.
	Region, AccountID string
	// Now is the clock for creation and rotation times; nil means time.Now.
	Now func() time.Time
}

// Key describes one key of the ring. It holds no key material.
type Key struct {
	ID          string    // UUID v4, lowercase
	ARN         string    // arn:aws:kms:<region>:<account>:key/<ID>
	Aliases     []string  // alias names pointing at it, sorted
	Description string    // as given to Create
	Created     time.Time // UTC
	Versions    int       // number of material versions; the newest wraps new data keys
	Rotated     time.Time // UTC; zero if never rotated
}

// Ring is an open key ring. It is safe for concurrent use, and other Rings
// (in this or other processes) may change the same directory meanwhile: see
// the package documentation.
type Ring struct {
	dir, path, lockPath string
	sec                 secrets
	opts                Options

	mu struct {
		sync.Mutex
		st *state // the last decoded file; never nil after Open
	}
}

// Exists reports whether dir holds a key ring file.
func Exists(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, FileName))
	return err == nil && fi.Mode().IsRegular()
}

// Open opens dir's key ring with master, a MasterKeyBytes key.
//
// If dir holds no ring, Open creates one (and dir, if missing) holding the
// default key, under the ring's lock. If it holds one, Open only reads it:
// with the wrong master key it returns an error wrapping ErrWrongMasterKey
// and creates, changes and renames no file. A file Sluice did not write
// gives a *CorruptionError; one of another format version an error wrapping
// ErrIncompatibleVersion.
func Open(dir string, master []byte, opts Options) (*Ring, error) {
	if len(master) != MasterKeyBytes {
		return nil, fmt.Errorf("master key is %d bytes; it must be %d", len(master), MasterKeyBytes)
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Ring{
		dir:      dir,
		path:     filepath.Join(dir, FileName),
		lockPath: filepath.Join(dir, lockName),
		sec:      deriveSecrets(master),
		opts:     opts,
	}
	raw, err := r.readFile()
	switch {
	case err == nil:
		st, err := decode(r.path, raw, r.sec)
		if err != nil {
			return nil, err
		}
		r.mu.st = st
	case errors.Is(err, fs.ErrNotExist):
		if err := r.create(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("open key ring: %w", err)
	}
	return r, nil
}

// readFile reads the ring's file, refusing one larger than maxFileBytes.
func (r *Ring) readFile() ([]byte, error) {
	f, err := os.Open(r.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.path, err)
	}
	if len(raw) > maxFileBytes {
		return nil, &CorruptionError{File: r.path, Offset: -1, Reason: fmt.Sprintf("larger than %d bytes", maxFileBytes)}
	}
	return raw, nil
}

// current returns the ring as the file now holds it, decoding the file
// again if its bytes changed since the last load. It reads the whole file
// rather than comparing size and mtime: a rewrite of the same size within
// one mtime tick (an alias moved between two keys) would go unseen, and
// these calls are rare (one per segment or per StartStreamEncryption) and
// the file small.
func (r *Ring) current() (*state, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.currentLocked()
}

func (r *Ring) currentLocked() (*state, error) {
	raw, err := r.readFile()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reload key ring: %s is missing: %w", r.path, err)
		}
		return nil, fmt.Errorf("reload key ring: %w", err)
	}
	if bytes.Equal(raw, r.mu.st.raw) {
		return r.mu.st, nil
	}
	st, err := decode(r.path, raw, r.sec)
	if err != nil {
		return nil, err
	}
	r.mu.st = st
	return st, nil
}

// loaded returns the last decoded state without reading the file.
func (r *Ring) loaded() *state {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.st
}

// publish makes st, just written by a mutation, the loaded state.
func (r *Ring) publish(st *state) {
	r.mu.Lock()
	r.mu.st = st
	r.mu.Unlock()
}

// Reload re-reads the file now; the server calls it on SIGHUP. Other
// methods already pick up changes by themselves, so Reload is for
// reporting a damaged file early. On error the ring keeps what it had.
func (r *Ring) Reload() error {
	_, err := r.current()
	return err
}

// Resolve finds a key from a key id, key ARN, alias name ("alias/x") or
// alias ARN. ARNs must name the ring's region and account. An unknown
// reference gives an *Error matching ErrNotFound whose text is KMS's
// NotFoundException message; an unreadable file gives its read error.
func (r *Ring) Resolve(ref string) (Key, error) {
	st, err := r.current()
	if err != nil {
		return Key{}, err
	}
	k, err := r.resolve(st, ref)
	if err != nil {
		return Key{}, err
	}
	return r.describe(st, k), nil
}

// List returns every key, sorted by creation time then ID. If the file
// cannot be re-read, it lists the keys last loaded.
func (r *Ring) List() []Key {
	st, err := r.current()
	if err != nil {
		st = r.loaded()
	}
	out := make([]Key, 0, len(st.keys))
	for _, k := range st.keys {
		out = append(out, r.describe(st, k))
	}
	slices.SortFunc(out, func(a, b Key) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// describe returns k's public description.
func (r *Ring) describe(st *state, k *keyState) Key {
	return Key{
		ID:          k.id,
		ARN:         r.keyARN(k.id),
		Aliases:     st.aliasesOf(k.id),
		Description: k.description,
		Created:     k.created,
		Versions:    len(k.material),
		Rotated:     k.rotated,
	}
}

// now is the injected clock in UTC, without a monotonic reading, so that a
// time survives the round trip through the file unchanged.
func (r *Ring) now() time.Time { return r.opts.Now().UTC().Round(0) }
