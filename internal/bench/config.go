package bench

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
)

// Mode is what a run measures.
type Mode string

// The modes.
const (
	// ModePut writes with PutRecords (or PutRecord) as fast as it can or at
	// a rate, and reports acknowledged records/s and call latency.
	ModePut Mode = "put"
	// ModeGet fills the stream, then drains it from TRIM_HORIZON with
	// GetShardIterator and GetRecords, and reports read records/s.
	ModeGet Mode = "get"
	// ModeE2E writes at a fixed rate while consumers read by polling or
	// through SubscribeToShard, and reports put-to-read latency.
	ModeE2E Mode = "e2e"
	// ModeFanout is ModeE2E with several enhanced fan-out consumers, each
	// subscribed to every shard.
	ModeFanout Mode = "fanout"
	// ModeDisk measures the local disk: sequential writes with an
	// fdatasync after each block, and single small fdatasyncs.
	ModeDisk Mode = "disk"
)

// Limits on settings, so that a typo cannot ask for absurd work.
const (
	maxProducers    = 1024
	maxShards       = 10000
	maxKeysPerShard = 10000
	maxBatchRecords = 500     // PutRecords' own limit
	maxRecordBytes  = 1 << 20 // Kinesis's default record limit
	maxGetLimit     = 10000   // GetRecords' own limit
	maxConsumers    = 20      // enhanced fan-out consumers per stream on AWS
	// maxReaders and maxConsumerTasks bound the goroutines that read: each
	// holds histograms (35 KiB each) and a response buffer that grows to
	// the largest answer it has read (up to 13 MiB).
	maxReaders        = 1024
	maxConsumerTasks  = 2048      // consumers x shards
	minFrameSize      = 16 << 10  // HTTP/2's SETTINGS_MAX_FRAME_SIZE: its default and least
	maxFrameSize      = 1<<24 - 1 // and its largest
	stampBytes        = 9         // the send time and its marker at the start of each record
	defaultDiskBytes  = 1 << 30
	defaultDiskBlock  = 1 << 20
	defaultDiskSyncs  = 2000
	streamReadyWithin = 2 * time.Minute
)

// Config is every setting of a run. Run fills zero values with the
// defaults through Validate; each field says what its zero means.
type Config struct {
	Mode     Mode
	Endpoint string // base URL, http:// or https://; zero means http://127.0.0.1:4567
	Region   string // the region requests are signed for; zero means us-east-1
	// Stream is the stream's name; zero means a unique sluice-bench-... name.
	Stream string
	// NoCreate uses Stream as it is: it is neither created nor deleted,
	// and its open shards are written to. Zero creates the stream with
	// Shards shards, waits for ACTIVE, and deletes it at the end.
	NoCreate bool
	Keep     bool   // keep the stream the run created; zero deletes it
	Protocol string // "json" or "cbor"; zero means json
	// API is "putrecords" or "putrecord"; zero means putrecords.
	API        string
	RecordSize int // data bytes per record; zero means 100
	// Batch is records per PutRecords call; zero means 500 for put and
	// get, 100 for e2e and fanout.
	Batch     int
	Shards    int // shards of the created stream; zero means 4
	Producers int // concurrent writers; zero means 4
	// KeysPerShard is how many partition keys each shard's records take
	// in turn; zero means 8. A call's keys repeat when it sends a shard
	// more records than this, as producers that key by device or tenant
	// do; more keys than a call's records per shard make every key new.
	KeysPerShard int
	Duration     time.Duration // how long writers write; zero means 10s
	// Warmup: e2e and fanout first write at Rate this long, unmeasured:
	// consumers read those records, but latencies, rates and the server's
	// CPU count only what is sent after it. Zero means none.
	Warmup time.Duration
	// Rate is the records/s target over all producers; zero means as
	// fast as possible for put and 1000 for e2e and fanout.
	Rate int
	// Fill is how many records get writes before it drains; zero writes
	// none and drains what the stream holds, which needs NoCreate (a new
	// stream is empty).
	Fill int
	// Readers drain the stream in get, spread round robin over the shards;
	// each reads its shard from TRIM_HORIZON to the end, so readers beyond
	// one per shard read records again, as independent applications
	// would. Zero means one per shard.
	Readers      int
	Limit        int           // GetRecords Limit; zero means 10000
	Consume      string        // e2e: "poll" or "subscribe"; zero means poll
	PollInterval time.Duration // e2e poll: wait between GetRecords of a caught-up shard; zero means 200ms
	// Consumers is how many independent consumers read every shard in e2e
	// and fanout (each an enhanced fan-out consumer with subscribe); zero
	// means 1 for e2e and 2 for fanout.
	Consumers int
	// FrameSize is the largest HTTP/2 frame subscribers accept
	// (SETTINGS_MAX_FRAME_SIZE), which bounds the DATA frames the server
	// sends them; zero means 16 KiB, the protocol's default, which the AWS
	// SDKs' HTTP/2 clients keep.
	FrameSize int
	// Drain bounds how long e2e and fanout wait, after the writers stop,
	// for the consumers to read every acknowledged record; zero means 10s.
	Drain time.Duration
	// Insecure skips TLS certificate verification for https:// endpoints.
	Insecure bool
	// Credentials sign the requests; zero means DummyCredentials.
	Credentials Credentials
	// ServerPID is the process id of the server on this machine, or of a
	// process that started it; the CPU time of that process and its
	// descendants during the measured phase is reported
	// (Result.ServerCPUSeconds). Zero means not measured.
	ServerPID int

	// Dir is where disk writes its file; required for disk.
	Dir string
	// DiskBytes is how much disk writes sequentially; zero means 1 GiB.
	DiskBytes int64
	// DiskBlock is the write between two fdatasyncs; zero means 1 MiB.
	DiskBlock int
	// DiskSyncs is how many single 4 KiB write+fdatasync pairs disk
	// times; zero means 2000.
	DiskSyncs int

	// Progress receives a live line once a second, each overwriting the
	// last with \r; nil means none.
	Progress io.Writer
}

var streamNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// Validate fills the defaults and rejects settings out of range.
func (c *Config) Validate() error {
	switch c.Mode {
	case ModePut, ModeGet, ModeE2E, ModeFanout, ModeDisk:
	default:
		return fmt.Errorf("unknown mode %q: want put, get, e2e, fanout or disk", c.Mode)
	}
	c.fillDefaults()
	if c.Stream == "" {
		c.Stream = uniqueStreamName()
	}
	if c.Credentials.AccessKeyID == "" {
		c.Credentials = DummyCredentials
	}
	if c.Mode == ModeDisk {
		return c.validateDisk()
	}
	switch {
	case c.Protocol != "json" && c.Protocol != "cbor":
		return fmt.Errorf("--protocol must be json or cbor, not %q", c.Protocol)
	case c.API != "putrecords" && c.API != "putrecord":
		return fmt.Errorf("--api must be putrecords or putrecord, not %q", c.API)
	case c.ServerPID < 0:
		return fmt.Errorf("--server-pid must be a process id, not %d", c.ServerPID)
	case c.Consume != "poll" && c.Consume != "subscribe":
		return fmt.Errorf("--consume must be poll or subscribe, not %q", c.Consume)
	case !streamNamePattern.MatchString(c.Stream):
		return fmt.Errorf("--stream %q: want 1-128 of a-z A-Z 0-9 _ . -", c.Stream)
	case c.RecordSize < 1 || c.RecordSize > maxRecordBytes:
		return fmt.Errorf("--record-size must be 1..%d, not %d", maxRecordBytes, c.RecordSize)
	case c.Batch < 1 || c.Batch > maxBatchRecords:
		return fmt.Errorf("--batch must be 1..%d, not %d", maxBatchRecords, c.Batch)
	case c.Shards < 1 || c.Shards > maxShards:
		return fmt.Errorf("--shards must be 1..%d, not %d", maxShards, c.Shards)
	case c.Producers < 1 || c.Producers > maxProducers:
		return fmt.Errorf("--producers must be 1..%d, not %d", maxProducers, c.Producers)
	case c.KeysPerShard < 1 || c.KeysPerShard > maxKeysPerShard:
		return fmt.Errorf("--keys-per-shard must be 1..%d, not %d", maxKeysPerShard, c.KeysPerShard)
	case c.Readers < 0 || c.Readers > maxReaders:
		return fmt.Errorf("--readers must be 0..%d, not %d", maxReaders, c.Readers)
	case c.Consumers < 1 || c.Consumers > maxConsumers:
		return fmt.Errorf("--consumers must be 1..%d, not %d", maxConsumers, c.Consumers)
	case (c.Mode == ModeE2E || c.Mode == ModeFanout) && c.Consumers*c.Shards > maxConsumerTasks:
		return fmt.Errorf("--consumers x --shards must be at most %d, not %d", maxConsumerTasks, c.Consumers*c.Shards)
	case c.FrameSize < minFrameSize || c.FrameSize > maxFrameSize:
		return fmt.Errorf("--frame-size must be %d..%d, not %d", minFrameSize, maxFrameSize, c.FrameSize)
	case c.Limit < 1 || c.Limit > maxGetLimit:
		return fmt.Errorf("--limit must be 1..%d, not %d", maxGetLimit, c.Limit)
	case c.Duration <= 0 || c.PollInterval <= 0 || c.Drain <= 0:
		return errors.New("--duration, --poll-interval and --drain must be positive")
	case c.API == "putrecords" && c.Batch*c.RecordSize > maxPutRequestBytes:
		return fmt.Errorf("--batch %d x --record-size %d is over PutRecords' 5 MiB limit", c.Batch, c.RecordSize)
	case c.Mode == ModeGet && !c.NoCreate && c.Fill == 0:
		return errors.New("get on a new stream needs --fill: it would drain nothing (or read an existing stream with --create=false)")
	case c.Rate < 0 || c.Fill < 0 || c.Warmup < 0:
		return errors.New("--rate, --fill and --warmup must not be negative")
	case (c.Mode == ModeE2E || c.Mode == ModeFanout) && c.RecordSize < stampBytes:
		return fmt.Errorf("--record-size must be at least %d for %s: each record carries its send time", stampBytes, c.Mode)
	}
	return nil
}

// Defaults returns the settings of a run of mode with every default
// filled in, except Stream (a unique name) and Credentials, for flags to
// show.
func Defaults(mode Mode) Config {
	c := Config{Mode: mode}
	c.fillDefaults()
	return c
}

func (c *Config) fillDefaults() {
	e2e := c.Mode == ModeE2E || c.Mode == ModeFanout
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defStr := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	defStr(&c.Endpoint, "http://127.0.0.1:4567")
	defStr(&c.Region, "us-east-1")
	defStr(&c.Protocol, "json")
	defStr(&c.API, "putrecords")
	defStr(&c.Consume, "poll")
	def(&c.RecordSize, 100)
	if e2e {
		def(&c.Batch, 100)
		def(&c.Rate, 1000)
	}
	def(&c.Batch, 500)
	def(&c.Shards, 4)
	def(&c.Producers, 4)
	def(&c.KeysPerShard, 8)
	def(&c.Limit, maxGetLimit)
	def(&c.FrameSize, minFrameSize)
	if c.Mode == ModeE2E {
		def(&c.Consumers, 1)
	}
	def(&c.Consumers, 2)
	if c.API == "putrecord" {
		c.Batch = 1
	}
	defDur(&c.Duration, 10*time.Second)
	defDur(&c.PollInterval, 200*time.Millisecond)
	defDur(&c.Drain, 10*time.Second)
	if c.DiskBytes == 0 {
		c.DiskBytes = defaultDiskBytes
	}
	def(&c.DiskBlock, defaultDiskBlock)
	def(&c.DiskSyncs, defaultDiskSyncs)
}

func (c *Config) validateDisk() error {
	switch {
	case c.Dir == "":
		return errors.New("disk needs --dir, a directory on the disk to measure")
	case c.DiskBlock < 512 || c.DiskBlock > 64<<20:
		return fmt.Errorf("--block must be 512 B..64 MiB, not %d", c.DiskBlock)
	case c.DiskBytes < int64(c.DiskBlock):
		return fmt.Errorf("--size (%d) must be at least one --block (%d)", c.DiskBytes, c.DiskBlock)
	case c.DiskSyncs < 1:
		return errors.New("--syncs must be positive")
	}
	return nil
}

// uniqueStreamName is sluice-bench- and a random suffix, so that runs
// never collide on a shared server.
func uniqueStreamName() string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("sluice-bench-%d-%s", time.Now().Unix(), hex.EncodeToString(b[:]))
}
