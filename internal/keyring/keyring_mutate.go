package keyring

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// maxAliases bounds the aliases of one ring.
const maxAliases = 10_000

// Create adds a key with one fresh material version and returns it.
func (r *Ring) Create(description string) (Key, error) {
	if reason := validDescription(description); reason != "" {
		return Key{}, errors.New(reason)
	}
	var out Key
	err := r.mutate(func(st *state) error {
		if len(st.keys) >= maxKeys {
			return &Error{Kind: ErrLimitExceeded, Message: fmt.Sprintf("the key ring already holds %d keys, its limit", maxKeys)}
		}
		k := &keyState{id: newKeyID(), description: description, created: r.now()}
		for st.byID[k.id] != nil {
			k.id = newKeyID()
		}
		k.addMaterial(r.sec, randomBytes(materialBytes))
		st.addKey(k)
		out = r.describe(st, k)
		return nil
	})
	return out, err
}

// SetAlias points alias at the key ref names, creating the alias or moving
// it from another key. The name must pass CheckAlias (else an *Error
// matching ErrInvalidAlias); an unknown ref gives ErrNotFound as Resolve
// does.
func (r *Ring) SetAlias(alias, ref string) error {
	if err := CheckAlias(alias); err != nil {
		return err
	}
	return r.mutate(func(st *state) error {
		k, err := r.resolve(st, ref)
		if err != nil {
			return err
		}
		if _, ok := st.aliases[alias]; !ok && len(st.aliases) >= maxAliases {
			return &Error{Kind: ErrLimitExceeded, Message: fmt.Sprintf("the key ring already holds %d aliases, its limit", maxAliases)}
		}
		st.aliases[alias] = k.id
		return nil
	})
}

// Rotate adds a new material version to the key ref names. New data keys
// are wrapped under it; the old versions stay, so data keys they wrapped
// can still be unwrapped.
func (r *Ring) Rotate(ref string) (Key, error) {
	var out Key
	err := r.mutate(func(st *state) error {
		k, err := r.resolve(st, ref)
		if err != nil {
			return err
		}
		if len(k.material) >= maxMaterialVersions {
			return &Error{Kind: ErrLimitExceeded, Message: fmt.Sprintf("key %s already has %d material versions, the limit", k.id, maxMaterialVersions)}
		}
		k.addMaterial(r.sec, randomBytes(materialBytes))
		k.rotated = r.now()
		out = r.describe(st, k)
		return nil
	})
	return out, err
}

// mutate applies change to the ring under the ring's flock: it re-reads the
// file (another process may have changed it), lets change edit the freshly
// decoded state, writes the result atomically and publishes it. If change
// fails, nothing is written.
func (r *Ring) mutate(change func(st *state) error) error {
	lock, err := lockFile(r.lockPath)
	if err != nil {
		return err
	}
	defer lock.Close() // releases the flock
	raw, err := r.readFile()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("change key ring: %s is missing: %w", r.path, err)
		}
		return fmt.Errorf("change key ring: %w", err)
	}
	st, err := decode(r.path, raw, r.sec)
	if err != nil {
		return err
	}
	if err := change(st); err != nil {
		return err
	}
	st.raw = encode(st, r.sec)
	if err := writeFileAtomic(r.dir, r.path, st.raw); err != nil {
		return err
	}
	r.publish(st)
	return nil
}

// create makes dir and a ring holding only the default key, unless another
// process did so first, and loads it.
func (r *Ring) create() error {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return fmt.Errorf("create key ring: %w", err)
	}
	lock, err := lockFile(r.lockPath)
	if err != nil {
		return err
	}
	defer lock.Close()
	raw, err := r.readFile()
	switch {
	case err == nil: // created meanwhile by another Ring
		st, err := decode(r.path, raw, r.sec)
		if err != nil {
			return err
		}
		r.mu.st = st
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("create key ring: %w", err)
	}
	st := newState(r.sec, r.now())
	st.raw = encode(st, r.sec)
	if err := writeFileAtomic(r.dir, r.path, st.raw); err != nil {
		return err
	}
	// dir may be new: make its own entry durable too, as storage does for
	// a new data directory.
	if parent := filepath.Dir(filepath.Clean(r.dir)); parent != r.dir {
		if err := syncDir(parent); err != nil {
			return fmt.Errorf("sync dir %s: %w", parent, err)
		}
	}
	r.mu.st = st
	return nil
}

// writeFileAtomic replaces path with data: it writes path.tmp (mode 0600),
// fsyncs it, renames it over path and fsyncs dir, so a crash leaves the old
// file or the new one, never a mix. The caller holds the ring's flock, so
// the one tmp name is the writer's alone; a tmp file left by a crash is
// truncated by the next write.
func writeFileAtomic(dir, path string, data []byte) error {
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write key ring: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := syncDir(dir); err != nil {
		// The rename happened; what is not known is whether it survives a
		// crash. Report it: the caller must not assume the change is
		// durable.
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// newKeyID returns a random UUID v4 (RFC 9562), lowercase.
func newKeyID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant 10
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
