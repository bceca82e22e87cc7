package engine

import (
	"strconv"
	"sync"
)

// ShardLimits are the per-shard throughput limits. AWS's values are the
// defaults; a zero rate means that limit is off.
type ShardLimits struct {
	// Enabled turns enforcement on; off, every call is admitted.
	Enabled bool
	// WriteBytesPerSecond bounds partition key plus data written per second
	// (AWS: 1 MiB).
	WriteBytesPerSecond int64
	// WriteRecordsPerSecond bounds records written per second (AWS: 1000).
	WriteRecordsPerSecond int64
	// ReadBytesPerSecond bounds bytes returned by GetRecords per second
	// (AWS: 2 MiB). A large read borrows ahead: after a 10 MiB response the
	// shard serves no reads until the debt is repaid, about 4 seconds.
	ReadBytesPerSecond int64
	// ReadCallsPerSecond bounds GetRecords calls per second (AWS: 5).
	ReadCallsPerSecond int64
	// IteratorCallsPerSecond bounds GetShardIterator calls per second
	// (AWS: 5).
	IteratorCallsPerSecond int64
}

// AWSShardLimits are the managed service's provisioned-shard limits.
func AWSShardLimits() ShardLimits {
	return ShardLimits{
		Enabled:             true,
		WriteBytesPerSecond: 1 << 20, WriteRecordsPerSecond: 1000,
		ReadBytesPerSecond: 2 << 20, ReadCallsPerSecond: 5, IteratorCallsPerSecond: 5,
	}
}

// bucket is a token bucket holding at most one second of its rate. Tokens
// may go negative when a caller takes more than was there (a read's size is
// known only after the read); the bucket then admits nothing until refilled.
type bucket struct {
	tokens float64
	last   int64 // Unix ms of the last refill
}

func (b *bucket) refill(now, rate int64) {
	if b.last == 0 {
		b.tokens, b.last = float64(rate), now
		return
	}
	if now > b.last {
		b.tokens = min(float64(rate), b.tokens+float64(rate)*float64(now-b.last)/1000)
		b.last = now
	}
}

// shardLimiter holds one shard's buckets.
type shardLimiter struct {
	mu           sync.Mutex
	writeBytes   bucket
	writeRecords bucket
	readBytes    bucket
	readCalls    bucket
	iterCalls    bucket
	// throttledSecs are the recent seconds (Unix) in which writes were
	// refused; see noteThrottle.
	throttledSecs []int64
}

// admitWrites decides, in order, which of the records (given by their
// sizes) fit the shard's write budget at time now, taking tokens for those
// that do. It sets admitted[i] (len(sizes) of them) to whether record i
// fits, and reports whether all do.
func (l *shardLimiter) admitWrites(lim *ShardLimits, sizes []int, now int64, admitted []bool) (all bool) {
	if !lim.Enabled {
		for i := range admitted {
			admitted[i] = true
		}
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writeBytes.refill(now, lim.WriteBytesPerSecond)
	l.writeRecords.refill(now, lim.WriteRecordsPerSecond)
	all = true
	for i, n := range sizes {
		// A record larger than a second's budget (possible where
		// MaxRecordSizeInKiB is raised) passes when the budget is full,
		// and the shard then owes the difference.
		need := min(float64(n), float64(lim.WriteBytesPerSecond))
		okBytes := lim.WriteBytesPerSecond == 0 || l.writeBytes.tokens >= need
		okRecs := lim.WriteRecordsPerSecond == 0 || l.writeRecords.tokens >= 1
		if okBytes && okRecs {
			l.writeBytes.tokens -= float64(n)
			l.writeRecords.tokens--
			admitted[i] = true
		} else {
			admitted[i] = false
			all = false
		}
	}
	return all
}

// admitRead takes one GetRecords call from the budget, or reports false
// when the shard is over its call or byte rate.
func (l *shardLimiter) admitRead(lim *ShardLimits, now int64) bool {
	if !lim.Enabled {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.readCalls.refill(now, lim.ReadCallsPerSecond)
	l.readBytes.refill(now, lim.ReadBytesPerSecond)
	if (lim.ReadCallsPerSecond != 0 && l.readCalls.tokens < 1) || (lim.ReadBytesPerSecond != 0 && l.readBytes.tokens < 0) {
		return false
	}
	l.readCalls.tokens--
	return true
}

// chargeRead takes the bytes a read returned from the budget.
func (l *shardLimiter) chargeRead(lim *ShardLimits, n int) {
	if !lim.Enabled || lim.ReadBytesPerSecond == 0 {
		return
	}
	l.mu.Lock()
	l.readBytes.tokens -= float64(n)
	l.mu.Unlock()
}

// admitIterator takes one GetShardIterator call from the budget.
func (l *shardLimiter) admitIterator(lim *ShardLimits, now int64) bool {
	if !lim.Enabled || lim.IteratorCallsPerSecond == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.iterCalls.refill(now, lim.IteratorCallsPerSecond)
	if l.iterCalls.tokens < 1 {
		return false
	}
	l.iterCalls.tokens--
	return true
}

func (e *Engine) throttled(stream, shardID string) *Error {
	return errorf(CodeThroughputExceeded, "Rate exceeded for shard %s in stream %s under account %s.", shardID, stream, e.cfg.AccountID)
}

// Stream tags that override the server's limits for one stream, so that
// operators can tune a stream with any Kinesis client (AddTagsToStream):
//
//	sluice.shard-limits               aws | off
//	sluice.write-bytes-per-second     a positive integer
//	sluice.write-records-per-second   a positive integer
//	sluice.read-bytes-per-second      a positive integer
//	sluice.read-calls-per-second      a positive integer
//
// A malformed value is ignored: tags are free text and must not break
// writes.
const (
	tagShardLimits        = "sluice.shard-limits"
	tagWriteBytesPerSec   = "sluice.write-bytes-per-second"
	tagWriteRecordsPerSec = "sluice.write-records-per-second"
	tagReadBytesPerSec    = "sluice.read-bytes-per-second"
	tagReadCallsPerSec    = "sluice.read-calls-per-second"
)

// limitsLocked returns the limits that apply to st: the server's, or a copy
// with the stream's tag overrides. The caller holds st.mu.
func (e *Engine) limitsLocked(st *stream) *ShardLimits {
	base := &e.cfg.ShardLimits
	tags := st.meta.Tags
	if len(tags) == 0 {
		return base
	}
	out, changed := *base, false
	switch tags[tagShardLimits] {
	case "off":
		out, changed = ShardLimits{}, true
	case "aws":
		out, changed = AWSShardLimits(), true
	}
	for key, field := range map[string]*int64{
		tagWriteBytesPerSec: &out.WriteBytesPerSecond, tagWriteRecordsPerSec: &out.WriteRecordsPerSecond,
		tagReadBytesPerSec: &out.ReadBytesPerSecond, tagReadCallsPerSec: &out.ReadCallsPerSecond,
	} {
		if v, ok := tags[key]; ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				*field, changed = n, true
				out.Enabled = out.Enabled || tags[tagShardLimits] != "off"
			}
		}
	}
	if !changed {
		return base
	}
	return &out
}
