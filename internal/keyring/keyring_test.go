package keyring

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestOpenCreatesRingWithDefaultKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	if Exists(dir) {
		t.Fatal("Exists before Open")
	}
	r := mustOpen(t, dir, testMaster(1))
	if !Exists(dir) {
		t.Fatal("Exists after Open is false")
	}
	keys := r.List()
	if len(keys) != 1 {
		t.Fatalf("List: %d keys, want the default key only", len(keys))
	}
	k := keys[0]
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(k.ID) {
		t.Errorf("ID %q is not a lowercase UUID v4", k.ID)
	}
	if want := "arn:aws:kms:us-east-1:123456789012:key/" + k.ID; k.ARN != want {
		t.Errorf("ARN = %q, want %q", k.ARN, want)
	}
	if !reflect.DeepEqual(k.Aliases, []string{DefaultAlias}) || k.Versions != 1 || !k.Rotated.IsZero() || k.Created.IsZero() {
		t.Errorf("default key = %+v", k)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s mode %v, want 0600", FileName, perm)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName+tmpSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tmp file left behind: %v", err)
	}
	// A second Open reads the same ring.
	if got := mustOpen(t, dir, testMaster(1)).List(); !reflect.DeepEqual(got, keys) {
		t.Errorf("reopened: %+v, want %+v", got, keys)
	}
}

func TestOpenRefusesBadMasterKeyLength(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, make([]byte, 16), testOptions()); err == nil {
		t.Fatal("Open accepted a 16-byte master key")
	}
	if Exists(dir) {
		t.Error("Open with a bad master key created a ring")
	}
}

func TestResolve(t *testing.T) {
	r := mustOpen(t, t.TempDir(), testMaster(1))
	app := mustCreate(t, r, "app")
	if err := r.SetAlias("alias/app", app.ID); err != nil {
		t.Fatal(err)
	}
	def, err := r.Resolve(DefaultAlias)
	if err != nil {
		t.Fatal(err)
	}
	const unknown = "0b5b7c8e-1f2a-4c3d-9e4f-5a6b7c8d9e0f"
	arn := "arn:aws:kms:us-east-1:123456789012:"
	tests := []struct {
		ref     string
		wantID  string
		wantErr string // exact text of an ErrNotFound error
	}{
		{ref: app.ID, wantID: app.ID},
		{ref: arn + "key/" + app.ID, wantID: app.ID},
		{ref: "alias/app", wantID: app.ID},
		{ref: arn + "alias/app", wantID: app.ID},
		{ref: DefaultAlias, wantID: def.ID},
		{ref: arn + DefaultAlias, wantID: def.ID},
		{ref: unknown, wantErr: "Key '" + arn + "key/" + unknown + "' does not exist"},
		{ref: arn + "key/" + unknown, wantErr: "Key '" + arn + "key/" + unknown + "' does not exist"},
		{ref: "alias/nope", wantErr: "Alias " + arn + "alias/nope is not found."},
		{ref: arn + "alias/nope", wantErr: "Alias " + arn + "alias/nope is not found."},
		{ref: "arn:aws:kms:eu-west-1:123456789012:key/" + app.ID, wantErr: "Invalid arn eu-west-1"},
		{ref: "arn:aws:kms:eu-west-1:123456789012:alias/app", wantErr: "Invalid arn eu-west-1"},
		{ref: "arn:aws:kms:us-east-1:999999999999:key/" + app.ID, wantErr: "Key 'arn:aws:kms:us-east-1:999999999999:key/" + app.ID + "' does not exist"},
		{ref: "arn:aws:kms:us-east-1:999999999999:alias/app", wantErr: "Alias arn:aws:kms:us-east-1:999999999999:alias/app is not found."},
		{ref: "app", wantErr: "Invalid keyId app"},
		{ref: strings.ToUpper(app.ID), wantErr: "Invalid keyId " + strings.ToUpper(app.ID)},
		{ref: "", wantErr: "Invalid keyId "},
		{ref: "arn:aws:s3:::bucket", wantErr: "Invalid keyId arn:aws:s3:::bucket"},
		{ref: arn + "grant/x", wantErr: "Invalid keyId " + arn + "grant/x"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			k, err := r.Resolve(tt.ref)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrNotFound) || err.Error() != tt.wantErr {
					t.Fatalf("Resolve(%q) = %+v, %v; want ErrNotFound %q", tt.ref, k, err, tt.wantErr)
				}
				return
			}
			if err != nil || k.ID != tt.wantID {
				t.Fatalf("Resolve(%q) = %q, %v; want %q", tt.ref, k.ID, err, tt.wantID)
			}
		})
	}
}

func TestMutationsPersist(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, testMaster(1))
	a := mustCreate(t, r, "first key")
	b := mustCreate(t, r, "second key, ünïcode")
	for _, step := range []struct{ alias, ref string }{
		{"alias/a", a.ID},
		{"alias/team/b", b.ARN},
		{"alias/moving", a.ID},
		{"alias/moving", "alias/team/b"}, // moved to b
	} {
		if err := r.SetAlias(step.alias, step.ref); err != nil {
			t.Fatalf("SetAlias(%s, %s): %v", step.alias, step.ref, err)
		}
	}
	rot, err := r.Rotate("alias/a")
	if err != nil {
		t.Fatal(err)
	}
	if rot.Versions != 2 || rot.Rotated.IsZero() || !rot.Rotated.After(a.Created) {
		t.Errorf("Rotate = %+v", rot)
	}
	before := r.List()
	if len(before) != 3 {
		t.Fatalf("List: %d keys, want 3", len(before))
	}
	got := map[string]Key{}
	for _, k := range before {
		got[k.ID] = k
	}
	if k := got[a.ID]; !reflect.DeepEqual(k.Aliases, []string{"alias/a"}) || k.Versions != 2 || k.Description != "first key" {
		t.Errorf("key a = %+v", k)
	}
	if k := got[b.ID]; !reflect.DeepEqual(k.Aliases, []string{"alias/moving", "alias/team/b"}) || k.Versions != 1 || !k.Rotated.IsZero() {
		t.Errorf("key b = %+v", k)
	}
	for i := 1; i < len(before); i++ {
		if before[i].Created.Before(before[i-1].Created) {
			t.Errorf("List not sorted by creation: %v before %v", before[i-1].Created, before[i].Created)
		}
	}
	after := mustOpen(t, dir, testMaster(1)).List()
	if !reflect.DeepEqual(after, before) {
		t.Errorf("after reopening:\n%+v\nwant\n%+v", after, before)
	}
}

func TestSetAliasRefusesBadNames(t *testing.T) {
	r := mustOpen(t, t.TempDir(), testMaster(1))
	k := mustCreate(t, r, "")
	for _, name := range []string{
		"app",
		"alias/",
		"alias/has space",
		"alias/dots.not.allowed",
		"alias/aws/kinesis",
		"alias/aws/mine",
		"alias/" + strings.Repeat("x", maxAliasNameBytes-len("alias/")+1),
		"ALIAS/x",
	} {
		if err := r.SetAlias(name, k.ID); !errors.Is(err, ErrInvalidAlias) {
			t.Errorf("SetAlias(%q) = %v, want ErrInvalidAlias", name, err)
		}
	}
	for _, name := range []string{"alias/a", "alias/A-b_c/d0", "alias/aws", "alias/awsx/y", "alias/" + strings.Repeat("x", maxAliasNameBytes-len("alias/"))} {
		if err := r.SetAlias(name, k.ID); err != nil {
			t.Errorf("SetAlias(%q) = %v", name, err)
		}
	}
	if err := r.SetAlias("alias/ok", "alias/missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetAlias to a missing key = %v, want ErrNotFound", err)
	}
	if def, err := r.Resolve(DefaultAlias); err != nil || def.ID == k.ID {
		t.Errorf("default alias moved: %+v, %v", def, err)
	}
}

func TestCreateRefusesBadDescription(t *testing.T) {
	r := mustOpen(t, t.TempDir(), testMaster(1))
	for _, d := range []string{strings.Repeat("d", maxDescriptionBytes+1), "bad \xff utf-8"} {
		if _, err := r.Create(d); err == nil {
			t.Errorf("Create accepted description of %d bytes", len(d))
		}
	}
	if _, err := r.Create(strings.Repeat("d", maxDescriptionBytes)); err != nil {
		t.Errorf("Create at the description limit: %v", err)
	}
	if n := len(r.List()); n != 2 {
		t.Errorf("%d keys, want 2", n)
	}
}

func TestRotateLimit(t *testing.T) {
	r := mustOpen(t, t.TempDir(), testMaster(1))
	k := mustCreate(t, r, "")
	for i := 1; i < maxMaterialVersions; i++ {
		if _, err := r.Rotate(k.ID); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
	}
	if _, err := r.Rotate(k.ID); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("rotation past the limit = %v, want ErrLimitExceeded", err)
	}
	if got, _ := r.Resolve(k.ID); got.Versions != maxMaterialVersions {
		t.Errorf("Versions = %d, want %d", got.Versions, maxMaterialVersions)
	}
}

func TestRotationKeepsOldDataKeys(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, testMaster(1))
	k := mustCreate(t, r, "")
	pt1, w1, err := r.GenerateDataKey(k.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rotate(k.ID); err != nil {
		t.Fatal(err)
	}
	pt2, w2, err := r.GenerateDataKey(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range [][]byte{w1, w2} {
		h, _, _, err := parseBlob(w)
		if err != nil {
			t.Fatal(err)
		}
		if h.keyID != k.ID || h.version != uint32(i+1) {
			t.Errorf("data key %d wrapped under %s v%d, want %s v%d", i, h.keyID, h.version, k.ID, i+1)
		}
	}
	for _, ring := range []*Ring{r, mustOpen(t, dir, testMaster(1))} {
		for i, c := range []struct{ pt, w []byte }{{pt1, w1}, {pt2, w2}} {
			got, err := ring.Decrypt(c.w)
			if err != nil || string(got) != string(c.pt) {
				t.Errorf("Decrypt(data key %d) = %x, %v; want %x", i, got, err, c.pt)
			}
		}
	}
}

// fileState is what TestWrongMasterKeyWritesNothing compares: everything a
// write, create or rename would change.
type fileState struct {
	content string
	mtime   time.Time
	mode    os.FileMode
	inode   uint64
}

func snapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fileState{content: string(b), mtime: fi.ModTime(), mode: fi.Mode(), inode: fi.Sys().(*syscall.Stat_t).Ino}
	}
	return out
}

func TestWrongMasterKeyWritesNothing(t *testing.T) {
	for _, removeLock := range []bool{false, true} {
		t.Run(fmt.Sprintf("lock file removed=%v", removeLock), func(t *testing.T) {
			dir := t.TempDir()
			r := mustOpen(t, dir, testMaster(1))
			k := mustCreate(t, r, "")
			if _, err := r.Rotate(k.ID); err != nil {
				t.Fatal(err)
			}
			if removeLock {
				if err := os.Remove(filepath.Join(dir, lockName)); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, dir)
			if _, ok := before[FileName]; !ok {
				t.Fatalf("no %s in %v", FileName, before)
			}
			_, err := Open(dir, testMaster(2), testOptions())
			if !errors.Is(err, ErrWrongMasterKey) {
				t.Fatalf("Open with the wrong master key = %v, want ErrWrongMasterKey", err)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, FileName)) || strings.Count(err.Error(), ". ") > 0 {
				t.Errorf("error %q should be one sentence naming the file", err)
			}
			if after := snapshot(t, dir); !reflect.DeepEqual(after, before) {
				t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
			}
			// The right key still opens it.
			if _, err := Open(dir, testMaster(1), testOptions()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConcurrentMutations has goroutines create keys and aliases through
// two Rings on one directory at once: the flock must serialize them so no
// change overwrites another.
func TestConcurrentMutations(t *testing.T) {
	const perRing = 8
	dir := t.TempDir()
	rings := []*Ring{mustOpen(t, dir, testMaster(1)), mustOpen(t, dir, testMaster(1))}
	var wg sync.WaitGroup
	ids := make([]string, 2*perRing)
	errs := make([]error, 2*perRing)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rings[i%2]
			k, err := r.Create(fmt.Sprintf("key %d", i))
			if err == nil {
				ids[i] = k.ID
				err = r.SetAlias(fmt.Sprintf("alias/g%d", i), k.ID)
			}
			if err == nil && i%4 == 0 {
				_, err = r.Rotate(k.ID)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	third := mustOpen(t, dir, testMaster(1))
	for _, r := range append(rings, third) {
		if n := len(r.List()); n != 2*perRing+1 {
			t.Errorf("List: %d keys, want %d", n, 2*perRing+1)
		}
		for i, id := range ids {
			k, err := r.Resolve(fmt.Sprintf("alias/g%d", i))
			wantVersions := 1
			if i%4 == 0 {
				wantVersions = 2
			}
			if err != nil || k.ID != id || k.Versions != wantVersions || k.Description != fmt.Sprintf("key %d", i) {
				t.Errorf("alias/g%d = %+v, %v; want key %s with %d versions", i, k, err, id, wantVersions)
			}
		}
	}
}

func TestSeesOtherInstanceWithoutReload(t *testing.T) {
	dir := t.TempDir()
	a := mustOpen(t, dir, testMaster(1))
	b := mustOpen(t, dir, testMaster(1))

	k := mustCreate(t, b, "made by b")
	if err := b.SetAlias("alias/b", k.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Resolve("alias/b"); err != nil || got.ID != k.ID {
		t.Fatalf("a.Resolve(alias/b) = %+v, %v", got, err)
	}

	// b rotates; a's next data key uses the new version.
	if _, err := b.Rotate(k.ID); err != nil {
		t.Fatal(err)
	}
	_, w, err := a.GenerateDataKey("alias/b")
	if err != nil {
		t.Fatal(err)
	}
	if h, _, _, _ := parseBlob(w); h.version != 2 {
		t.Errorf("a wrapped under version %d after b rotated, want 2", h.version)
	}

	// Decrypt of a data key wrapped under a key a has not loaded: a's
	// Decrypt re-reads on the miss.
	k2 := mustCreate(t, b, "newer")
	pt, w2, err := b.GenerateDataKey(k2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.loaded().byID[k2.ID] != nil {
		t.Fatal("test setup: a already loaded the new key")
	}
	if got, err := a.Decrypt(w2); err != nil || string(got) != string(pt) {
		t.Errorf("a.Decrypt(data key of a key b just made) = %x, %v", got, err)
	}
	// Moving an alias between keys keeps the file's size, and may keep its
	// mtime too: a must still see it.
	k3 := mustCreate(t, b, "")
	if _, err := a.Resolve(k3.ID); err != nil {
		t.Fatal(err)
	}
	fi1, _ := os.Stat(filepath.Join(dir, FileName))
	if err := b.SetAlias("alias/b", k3.ID); err != nil {
		t.Fatal(err)
	}
	if fi2, _ := os.Stat(filepath.Join(dir, FileName)); fi2.Size() != fi1.Size() {
		t.Fatalf("test setup: moving an alias changed the file size from %d to %d", fi1.Size(), fi2.Size())
	}
	if got, err := a.Resolve("alias/b"); err != nil || got.ID != k3.ID {
		t.Errorf("after b moved the alias, a.Resolve(alias/b) = %s, %v; want %s", got.ID, err, k3.ID)
	}
	if err := a.Reload(); err != nil {
		t.Errorf("Reload: %v", err)
	}
}
