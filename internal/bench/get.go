package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/sluicedata/sluice/internal/awsproto"
)

const (
	// maxEmptyAnswers ends a drain that keeps answering no records while
	// it claims to be behind, which a caught-up local server never does.
	maxEmptyAnswers = 5
	// maxRetries bounds the retries of a failing GetRecords before its
	// reader gives up.
	maxRetries = 5
	// retryAfter is the wait before a throttled or failed call is retried.
	retryAfter = 100 * time.Millisecond
)

// appendGetRecords appends a GetRecords body. It is written by hand so
// that a reader's calls need neither reflection nor allocation.
func appendGetRecords(p awsproto.Protocol, dst []byte, iterator string, limit int) []byte {
	if p == awsproto.CBOR {
		dst = append(dst, cborMap<<5|2)
		dst = appendCBORHead(dst, cborText, uint64(len("ShardIterator")))
		dst = append(dst, "ShardIterator"...)
		dst = appendCBORHead(dst, cborText, uint64(len(iterator)))
		dst = append(dst, iterator...)
		dst = appendCBORHead(dst, cborText, uint64(len("Limit")))
		dst = append(dst, "Limit"...)
		return appendCBORHead(dst, cborUint, uint64(limit))
	}
	dst = append(dst, `{"ShardIterator":`...)
	dst = appendJSONString(dst, iterator)
	dst = append(dst, `,"Limit":`...)
	dst = fmt.Appendf(dst, "%d}", limit)
	return dst
}

func appendCBORHead(dst []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(dst, major<<5|byte(n))
	case n <= 0xff:
		return append(dst, major<<5|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, major<<5|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(dst, major<<5|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, major<<5|27), n)
}

// appendJSONString appends s as a JSON string. Iterators are opaque, so
// quotes, backslashes and control characters are escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// reader reads one shard with GetRecords.
type reader struct {
	k     *caller
	shard string
	lat   Histogram
	body  []byte
}

// get is the get mode: fill the stream if asked, then drain it from
// TRIM_HORIZON with Readers readers.
func (r *runner) get(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	var fill *Result
	if cfg.Fill > 0 {
		ctr := &counters{}
		cpu, err := startCPU(cfg.ServerPID)
		if err != nil {
			return nil, err
		}
		p := startProgress(cfg.Progress, "fill", ctr)
		elapsed, lat, err := r.runPut(ctx, putPlan{duration: maxFillDuration, rate: cfg.Rate, records: int64(cfg.Fill)}, ctr)
		p.end()
		if err != nil {
			return nil, err
		}
		res := ctr.result(ModePut, elapsed)
		res.Latency.Calls = lat.Summary()
		if err := cpu.finish(&res); err != nil {
			return nil, err
		}
		fill = &res
	}
	if cfg.Readers == 0 {
		cfg.Readers = len(r.shards)
	}
	if cfg.Readers > maxReaders {
		return nil, fmt.Errorf("one reader per shard is %d readers, over %d: set --readers", cfg.Readers, maxReaders)
	}
	readers := make([]*reader, cfg.Readers)
	for i := range readers {
		readers[i] = &reader{k: r.cl.caller(), shard: r.shards[i%len(r.shards)].id}
	}
	ctr := &counters{}
	cpu, err := startCPU(cfg.ServerPID)
	if err != nil {
		return nil, err
	}
	p := startProgress(cfg.Progress, "get", ctr)
	start := time.Now()
	var wg sync.WaitGroup
	for _, rd := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rd.drain(ctx, cfg, ctr)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	p.end()
	res := ctr.result(ModeGet, elapsed)
	var lat Histogram
	for _, rd := range readers {
		lat.Merge(&rd.lat)
	}
	res.Latency.Calls = lat.Summary()
	res.Fill = fill
	return &res, cpu.finish(&res)
}

// drain reads the reader's shard from TRIM_HORIZON until it is caught up.
func (rd *reader) drain(ctx context.Context, cfg *Config, ctr *counters) {
	it, err := rd.k.shardIterator(ctx, cfg.Stream, rd.shard, "TRIM_HORIZON")
	if err != nil {
		if ctx.Err() == nil {
			ctr.fail(fmt.Sprintf("shard %s: %v", rd.shard, err))
		}
		return
	}
	empty, failures := 0, 0
	for ctx.Err() == nil {
		a, err := rd.getRecords(ctx, it, cfg.Limit, ctr, nil)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if failures++; failures > maxRetries {
				ctr.fail(fmt.Sprintf("shard %s: giving up after %d failed GetRecords", rd.shard, failures))
				return
			}
			if sleepCtx(ctx, retryAfter) != nil {
				return
			}
			continue
		}
		failures = 0
		ctr.records.Add(int64(a.records))
		ctr.bytes.Add(a.bytes)
		if !a.hasNext || a.next == "" {
			return // a closed shard's end
		}
		it = a.next
		if a.records > 0 {
			empty = 0
			continue
		}
		if empty++; a.millisBehind == 0 || empty >= maxEmptyAnswers {
			return
		}
	}
}

// getRecords makes one GetRecords call and counts it (the call, its
// latency, a throttle or an error; the records are the caller's to count).
// lat, if not nil,
// receives the records' put-to-read latencies.
func (rd *reader) getRecords(ctx context.Context, it string, limit int, ctr *counters, lat *latencySink) (recordsAnswer, error) {
	rd.body = appendGetRecords(rd.k.c.proto, rd.body[:0], it, limit)
	start := time.Now()
	resp, err := rd.k.call(ctx, "GetRecords", rd.body)
	if ctx.Err() != nil {
		return recordsAnswer{}, ctx.Err()
	}
	rd.lat.Record(time.Since(start))
	ctr.calls.Add(1)
	if err != nil {
		if throttled(err) {
			ctr.throttles.Add(1)
		} else {
			ctr.fail(fmt.Sprintf("GetRecords on shard %s: %v", rd.shard, err))
		}
		return recordsAnswer{}, err
	}
	if lat != nil {
		lat.now = time.Now().UnixNano()
	}
	a, err := parseRecords(rd.k.c.proto, resp, "NextShardIterator", lat)
	if err != nil {
		ctr.fail(fmt.Sprintf("GetRecords on shard %s: %v", rd.shard, err))
		return a, err
	}
	return a, nil
}
