package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// sluiceBin is the path of the binary built once by TestMain.
var sluiceBin string

// repoRoot is the module root, found from this file's location so that the
// tests work from any working directory.
var repoRoot string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := findRepoRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: find repository root: %v\n", err)
		return 2
	}
	repoRoot = root

	// SLUICE_E2E_BIN runs the tests against a prebuilt binary instead.
	if bin := os.Getenv("SLUICE_E2E_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: SLUICE_E2E_BIN: %v\n", err)
			return 2
		}
		sluiceBin = abs
		return runTests(m)
	}

	dir, err := os.MkdirTemp("", "sluice-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: temp dir: %v\n", err)
		return 2
	}
	defer os.RemoveAll(dir)

	sluiceBin = filepath.Join(dir, "sluice")
	if err := buildSluice(sluiceBin); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 2
	}

	return runTests(m)
}

// runTests runs the tests, then checks for leaked goroutines.
func runTests(m *testing.M) int {
	code := m.Run()
	closeSharedTransports()
	if code == 0 {
		// Every goroutine a test started (writers, readers, process waiters)
		// must have been stopped by the test that owns it.
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: goroutine leak: %v\n", err)
			return 1
		}
	}
	return code
}

// findRepoRoot walks up from this source file to the directory with go.mod.
func findRepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("runtime.Caller failed")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", filepath.Dir(file))
		}
		dir = parent
	}
}

// buildSluice builds ./cmd/sluice. When the tests themselves run under the
// race detector, the server is built with -race too, so that data races in
// the server fail the e2e tests (a racy server exits non-zero on shutdown).
// SLUICE_E2E_RACE=0 turns that off.
func buildSluice(out string) error {
	args := []string{"build", "-o", out}
	if raceEnabled && os.Getenv("SLUICE_E2E_RACE") != "0" {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/sluice")
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, buf.String())
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s (race=%v) in %v\n", out,
		raceEnabled && os.Getenv("SLUICE_E2E_RACE") != "0", time.Since(start).Round(time.Millisecond))
	return nil
}

// inCI reports whether the tests run under CI (CI=true) or from
// scripts/test.sh (SLUICE_TEST_SH=1), where missing tools are failures
// rather than reasons to skip and the crash test runs its full rounds.
func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1" || os.Getenv("SLUICE_TEST_SH") == "1"
}
