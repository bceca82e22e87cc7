package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LatencySummary is a latency distribution in milliseconds.
type LatencySummary struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Latencies are the distributions a run measured; absent ones are nil.
type Latencies struct {
	// Calls is each PutRecords/PutRecord call (put, e2e, fanout) or
	// GetRecords call (get), from send to the end of the answer.
	Calls *LatencySummary `json:"calls,omitempty"`
	// E2E is each record's put-to-read latency: from the send of its
	// PutRecords call to the arrival of the answer that delivered it.
	E2E *LatencySummary `json:"e2e,omitempty"`
	// Fsync is disk's single fdatasync after a 4 KiB write.
	Fsync *LatencySummary `json:"fsync,omitempty"`
	// BlockFsync is disk's fdatasync after each block of the sequential write.
	BlockFsync *LatencySummary `json:"block_fsync,omitempty"`
}

// Settings are the effective settings of a run, defaults filled in.
type Settings struct {
	Endpoint       string  `json:"endpoint,omitempty"`
	Stream         string  `json:"stream,omitempty"`
	Protocol       string  `json:"protocol,omitempty"`
	API            string  `json:"api,omitempty"`
	RecordSize     int     `json:"record_size,omitempty"`
	Batch          int     `json:"batch,omitempty"`
	Shards         int     `json:"shards,omitempty"`
	Producers      int     `json:"producers,omitempty"`
	DurationSec    float64 `json:"duration_s,omitempty"`
	WarmupSec      float64 `json:"warmup_s,omitempty"`
	Rate           int     `json:"rate"` // records/s; 0: as fast as possible
	Fill           int     `json:"fill,omitempty"`
	Readers        int     `json:"readers,omitempty"`
	Limit          int     `json:"limit,omitempty"`
	Consume        string  `json:"consume,omitempty"`
	PollIntervalMs float64 `json:"poll_interval_ms,omitempty"`
	Consumers      int     `json:"consumers,omitempty"`
	FrameSize      int     `json:"frame_size,omitempty"` // subscribers' SETTINGS_MAX_FRAME_SIZE
	Dir            string  `json:"dir,omitempty"`
	DiskBytes      int64   `json:"disk_bytes,omitempty"`
	DiskBlock      int     `json:"disk_block,omitempty"`
	DiskSyncs      int     `json:"disk_syncs,omitempty"`
}

// Result is a run's report; with --json it is printed as one JSON object.
type Result struct {
	Mode     Mode     `json:"mode"`
	Settings Settings `json:"settings"`
	// Records and Bytes (data bytes) are what puts acknowledged (put, e2e,
	// fanout), what GetRecords returned (get), or what disk wrote.
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MiBPerSec     float64 `json:"mib_per_sec"`
	Calls         int64   `json:"calls"`
	// Delivered counts records read by the consumers of e2e and fanout,
	// once per consumer.
	Delivered       int64     `json:"delivered,omitempty"`
	DeliveredPerSec float64   `json:"delivered_per_sec,omitempty"`
	Latency         Latencies `json:"latency_ms"`
	// Errors are failed calls and failed PutRecords entries other than
	// throttles; ErrorSample is the first one's message.
	Errors      int64  `json:"errors"`
	Throttles   int64  `json:"throttles"`
	ErrorSample string `json:"error_sample,omitempty"`
	// ServerCPUSeconds is the user and system CPU the server process
	// (Config.ServerPID) spent during the measured phase, from /proc, and
	// ServerCPUPerMillion the same per million Records.
	ServerCPUSeconds    float64 `json:"server_cpu_s,omitempty"`
	ServerCPUPerMillion float64 `json:"server_cpu_s_per_million_records,omitempty"`
	// ClientCPUSeconds is the user and system CPU the load generator
	// itself (this process) spent during the same phase, and
	// ClientCPUPerMillion the same per million Records: on a machine the
	// two share, what measuring took from the server.
	ClientCPUSeconds    float64 `json:"client_cpu_s,omitempty"`
	ClientCPUPerMillion float64 `json:"client_cpu_s_per_million_records,omitempty"`
	// Fill is get's write phase, when it filled the stream first.
	Fill *Result `json:"fill,omitempty"`
}

func (c *Config) settings() Settings {
	s := Settings{Endpoint: c.Endpoint, Stream: c.Stream, Protocol: c.Protocol}
	switch c.Mode {
	case ModeDisk:
		return Settings{Dir: c.Dir, DiskBytes: c.DiskBytes, DiskBlock: c.DiskBlock, DiskSyncs: c.DiskSyncs}
	case ModeGet:
		s.Fill, s.Readers, s.Limit = c.Fill, c.Readers, c.Limit
	case ModeE2E, ModeFanout:
		s.Consume, s.Consumers, s.Limit = c.Consume, c.Consumers, c.Limit
		s.WarmupSec = c.Warmup.Seconds()
		if c.Mode == ModeFanout {
			s.Consume = "subscribe"
		}
		if s.Consume == "subscribe" {
			s.FrameSize = c.FrameSize
		}
		if s.Consume == "poll" {
			s.PollIntervalMs = float64(c.PollInterval.Microseconds()) / 1000
		}
	}
	if c.Mode != ModeGet || c.Fill > 0 {
		s.API, s.RecordSize, s.Batch, s.Producers, s.Rate = c.API, c.RecordSize, c.Batch, c.Producers, c.Rate
		if c.Mode != ModeGet {
			s.DurationSec = c.Duration.Seconds()
		}
	}
	s.Shards = c.Shards
	return s
}

// counters are a phase's live totals, shared by its goroutines.
type counters struct {
	records, bytes, calls, errors, throttles, delivered atomic.Int64

	mu     sync.Mutex
	sample string
}

// fail counts an error and keeps the first message.
func (c *counters) fail(msg string) {
	c.errors.Add(1)
	c.mu.Lock()
	if c.sample == "" {
		c.sample = msg
	}
	c.mu.Unlock()
}

// addFailures counts o's errors and throttles in c, keeping o's first
// error message, with prefix, if c has none.
func (c *counters) addFailures(o *counters, prefix string) {
	c.errors.Add(o.errors.Load())
	c.throttles.Add(o.throttles.Load())
	o.mu.Lock()
	sample := o.sample
	o.mu.Unlock()
	c.mu.Lock()
	if c.sample == "" && sample != "" {
		c.sample = prefix + sample
	}
	c.mu.Unlock()
}

// result makes a Result from the totals over elapsed.
func (c *counters) result(mode Mode, elapsed time.Duration) Result {
	secs := elapsed.Seconds()
	r := Result{Mode: mode, Records: c.records.Load(), Bytes: c.bytes.Load(), Seconds: secs, Calls: c.calls.Load(),
		Delivered: c.delivered.Load(), Errors: c.errors.Load(), Throttles: c.throttles.Load()}
	c.mu.Lock()
	r.ErrorSample = c.sample
	c.mu.Unlock()
	if secs > 0 {
		r.RecordsPerSec = float64(r.Records) / secs
		r.MiBPerSec = float64(r.Bytes) / secs / (1 << 20)
		r.DeliveredPerSec = float64(r.Delivered) / secs
	}
	return r
}

// progress prints a line with the counters' rates once a second until
// stopped. It is a no-op without a writer.
type progress struct {
	stop chan struct{}
	done chan struct{}
}

func startProgress(w io.Writer, label string, c *counters) *progress {
	p := &progress{stop: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start, last := time.Now(), time.Now()
		var lastRecords, lastBytes, lastDelivered int64
		for {
			select {
			case <-p.stop:
				fmt.Fprint(w, "\r\033[K")
				return
			case now := <-t.C:
				secs := now.Sub(last).Seconds()
				rec, b, d := c.records.Load(), c.bytes.Load(), c.delivered.Load()
				line := fmt.Sprintf("\r\033[K%s %4.0fs  %s rec/s  %.1f MiB/s  records %s", label, now.Sub(start).Seconds(),
					group(int64(float64(rec-lastRecords)/secs)), float64(b-lastBytes)/secs/(1<<20), group(rec))
				if d > 0 {
					line += fmt.Sprintf("  delivered %s/s", group(int64(float64(d-lastDelivered)/secs)))
				}
				fmt.Fprintf(w, "%s  errors %d  throttles %d", line, c.errors.Load(), c.throttles.Load())
				last, lastRecords, lastBytes, lastDelivered = now, rec, b, d
			}
		}
	}()
	return p
}

// end stops the line and waits for its goroutine.
func (p *progress) end() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// group writes n with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// WriteSummary writes r for people.
func (r *Result) WriteSummary(w io.Writer) {
	if r.Fill != nil {
		fmt.Fprint(w, "fill: ")
		r.Fill.WriteSummary(w)
	}
	if r.Mode == ModeDisk {
		fmt.Fprintf(w, "disk: wrote %s MiB with an fdatasync every %d KiB in %.2f s: %.1f MiB/s\n",
			group(r.Bytes>>20), r.Settings.DiskBlock>>10, r.Seconds, r.MiBPerSec)
		writeLatency(w, "fdatasync per block", r.Latency.BlockFsync)
		writeLatency(w, "fdatasync of 4 KiB", r.Latency.Fsync)
		return
	}
	fmt.Fprintf(w, "%s: %s records, %.1f MiB in %.2f s: %s records/s, %.2f MiB/s, %s calls\n", r.Mode, group(r.Records),
		float64(r.Bytes)/(1<<20), r.Seconds, group(int64(r.RecordsPerSec)), r.MiBPerSec, group(r.Calls))
	writeLatency(w, "call latency", r.Latency.Calls)
	if r.Mode == ModeE2E || r.Mode == ModeFanout {
		fmt.Fprintf(w, "  delivered %s records (%s/s)\n", group(r.Delivered), group(int64(r.DeliveredPerSec)))
		writeLatency(w, "put-to-read latency", r.Latency.E2E)
	}
	if r.ServerCPUSeconds > 0 {
		fmt.Fprintf(w, "  server CPU %.2f s: %.2f CPU-s per million records\n", r.ServerCPUSeconds, r.ServerCPUPerMillion)
	}
	if r.ClientCPUSeconds > 0 {
		fmt.Fprintf(w, "  load generator CPU %.2f s: %.2f CPU-s per million records\n", r.ClientCPUSeconds, r.ClientCPUPerMillion)
	}
	fmt.Fprintf(w, "  errors %s, throttles %s\n", group(r.Errors), group(r.Throttles))
	if r.ErrorSample != "" {
		fmt.Fprintf(w, "  first error: %s\n", r.ErrorSample)
	}
}

func writeLatency(w io.Writer, what string, l *LatencySummary) {
	if l == nil {
		return
	}
	fmt.Fprintf(w, "  %s ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  (%s samples)\n", what, l.P50, l.P90, l.P99, l.Max, group(l.Count))
}
