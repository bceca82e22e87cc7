package vfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// implementations runs the contract suite against every FS: the OS, MemFS,
// and an ErrorFS that injects nothing over each.
func implementations(t *testing.T) map[string]func(t *testing.T) (FS, string) {
	never := InjectorFunc(func(Op, string) error { return nil })
	return map[string]func(t *testing.T) (FS, string){
		"os":       func(t *testing.T) (FS, string) { return Default(), t.TempDir() },
		"mem":      func(t *testing.T) (FS, string) { return NewMem(), "/data" },
		"errorfs":  func(t *testing.T) (FS, string) { return NewErrorFS(Default(), never), t.TempDir() },
		"errormem": func(t *testing.T) (FS, string) { return NewErrorFS(NewMem(), never), "/data" },
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestContract(t *testing.T) {
	for name, mk := range implementations(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("files", func(t *testing.T) { fs, dir := mk(t); testFiles(t, fs, dir) })
			t.Run("dirs", func(t *testing.T) { fs, dir := mk(t); testDirs(t, fs, dir) })
			t.Run("lock", func(t *testing.T) { fs, dir := mk(t); testLock(t, fs, dir) })
		})
	}
}

func testFiles(t *testing.T, fs FS, dir string) {
	must(t, fs.MkdirAll(dir, 0o755))
	p := filepath.Join(dir, "f")
	f, err := fs.Create(p)
	must(t, err)
	if _, err := f.Write([]byte("hello ")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("world"), 6); err != nil {
		t.Fatal(err)
	}
	must(t, f.Sync())
	buf := make([]byte, 5)
	if n, err := f.ReadAt(buf, 6); n != 5 || err != nil || string(buf) != "world" {
		t.Fatalf("ReadAt = %d, %v, %q", n, err, buf)
	}
	if n, err := f.ReadAt(buf, 9); n != 2 || err != io.EOF {
		t.Fatalf("ReadAt past end = %d, %v; want 2, EOF", n, err)
	}
	must(t, f.Truncate(5))
	fi, err := f.Stat()
	must(t, err)
	if fi.Size() != 5 {
		t.Fatalf("size after truncate = %d", fi.Size())
	}
	must(t, f.Close())

	r, err := fs.Open(p)
	must(t, err)
	got, err := io.ReadAll(r)
	must(t, err)
	if string(got) != "hello" {
		t.Fatalf("read back %q", got)
	}
	if _, err := r.Write([]byte("x")); err == nil {
		t.Fatal("write to read-only file succeeded")
	}
	must(t, r.Close())

	if _, err := fs.OpenReadWrite(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenReadWrite(missing) = %v, want ErrNotExist", err)
	}
	rw, err := fs.OpenReadWrite(p)
	must(t, err)
	_, err = rw.WriteAt([]byte("J"), 0)
	must(t, err)
	must(t, rw.Close())
	r, err = fs.Open(p)
	must(t, err)
	got, _ = io.ReadAll(r)
	r.Close()
	if string(got) != "Jello" {
		t.Fatalf("after OpenReadWrite write: %q", got)
	}
}

func testDirs(t *testing.T, fs FS, dir string) {
	sub := filepath.Join(dir, "a", "b")
	must(t, fs.MkdirAll(sub, 0o755))
	for _, n := range []string{"z", "y", "x"} {
		f, err := fs.Create(filepath.Join(sub, n))
		must(t, err)
		must(t, f.Close())
	}
	names, err := fs.List(sub)
	must(t, err)
	if strings.Join(names, ",") != "x,y,z" {
		t.Fatalf("List = %v", names)
	}
	must(t, fs.Rename(filepath.Join(sub, "x"), filepath.Join(sub, "w")))
	must(t, fs.Remove(filepath.Join(sub, "y")))
	must(t, fs.SyncDir(sub))
	names, _ = fs.List(sub)
	if strings.Join(names, ",") != "w,z" {
		t.Fatalf("List after rename/remove = %v", names)
	}
	if err := fs.Remove(sub); err == nil {
		t.Fatal("Remove of a non-empty directory succeeded")
	}
	fi, err := fs.Stat(sub)
	must(t, err)
	if !fi.IsDir() {
		t.Fatal("Stat(dir).IsDir() = false")
	}
	must(t, fs.RemoveAll(filepath.Join(dir, "a")))
	must(t, fs.RemoveAll(filepath.Join(dir, "a")))
	if _, err := fs.Stat(sub); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Stat after RemoveAll = %v", err)
	}
}

func testLock(t *testing.T, fs FS, dir string) {
	must(t, fs.MkdirAll(dir, 0o755))
	p := filepath.Join(dir, "LOCK")
	l, err := fs.Lock(p)
	must(t, err)
	if _, err := fs.Lock(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock = %v, want ErrLocked", err)
	}
	must(t, l.Close())
	l2, err := fs.Lock(p)
	must(t, err)
	must(t, l2.Close())
}

func readFile(t *testing.T, fs FS, p string) string {
	t.Helper()
	f, err := fs.Open(p)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	must(t, err)
	return string(b)
}

func TestCrashClone(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, fs *MemFS)
		want map[string]string // path -> content, "" entry absent means missing
	}{
		{
			name: "unsynced dir entry is lost even with synced data",
			run: func(t *testing.T, fs *MemFS) {
				f, _ := fs.Create("/d/f")
				f.Write([]byte("abc"))
				must(t, f.Sync())
			},
			want: map[string]string{"/d/f": "<missing>"},
		},
		{
			name: "data up to last sync survives",
			run: func(t *testing.T, fs *MemFS) {
				f, _ := fs.Create("/d/f")
				must(t, fs.SyncDir("/d"))
				f.Write([]byte("abc"))
				must(t, f.Sync())
				f.Write([]byte("def"))
			},
			want: map[string]string{"/d/f": "abc"},
		},
		{
			name: "overwrite after sync is undone",
			run: func(t *testing.T, fs *MemFS) {
				f, _ := fs.Create("/d/f")
				must(t, fs.SyncDir("/d"))
				f.Write([]byte("abcdef"))
				must(t, f.Sync())
				f.WriteAt([]byte("XY"), 1)
				f.Truncate(2)
			},
			want: map[string]string{"/d/f": "abcdef"},
		},
		{
			name: "rename without dir sync keeps old name",
			run: func(t *testing.T, fs *MemFS) {
				f, _ := fs.Create("/d/a")
				f.Write([]byte("1"))
				must(t, f.Sync())
				must(t, fs.SyncDir("/d"))
				must(t, fs.Rename("/d/a", "/d/b"))
			},
			want: map[string]string{"/d/a": "1", "/d/b": "<missing>"},
		},
		{
			name: "rename with dir sync",
			run: func(t *testing.T, fs *MemFS) {
				f, _ := fs.Create("/d/a")
				f.Write([]byte("1"))
				must(t, f.Sync())
				must(t, fs.Rename("/d/a", "/d/b"))
				must(t, fs.SyncDir("/d"))
			},
			want: map[string]string{"/d/a": "<missing>", "/d/b": "1"},
		},
		{
			name: "remove without dir sync is undone",
			run: func(t *testing.T, fs *MemFS) {
				f, _ := fs.Create("/d/a")
				f.Write([]byte("1"))
				must(t, f.Sync())
				must(t, fs.SyncDir("/d"))
				must(t, fs.Remove("/d/a"))
			},
			want: map[string]string{"/d/a": "1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := NewMem()
			must(t, fs.MkdirAll("/d", 0o755))
			must(t, fs.SyncDir("/"))
			tt.run(t, fs)
			c := fs.CrashClone()
			for p, want := range tt.want {
				got := readFile(t, c, p)
				if want == "<missing>" {
					if !strings.HasPrefix(got, "<") {
						t.Errorf("%s = %q, want missing", p, got)
					}
					continue
				}
				if got != want {
					t.Errorf("%s = %q, want %q", p, got, want)
				}
			}
		})
	}
}

// TestCrashCloneIndependent checks that writes to the original after a
// clone, and to the clone, never show through to the other: both share
// synced byte arrays.
func TestCrashCloneIndependent(t *testing.T) {
	fs := NewMem()
	f, _ := fs.Create("/f")
	must(t, fs.SyncDir("/"))
	f.Write([]byte("0123456789"))
	must(t, f.Sync())
	c := fs.CrashClone()
	f.WriteAt([]byte("AB"), 0)
	f.Write([]byte("tail"))
	cf, err := c.OpenReadWrite("/f")
	must(t, err)
	cf.WriteAt([]byte("xy"), 8)
	must(t, cf.Close())
	if got := readFile(t, c, "/f"); got != "01234567xy" {
		t.Fatalf("clone = %q", got)
	}
	if got := readFile(t, fs, "/f"); got != "AB23456789tail" {
		t.Fatalf("original = %q", got)
	}
	c2 := fs.CrashClone()
	if got := readFile(t, c2, "/f"); got != "0123456789" {
		t.Fatalf("second clone = %q", got)
	}
	must(t, f.Close())
}

func TestErrorFS(t *testing.T) {
	isLog := func(p string) bool { return strings.HasSuffix(p, ".log") }
	tests := []struct {
		name  string
		inj   Injector
		fails []bool // outcome of each of 4 syncs on a.log
	}{
		{"nth", FailNth(OpSync, isLog, 2), []bool{false, true, false, false}},
		{"from", FailFrom(OpSync, isLog, 2), []bool{false, true, true, true}},
		{"other paths", FailFrom(OpSync, func(p string) bool { return strings.HasSuffix(p, ".x") }, 1),
			[]bool{false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := NewMem()
			fs := NewErrorFS(mem, tt.inj)
			f, err := fs.Create("/a.log")
			must(t, err)
			defer f.Close()
			for i, wantFail := range tt.fails {
				f.Write([]byte{byte('0' + i)})
				err := f.Sync()
				if (err != nil) != wantFail {
					t.Fatalf("sync %d: err = %v, want fail %v", i+1, err, wantFail)
				}
				if err != nil && !errors.Is(err, ErrInjected) {
					t.Fatalf("sync %d: err %v is not ErrInjected", i+1, err)
				}
			}
		})
	}
}

// TestErrorFSInjectedWriteWritesNothing pins the documented behaviour the
// storage tests rely on: an injected write leaves the file untouched.
func TestErrorFSInjectedWriteWritesNothing(t *testing.T) {
	mem := NewMem()
	fs := NewErrorFS(mem, FailNth(OpWrite, nil, 2))
	f, err := fs.Create("/f")
	must(t, err)
	_, err = f.Write([]byte("one"))
	must(t, err)
	if _, err := f.WriteAt([]byte("two"), 3); !errors.Is(err, ErrInjected) {
		t.Fatalf("second write = %v", err)
	}
	must(t, f.Close())
	if got := readFile(t, mem, "/f"); !bytes.Equal([]byte(got), []byte("one")) {
		t.Fatalf("content = %q", got)
	}
}

// TestSyncer: a Syncer's Sync succeeds on every FS and leaves files as
// they were; on MemFS it makes every file's data survive a crash (entries
// only where SyncDir made them durable); an ErrorFS injects OpSyncFS with
// the directory's path.
func TestSyncer(t *testing.T) {
	for name, mk := range implementations(t) {
		t.Run(name, func(t *testing.T) {
			fs, dir := mk(t)
			must(t, fs.MkdirAll(dir, 0o755))
			y, err := fs.OpenSyncer(dir)
			must(t, err)
			p := filepath.Join(dir, "f")
			f, err := fs.Create(p)
			must(t, err)
			must(t, fs.SyncDir(dir))
			must(t, fs.SyncDir(filepath.Dir(dir)))
			if _, err := f.Write([]byte("durable")); err != nil {
				t.Fatal(err)
			}
			must(t, y.Sync())
			if m, ok := fs.(*MemFS); ok {
				c := m.CrashClone()
				g, err := c.Open(p)
				must(t, err)
				b, err := io.ReadAll(g)
				must(t, err)
				g.Close()
				if string(b) != "durable" {
					t.Fatalf("after Sync and a crash the file holds %q", b)
				}
			}
			buf := make([]byte, 7)
			if n, err := f.ReadAt(buf, 0); n != 7 || err != nil || string(buf) != "durable" {
				t.Fatalf("ReadAt after Sync = %d, %v, %q", n, err, buf)
			}
			must(t, f.Close())
			must(t, y.Close())
		})
	}
	t.Run("errorfs injects syncfs", func(t *testing.T) {
		var got []string
		inj := InjectorFunc(func(op Op, path string) error {
			if op == OpSyncFS {
				got = append(got, path)
				return ErrInjected
			}
			return nil
		})
		fs := NewErrorFS(NewMem(), inj)
		must(t, fs.MkdirAll("/data", 0o755))
		y, err := fs.OpenSyncer("/data")
		must(t, err)
		defer y.Close()
		if err := y.Sync(); !errors.Is(err, ErrInjected) || len(got) != 1 || got[0] != "/data" {
			t.Fatalf("Sync = %v, injector saw %q", err, got)
		}
	})
}
