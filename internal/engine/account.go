package engine

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicedata/sluice/internal/storage"
)

// Account-level state: DescribeLimits' counts and the account settings
// (MinimumThroughputBillingCommitment), which live in the catalog under
// their own bucket.

const (
	bucketAccount      = "account"
	keyAccountSettings = "settings"
	// onDemandStreamCountLimit is AWS's default limit of ON_DEMAND streams
	// per account.
	onDemandStreamCountLimit = 50
	// commitmentMinimum is how long a MinimumThroughputBillingCommitment
	// must last before it can end.
	commitmentMinimum = 24 * time.Hour
)

// MinimumThroughputBillingCommitment statuses.
const (
	CommitmentEnabled  = "ENABLED"
	CommitmentDisabled = "DISABLED"
	// CommitmentEnabledUntilEarliestEnd is reported after a disable asked
	// for before the commitment's minimum duration: it ends by itself at
	// EarliestAllowedEndAt unless it is enabled again first.
	CommitmentEnabledUntilEarliestEnd = "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
)

// Limits are DescribeLimits' figures.
type Limits struct {
	ShardLimit               int
	OpenShardCount           int
	OnDemandStreamCount      int
	OnDemandStreamCountLimit int
}

// DescribeLimits returns the account's shard quota and on-demand stream
// limit with their current use. Streams being deleted still count, as
// their shards do on AWS until they are gone.
func (e *Engine) DescribeLimits() Limits {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := Limits{ShardLimit: e.cfg.ShardQuota, OnDemandStreamCountLimit: onDemandStreamCountLimit}
	l.OpenShardCount = int(e.openShards.Load())
	for _, st := range e.mu.streams {
		st.mu.RLock()
		if st.meta.Mode == ModeOnDemand {
			l.OnDemandStreamCount++
		}
		st.mu.RUnlock()
	}
	return l
}

// accountRecord is the account settings' catalog record (JSON).
type accountRecord struct {
	// Enabled is whether a commitment is in force (possibly with a pending
	// end, see PendingEnd).
	Enabled bool `json:"enabled"`
	// StartedMillis, EndedMillis and EarliestEndMillis are Unix ms; zero
	// when unknown.
	StartedMillis     int64 `json:"startedAt,omitempty"`
	EndedMillis       int64 `json:"endedAt,omitempty"`
	EarliestEndMillis int64 `json:"earliestEndAt,omitempty"`
	// PendingEnd is set when a disable came before EarliestEndMillis: the
	// commitment ends then.
	PendingEnd bool `json:"pendingEnd,omitempty"`
}

// settle applies a pending end that is due at now.
func (r *accountRecord) settle(now int64) {
	if r.Enabled && r.PendingEnd && now >= r.EarliestEndMillis {
		r.Enabled, r.PendingEnd, r.EndedMillis = false, false, r.EarliestEndMillis
	}
}

// BillingCommitment is the account's MinimumThroughputBillingCommitment as
// DescribeAccountSettings reports it. Times are Unix ms, 0 when absent.
type BillingCommitment struct {
	Status                   string
	StartedMillis            int64
	EndedMillis              int64
	EarliestAllowedEndMillis int64
}

func (r *accountRecord) commitment() BillingCommitment {
	c := BillingCommitment{Status: CommitmentDisabled, StartedMillis: r.StartedMillis}
	switch {
	case r.Enabled && r.PendingEnd:
		c.Status, c.EarliestAllowedEndMillis = CommitmentEnabledUntilEarliestEnd, r.EarliestEndMillis
	case r.Enabled:
		c.Status, c.EarliestAllowedEndMillis = CommitmentEnabled, r.EarliestEndMillis
	default:
		c.EndedMillis = r.EndedMillis
	}
	return c
}

func readAccount(tx *storage.CatalogTx) (accountRecord, error) {
	var r accountRecord
	if b := tx.Get(bucketAccount, keyAccountSettings); b != nil {
		if err := json.Unmarshal(b, &r); err != nil {
			return r, fmt.Errorf("decode account settings: %w", err)
		}
	}
	return r, nil
}

// AccountSettings returns the account's billing commitment at the clock's
// current time.
func (e *Engine) AccountSettings() (BillingCommitment, error) {
	var r accountRecord
	err := e.store.Catalog().View(func(tx *storage.CatalogTx) error {
		var err error
		r, err = readAccount(tx)
		return err
	})
	if err != nil {
		return BillingCommitment{}, e.internalFailure(err)
	}
	r.settle(e.nowMillis())
	return r.commitment(), nil
}

// UpdateAccountSettings enables or disables the account's
// MinimumThroughputBillingCommitment (status is ENABLED or DISABLED) and
// returns the result. A commitment lasts at least 24 hours: a disable
// before then ends it at the earliest allowed time instead, and an enable
// in the meantime cancels that.
func (e *Engine) UpdateAccountSettings(status string) (BillingCommitment, error) {
	if status != CommitmentEnabled && status != CommitmentDisabled {
		panic("engine: UpdateAccountSettings status " + status)
	}
	now := e.nowMillis()
	var out BillingCommitment
	err := e.store.Catalog().Update(func(tx *storage.CatalogTx) error {
		r, err := readAccount(tx)
		if err != nil {
			return err
		}
		r.settle(now)
		switch {
		case status == CommitmentEnabled && r.Enabled:
			r.PendingEnd = false
		case status == CommitmentEnabled:
			r = accountRecord{Enabled: true, StartedMillis: now, EarliestEndMillis: now + commitmentMinimum.Milliseconds()}
		case r.Enabled && now < r.EarliestEndMillis:
			r.PendingEnd = true
		case r.Enabled:
			r.Enabled, r.PendingEnd, r.EndedMillis = false, false, now
		}
		out = r.commitment()
		b, err := json.Marshal(&r)
		if err != nil {
			panic(fmt.Sprintf("encode account settings: %v", err))
		}
		return tx.Put(bucketAccount, keyAccountSettings, b)
	})
	if err != nil {
		return BillingCommitment{}, e.internalFailure(err)
	}
	return out, nil
}
