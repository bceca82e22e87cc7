package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/sluicedata/sluice/internal/storage"
)

// Resharding limits (AWS's defaults).
const (
	maxShardCountUpdatesPerDay = 10
	maxShardsPerStream         = 10000
	dayMillis                  = 24 * 3600 * 1000
)

// seqSec is the creation second encoded in the shard's sequence numbers. A
// child's is above every parent's, so its numbers sort above theirs even
// when it is created in the same second.
func (sh *shard) seqSec() int64 {
	if sh.meta.SeqSec != 0 {
		return sh.meta.SeqSec
	}
	return sh.meta.CreatedMillis / 1000
}

// reshardTarget finds an open shard for SplitShard/MergeShards, with AWS's
// errors for ids that do not parse, name no shard, or name a closed one.
func (e *Engine) reshardTarget(st *stream, id string) (*shard, error) {
	idx, ok := parseShardID(id)
	if !ok {
		return nil, errorf(CodeResourceNotFound, "Could not find shard %s in stream %s under account %s.", id, st.meta.Name, e.cfg.AccountID)
	}
	sh := st.shardByIndex(idx)
	if sh == nil {
		return nil, errorf(CodeResourceNotFound, "Could not find shard %s in stream %s under account %s.", ShardID(idx), st.meta.Name, e.cfg.AccountID)
	}
	if sh.meta.ClosedMillis != 0 {
		return nil, errorf(CodeResourceInUse, "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting.",
			sh.id, st.meta.Name, e.cfg.AccountID)
	}
	return sh, nil
}

func (e *Engine) requireProvisioned(st *stream, op string) error {
	if st.meta.Mode != ModeProvisioned {
		return errorf(CodeValidation, "%s is not supported for stream %s under account %s because it is in %s capacity mode.",
			op, st.meta.Name, e.cfg.AccountID, st.meta.Mode)
	}
	return nil
}

// SplitShard splits an open shard at newStartingHashKey into two children.
func (e *Engine) SplitShard(name, shardToSplit, newStartingHashKey string) error {
	return e.updateStream(name, true, func(st *stream, now int64) (bool, error) {
		if err := e.requireProvisioned(st, "SplitShard"); err != nil {
			return false, err
		}
		parent, err := e.reshardTarget(st, shardToSplit)
		if err != nil {
			return false, err
		}
		at, ok := ParseHashKey(newStartingHashKey)
		if !ok || at.Cmp(parent.rng.Start.Add1()) <= 0 || at.Cmp(parent.rng.End) >= 0 {
			return false, errorf(CodeInvalidArgument,
				"NewStartingHashKey %s used in SplitShard() on shard %s in stream %s under account %s is not both greater than one plus the shard's StartingHashKey %s and less than the shard's EndingHashKey %s.",
				newStartingHashKey, parent.id, name, e.cfg.AccountID, parent.rng.Start, parent.rng.End)
		}
		if err := e.reserveShards(1); err != nil {
			return false, err
		}
		if err := e.splitLocked(st, parent, at, now); err != nil {
			e.releaseShards(1)
			return false, err
		}
		return true, nil
	})
}

// MergeShards merges two adjacent open shards into one child.
func (e *Engine) MergeShards(name, shardToMerge, adjacentShardToMerge string) error {
	return e.updateStream(name, true, func(st *stream, now int64) (bool, error) {
		if err := e.requireProvisioned(st, "MergeShards"); err != nil {
			return false, err
		}
		a, err := e.reshardTarget(st, shardToMerge)
		if err != nil {
			return false, err
		}
		b, err := e.reshardTarget(st, adjacentShardToMerge)
		if err != nil {
			return false, err
		}
		if a == b || (!adjacent(a.rng, b.rng) && !adjacent(b.rng, a.rng)) {
			return false, errorf(CodeInvalidArgument, "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging",
				a.id, b.id, name, e.cfg.AccountID)
		}
		if err := e.mergeLocked(st, a, b, now); err != nil {
			return false, err
		}
		e.releaseShards(1)
		return true, nil
	})
}

// adjacent reports whether hi starts right after lo ends.
func adjacent(lo, hi HashRange) bool { return lo.End != MaxHashKey && lo.End.Add1() == hi.Start }

func (e *Engine) shardQuotaError(open, more int) *Error {
	return errorf(CodeLimitExceeded,
		"This request would exceed the shard limit for the account %s in %s. Current shard count for the account: %d. Limit: %d. Number of additional shards that would have resulted from this request: %d. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
		e.cfg.AccountID, e.cfg.Region, open, e.cfg.ShardQuota, more)
}

// newChildLocked creates the log of a new shard covering rng, whose parents
// are parents (one or two). It does not add the shard to the stream.
func (e *Engine) newChildLocked(st *stream, rng HashRange, now int64, index uint32, parents ...*shard) (*shard, error) {
	sm := shardMeta{Index: index, StartHash: rng.Start.String(), EndHash: rng.End.String(), CreatedMillis: now, SeqSec: now / 1000}
	for _, p := range parents {
		sm.SeqSec = max(sm.SeqSec, p.seqSec()+1)
	}
	p0 := parents[0].meta.Index
	sm.Parent = &p0
	if len(parents) == 2 {
		p1 := parents[1].meta.Index
		sm.AdjacentParent = &p1
	}
	sh, err := newShard(sm, st.meta.UID)
	if err != nil {
		panic(err) // the range came from existing shards
	}
	sh.log, err = e.store.CreateShard(sh.store)
	if errors.Is(err, storage.ErrShardExists) {
		// A crash after an earlier reshard created this log and before the
		// catalog recorded that reshard leaves the log behind (as does a
		// discardLocked whose delete failed). Its index is not below
		// NextShardIndex, so no shard in the catalog is stored there and
		// nothing was ever appended to it: replace it.
		e.log.Warn("replace a shard log left by a reshard that was never recorded", "stream", st.meta.Name, "shard", sh.id)
		if err = e.store.DeleteShard(sh.store); err == nil {
			sh.log, err = e.store.CreateShard(sh.store)
		}
	}
	if err != nil {
		return nil, e.internalFailure(fmt.Errorf("create shard %s of %s: %w", sh.id, st.meta.Name, err))
	}
	sh.log.SetOnPublish(sh.notify.broadcast)
	return sh, nil
}

// closeLocked closes a parent shard at the current end of its log. The
// caller holds st.mu for writing, so no append is in flight.
func closeLocked(sh *shard, now int64) {
	sh.meta.ClosedMillis = max(now, sh.meta.CreatedMillis+1)
	sh.meta.EndOffset = sh.log.End()
	sh.notify.broadcast() // subscribers see the shard's end
}

func (e *Engine) splitLocked(st *stream, parent *shard, at HashKey, now int64) error {
	idx := st.meta.NextShardIndex
	a, err := e.newChildLocked(st, HashRange{parent.rng.Start, at.Sub1()}, now, idx, parent)
	if err != nil {
		return err
	}
	b, err := e.newChildLocked(st, HashRange{at, parent.rng.End}, now, idx+1, parent)
	if err != nil {
		e.discardLocked(st, a)
		return err
	}
	closeLocked(parent, now)
	st.meta.NextShardIndex += 2
	st.shards = append(st.shards, a, b)
	return nil
}

func (e *Engine) mergeLocked(st *stream, a, b *shard, now int64) error {
	rng := HashRange{a.rng.Start, b.rng.End}
	if b.rng.Start.Cmp(a.rng.Start) < 0 {
		rng = HashRange{b.rng.Start, a.rng.End}
	}
	c, err := e.newChildLocked(st, rng, now, st.meta.NextShardIndex, a, b)
	if err != nil {
		return err
	}
	closeLocked(a, now)
	closeLocked(b, now)
	st.meta.NextShardIndex++
	st.shards = append(st.shards, c)
	return nil
}

// discardLocked removes the log of a shard that was never published.
func (e *Engine) discardLocked(st *stream, sh *shard) {
	sh.log.Close()
	if err := e.store.DeleteShard(sh.store); err != nil {
		e.log.Warn("discard shard log", "stream", st.meta.Name, "shard", sh.id, "err", err)
	}
}

// UpdateShardCount rescales the stream to target evenly spaced open shards
// (UNIFORM_SCALING) by splitting and merging, and returns the open shard
// count before the change.
func (e *Engine) UpdateShardCount(name string, target int) (current int, err error) {
	err = e.updateStream(name, true, func(st *stream, now int64) (bool, error) {
		if err := e.requireProvisioned(st, "UpdateShardCount"); err != nil {
			return false, err
		}
		current = len(st.openShardsLocked())
		if err := e.checkScaling(st, current, target, now); err != nil {
			return false, err
		}
		if target > current {
			if err := e.reserveShards(target - current); err != nil {
				return false, err
			}
		}
		if err := e.rescaleLocked(st, target, now); err != nil {
			// Splits and merges done so far stay: count what is open now.
			e.releaseShards(max(target, current) - len(st.openShardsLocked()))
			return false, err
		}
		if target < current {
			e.releaseShards(current - target)
		}
		st.meta.ShardCountUpdates = append(recentTimes(st.meta.ShardCountUpdates, now), now)
		return true, nil
	})
	return current, err
}

// recentTimes keeps the times within the last 24 hours.
func recentTimes(times []int64, now int64) []int64 {
	return slices.DeleteFunc(slices.Clone(times), func(t int64) bool { return now-t >= dayMillis })
}

func (e *Engine) checkScaling(st *stream, current, target int, now int64) error {
	switch {
	case target > maxShardsPerStream:
		return errorf(CodeLimitExceeded, "Target shard count or number of open shards cannot be greater than %d. Current open shard count: %d, Target shard count: %d",
			maxShardsPerStream, current, target)
	case target > 2*current:
		return errorf(CodeLimitExceeded, "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: %d, Target shard count: %d", current, target)
	case 2*target < current:
		return errorf(CodeLimitExceeded, "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: %d, Target shard count: %d", current, target)
	case len(recentTimes(st.meta.ShardCountUpdates, now)) >= maxShardCountUpdatesPerDay:
		return errorf(CodeLimitExceeded, "UpdateShardCount can be called at most %d times in a rolling 24-hour period for stream %s under account %s.",
			maxShardCountUpdatesPerDay, st.meta.Name, e.cfg.AccountID)
	}
	return nil
}

// rescaleLocked reaches target evenly spaced open shards as AWS does, with
// splits and merges, so that every new shard has at most two parents: first
// every open shard is split at each target boundary inside it, then the
// pieces inside each target range are merged pairwise, left to right.
// Intermediate shards are closed at once and hold no records.
func (e *Engine) rescaleLocked(st *stream, target int, now int64) error {
	bounds := evenRanges(target)
	for _, b := range bounds[1:] {
		for _, sh := range st.openShardsLocked() {
			if b.Start.Cmp(sh.rng.Start) > 0 && b.Start.Cmp(sh.rng.End) <= 0 {
				if err := e.splitLocked(st, sh, b.Start, now); err != nil {
					return err
				}
				break
			}
		}
	}
	for _, r := range bounds {
		for {
			var inside []*shard
			for _, sh := range st.openShardsLocked() {
				if r.Contains(sh.rng.Start) {
					inside = append(inside, sh)
				}
			}
			if len(inside) < 2 {
				break
			}
			if err := e.mergeLocked(st, inside[0], inside[1], now); err != nil {
				return err
			}
		}
	}
	return nil
}
