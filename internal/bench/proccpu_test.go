package bench

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func TestParseProcStatCPU(t *testing.T) {
	tests := []struct {
		line string
		want float64
		ok   bool
	}{
		{"31154 (sluice) S 1 31154 1 0 -1 4194560 1234 0 0 0 973 210 0 0 20 0 9 0 100 0 0", 11.83, true},
		// A command name with spaces and parentheses of its own.
		{"7 (a) b (c) R 1 7 1 0 -1 0 0 0 0 0 5 7 0 0 20 0 1 0 1 0 0", 0.12, true},
		{"7 (x) S 1 2 3", 0, false},
		{"no parenthesis at all", 0, false},
		{"7 (x) S 1 7 1 0 -1 0 0 0 0 0 -5 7 0", 0, false},
	}
	for _, tt := range tests {
		got, err := parseProcStatCPU([]byte(tt.line))
		if (err == nil) != tt.ok || (tt.ok && (got < tt.want-1e-9 || got > tt.want+1e-9)) {
			t.Errorf("parseProcStatCPU(%q) = %v, %v; want %v (ok %v)", tt.line, got, err, tt.want, tt.ok)
		}
	}
}

// spinMeasured keeps this process busy until m's report of 2 million
// records shows got >= 0.05 s of CPU, failing after 20 s, and returns it.
func spinMeasured(t *testing.T, m *cpuMeter, got func(*Result) float64) Result {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	res := Result{Records: 2_000_000}
	for got(&res) < 0.05 {
		if time.Now().After(deadline) {
			t.Fatalf("no CPU time counted after spinning 20 s: %v", got(&res))
		}
		for x, i := 1, 0; i < 10_000_000; i++ {
			x = x*31 + i
			if x == 42 {
				t.Log(x)
			}
		}
		if err := m.finish(&res); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// nearly reports whether a and b agree to 1e-9 of b: the per-million
// figure divides and multiplies, so its last bit may differ from s / 2.
func nearly(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Abs(b) }

// TestCPUMeterOwnProcess measures this process while it spins until
// /proc shows CPU time spent, and checks the per-million figure.
func TestCPUMeterOwnProcess(t *testing.T) {
	m, err := startCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	res := spinMeasured(t, m, func(r *Result) float64 { return r.ServerCPUSeconds })
	if want := res.ServerCPUSeconds / 2; !nearly(res.ServerCPUPerMillion, want) {
		t.Fatalf("per million %v, want %v for %v s over 2 M records", res.ServerCPUPerMillion, want, res.ServerCPUSeconds)
	}
	if _, err := startCPU(1 << 30); err == nil {
		t.Fatal("startCPU of a pid that does not exist: no error")
	}
}

// TestCPUMeterLoadGenerator checks the load generator's own CPU: with no
// server pid only it is measured, it grows while this process spins, it
// is never more than the processors could have given in the time, and
// its per-million figure uses the records counted.
func TestCPUMeterLoadGenerator(t *testing.T) {
	start := time.Now()
	m, err := startCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	res := spinMeasured(t, m, func(r *Result) float64 { return r.ClientCPUSeconds })
	if most := time.Since(start).Seconds() * float64(runtime.NumCPU()); res.ClientCPUSeconds > most {
		t.Fatalf("load generator CPU %v s in %v of wall time on %d processors", res.ClientCPUSeconds, time.Since(start), runtime.NumCPU())
	}
	if want := res.ClientCPUSeconds / 2; !nearly(res.ClientCPUPerMillion, want) {
		t.Fatalf("per million %v, want %v for %v s over 2 M records", res.ClientCPUPerMillion, want, res.ClientCPUSeconds)
	}
	if res.ServerCPUSeconds != 0 || res.ServerCPUPerMillion != 0 {
		t.Fatalf("pid 0: server CPU %v (%v per million), want nothing measured", res.ServerCPUSeconds, res.ServerCPUPerMillion)
	}
}

func TestParseProcStat(t *testing.T) {
	st, err := parseProcStat([]byte("31154 (sl (uice)) S 77 31154 1 0 -1 4194560 1234 0 0 0 973 210 15 2 20 0 9 0 100 0 0"))
	if err != nil || st.ppid != 77 || st.ticks != 973+210+15+2 {
		t.Fatalf("parseProcStat = %+v, %v; want parent 77, 1200 ticks", st, err)
	}
	if _, err := parseProcStat([]byte("7 (x) S 1 7 1 0 -1 0 0 0 0 0 5 7 0")); err == nil {
		t.Fatal("a line without the children's times parsed")
	}
}

// TestCPUMeterWrapper measures a shell that started a busy child: the
// child's CPU counts, as a server's does when --server-pid names the
// wrapper that started it.
func TestCPUMeterWrapper(t *testing.T) {
	cmd := exec.Command("sh", "-c", "yes > /dev/null & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	// The child: the process whose parent is the shell.
	child := 0
	deadline := time.Now().Add(10 * time.Second)
	for child == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the shell's child did not appear in /proc")
		}
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			if st, err := parseProcStat(b); err == nil && st.ppid == cmd.Process.Pid {
				child, _ = strconv.Atoi(e.Name())
			}
		}
	}
	if p, err := os.FindProcess(child); err == nil {
		defer p.Kill()
	}
	m, err := startCPU(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	own := func() float64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			t.Fatal(err)
		}
		s, err := parseProcStatCPU(b)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	from := own()
	for own() < from+0.3 {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("the busy child used no CPU")
		}
		time.Sleep(20 * time.Millisecond)
	}
	res := Result{Records: 1_000_000}
	if err := m.finish(&res); err != nil {
		t.Fatal(err)
	}
	if res.ServerCPUSeconds < 0.3 {
		t.Fatalf("the wrapper's tree used %.2f CPU-s; its child alone used 0.3 or more", res.ServerCPUSeconds)
	}
}
