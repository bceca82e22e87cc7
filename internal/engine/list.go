package engine

import (
	"encoding/json"
	"fmt"
)

// ShardFilter types.
const (
	FilterAfterShardID    = "AFTER_SHARD_ID"
	FilterAtTrimHorizon   = "AT_TRIM_HORIZON"
	FilterFromTrimHorizon = "FROM_TRIM_HORIZON"
	FilterAtLatest        = "AT_LATEST"
	FilterAtTimestamp     = "AT_TIMESTAMP"
	FilterFromTimestamp   = "FROM_TIMESTAMP"
)

// Page sizes.
const (
	DefaultListShards  = 1000
	MaxListShards      = 1000
	DefaultListStreams = 100
)

// ListShardsParams are ListShards' inputs after model validation. Either
// NextToken or Stream is set, never both.
type ListShardsParams struct {
	Stream                string
	NextToken             string
	ExclusiveStartShardID string
	StreamCreatedMillis   *int64
	MaxResults            int // 0 when absent
	FilterType            string
	FilterShardID         string
	FilterTimestampMillis *int64
}

// listShardsCursor is what a ListShards NextToken holds.
type listShardsCursor struct {
	Kind          string `json:"k"`
	Stream        string `json:"s"`
	StreamCreated int64  `json:"c"`
	After         int64  `json:"a"` // shard index to continue after; -1 for none
	IssuedMillis  int64  `json:"i"`
	FilterType    string `json:"f,omitempty"`
	FilterMillis  *int64 `json:"ft,omitempty"`
}

const cursorListShards = "ListShards"

// ListShards lists a stream's shards, filtered and paginated.
func (e *Engine) ListShards(p ListShardsParams) ([]ShardInfo, string, error) {
	cur, err := e.listShardsCursor(p)
	if err != nil {
		return nil, "", err
	}
	st := e.lookup(cur.Stream)
	if st == nil {
		return nil, "", e.streamNotFound(cur.Stream)
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	if st.gone || (cur.StreamCreated != 0 && cur.StreamCreated != st.meta.CreatedMillis) {
		return nil, "", e.streamNotFound(cur.Stream)
	}
	limit := p.MaxResults
	if limit <= 0 || limit > MaxListShards {
		limit = DefaultListShards
	}
	now := e.nowMillis()
	keep := e.shardFilterLocked(st, cur)
	var out []ShardInfo
	for _, sh := range st.shards {
		if int64(sh.meta.Index) <= cur.After || st.expiredLocked(sh, now) || !keep(sh) {
			continue
		}
		if len(out) == limit {
			cur.StreamCreated = st.meta.CreatedMillis
			cur.After = int64(out[len(out)-1].index())
			cur.IssuedMillis = e.nowMillis()
			b, _ := json.Marshal(cur)
			return out, e.tokens.seal(b), nil
		}
		out = append(out, shardInfo(sh))
	}
	return out, "", nil
}

func (si ShardInfo) index() uint32 {
	i, _ := parseShardID(si.ShardID)
	return i
}

func (e *Engine) listShardsCursor(p ListShardsParams) (listShardsCursor, error) {
	if p.NextToken != "" {
		var cur listShardsCursor
		if err := e.openCursor(p.NextToken, cursorListShards, &cur); err != nil {
			return cur, err
		}
		return cur, nil
	}
	cur := listShardsCursor{Kind: cursorListShards, Stream: p.Stream, After: -1, FilterType: p.FilterType, FilterMillis: p.FilterTimestampMillis}
	if p.StreamCreatedMillis != nil {
		cur.StreamCreated = *p.StreamCreatedMillis
	}
	if p.ExclusiveStartShardID != "" {
		if i, ok := parseShardID(p.ExclusiveStartShardID); ok {
			cur.After = int64(i)
		}
	}
	if p.FilterType == FilterAfterShardID {
		if i, ok := parseShardID(p.FilterShardID); ok {
			cur.After = max(cur.After, int64(i))
		}
	}
	return cur, nil
}

// shardFilterLocked returns the predicate for the cursor's ShardFilter.
func (e *Engine) shardFilterLocked(st *stream, cur listShardsCursor) func(*shard) bool {
	now := e.nowMillis()
	trim := st.trimHorizonLocked(now)
	openAt := func(t int64) func(*shard) bool {
		return func(sh *shard) bool {
			return sh.meta.CreatedMillis <= t && (sh.meta.ClosedMillis == 0 || sh.meta.ClosedMillis > t)
		}
	}
	at := func() int64 {
		if cur.FilterMillis == nil {
			return now
		}
		return max(*cur.FilterMillis, st.meta.CreatedMillis)
	}
	switch cur.FilterType {
	case FilterAtTrimHorizon:
		// The shards open at the trim horizon are the roots of the
		// retained shard family: those with no retained parent.
		retained := map[uint32]bool{}
		for _, sh := range st.shards {
			retained[sh.meta.Index] = !st.expiredLocked(sh, now)
		}
		return func(sh *shard) bool {
			p, a := sh.meta.Parent, sh.meta.AdjacentParent
			return (p == nil || !retained[*p]) && (a == nil || !retained[*a])
		}
	case FilterAtLatest:
		return func(sh *shard) bool { return sh.meta.ClosedMillis == 0 }
	case FilterAtTimestamp:
		return openAt(at())
	case FilterFromTimestamp:
		t := max(at(), trim)
		return func(sh *shard) bool { return sh.meta.ClosedMillis == 0 || sh.meta.ClosedMillis >= t }
	}
	return func(*shard) bool { return true }
}

// openCursor opens a pagination token of the given kind into v.
func (e *Engine) openCursor(token, kind string, v any) error {
	b, err := e.tokens.open(token)
	var head struct {
		Kind   string `json:"k"`
		Issued int64  `json:"i"`
	}
	if err != nil || json.Unmarshal(b, &head) != nil || head.Kind != kind || json.Unmarshal(b, v) != nil {
		return errorf(CodeInvalidArgument, "Invalid NextToken.")
	}
	if e.nowMillis()-head.Issued > e.cfg.NextTokenTTL.Milliseconds() {
		return errorf(CodeExpiredNextToken, "The requested token has expired. Please request a new token.")
	}
	return nil
}

// ListStreamsParams are ListStreams' inputs after model validation.
type ListStreamsParams struct {
	Limit                    int // 0 when absent
	ExclusiveStartStreamName string
	NextToken                string
}

type listStreamsCursor struct {
	Kind   string `json:"k"`
	After  string `json:"a"`
	Issued int64  `json:"i"`
}

const cursorListStreams = "ListStreams"

// ListStreamsPage is one page of ListStreams.
type ListStreamsPage struct {
	Streams   []StreamSummary
	HasMore   bool
	NextToken string
}

// ListStreamsPage returns one page of streams in name order.
func (e *Engine) ListStreamsPage(p ListStreamsParams) (ListStreamsPage, error) {
	after := p.ExclusiveStartStreamName
	if p.NextToken != "" {
		var cur listStreamsCursor
		if err := e.openCursor(p.NextToken, cursorListStreams, &cur); err != nil {
			return ListStreamsPage{}, err
		}
		after = cur.After
	}
	limit := p.Limit
	if limit <= 0 {
		limit = DefaultListStreams
	}
	var page ListStreamsPage
	for _, s := range e.ListStreams() {
		if after != "" && s.Name <= after {
			continue
		}
		if len(page.Streams) == limit {
			page.HasMore = true
			b, _ := json.Marshal(listStreamsCursor{Kind: cursorListStreams, After: page.Streams[limit-1].Name, Issued: e.nowMillis()})
			page.NextToken = e.tokens.seal(b)
			break
		}
		page.Streams = append(page.Streams, s)
	}
	return page, nil
}

// sealCursor seals a pagination cursor into a NextToken.
func (e *Engine) sealCursor(cur any) string {
	b, err := json.Marshal(cur)
	if err != nil {
		panic(fmt.Sprintf("encode cursor: %v", err))
	}
	return e.tokens.seal(b)
}
