package keyring

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// editFile rewrites dir's key ring through edit, which gets the decoded
// JSON object; if remac, the MAC is recomputed under master so only the
// edit itself is wrong.
func editFile(t *testing.T, dir string, master []byte, remac bool, edit func(f *fileRing)) {
	t.Helper()
	path := filepath.Join(dir, FileName)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f fileRing
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	edit(&f)
	if remac {
		f.MAC = base64.StdEncoding.EncodeToString(fileMAC(&f, deriveSecrets(master)))
	}
	out, err := json.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func flipBase64(s string) string {
	b, _ := base64.StdEncoding.DecodeString(s)
	b[len(b)/2] ^= 1
	return base64.StdEncoding.EncodeToString(b)
}

func TestTamperedFile(t *testing.T) {
	type want int
	const (
		corrupt want = iota
		wrongMaster
		incompatible
	)
	master := testMaster(1)
	edits := []struct {
		name  string
		remac bool
		edit  func(f *fileRing)
		raw   func(b []byte) []byte // instead of edit
		want  want
	}{
		{name: "material flipped", edit: func(f *fileRing) { f.Keys[0].Material[0] = flipBase64(f.Keys[0].Material[0]) }},
		{name: "alias moved", edit: func(f *fileRing) { f.Aliases[DefaultAlias] = f.Keys[1].ID }},
		{name: "description changed", edit: func(f *fileRing) { f.Keys[1].Description = "mine now" }},
		{name: "key removed", edit: func(f *fileRing) { f.Keys = f.Keys[:1] }},
		{name: "mac removed", edit: func(f *fileRing) { f.MAC = "" }},
		{name: "mac not base64", edit: func(f *fileRing) { f.MAC = "!!" }},
		// With the MAC recomputed: what only a bug in a writer could do.
		{name: "check damaged", remac: true, edit: func(f *fileRing) { f.Check = flipBase64(f.Check) }},
		{name: "material sealed under another key id", remac: true, edit: func(f *fileRing) {
			f.Keys[0].Material[0], f.Keys[1].Material[0] = f.Keys[1].Material[0], f.Keys[0].Material[0]
		}},
		{name: "material versions swapped", remac: true, edit: func(f *fileRing) {
			m := f.Keys[1].Material
			m[0], m[1] = m[1], m[0]
		}},
		{name: "material too short", remac: true, edit: func(f *fileRing) { f.Keys[0].Material[0] = "AAAA" }},
		{name: "no material", remac: true, edit: func(f *fileRing) { f.Keys[0].Material = nil }},
		{name: "duplicate key id", remac: true, edit: func(f *fileRing) { f.Keys = append(f.Keys, f.Keys[0]) }},
		{name: "alias to a missing key", remac: true, edit: func(f *fileRing) { f.Aliases["alias/x"] = "nope" }},
		{name: "bad key id", remac: true, edit: func(f *fileRing) { f.Keys[1].ID = strings.ToUpper(f.Keys[1].ID) }},
		{name: "bad created time", remac: true, edit: func(f *fileRing) { f.Keys[0].Created = "yesterday" }},
		{name: "default alias missing", remac: true, edit: func(f *fileRing) { delete(f.Aliases, DefaultAlias) }},
		{name: "bad alias name", remac: true, edit: func(f *fileRing) { f.Aliases["alias/a b"] = f.Keys[0].ID }},
		// Both the check and the MAC fail: indistinguishable from a wrong
		// master key, and reported as one.
		{name: "check damaged, mac stale", edit: func(f *fileRing) { f.Check = flipBase64(f.Check) }, want: wrongMaster},
		{name: "newer version", edit: func(f *fileRing) { f.Version = 2 }, want: incompatible},
		{name: "version missing", raw: func(b []byte) []byte { return []byte(strings.Replace(string(b), `"version": 1,`, "", 1)) }},
		{name: "truncated", raw: func(b []byte) []byte { return b[:len(b)/2] }},
		{name: "not JSON", raw: func([]byte) []byte { return []byte("SLDK\x00garbage") }},
		{name: "empty", raw: func([]byte) []byte { return nil }},
		{name: "trailing garbage", raw: func(b []byte) []byte { return append(b, "{}"...) }},
		{name: "unknown field", raw: func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"version": 1,`, `"version": 1, "extra": true,`, 1))
		}},
		{name: "wrong type", raw: func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"version": 1,`, `"version": "1",`, 1))
		}},
	}
	for _, tt := range edits {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := mustOpen(t, dir, master)
			k := mustCreate(t, r, "second")
			if _, err := r.Rotate(k.ID); err != nil {
				t.Fatal(err)
			}
			if tt.raw != nil {
				path := filepath.Join(dir, FileName)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, tt.raw(b), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				editFile(t, dir, master, tt.remac, tt.edit)
			}
			tampered, _ := os.ReadFile(filepath.Join(dir, FileName))
			check := func(what string, err error) {
				t.Helper()
				var ce *CorruptionError
				switch tt.want {
				case corrupt:
					if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.File != filepath.Join(dir, FileName) {
						t.Errorf("%s = %v, want a CorruptionError naming the file", what, err)
					}
				case wrongMaster:
					if !errors.Is(err, ErrWrongMasterKey) {
						t.Errorf("%s = %v, want ErrWrongMasterKey", what, err)
					}
				case incompatible:
					if !errors.Is(err, ErrIncompatibleVersion) {
						t.Errorf("%s = %v, want ErrIncompatibleVersion", what, err)
					}
				}
			}
			_, err := Open(dir, master, testOptions())
			check("Open", err)
			// A Ring opened before the damage reports it too, and keeps
			// answering what it had loaded where it can.
			_, err = r.Resolve(k.ID)
			check("Resolve", err)
			_, _, err = r.GenerateDataKey(DefaultAlias)
			check("GenerateDataKey", err)
			check("Reload", r.Reload())
			_, err = r.Create("")
			check("Create", err)
			if n := len(r.List()); n != 2 {
				t.Errorf("List after damage: %d keys, want the 2 last loaded", n)
			}
			// Nothing rewrote the damaged file.
			if now, _ := os.ReadFile(filepath.Join(dir, FileName)); string(now) != string(tampered) {
				t.Error("the damaged file was rewritten")
			}
		})
	}
}

func TestCorruptionErrorOffset(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir, testMaster(1))
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(`{"version": 1, "keys": [}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, testMaster(1), testOptions())
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Offset != 25 {
		t.Fatalf("Open = %#v, want a CorruptionError at byte 25", err)
	}
	if !strings.Contains(err.Error(), "at byte 25") {
		t.Errorf("error %q does not give the offset", err)
	}
}

func TestMissingFileAfterOpen(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, testMaster(1))
	if err := os.Remove(filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Create with the file gone = %v, want ErrNotExist", err)
	}
	if _, err := r.Resolve(DefaultAlias); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Resolve with the file gone = %v, want ErrNotExist", err)
	}
	if Exists(dir) {
		t.Error("a mutation recreated the missing ring")
	}
}
