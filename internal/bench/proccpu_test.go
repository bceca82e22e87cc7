package bench

import (
	"os"
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

// TestCPUMeterOwnProcess measures this process while it spins until
// /proc shows CPU time spent, and checks the per-million figure.
func TestCPUMeterOwnProcess(t *testing.T) {
	m, err := startCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	res := Result{Records: 2_000_000}
	for res.ServerCPUSeconds < 0.05 {
		if time.Now().After(deadline) {
			t.Fatalf("no CPU time seen in /proc after spinning 20 s: %v", res.ServerCPUSeconds)
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
	if want := res.ServerCPUSeconds / 2; res.ServerCPUPerMillion != want {
		t.Fatalf("per million %v, want %v for %v s over 2 M records", res.ServerCPUPerMillion, want, res.ServerCPUSeconds)
	}
	if _, err := startCPU(1 << 30); err == nil {
		t.Fatal("startCPU of a pid that does not exist: no error")
	}
	var none cpuMeter
	r := Result{Records: 1}
	if err := none.finish(&r); err != nil || r.ServerCPUSeconds != 0 {
		t.Fatalf("pid 0: %v %v, want nothing measured", r.ServerCPUSeconds, err)
	}
}
