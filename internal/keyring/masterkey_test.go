package keyring

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseMasterKey(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	hx := hex.EncodeToString(key)
	b64 := base64.StdEncoding.EncodeToString(key)
	for _, s := range []string{hx, strings.ToUpper(hx), b64, "  " + hx + "\n", "\t" + b64 + "\r\n"} {
		got, err := ParseMasterKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseMasterKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{
		"",
		hx[:62],
		hx + "00",
		"zz" + hx[2:],
		base64.StdEncoding.EncodeToString(key[:31]),
		base64.StdEncoding.EncodeToString(append(key, 0)),
		base64.RawStdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32)),
		"correct horse battery staple",
	} {
		_, err := ParseMasterKey(s)
		if err == nil {
			t.Errorf("ParseMasterKey(%q) accepted it", s)
			continue
		}
		if s != "" && strings.Contains(err.Error(), strings.TrimSpace(s)) {
			t.Errorf("error %q repeats the key", err)
		}
		if !strings.Contains(err.Error(), "64 hex characters") || !strings.Contains(err.Error(), "base64") {
			t.Errorf("error %q does not name the accepted forms", err)
		}
	}
}

func TestLoadMasterKey(t *testing.T) {
	dir := t.TempDir()
	key, other := NewMasterKey(), NewMasterKey()
	if len(key) != 32 || bytes.Equal(key, other) {
		t.Fatalf("NewMasterKey: %x, %x", key, other)
	}
	file := filepath.Join(dir, "master.key")
	if err := os.WriteFile(file, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadMasterKey(file, hex.EncodeToString(other)); err != nil || !bytes.Equal(got, key) {
		t.Errorf("file and env: %x, %v; want the file's key", got, err)
	}
	if got, err := LoadMasterKey("", base64.StdEncoding.EncodeToString(other)); err != nil || !bytes.Equal(got, other) {
		t.Errorf("env: %x, %v", got, err)
	}
	if got, err := LoadMasterKey("", ""); got != nil || err != nil {
		t.Errorf("neither: %x, %v; want nil, nil", got, err)
	}
	if _, err := LoadMasterKey(filepath.Join(dir, "missing"), ""); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadMasterKey("", "secret-ish"); err == nil || strings.Contains(err.Error(), "secret-ish") || !strings.Contains(err.Error(), EnvMasterKey) {
		t.Errorf("bad env value: %v", err)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMasterKey(bad, ""); err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad file: %v", err)
	}
	huge := filepath.Join(dir, "huge.key")
	if err := os.WriteFile(huge, bytes.Repeat([]byte("a"), 10000), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMasterKey(huge, ""); err == nil {
		t.Error("a 10000-byte key file was accepted")
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestFilePermsTooOpen(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		mode os.FileMode
		open bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o604, true}, {0o644, true}} {
		p := filepath.Join(dir, c.mode.String())
		if err := os.WriteFile(p, []byte("k"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, c.mode); err != nil {
			t.Fatal(err)
		}
		if got := FilePermsTooOpen(p); got != c.open {
			t.Errorf("FilePermsTooOpen(%v) = %v", c.mode, got)
		}
	}
	if FilePermsTooOpen(filepath.Join(dir, "missing")) {
		t.Error("FilePermsTooOpen(missing) = true")
	}
}
