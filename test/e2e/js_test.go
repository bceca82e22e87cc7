package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// npmInstallTimeout bounds `npm ci` in test/js on a cold cache.
	npmInstallTimeout = 10 * time.Minute
	// jsScriptTimeout bounds one run of a test/js script; the script
	// bounds itself at jsScriptSelfTimeout first and says where it stuck.
	jsScriptTimeout     = 3 * time.Minute
	jsScriptSelfTimeout = 2 * time.Minute
)

// jsTools finds node and npm. Under CI or scripts/test.sh a missing tool
// fails the test; elsewhere it skips it.
func jsTools(t *testing.T) (node, npm string) {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node")
	}
	npm, err = exec.LookPath("npm")
	if err != nil {
		missing = append(missing, "npm")
	}
	if len(missing) > 0 {
		if inCI() {
			t.Fatalf("%s not found on PATH (required under CI / SLUICE_TEST_SH)", strings.Join(missing, " and "))
		}
		t.Skipf("%s not found on PATH", strings.Join(missing, " and "))
	}
	return node, npm
}

// jsInstall installs test/js's dependencies when node_modules is missing:
// `npm ci` from the committed package-lock.json, or `npm install` if there
// is no lock file. Several test processes may start at once (go test ./...
// and go test -race ./...), and npm ci first deletes node_modules, so the
// check and the install run under an exclusive flock; once complete, no
// one removes the installation.
func jsInstall(t *testing.T, npm, dir string) {
	t.Helper()
	lockPath := filepath.Join(os.TempDir(), "sluice-test-js-npm.lock")
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("open %s: %v", lockPath, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lockPath, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	// npm writes node_modules/.package-lock.json when an install completes.
	_, errSDK := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-kinesis", "package.json"))
	_, errDone := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if errSDK == nil && errDone == nil {
		return
	}
	args := []string{"ci", "--no-audit", "--no-fund"}
	if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); errors.Is(err, os.ErrNotExist) {
		args[0] = "install"
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmInstallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("npm %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out.String())
	}
	t.Logf("npm %s in %s took %v", strings.Join(args, " "), dir, time.Since(start).Round(time.Millisecond))
}

// runNode runs a script in dir with args and extra environment variables,
// and fails the test with its output if it exits non-zero.
func runNode(t *testing.T, node, dir string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), jsScriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(jsBaseEnv(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node %s: still running after %v\n%s", strings.Join(args, " "), jsScriptTimeout, out.String())
	}
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	t.Logf("node %s:\n%s", strings.Join(args, " "), out.String())
}

// jsBaseEnv is the test's environment without AWS_* and NODE_EXTRA_CA_CERTS,
// so a developer's AWS profile or CA settings cannot change what the SDK does.
func jsBaseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "NODE_EXTRA_CA_CERTS=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// TestJavaScriptSDK runs test/js/efo.mjs, the AWS SDK for JavaScript v3 with
// its default HTTP/2 request handler, against the TLS port (h2 by ALPN, the
// self-signed certificate trusted through NODE_EXTRA_CA_CERTS) and against
// the plain port (h2c with prior knowledge): create a stream, register a
// consumer, SubscribeToShard at LATEST, put 10 records and receive them in
// order with the sequence numbers PutRecord returned.
func TestJavaScriptSDK(t *testing.T) {
	node, npm := jsTools(t)
	dir := filepath.Join(repoRoot, "test", "js")
	jsInstall(t, npm, dir)

	tlsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	srv := startServer(t, "--tls-listen", tlsAddr)
	caFile := filepath.Join(srv.dataDir, "tls-cert.pem")
	if _, err := os.Stat(caFile); err != nil {
		t.Fatalf("TLS certificate: %v", err)
	}
	timeout := fmt.Sprintf("SLUICE_JS_TIMEOUT_MS=%d", jsScriptSelfTimeout.Milliseconds())

	t.Run("tls", func(t *testing.T) {
		runNode(t, node, dir, []string{"NODE_EXTRA_CA_CERTS=" + caFile, timeout},
			"efo.mjs", "https://"+tlsAddr, "js-efo-tls", caFile)
	})
	t.Run("h2c", func(t *testing.T) {
		runNode(t, node, dir, []string{timeout}, "efo.mjs", srv.endpoint(), "js-efo-h2c")
	})
}
