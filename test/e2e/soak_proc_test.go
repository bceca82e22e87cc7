package e2e

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Flatness rule of the soak (checkFlat). Each series is cut to the
// producers' run, the first soakWarmupFraction of it is skipped (heaps,
// connection pools and page cache fill there), and the median of the last
// third of what remains must not exceed the median of its first third by
// more than the series' slack. Medians, not maxima, because the 100
// subscriptions resubscribe in waves every soakLifetime: a sample taken
// during a wave sees twice the subscription goroutines, and the machine is
// shared with benchmarks. The maxima are logged beside them.
const (
	soakWarmupFraction = 0.2
	// soakFlatMinRun is the shortest run whose windows hold enough samples
	// (about 8 each) for a median to mean something; shorter runs log the
	// series but do not judge them.
	soakFlatMinRun = 30 * time.Second
	// soakGoroutineSlack is how many goroutines the late median may exceed
	// the early one by (or soakCountFraction of the early median if that
	// is more). The noise is the requests in flight: each HTTP/1.1 request
	// adds one background-read goroutine, and 4 producers and 10 pollers
	// send at most 14 at once; a sample in a resubscription wave adds up
	// to 100, but no median is made of those. A leak of one goroutine per
	// resubscription adds 100 per wave, at least 100 between the windows
	// of a 60 s run and thousands in 30 minutes; one per request
	// (about 100 requests a second) adds thousands within a minute.
	soakGoroutineSlack = 50
	// soakFDSlack is the same bound for open file descriptors that the
	// stored data does not explain (see soakFDsPerSegment). The noise is an
	// HTTP/1.1 connection closed and reopened, and the profiler's
	// connection; a leaked socket or file per resubscription or per
	// request adds hundreds to thousands, as for goroutines.
	soakFDSlack = 20
	// soakFDsPerSegment: the server keeps every segment open for reads
	// while it is stored, with its offset and time indexes once sealed
	// (internal/storage/segment.go), so each roll to a new segment adds up
	// to 3 descriptors by design (bounded by retention, not by time). The
	// fd series is counted net of 3 per segment file on disk.
	soakFDsPerSegment = 3
	// soakRSSSlack is the RSS bound, in bytes, beside soakRSSFraction of
	// the early median: Go's heap target is twice the live heap and pages
	// freed by the GC go back to the kernel only slowly, so a flat server's
	// RSS wanders by tens of MiB. What it catches is growth in proportion
	// to traffic: keeping one 1 KiB object per request (~100/s) adds
	// ~90 MiB between the windows of a 30-minute run, and keeping the
	// records sent (2,000 x 200 B/s) adds that in 4 minutes. A 60 s run
	// catches only gross leaks of memory, but all leaks of goroutines and
	// descriptors.
	soakRSSSlack = 32 << 20
	// soakRSSFraction of the early median is the RSS slack where it is
	// larger than soakRSSSlack: a -race server's RSS is 5-10x, and wanders
	// in proportion.
	soakRSSFraction = 0.25
	// soakCountFraction is the same for goroutines and descriptors: it
	// matters only if a server change multiplies its baseline, and stays
	// below a per-resubscription leak's 100 up to a baseline of 1,000.
	soakCountFraction = 0.1
)

// procSample is one reading of the server process.
type procSample struct {
	at         time.Time
	rss, hwm   int64 // VmRSS, VmHWM, bytes
	goroutines int   // "goroutine profile: total N"
	fds        int   // entries of /proc/PID/fd
	segments   int   // *.seg files in the data directory
}

// procSampler reads, once a second, the server's memory (/proc/PID/status),
// open descriptors (/proc/PID/fd), segment files on disk and goroutine
// count (from its --debug-listen profiler).
type procSampler struct {
	t        *testing.T
	pid      int
	dataDir  string
	debugURL string
	tr       *http.Transport
	http     *http.Client
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
	// Written by the sampling goroutine; read after stop.
	samples []procSample
}

// startProcSampler samples srv, which must have been started with
// --debug-listen debugAddr, and fails the test if it cannot.
func startProcSampler(t *testing.T, srv *server, debugAddr string) *procSampler {
	t.Helper()
	srv.mu.Lock()
	pid := srv.cmd.Process.Pid
	srv.mu.Unlock()
	// One kept-alive connection, so that sampling adds one constant
	// connection to the server rather than one a second.
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	r := &procSampler{
		t: t, pid: pid, dataDir: srv.dataDir,
		debugURL: "http://" + debugAddr + "/debug/pprof/goroutine?debug=1",
		tr:       tr, http: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	if _, err := r.sample(); err != nil {
		tr.CloseIdleConnections()
		t.Fatalf("sample server: %v", err)
	}
	go r.loop()
	return r
}

func (r *procSampler) loop() {
	defer close(r.done)
	defer r.tr.CloseIdleConnections()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		s, err := r.sample()
		if err != nil {
			r.t.Errorf("sample server: %v", err)
			return
		}
		r.samples = append(r.samples, s)
		if len(r.samples)%10 == 0 {
			r.t.Logf("server VmRSS %.1f MiB, VmHWM %.1f MiB, %d goroutines, %d fds, %d segments",
				mib(s.rss), mib(s.hwm), s.goroutines, s.fds, s.segments)
		}
		select {
		case <-r.quit:
			return
		case <-tick.C:
		}
	}
}

// stop ends sampling (after one last sample) and waits for the goroutine.
func (r *procSampler) stop() {
	r.stopOnce.Do(func() { close(r.quit) })
	<-r.done
}

func (r *procSampler) sample() (procSample, error) {
	s := procSample{at: time.Now()}
	var err error
	if s.rss, s.hwm, err = readProcMem(r.pid); err != nil {
		return s, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", r.pid))
	if err != nil {
		return s, err
	}
	s.fds = len(fds)
	if s.segments, err = countSegments(r.dataDir); err != nil {
		return s, err
	}
	s.goroutines, err = r.goroutines()
	return s, err
}

// goroutines reads the total from the first line of the server's goroutine
// profile.
func (r *procSampler) goroutines() (int, error) {
	resp, err := r.http.Get(r.debugURL)
	if err != nil {
		return 0, fmt.Errorf("goroutine profile: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("goroutine profile: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("goroutine profile: status %d", resp.StatusCode)
	}
	line, _, _ := strings.Cut(string(body), "\n")
	n, err := strconv.Atoi(strings.TrimPrefix(line, "goroutine profile: total "))
	if err != nil {
		return 0, fmt.Errorf("goroutine profile: first line %q", line)
	}
	return n, nil
}

// countSegments counts the *.seg files under dir. A file removed during
// the walk (a trimmed segment) is not an error.
func countSegments(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".seg") {
			n++
		}
		return nil
	})
	return n, err
}

// readProcMem returns VmRSS and VmHWM of pid, in bytes.
func readProcMem(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		fields := strings.Fields(v) // "123456 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %q", pid, k, v)
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, k, err)
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS or VmHWM", pid)
	}
	return rss, hwm, nil
}

// peaks returns the highest sampled VmRSS and VmHWM.
func (r *procSampler) peaks() (rss, hwm int64) {
	for _, s := range r.samples {
		rss, hwm = max(rss, s.rss), max(hwm, s.hwm)
	}
	return rss, hwm
}

// soakWindows returns the samples of the first and last thirds of
// [from, to] after its first soakWarmupFraction.
func soakWindows(samples []procSample, from, to time.Time) (early, late []procSample) {
	start := from.Add(time.Duration(float64(to.Sub(from)) * soakWarmupFraction))
	third := to.Sub(start) / 3
	for _, s := range samples {
		switch {
		case s.at.Before(start) || s.at.After(to):
		case s.at.Before(start.Add(third)):
			early = append(early, s)
		case !s.at.Before(to.Add(-third)):
			late = append(late, s)
		}
	}
	return early, late
}

// soakSeries is one measured quantity of the server and its slack.
type soakSeries struct {
	name     string
	unit     float64 // divisor for logging: 1, or 1<<20 for MiB
	slack    float64 // fixed slack, in the series' own units
	fraction float64 // of the early median, the slack where that is more
	value    func(procSample) float64
}

var soakSeriesList = []soakSeries{
	{"RSS (MiB)", 1 << 20, soakRSSSlack, soakRSSFraction, func(s procSample) float64 { return float64(s.rss) }},
	{"goroutines", 1, soakGoroutineSlack, soakCountFraction, func(s procSample) float64 { return float64(s.goroutines) }},
	{"fds net of segments", 1, soakFDSlack, soakCountFraction, func(s procSample) float64 {
		return float64(s.fds - soakFDsPerSegment*s.segments)
	}},
}

// checkFlat logs each series' median and maximum over the early and late
// windows of the producers' run [from, to] and fails the test where the
// late median passes the early one by more than the slack (see the rule
// above soakWarmupFraction). judge false logs without judging.
func checkFlat(t *testing.T, samples []procSample, from, to time.Time, judge bool) {
	t.Helper()
	early, late := soakWindows(samples, from, to)
	if len(early) == 0 || len(late) == 0 {
		t.Logf("flatness: %d early and %d late samples over %v: nothing to compare", len(early), len(late), to.Sub(from))
		if judge {
			t.Errorf("flatness: no samples in a window")
		}
		return
	}
	raw := func(w []procSample, f func(procSample) int) (med, mx int) {
		v := make([]float64, len(w))
		for i, s := range w {
			v[i] = float64(f(s))
		}
		m, x := medianMax(v)
		return int(m), int(x)
	}
	em, ex := raw(early, func(s procSample) int { return s.fds })
	lm, lx := raw(late, func(s procSample) int { return s.fds })
	es, _ := raw(early, func(s procSample) int { return s.segments })
	ls, _ := raw(late, func(s procSample) int { return s.segments })
	t.Logf("flatness windows: %d early samples from %v, %d late from %v (run %v)",
		len(early), early[0].at.Sub(from).Round(time.Second), len(late), late[0].at.Sub(from).Round(time.Second), to.Sub(from).Round(time.Second))
	t.Logf("  raw fds: early median %d max %d; late median %d max %d; segment files %d -> %d", em, ex, lm, lx, es, ls)
	for _, sr := range soakSeriesList {
		ev, lv := make([]float64, len(early)), make([]float64, len(late))
		for i, s := range early {
			ev[i] = sr.value(s)
		}
		for i, s := range late {
			lv[i] = sr.value(s)
		}
		eMed, eMax := medianMax(ev)
		lMed, lMax := medianMax(lv)
		allowed := max(sr.slack, sr.fraction*eMed)
		t.Logf("  %s: early median %.1f max %.1f; late median %.1f max %.1f; allowed growth %.1f",
			sr.name, eMed/sr.unit, eMax/sr.unit, lMed/sr.unit, lMax/sr.unit, allowed/sr.unit)
		if judge && lMed-eMed > allowed {
			t.Errorf("%s grew: late median %.1f, early median %.1f, more than %.1f apart",
				sr.name, lMed/sr.unit, eMed/sr.unit, allowed/sr.unit)
		}
	}
}

// medianMax returns the median (the upper one of an even count) and the
// maximum of v, which must not be empty. v is sorted in place.
func medianMax(v []float64) (med, mx float64) {
	slices.Sort(v)
	return v[len(v)/2], v[len(v)-1]
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
