package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicedata/sluice/internal/keyring"
)

// keysEnv clears the environment variables `sluice keys` reads, so the
// tests see only what they set; t.Setenv restores them afterwards.
func keysEnv(t *testing.T) {
	for _, v := range []string{"SLUICE_DATA_DIR", "SLUICE_MASTER_KEY_FILE", "SLUICE_REGION", "SLUICE_ACCOUNT_ID", keyring.EnvMasterKey} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

func runKeys(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"keys"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustRunKeys runs `sluice keys args...` and fails the test unless it exits 0.
func mustRunKeys(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runKeys(t, args...)
	if code != 0 {
		t.Fatalf("sluice keys %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func newMasterKeyHex(t *testing.T) string {
	t.Helper()
	out := mustRunKeys(t, "new-master-key")
	return strings.TrimSpace(out)
}

func TestKeysNewMasterKey(t *testing.T) {
	keysEnv(t)
	code, out, errOut := runKeys(t, "new-master-key")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(out) {
		t.Errorf("stdout %q is not 64 hex characters and a newline", out)
	}
	if _, err := keyring.ParseMasterKey(out); err != nil {
		t.Error(err)
	}
	if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "out of the data directory") {
		t.Errorf("stderr %q: want a one-line hint to keep the key out of the data directory", errOut)
	}
	if again := newMasterKeyHex(t); again+"\n" == out {
		t.Error("two master keys are equal")
	}
}

func TestKeysLifecycle(t *testing.T) {
	keysEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv(keyring.EnvMasterKey, newMasterKeyHex(t))
	common := []string{"--data-dir", dir, "--region", "eu-west-1", "--account-id", "123456789012"}

	out := mustRunKeys(t, append([]string{"create", "--description", "orders stream", "--alias", "alias/orders"}, common...)...)
	m := regexp.MustCompile(`(?m)^KeyId\s+(\S+)\nArn\s+(\S+)\nAliases\s+alias/orders\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create printed %q", out)
	}
	id := m[1]
	if m[2] != "arn:aws:kms:eu-west-1:123456789012:key/"+id {
		t.Errorf("ARN %s", m[2])
	}

	// Flags may follow the arguments.
	out = mustRunKeys(t, append([]string{"alias", "alias/other", "alias/orders"}, common...)...)
	if out != "alias/other -> "+id+"\n" {
		t.Errorf("alias printed %q", out)
	}
	out = mustRunKeys(t, append([]string{"rotate", "arn:aws:kms:eu-west-1:123456789012:alias/other"}, common...)...)
	if !regexp.MustCompile(`(?m)^Versions\s+2$`).MatchString(out) || !strings.Contains(out, id) {
		t.Errorf("rotate printed %q", out)
	}

	out = mustRunKeys(t, append([]string{"list"}, common...)...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^KeyId\s+Aliases\s+Versions\s+Created\s+Rotated\s+Description$`).MatchString(lines[0]) {
		t.Fatalf("list printed %q", out)
	}
	if !regexp.MustCompile(`^\S+\s+alias/aws/kinesis\s+1\s+\S+Z\s+-\s+Default key`).MatchString(lines[1]) {
		t.Errorf("default key row %q", lines[1])
	}
	if !regexp.MustCompile(`^` + id + `\s+alias/orders,alias/other\s+2\s+\S+Z\s+\S+Z\s+orders stream$`).MatchString(lines[2]) {
		t.Errorf("new key row %q", lines[2])
	}

	out = mustRunKeys(t, append([]string{"list", "--json"}, common...)...)
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if len(got) != 2 {
		t.Fatalf("list --json: %d keys", len(got))
	}
	k := got[1]
	want := map[string]any{
		"KeyId": id, "Arn": "arn:aws:kms:eu-west-1:123456789012:key/" + id,
		"Aliases": []any{"alias/orders", "alias/other"}, "Description": "orders stream", "Versions": 2.0,
	}
	for f, v := range want {
		if b1, _ := json.Marshal(k[f]); string(b1) != mustJSON(t, v) {
			t.Errorf("%s = %s, want %s", f, b1, mustJSON(t, v))
		}
	}
	for _, f := range []string{"CreationDate", "LastRotated"} {
		if s, _ := k[f].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(s) {
			t.Errorf("%s = %v, want an RFC 3339 time", f, k[f])
		}
	}
	if _, ok := got[0]["LastRotated"]; ok {
		t.Errorf("the never-rotated default key has LastRotated %v", got[0]["LastRotated"])
	}
	if a, ok := got[0]["Aliases"].([]any); !ok || len(a) != 1 {
		t.Errorf("default key Aliases = %v", got[0]["Aliases"])
	}

	// The server's view: the ring as `sluice keys` left it.
	master, _ := hex.DecodeString(os.Getenv(keyring.EnvMasterKey))
	ring, err := keyring.Open(dir, master, keyring.Options{Region: "eu-west-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := ring.Resolve("alias/orders"); err != nil || k.ID != id || k.Versions != 2 {
		t.Errorf("Resolve(alias/orders) = %+v, %v", k, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestKeysSettingsFromEnvironment(t *testing.T) {
	keysEnv(t)
	dir := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(keyFile, []byte(newMasterKeyHex(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_DATA_DIR", dir)
	t.Setenv("SLUICE_MASTER_KEY_FILE", keyFile)
	t.Setenv("SLUICE_REGION", "ap-south-1")
	out := mustRunKeys(t, "create")
	if !strings.Contains(out, "arn:aws:kms:ap-south-1:000000000000:key/") {
		t.Errorf("create printed %q", out)
	}
	if !keyring.Exists(dir) {
		t.Error("no key ring in SLUICE_DATA_DIR")
	}
	// A flag wins over the environment.
	other := t.TempDir()
	mustRunKeys(t, "list", "--data-dir", other)
	if !keyring.Exists(other) {
		t.Error("--data-dir did not win over SLUICE_DATA_DIR")
	}
}

func TestKeysMasterKeyFileWarnings(t *testing.T) {
	keysEnv(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key") // inside the data directory, and readable by all
	if err := os.WriteFile(keyFile, []byte(newMasterKeyHex(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runKeys(t, "list", "--data-dir", dir, "--master-key-file", keyFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "chmod 600") || !strings.Contains(errOut, "inside the data directory") {
		t.Errorf("stderr %q: want warnings about permissions and location", errOut)
	}
}

func TestKeysMasterKeyErrors(t *testing.T) {
	keysEnv(t)
	dir := t.TempDir()

	code, _, errOut := runKeys(t, "list", "--data-dir", dir)
	if code != 2 || !strings.Contains(errOut, "--master-key-file") || !strings.Contains(errOut, "SLUICE_MASTER_KEY") {
		t.Errorf("no master key: exit %d, stderr %q; want 2 naming --master-key-file and SLUICE_MASTER_KEY", code, errOut)
	}
	if keyring.Exists(dir) {
		t.Error("a ring was created without a master key")
	}

	t.Setenv(keyring.EnvMasterKey, "not-a-key")
	code, _, errOut = runKeys(t, "list", "--data-dir", dir)
	if code != 2 || strings.Contains(errOut, "not-a-key") || !strings.Contains(errOut, "64 hex characters") {
		t.Errorf("malformed master key: exit %d, stderr %q", code, errOut)
	}

	t.Setenv(keyring.EnvMasterKey, newMasterKeyHex(t))
	mustRunKeys(t, "create", "--data-dir", dir)
	t.Setenv(keyring.EnvMasterKey, newMasterKeyHex(t))
	code, out, errOut := runKeys(t, "list", "--data-dir", dir)
	if code != 1 || out != "" || !strings.Contains(errOut, "does not open key ring "+filepath.Join(dir, keyring.FileName)) {
		t.Errorf("wrong master key: exit %d, stdout %q, stderr %q; want 1 and the ring's error", code, out, errOut)
	}
}

func TestKeysUsageErrors(t *testing.T) {
	keysEnv(t)
	dir := t.TempDir()
	t.Setenv(keyring.EnvMasterKey, newMasterKeyHex(t))
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"alias", "alias/x", "--data-dir", dir},
		{"alias", "orders", "alias/aws/kinesis", "--data-dir", dir},
		{"alias", "alias/aws/mine", "alias/aws/kinesis", "--data-dir", dir},
		{"rotate", "--data-dir", dir},
		{"list", "extra", "--data-dir", dir},
		{"create", "--alias", "alias/aws/x", "--data-dir", dir},
		{"create", "--data-dir", dir, "--region", "moon"},
		{"create", "--data-dir", dir, "--account-id", "12"},
		{"create", "--data-dir", ""},
		{"list", "--no-such-flag"},
	} {
		code, out, errOut := runKeys(t, args...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("sluice keys %q: exit %d, stdout %q, stderr %q; want 2 and a message", args, code, out, errOut)
		}
	}
	if keyring.Exists(dir) {
		// Every case above fails before the ring is opened.
		t.Error("a usage error opened (created) the ring")
	}
	code, out, _ := runKeys(t, "help")
	if code != 0 || !strings.Contains(out, "new-master-key") {
		t.Errorf("keys help: exit %d, %q", code, out)
	}
	if code, out, _ := runKeys(t, "list", "-h"); code != 0 || out != "" {
		t.Errorf("keys list -h: exit %d, stdout %q", code, out)
	}
}

func TestKeysRuntimeErrors(t *testing.T) {
	keysEnv(t)
	dir := t.TempDir()
	t.Setenv(keyring.EnvMasterKey, newMasterKeyHex(t))
	code, _, errOut := runKeys(t, "rotate", "alias/missing", "--data-dir", dir)
	if code != 1 || !strings.Contains(errOut, "Alias arn:aws:kms:us-east-1:000000000000:alias/missing is not found.") {
		t.Errorf("rotate alias/missing: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runKeys(t, "alias", "alias/x", "0b5b7c8e-1f2a-4c3d-9e4f-5a6b7c8d9e0f", "--data-dir", dir)
	if code != 1 || !strings.Contains(errOut, "Key 'arn:aws:kms:us-east-1:000000000000:key/0b5b7c8e-1f2a-4c3d-9e4f-5a6b7c8d9e0f' does not exist") {
		t.Errorf("alias to a missing key: exit %d, stderr %q", code, errOut)
	}
	// `--` ends the flags: what follows is an argument even if it looks
	// like a flag.
	code, _, errOut = runKeys(t, "rotate", "--data-dir", dir, "--", "--json")
	if code != 1 || !strings.Contains(errOut, "Invalid keyId --json") {
		t.Errorf("rotate -- --json: exit %d, stderr %q", code, errOut)
	}
}
