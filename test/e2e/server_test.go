package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// healthTimeout bounds how long a freshly started server may take to
	// answer /healthz. Generous because -race binaries start slowly on 2 cores.
	healthTimeout = 30 * time.Second
	// stopTimeout bounds a clean shutdown after SIGTERM.
	stopTimeout = 15 * time.Second
	// healthPoll is the interval between /healthz probes.
	healthPoll = 20 * time.Millisecond
)

// server is one running `sluice serve` child process.
type server struct {
	t       testing.TB
	addr    string   // 127.0.0.1:PORT
	dataDir string   // --data-dir
	extra   []string // flags beyond --listen and --data-dir
	env     []string // extra environment variables (SLUICE_*)
	out     *syncBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	err  error         // cmd.Wait's result, valid once done is closed
}

// syncBuffer collects the child's stdout and stderr.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort asks the kernel for a free loopback port. The port is released
// before the server binds it; startServer retries if someone else took it.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer starts `sluice serve --listen 127.0.0.1:PORT --data-dir
// t.TempDir()` plus args, waits until /healthz answers 200, and registers a
// cleanup that stops it with SIGTERM and checks it exited cleanly. The
// server's output goes to the test log when the test fails.
//
// Unless args choose otherwise, the server runs with --shard-limits off:
// functional tests read one shard many times a second, which AWS's 5 reads
// a second would throttle. TestShardLimits and startServerAWSLimits cover
// the default.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	return startServerDir(t, t.TempDir(), withLimitsOff(args)...)
}

// startServerAWSLimits starts a server with the default settings
// (--shard-limits aws).
func startServerAWSLimits(t testing.TB, args ...string) *server {
	t.Helper()
	return startServerDir(t, t.TempDir(), args...)
}

func withLimitsOff(args []string) []string {
	for _, a := range args {
		if a == "--shard-limits" || strings.HasPrefix(a, "--shard-limits=") {
			return args
		}
	}
	return append(append([]string{}, args...), "--shard-limits", "off")
}

// startServerDir is startServer on a given data directory.
func startServerDir(t testing.TB, dataDir string, args ...string) *server {
	t.Helper()
	return startServerEnv(t, dataDir, nil, args...)
}

// startServerEnv is startServerDir with extra environment variables.
func startServerEnv(t testing.TB, dataDir string, env []string, args ...string) *server {
	t.Helper()
	s := &server{t: t, dataDir: dataDir, extra: args, env: env, out: &syncBuffer{}}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		lastErr = s.launch()
		if lastErr == nil {
			break
		}
		// Someone may have taken the port between freePort and bind.
		if !strings.Contains(strings.ToLower(s.out.String()), "in use") {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("start sluice: %v\n--- sluice output ---\n%s", lastErr, s.out.String())
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("--- sluice output (%s) ---\n%s", s.addr, s.out.String())
		}
	})
	return s
}

// endpoint is the server's base URL.
func (s *server) endpoint() string { return "http://" + s.addr }

// healthEndpoint is where launch waits for /healthz: the plain port, or
// the TLS port of a --tls-only server.
func (s *server) healthEndpoint() string {
	tlsOnly, tlsAddr := false, ""
	for i, a := range s.extra {
		switch {
		case a == "--tls-only":
			tlsOnly = true
		case a == "--tls-listen" && i+1 < len(s.extra):
			tlsAddr = s.extra[i+1]
		}
	}
	if tlsOnly {
		return "https://" + tlsAddr
	}
	return s.endpoint()
}

// launch starts the process and waits for /healthz.
func (s *server) launch() error {
	args := append([]string{"serve", "--listen", s.addr, "--data-dir", s.dataDir}, s.extra...)
	cmd := exec.Command(sluiceBin, args...)
	cmd.Env = append(serverBaseEnv(), s.env...)
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	fmt.Fprintf(s.out, "### %s %s\n", sluiceBin, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done, s.err = cmd, done, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(done)
	}()
	if err := waitHealthy(s.healthEndpoint(), done, healthTimeout); err != nil {
		if !s.exited() {
			_ = cmd.Process.Kill()
		}
		<-done
		return err
	}
	return nil
}

// waitHealthy polls GET /healthz until it answers 200, the process exits
// (done closes) or the timeout passes.
func waitHealthy(endpoint string, done <-chan struct{}, timeout time.Duration) error {
	// The TLS port's certificate is the server's own, self-signed; being up
	// is all that is checked here.
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("sluice exited before becoming healthy")
		default:
		}
		resp, err := client.Get(endpoint + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("GET /healthz: status %d", resp.StatusCode)
		} else {
			last = err
		}
		select {
		case <-done:
			return fmt.Errorf("sluice exited before becoming healthy")
		case <-time.After(healthPoll):
		}
	}
	return fmt.Errorf("not healthy after %v: %v", timeout, last)
}

func (s *server) exited() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits for a clean exit (status 0). A server that
// does not stop in time is killed and the test fails; so does a non-zero
// exit, which is how a -race server reports a data race.
func (s *server) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil || s.exited() {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
		s.t.Errorf("sluice did not exit within %v of SIGTERM", stopTimeout)
		return
	}
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		s.t.Errorf("sluice exited uncleanly after SIGTERM: %v", err)
	}
}

// kill9 kills the server with SIGKILL and waits for the process to be gone.
func (s *server) kill9() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil || s.exited() {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	fmt.Fprintf(s.out, "### killed with SIGKILL\n")
}

// restart starts the server again on the same address, data directory and
// flags, after a kill9 or stop.
func (s *server) restart() {
	s.t.Helper()
	if !s.exited() {
		s.t.Fatalf("restart: server still running")
	}
	if err := s.launch(); err != nil {
		s.t.Fatalf("restart sluice: %v\n--- sluice output ---\n%s", err, s.out.String())
	}
}

// serverBaseEnv is the test's environment without SLUICE_* variables, so a
// developer's own settings cannot change what the server under test does.
func serverBaseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_") {
			env = append(env, kv)
		}
	}
	return env
}

// runSluice runs the binary with args to completion (or until timeout) and
// returns its exit code and separated stdout/stderr.
func runSluice(t testing.TB, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, sluiceBin, args...)
	cmd.Env = serverBaseEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("sluice %s: still running after %v\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), timeout, o.String(), e.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run sluice: %v", err)
	}
	return code, o.String(), e.String()
}
