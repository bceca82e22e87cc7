package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicedata/sluice/internal/engine"
	"github.com/sluicedata/sluice/internal/kinesis"
	"github.com/sluicedata/sluice/internal/server"
	"github.com/sluicedata/sluice/internal/storage"
	"github.com/sluicedata/sluice/internal/vfs"
)

func runBench(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(append([]string{"bench"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, 2, "Usage: sluice bench <mode>"},
		{[]string{"soak"}, 2, `unknown mode "soak"`},
		{[]string{"put", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"put", "--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"disk", "--endpoint", "x"}, 2, "flag provided but not defined"}, // disk has no endpoint
		{[]string{"put", "--protocol", "xml"}, 1, "--protocol must be json or cbor"},
		{[]string{"disk"}, 1, "disk needs --dir"},
		{[]string{"disk", "--dir", "/tmp", "--size", "lots"}, 2, "not a size"},
		{[]string{"put", "--endpoint", "ftp://x"}, 1, "want http://host:port"},
	} {
		code, _, stderr := runBench(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("sluice bench %q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.stderr)
		}
	}
	code, stdout, _ := runBench("help")
	if code != 0 || !strings.Contains(stdout, "fanout") {
		t.Errorf("sluice bench help: %d %q", code, stdout)
	}
	code, _, stderr := runBench("e2e", "-h")
	for _, flag := range []string{"-consume", "-poll-interval", "-rate", "-consumers", "-drain", "-json"} {
		if !strings.Contains(stderr, flag) {
			t.Errorf("sluice bench e2e -h does not list %s:\n%s", flag, stderr)
		}
	}
	if code != 2 {
		t.Errorf("sluice bench e2e -h: exit %d", code)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "4KiB": 4096, "1GiB": 1 << 30, "2M": 2e6, "512B": 512, "3K": 3000} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1TiB", "GiB", "1.5MiB", "99999999999GiB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}

// TestBenchDiskJSON checks the machine-readable report of disk.
func TestBenchDiskJSON(t *testing.T) {
	code, stdout, stderr := runBench("disk", "--dir", t.TempDir(), "--size", "256KiB", "--block", "64KiB", "--syncs", "3", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Mode     string
		Settings struct {
			DiskBytes int64 `json:"disk_bytes"`
		}
		Bytes     int64
		MiBPerSec float64                       `json:"mib_per_sec"`
		Latency   map[string]map[string]float64 `json:"latency_ms"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if res.Mode != "disk" || res.Bytes != 256<<10 || res.Settings.DiskBytes != 256<<10 || res.MiBPerSec <= 0 ||
		res.Latency["block_fsync"]["count"] != 4 || res.Latency["fsync"]["count"] != 3 {
		t.Errorf("report %s", stdout)
	}
}

// TestBenchPutJSON runs sluice bench put against an in-process server and
// checks the JSON report's members.
func TestBenchPutJSON(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(vfs.Default(), t.TempDir(), storage.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Open(engine.Config{Logger: quiet}, st)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(server.New(server.Config{Logger: quiet, AccountID: "000000000000"}, kinesis.New(eng, quiet)))
	defer func() {
		ts.Close()
		eng.Close()
		st.Close()
	}()
	code, stdout, stderr := runBench("put", "--endpoint", ts.URL, "--duration", "300ms", "--batch", "20", "--shards", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	for _, key := range []string{"mode", "settings", "records", "bytes", "seconds", "records_per_sec", "mib_per_sec", "calls", "latency_ms", "errors", "throttles"} {
		if _, ok := res[key]; !ok {
			t.Errorf("report has no %q: %s", key, stdout)
		}
	}
	calls, _ := res["latency_ms"].(map[string]any)["calls"].(map[string]any)
	for _, key := range []string{"p50", "p90", "p99", "max"} {
		if v, _ := calls[key].(float64); v <= 0 {
			t.Errorf("latency_ms.calls.%s = %v: %s", key, calls[key], stdout)
		}
	}
	if res["records"].(float64) <= 0 || res["errors"].(float64) != 0 || res["mode"] != "put" {
		t.Errorf("report %s", stdout)
	}
	code, stdout, stderr = runBench("put", "--endpoint", ts.URL, "--duration", "100ms", "--batch", "5")
	if code != 0 || !strings.HasPrefix(stdout, "put: ") || !strings.Contains(stdout, "call latency ms: p50") {
		t.Errorf("summary: exit %d, %q %q", code, stdout, stderr)
	}
}
