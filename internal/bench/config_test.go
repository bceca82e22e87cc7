package bench

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string // "" means valid
	}{
		{"put defaults", Config{Mode: ModePut}, ""},
		{"unknown mode", Config{Mode: "soak"}, "unknown mode"},
		{"protocol", Config{Mode: ModePut, Protocol: "xml"}, "--protocol"},
		{"api", Config{Mode: ModePut, API: "putrecordz"}, "--api"},
		{"consume", Config{Mode: ModeE2E, Consume: "push"}, "--consume"},
		{"stream name", Config{Mode: ModePut, Stream: "no spaces"}, "--stream"},
		{"record size", Config{Mode: ModePut, RecordSize: maxRecordBytes + 1}, "--record-size"},
		{"batch", Config{Mode: ModePut, Batch: 501}, "--batch"},
		{"batch bytes", Config{Mode: ModePut, Batch: 500, RecordSize: 20 << 10}, "5 MiB"},
		{"negative rate", Config{Mode: ModePut, Rate: -1}, "--rate"},
		{"e2e record too small", Config{Mode: ModeE2E, RecordSize: 8}, "at least 9"},
		{"consumers", Config{Mode: ModeFanout, Consumers: 21}, "--consumers"},
		{"limit", Config{Mode: ModeGet, Fill: 1, Limit: 10001}, "--limit"},
		{"frame size small", Config{Mode: ModeE2E, Consume: "subscribe", FrameSize: 16<<10 - 1}, "--frame-size"},
		{"frame size large", Config{Mode: ModeFanout, FrameSize: 1 << 24}, "--frame-size"},
		{"frame size", Config{Mode: ModeFanout, FrameSize: 1<<24 - 1}, ""},
		{"get without fill", Config{Mode: ModeGet}, "--fill"},
		{"get existing", Config{Mode: ModeGet, NoCreate: true}, ""},
		{"readers", Config{Mode: ModeGet, Fill: 1, Readers: maxReaders + 1}, "--readers"},
		{"consumer tasks", Config{Mode: ModeFanout, Consumers: 20, Shards: 200}, "--consumers x --shards"},
		{"disk without dir", Config{Mode: ModeDisk}, "--dir"},
		{"disk block", Config{Mode: ModeDisk, Dir: "/tmp", DiskBlock: 100}, "--block"},
		{"disk size", Config{Mode: ModeDisk, Dir: "/tmp", DiskBytes: 1000, DiskBlock: 4096}, "--size"},
		{"disk", Config{Mode: ModeDisk, Dir: "/tmp"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one about %q", err, tc.err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	put := Defaults(ModePut)
	if put.Batch != 500 || put.RecordSize != 100 || put.Shards != 4 || put.Producers != 4 || put.Rate != 0 ||
		put.Duration != 10*time.Second || put.Protocol != "json" || put.API != "putrecords" || put.Stream != "" {
		t.Errorf("put defaults %+v", put)
	}
	e2e := Defaults(ModeE2E)
	if e2e.Batch != 100 || e2e.Rate != 1000 || e2e.Consumers != 1 || e2e.Consume != "poll" || e2e.PollInterval != 200*time.Millisecond {
		t.Errorf("e2e defaults %+v", e2e)
	}
	if e2e.FrameSize != 16<<10 {
		t.Errorf("e2e frame size %d, want HTTP/2's default 16 KiB", e2e.FrameSize)
	}
	if f := Defaults(ModeFanout); f.Consumers != 2 {
		t.Errorf("fanout consumers %d, want 2", f.Consumers)
	}
	one := Config{Mode: ModePut, API: "putrecord", Batch: 500}
	if err := one.Validate(); err != nil || one.Batch != 1 {
		t.Errorf("putrecord: batch %d, %v", one.Batch, err)
	}
	var a, b Config
	a.Mode, b.Mode = ModePut, ModePut
	a.Validate()
	b.Validate()
	if a.Stream == b.Stream || !streamNamePattern.MatchString(a.Stream) {
		t.Errorf("default stream names %q and %q", a.Stream, b.Stream)
	}
	if a.Credentials != DummyCredentials {
		t.Errorf("credentials %+v", a.Credentials)
	}
}
