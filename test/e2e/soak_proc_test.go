package e2e

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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

func mib(n int64) float64 { return float64(n) / (1 << 20) }
