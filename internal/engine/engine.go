// Package engine is the Kinesis stream model: streams, shards and their hash
// ranges, sequence numbers, shard iterators, stream states. It stores records
// through package storage and knows nothing of HTTP or wire formats. Time
// comes from the injected Clock; nothing here calls time.Now directly.
package engine

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicedata/sluice/internal/keyring"
	"github.com/sluicedata/sluice/internal/storage"
)

// Clock tells the engine the time. Tests inject a fake one.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Config holds the engine's settings. Zero values mean the AWS defaults
// noted on each field.
type Config struct {
	Region    string // zero means us-east-1
	AccountID string // zero means 000000000000
	// StateDelay is how long streams stay CREATING, UPDATING and DELETING.
	// Zero makes transitions immediate.
	StateDelay time.Duration
	// IteratorTTL is how long a shard iterator stays valid; zero means 5m.
	IteratorTTL time.Duration
	// NextTokenTTL is how long a pagination token stays valid; zero means 5m.
	NextTokenTTL time.Duration
	// ShardQuota is the account's shard limit; zero means 500 (AWS's
	// default in us-east-1).
	ShardQuota int
	// MaxStreamsCreating bounds streams in CREATING at once; zero means 5.
	MaxStreamsCreating int
	// ShardLimits are the per-shard throughput limits; the zero value
	// enforces none.
	ShardLimits ShardLimits
	// SubscriptionLifetime is how long a SubscribeToShard stream lasts;
	// zero means 5 minutes.
	SubscriptionLifetime time.Duration
	// RetentionCheckInterval is how often expired data is deleted; zero
	// means one minute.
	RetentionCheckInterval time.Duration
	// Keys is the key ring of encryption at rest. StartStreamEncryption
	// needs it (KeyId must name one of its keys); the store that holds the
	// streams must have been opened with it as its DataKeys. nil: streams
	// cannot be encrypted.
	Keys   *keyring.Ring
	Clock  Clock        // nil means the wall clock
	Logger *slog.Logger // nil means slog.Default()
}

// Validate fills in defaults and rejects impossible settings.
func (c *Config) Validate() error {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.AccountID == "" {
		c.AccountID = "000000000000"
	}
	if c.IteratorTTL == 0 {
		c.IteratorTTL = 5 * time.Minute
	}
	if c.NextTokenTTL == 0 {
		c.NextTokenTTL = 5 * time.Minute
	}
	if c.RetentionCheckInterval == 0 {
		c.RetentionCheckInterval = time.Minute
	}
	if c.SubscriptionLifetime == 0 {
		c.SubscriptionLifetime = 5 * time.Minute
	}
	if c.ShardQuota == 0 {
		c.ShardQuota = 500
	}
	if c.MaxStreamsCreating == 0 {
		c.MaxStreamsCreating = 5
	}
	if c.Clock == nil {
		c.Clock = wallClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.StateDelay < 0 || c.IteratorTTL < 0 || c.NextTokenTTL < 0 || c.ShardQuota < 0 {
		return errors.New("engine config: durations and limits must not be negative")
	}
	return nil
}

// Catalog buckets and keys the engine uses.
const (
	bucketStreams = "streams"
	bucketMeta    = "meta"
	keyTokenKey   = "token-key"
)

// Engine is the stream model over a storage.Store. All methods are safe for
// concurrent use.
//
// Lock order: Engine.mu before stream.mu. Storage calls happen with at most
// a stream's read lock held, never Engine.mu.
type Engine struct {
	cfg    Config
	store  *storage.Store
	tokens *sealer
	log    *slog.Logger

	mu struct {
		sync.Mutex
		streams map[string]*stream
		closed  bool
	}
	subs subRegistry // live SubscribeToShard streams
	// openShards counts open shards across the account, for the shard
	// quota. It is changed by reserveShards/releaseShards, never under a
	// lock, so that a stream's lock holder can check the quota without
	// taking Engine.mu (which would invert the lock order).
	openShards atomic.Int64
	wake       chan struct{} // nudges the reaper when a transition is scheduled
	stop       chan struct{}
	wg         sync.WaitGroup
}

// Open loads every stream from the store's catalog and opens their shard
// logs. The Engine takes ownership of nothing: the caller closes the store
// after Close.
func Open(cfg Config, store *storage.Store) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, store: store, log: cfg.Logger, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	e.mu.streams = make(map[string]*stream)
	key, err := e.tokenKey()
	if err != nil {
		return nil, err
	}
	if e.tokens, err = newSealer(key); err != nil {
		return nil, err
	}
	if err := e.loadStreams(); err != nil {
		e.closeStreams()
		return nil, err
	}
	e.wg.Add(2)
	go e.reaper()
	go e.trimmer()
	return e, nil
}

// tokenKey returns the key that seals iterators and pagination tokens,
// creating it on first start.
func (e *Engine) tokenKey() ([]byte, error) {
	var key []byte
	err := e.store.Catalog().Update(func(tx *storage.CatalogTx) error {
		key = tx.Get(bucketMeta, keyTokenKey)
		if len(key) == 32 {
			return nil
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		return tx.Put(bucketMeta, keyTokenKey, key)
	})
	if err != nil {
		return nil, fmt.Errorf("load token key: %w", err)
	}
	return key, nil
}

func (e *Engine) loadStreams() error {
	var metas []streamMeta
	err := e.store.Catalog().View(func(tx *storage.CatalogTx) error {
		return tx.ForEach(bucketStreams, func(_ string, v []byte) error {
			var m streamMeta
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode stream record: %w", err)
			}
			metas = append(metas, m)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("load catalog: %w", err)
	}
	for _, m := range metas {
		st, err := e.openStream(m)
		if err != nil {
			return err
		}
		e.mu.streams[m.Name] = st
		e.openShards.Add(int64(len(st.openShardsLocked())))
	}
	return nil
}

// Close stops background work and closes every shard log. In-flight calls
// should have finished: the server drains requests first.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return nil
	}
	e.mu.closed = true
	e.mu.Unlock()
	e.subs.endConsumer("") // every subscription ends
	close(e.stop)
	e.wg.Wait()
	return e.closeStreams()
}

func (e *Engine) closeStreams() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var logs []interface{ Close() error }
	for _, st := range e.mu.streams {
		st.mu.Lock()
		for _, sh := range st.shards {
			logs = append(logs, sh.log)
		}
		st.mu.Unlock()
	}
	// Closing a log writes its active segment's index files with fsyncs;
	// one at a time, 10,000 shards took longer than a shutdown may. The
	// disk takes many fsyncs at once better than one after another.
	errs := make([]error, len(logs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(closeParallelism, len(logs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(logs)); i = next.Add(1) - 1 {
				errs[i] = logs[i].Close()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// closeParallelism bounds the shard logs closed at once.
const closeParallelism = 64

func (e *Engine) now() time.Time    { return e.cfg.Clock.Now() }
func (e *Engine) nowMillis() int64  { return e.cfg.Clock.Now().UnixMilli() }
func (e *Engine) Region() string    { return e.cfg.Region }
func (e *Engine) AccountID() string { return e.cfg.AccountID }
func (e *Engine) streamARN(n string) string {
	return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", e.cfg.Region, e.cfg.AccountID, n)
}

// StreamARN returns the ARN of the stream with the given name.
func (e *Engine) StreamARN(name string) string { return e.streamARN(name) }

// persistLocked writes st's metadata to the catalog. The caller holds st.mu.
func (e *Engine) persistLocked(st *stream) error {
	st.syncMetaLocked()
	b, err := json.Marshal(&st.meta)
	if err != nil {
		panic(fmt.Sprintf("encode stream meta: %v", err))
	}
	return e.store.Catalog().Update(func(tx *storage.CatalogTx) error {
		return tx.Put(bucketStreams, st.meta.Name, b)
	})
}

// lookup returns the stream called name as clients currently see it, or
// nil. Streams whose deletion is due are finished here.
func (e *Engine) lookup(name string) *stream {
	e.mu.Lock()
	st := e.mu.streams[name]
	e.mu.Unlock()
	if st == nil {
		return nil
	}
	st.mu.RLock()
	status := st.statusLocked(e.nowMillis())
	st.mu.RUnlock()
	if status == "" {
		e.finishDelete(st)
		return nil
	}
	return st
}

// streamNames returns the names of every stream, sorted.
func (e *Engine) streamNames() []string {
	e.mu.Lock()
	names := make([]string, 0, len(e.mu.streams))
	for n := range e.mu.streams {
		names = append(names, n)
	}
	e.mu.Unlock()
	sort.Strings(names)
	return names
}

// reaper finishes state transitions that have side effects (deleting a
// stream's data) once their time comes. Transitions without side effects are
// applied lazily when the stream is next read.
func (e *Engine) reaper() {
	defer e.wg.Done()
	for {
		wait := e.reapDue()
		timer := time.NewTimer(wait)
		select {
		case <-e.stop:
			timer.Stop()
			return
		case <-e.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// reapDue deletes streams whose DELETING time has passed and returns how
// long to wait before the next check.
func (e *Engine) reapDue() time.Duration {
	const idle = time.Hour
	now := e.nowMillis()
	next := int64(-1)
	e.mu.Lock()
	var due []*stream
	for _, st := range e.mu.streams {
		st.mu.RLock()
		if t := st.meta.Transition; t != nil && t.To == "" {
			if t.AtMillis <= now {
				due = append(due, st)
			} else if next < 0 || t.AtMillis < next {
				next = t.AtMillis
			}
		}
		st.mu.RUnlock()
	}
	e.mu.Unlock()
	for _, st := range due {
		e.finishDelete(st)
	}
	if next < 0 {
		return idle
	}
	return time.Duration(next-now) * time.Millisecond
}

func (e *Engine) nudgeReaper() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// reserveShards takes n open shards from the account's quota, or answers
// LimitExceededException with AWS's message when that would pass it.
func (e *Engine) reserveShards(n int) error {
	for {
		cur := e.openShards.Load()
		if cur+int64(n) > int64(e.cfg.ShardQuota) {
			return e.shardQuotaError(int(cur), n)
		}
		if e.openShards.CompareAndSwap(cur, cur+int64(n)) {
			return nil
		}
	}
}

// releaseShards gives n open shards back to the quota.
func (e *Engine) releaseShards(n int) { e.openShards.Add(-int64(n)) }
