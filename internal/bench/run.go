package bench

import (
	"context"
	"fmt"
	"time"
)

// cleanupWithin bounds the stream's deletion at the end of a run, which
// also runs after the run's context was cancelled.
const cleanupWithin = 30 * time.Second

// maxFillDuration bounds get's fill phase.
const maxFillDuration = time.Hour

// runner is one run against an endpoint.
type runner struct {
	cfg       *Config
	cl        *client
	k         *caller // the control plane's
	streamARN string
	shards    []shardInfo
	keys      [][]string
	consumers []string // names of consumers registered by the run
}

// Run runs the benchmark that cfg describes and returns its report. An
// error means the run could not be set up or finished (endpoint
// unreachable, stream not created); failures of single calls during the
// run are counted in the Result instead. Cancelling ctx ends the run
// early with what it measured so far.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Mode == ModeDisk {
		return runDisk(ctx, &cfg)
	}
	cl, err := newClient(&cfg)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	r := &runner{cfg: &cfg, cl: cl, k: cl.caller()}
	created, err := r.setup(ctx)
	defer r.cleanup(ctx, created)
	if err != nil {
		return nil, err
	}
	var res *Result
	switch cfg.Mode {
	case ModePut:
		res, err = r.put(ctx)
	case ModeGet:
		res, err = r.get(ctx)
	case ModeE2E, ModeFanout:
		res, err = r.e2e(ctx)
	}
	if res != nil {
		res.Settings = cfg.settings()
	}
	return res, err
}

// setup creates the stream (unless NoCreate) and finds its open shards and
// a partition key set for each. created says whether the run made the
// stream, and so must delete it.
func (r *runner) setup(ctx context.Context) (created bool, err error) {
	cfg := r.cfg
	if !cfg.NoCreate {
		err := r.k.createStream(ctx, cfg.Stream, cfg.Shards)
		if isType(err, "ResourceInUseException") {
			return false, fmt.Errorf("stream %s: %w", cfg.Stream, errStreamExists)
		}
		if err != nil {
			// A stream whose creation answered an error may exist all the
			// same (a timeout); delete it too.
			return true, err
		}
		created = true
	}
	if r.streamARN, err = r.k.waitActive(ctx, cfg.Stream); err != nil {
		return created, err
	}
	if r.shards, err = r.k.listOpenShards(ctx, cfg.Stream); err != nil {
		return created, err
	}
	cfg.Shards = len(r.shards)
	if cfg.Readers == 0 {
		cfg.Readers = cfg.Shards
	}
	r.keys, err = partitionKeys(r.shards, cfg.KeysPerShard)
	return created, err
}

// cleanup deletes the stream the run created, unless Keep; a stream it
// keeps loses the consumers the run registered.
func (r *runner) cleanup(ctx context.Context, created bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupWithin)
	defer cancel()
	if created && !r.cfg.Keep {
		r.k.deleteStream(ctx, r.cfg.Stream) // best effort: the report matters more
		return
	}
	for _, name := range r.consumers {
		r.k.control(ctx, "DeregisterStreamConsumer", describeConsumerInput{StreamARN: r.streamARN, ConsumerName: name}, nil)
	}
}

// put is the put mode: write for Duration at Rate.
func (r *runner) put(ctx context.Context) (*Result, error) {
	ctr := &counters{}
	cpu, err := startCPU(r.cfg.ServerPID)
	if err != nil {
		return nil, err
	}
	p := startProgress(r.cfg.Progress, "put", ctr)
	elapsed, lat, err := r.runPut(ctx, putPlan{duration: r.cfg.Duration, rate: r.cfg.Rate}, ctr)
	p.end()
	if err != nil {
		return nil, err
	}
	res := ctr.result(ModePut, elapsed)
	res.Latency.Calls = lat.Summary()
	return &res, cpu.finish(&res)
}
