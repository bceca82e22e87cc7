package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/sluicedata/sluice/internal/bench"
)

const benchUsage = `Usage: sluice bench <mode> [flags]

Modes:
  put      PutRecords (or --api putrecord) for --duration, open loop or at --rate
  get      fill the stream (--fill N), then drain it from TRIM_HORIZON with GetRecords
  e2e      put at --rate while consumers poll (--consume poll) or subscribe; put-to-read latency
  fanout   put at --rate with --consumers enhanced fan-out consumers on every shard
  disk     sequential writes with an fdatasync per block, and single fdatasyncs (--dir)

Against any Kinesis endpoint (--endpoint). The stream is created with --shards
shards and deleted at the end unless --keep (or used as it is with
--create=false). Requests are signed with AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY when set, else with dummy credentials. --json prints
one JSON object on stdout. See sluice bench <mode> -h for the mode's flags.
`

// defaultFill is how many records sluice bench get writes before it
// drains: enough for a drain of a few seconds against Sluice.
const defaultFill = 200_000

// benchFlags are the flags of `sluice bench MODE` that are not Config fields.
type benchFlags struct {
	create bool
	json   bool
}

// benchRun runs `sluice bench MODE [flags]`.
func benchRun(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		fmt.Fprint(w, benchUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	mode := bench.Mode(args[0])
	switch mode {
	case bench.ModePut, bench.ModeGet, bench.ModeE2E, bench.ModeFanout, bench.ModeDisk:
	default:
		fmt.Fprintf(stderr, "sluice bench: unknown mode %q\n", args[0])
		fmt.Fprint(stderr, benchUsage)
		return 2
	}
	cfg := bench.Defaults(mode)
	var bf benchFlags
	fs := flag.NewFlagSet("sluice bench "+string(mode), flag.ContinueOnError)
	fs.SetOutput(stderr)
	registerBenchFlags(fs, &cfg, &bf)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sluice bench %s [flags]\n", mode)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "sluice bench %s: unexpected argument %q\n", mode, fs.Arg(0))
		return 2
	}
	cfg.NoCreate = !bf.create
	if id := os.Getenv("AWS_ACCESS_KEY_ID"); id != "" {
		cfg.Credentials = bench.Credentials{AccessKeyID: id, SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
	}
	if isTerminal(stderr) {
		cfg.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	setGCPercent() // the load generator allocates per call too: leave the CPU to the server
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "sluice bench %s: %v\n", mode, err)
		return 1
	}
	if bf.json {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "sluice bench %s: %v\n", mode, err)
			return 1
		}
		return 0
	}
	res.WriteSummary(stdout)
	return 0
}

// registerBenchFlags defines the flags that mode cfg.Mode uses, with
// cfg's values (the mode's defaults) as their defaults.
func registerBenchFlags(fs *flag.FlagSet, cfg *bench.Config, bf *benchFlags) {
	mode := cfg.Mode
	fs.BoolVar(&bf.json, "json", false, "print one JSON object on stdout instead of a summary")
	if mode == bench.ModeDisk {
		fs.StringVar(&cfg.Dir, "dir", "", "directory on the disk to measure (a temporary file is written and removed)")
		fs.Var((*byteSize)(&cfg.DiskBytes), "size", "bytes to write sequentially (K, M, G, KiB, MiB, GiB suffixes)")
		fs.Var(intByteSize{&cfg.DiskBlock}, "block", "bytes written between two fdatasyncs")
		fs.IntVar(&cfg.DiskSyncs, "syncs", cfg.DiskSyncs, "single 4 KiB write + fdatasync pairs to time")
		return
	}
	fs.StringVar(&cfg.Endpoint, "endpoint", cfg.Endpoint, "Kinesis endpoint")
	fs.StringVar(&cfg.Region, "region", cfg.Region, "region to sign requests for")
	fs.StringVar(&cfg.Stream, "stream", "", "stream name (default: a unique sluice-bench-... name)")
	fs.BoolVar(&bf.create, "create", true, "create the stream with --shards shards and wait until ACTIVE; false: use it as it is")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the stream the run created instead of deleting it")
	fs.IntVar(&cfg.Shards, "shards", cfg.Shards, "shards of the created stream")
	fs.StringVar(&cfg.Protocol, "protocol", cfg.Protocol, "wire protocol: json or cbor")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "process id of the server on this machine, or of a wrapper that started it (its descendants count): report their CPU time during the run from /proc (CPU-seconds per million records)")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "do not verify the TLS certificate of an https:// endpoint")
	fs.StringVar(&cfg.API, "api", cfg.API, "write with putrecords or putrecord")
	fs.IntVar(&cfg.RecordSize, "record-size", cfg.RecordSize, "data bytes per record")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "records per PutRecords call")
	fs.IntVar(&cfg.Producers, "producers", cfg.Producers, "concurrent writers")
	fs.IntVar(&cfg.KeysPerShard, "keys-per-shard", cfg.KeysPerShard, "partition keys each shard's records take in turn (a call repeats keys when it sends a shard more records than this)")
	fs.IntVar(&cfg.Rate, "rate", cfg.Rate, "records/s over all producers; 0: as fast as possible")
	if mode != bench.ModeGet {
		fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to write")
	}
	switch mode {
	case bench.ModeGet:
		fs.IntVar(&cfg.Fill, "fill", defaultFill, "records to write before draining; 0 (with --create=false): drain what the stream holds")
		fs.IntVar(&cfg.Readers, "readers", 0, "readers, round robin over the shards, each reading its shard in full (default: one per shard)")
		fs.IntVar(&cfg.Limit, "limit", cfg.Limit, "GetRecords Limit")
	case bench.ModeE2E, bench.ModeFanout:
		if mode == bench.ModeE2E {
			fs.StringVar(&cfg.Consume, "consume", cfg.Consume, "how consumers read: poll (GetRecords) or subscribe (SubscribeToShard)")
			fs.DurationVar(&cfg.PollInterval, "poll-interval", cfg.PollInterval, "with --consume poll: wait between GetRecords of a caught-up shard")
			fs.IntVar(&cfg.Limit, "limit", cfg.Limit, "with --consume poll: GetRecords Limit")
		}
		fs.IntVar(&cfg.Consumers, "consumers", cfg.Consumers, "consumers, each reading every shard")
		fs.Var(intByteSize{&cfg.FrameSize}, "frame-size", "largest HTTP/2 frame subscribers accept (SETTINGS_MAX_FRAME_SIZE); the AWS SDKs keep HTTP/2's 16 KiB")
		fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "how long to wait after the writers stop for every record to be read")
		fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "write at --rate this long first, unmeasured: its records are read but count in no latency, rate or CPU figure")
	}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// byteSize is a flag of bytes with an optional unit: K, M, G (powers of
// 1000) or KiB, MiB, GiB (powers of 1024).
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	n, err := parseByteSize(s)
	*b = byteSize(n)
	return err
}

// intByteSize is a byteSize flag bound to an int.
type intByteSize struct{ p *int }

func (b intByteSize) String() string {
	if b.p == nil {
		return "0"
	}
	return strconv.Itoa(*b.p)
}

func (b intByteSize) Set(s string) error {
	n, err := parseByteSize(s)
	if err == nil && n > 1<<30 {
		err = fmt.Errorf("%s is over 1 GiB", s)
	}
	*b.p = int(n)
	return err
}

func parseByteSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size like 1048576, 512KiB or 1GiB", s)
	}
	return n * mult, nil
}
