package storage

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// catalogLockTimeout bounds the wait for bbolt's own file lock. The store's
// LOCK file already excludes other processes, so waiting at all means
// something outside Sluice holds the file.
const catalogLockTimeout = 5 * time.Second

// Catalog is a small transactional key-value store for the engine's
// metadata (streams, shards, consumers, tags, leases), backed by bbolt.
// Buckets are created on first Put. It is safe for concurrent use: View
// transactions run concurrently; Update transactions are serialized.
type Catalog struct {
	db *bolt.DB
}

// CatalogTx is a catalog transaction. It is valid only inside the function
// passed to View or Update, on that function's goroutine.
type CatalogTx struct {
	tx *bolt.Tx
}

func openCatalog(path string) (*Catalog, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: catalogLockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	return &Catalog{db: db}, nil
}

func (c *Catalog) close() error {
	if err := c.db.Close(); err != nil {
		return fmt.Errorf("close catalog: %w", err)
	}
	return nil
}

// View runs fn in a read-only transaction. Put and Delete inside it fail.
func (c *Catalog) View(fn func(tx *CatalogTx) error) error {
	return c.db.View(func(tx *bolt.Tx) error { return fn(&CatalogTx{tx: tx}) })
}

// Update runs fn in a read-write transaction and commits it if fn returns
// nil; the commit is fsynced, so the changes are durable when Update returns
// nil. If fn returns an error nothing is changed and Update returns it.
// Read-modify-write inside one Update is atomic (compare-and-set).
func (c *Catalog) Update(fn func(tx *CatalogTx) error) error {
	return c.db.Update(func(tx *bolt.Tx) error { return fn(&CatalogTx{tx: tx}) })
}

// Get returns a copy of the value under key in bucket, or nil if either is
// missing.
func (tx *CatalogTx) Get(bucket, key string) []byte {
	b := tx.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}

// Put stores value under key in bucket, creating the bucket if needed. The
// catalog copies value.
func (tx *CatalogTx) Put(bucket, key string, value []byte) error {
	b, err := tx.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("catalog bucket %q: %w", bucket, err)
	}
	if value == nil {
		// bbolt stores nil as an empty value; say so rather than surprise.
		value = []byte{}
	}
	if err := b.Put([]byte(key), value); err != nil {
		return fmt.Errorf("catalog put %q/%q: %w", bucket, key, err)
	}
	return nil
}

// Delete removes key from bucket; a missing bucket or key is not an error.
func (tx *CatalogTx) Delete(bucket, key string) error {
	if !tx.tx.Writable() {
		return fmt.Errorf("catalog delete %q/%q: %w", bucket, key, bolt.ErrTxNotWritable)
	}
	b := tx.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	if err := b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("catalog delete %q/%q: %w", bucket, key, err)
	}
	return nil
}

// ForEach calls fn for each key of bucket in byte order, stopping at the
// first error, which it returns. value is valid only during the call; a
// missing bucket has no keys. fn must not modify the bucket.
func (tx *CatalogTx) ForEach(bucket string, fn func(key string, value []byte) error) error {
	b := tx.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error { return fn(string(k), v) })
}
