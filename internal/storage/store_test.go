package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedata/sluice/internal/vfs"
)

func TestOpenLockAndVersion(t *testing.T) {
	fs := vfs.NewMem()
	s := openStore(t, fs, Options{})
	if _, err := Open(fs, memDir, quietOptions(t, Options{})); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, fs, Options{}) // lock released, version accepted
	s2.Close()

	f, _ := fs.Create(memDir + "/VERSION")
	f.Write([]byte("sluice-storage-format 7\n"))
	f.Close()
	_, err := Open(fs, memDir, quietOptions(t, Options{}))
	if !errors.Is(err, ErrIncompatibleVersion) || !strings.Contains(err.Error(), "7") {
		t.Fatalf("Open with version 7 = %v, want ErrIncompatibleVersion naming 7", err)
	}
	f, _ = fs.Create(memDir + "/VERSION")
	f.Write([]byte("garbage"))
	f.Close()
	_, err = Open(fs, memDir, quietOptions(t, Options{}))
	if ce := asCorruption(t, err); !strings.HasSuffix(ce.File, "VERSION") {
		t.Fatalf("corruption names %s", ce.File)
	}
}

func TestOpenOS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(vfs.Default(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := createShard(t, s, "abc/000000000001")
	mustAppend(t, l, entries(0, 3, 10), 5)
	if _, err := Open(vfs.Default(), dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"LOCK", "VERSION", "catalog.db",
		"shards/abc/000000000001/00000000000000000000.seg",
		"shards/abc/000000000001/00000000000000000000.idx",
		"shards/abc/000000000001/00000000000000000000.tix"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	s, err = Open(vfs.Default(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err = s.OpenShard("abc/000000000001")
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, l, 0), 0, 10)
}

func TestOpenUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores permission bits; inject the failure instead.
		fs := vfs.NewErrorFS(vfs.NewMem(), vfs.FailFrom(vfs.OpMkdirAll, nil, 1))
		_, err := Open(fs, memDir, quietOptions(t, Options{}))
		if err == nil || !strings.Contains(err.Error(), "create data directory") || !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("Open on failing mkdir = %v", err)
		}
		return
	}
	parent := t.TempDir()
	os.Chmod(parent, 0o500)
	defer os.Chmod(parent, 0o700)
	_, err := Open(vfs.Default(), filepath.Join(parent, "data"), Options{})
	if err == nil || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Open in read-only dir = %v, want a permission error", err)
	}
}

func TestOpenBadOptions(t *testing.T) {
	for _, o := range []Options{{SegmentBytes: -1}, {SegmentBytes: maxSegmentBytes + 1}, {IndexIntervalBytes: -1},
		{SegmentMaxAge: -1}, {SegmentMaxAge: minSegmentMaxAge - 1}, {SegmentMaxAge: maxSegmentMaxAge + 1}} {
		if _, err := Open(vfs.NewMem(), memDir, quietOptions(t, o)); err == nil {
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}

func TestShardLifecycle(t *testing.T) {
	fs := vfs.NewMem()
	s := openStore(t, fs, Options{})
	for _, bad := range []string{"", "/a", "a/", "a//b", "a/../b", "a b", "a/./b", strings.Repeat("x", 513)} {
		if _, err := s.CreateShard(bad); err == nil {
			t.Errorf("CreateShard(%q) succeeded", bad)
		}
	}
	if _, err := s.OpenShard("nope/1"); !errors.Is(err, ErrShardNotFound) {
		t.Fatalf("OpenShard(missing) = %v", err)
	}
	l := createShard(t, s, "st/1")
	nested := createShard(t, s, "st/1/child") // a key below another key
	mustAppend(t, l, entries(0, 2, 3), 1)
	mustAppend(t, nested, entries(0, 1, 3), 1)
	if _, err := s.CreateShard("st/1"); !errors.Is(err, ErrShardExists) {
		t.Fatalf("CreateShard(existing) = %v", err)
	}
	if again, err := s.OpenShard("st/1"); err != nil || again != l {
		t.Fatalf("OpenShard(open key) = %p, %v; want the same log %p", again, err, l)
	}
	if err := s.DeleteShard("st/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(entries(2, 1, 3), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append to deleted shard = %v", err)
	}
	if _, err := s.OpenShard("st/1"); !errors.Is(err, ErrShardNotFound) {
		t.Fatalf("OpenShard(deleted) = %v", err)
	}
	checkRecords(t, readAll(t, nested, 0), 0, 3) // the nested shard survives
	if err := s.DeleteShard("st/1/child"); err != nil {
		t.Fatal(err)
	}
	if names, _ := fs.List(memDir + "/shards"); len(names) != 0 {
		t.Fatalf("shards/ not empty after deletes: %v", names)
	}
	if err := s.DeleteShard("st/1"); !errors.Is(err, ErrShardNotFound) {
		t.Fatalf("DeleteShard(missing) = %v", err)
	}
	l = createShard(t, s, "st/1") // re-create after delete starts empty
	if l.End() != 0 {
		t.Fatalf("re-created shard End = %d", l.End())
	}
	// Deletion survives a crash once it returns.
	if err := s.DeleteShard("st/1"); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, fs.CrashClone(), Options{})
	if _, err := s2.OpenShard("st/1"); !errors.Is(err, ErrShardNotFound) {
		t.Fatalf("deleted shard after crash: %v", err)
	}
}

func TestStoreCloseClosesShards(t *testing.T) {
	fs := vfs.NewMem()
	s := openStore(t, fs, Options{})
	l := createShard(t, s, "a")
	mustAppend(t, l, entries(0, 1, 1), 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(entries(1, 1, 1), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Store.Close = %v", err)
	}
	if _, err := s.OpenShard("a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("OpenShard after Store.Close = %v", err)
	}
}

func TestCatalog(t *testing.T) {
	catPath := filepath.Join(t.TempDir(), "cat.db")
	fs := vfs.NewMem()
	s := openStore(t, fs, Options{CatalogPath: catPath})
	c := s.Catalog()
	err := c.Update(func(tx *CatalogTx) error {
		for _, kv := range [][2]string{{"b", "2"}, {"a", "1"}, {"c", "3"}} {
			if err := tx.Put("streams", kv[0], []byte(kv[1])); err != nil {
				return err
			}
		}
		return tx.Put("other", "x", nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := c.Update(func(tx *CatalogTx) error {
		tx.Put("streams", "d", []byte("4"))
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failed Update = %v", err)
	}
	if err := c.Update(func(tx *CatalogTx) error { return tx.Delete("streams", "c") }); err != nil {
		t.Fatal(err)
	}
	if err := c.Update(func(tx *CatalogTx) error { return tx.Delete("nobucket", "c") }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, fs, Options{CatalogPath: catPath})
	err = s.Catalog().View(func(tx *CatalogTx) error {
		var got []string
		tx.ForEach("streams", func(k string, v []byte) error { got = append(got, k+"="+string(v)); return nil })
		if strings.Join(got, ",") != "a=1,b=2" {
			t.Errorf("ForEach = %v", got)
		}
		v := tx.Get("streams", "a")
		v[0] = 'X' // a copy: must not break bbolt's read-only mapping
		if tx.Get("streams", "missing") != nil || tx.Get("nobucket", "a") != nil {
			t.Error("Get of missing key or bucket not nil")
		}
		if v := tx.Get("other", "x"); v == nil || len(v) != 0 {
			t.Errorf("Get of empty value = %v", v)
		}
		if err := tx.Put("streams", "z", []byte("1")); err == nil {
			t.Error("Put in View succeeded")
		}
		if err := tx.Delete("streams", "a"); err == nil {
			t.Error("Delete in View succeeded")
		}
		return tx.ForEach("nobucket", func(string, []byte) error { return errors.New("called") })
	})
	if err != nil {
		t.Fatal(err)
	}
}
