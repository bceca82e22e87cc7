package vfs

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	mem := NewMem()
	var faults Faults
	fs := NewErrorFS(mem, &faults)
	must(t, fs.MkdirAll("/d", 0o755))
	f, err := fs.Create("/d/a.seg")
	must(t, err)
	defer f.Close()
	onSeg := func(p string) bool { return strings.HasSuffix(p, ".seg") }

	faults.Fail(OpWrite, onSeg, syscall.ENOSPC)
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write with ENOSPC armed: %v", err)
	}
	var pe *os.PathError
	if _, err := f.Write([]byte("x")); !errors.As(err, &pe) || pe.Path != "/d/a.seg" || pe.Op != "write" {
		t.Fatalf("injected error %v is not a *os.PathError naming the file", err)
	}
	must(t, f.Sync()) // other ops go on
	g, err := fs.Create("/d/b.idx")
	must(t, err)
	if _, err := g.Write([]byte("ok")); err != nil {
		t.Fatalf("write to a path the rule does not match: %v", err)
	}
	g.Close()
	if faults.Fired() != 2 {
		t.Fatalf("Fired = %d, want 2", faults.Fired())
	}

	faults.Clear()
	if _, err := f.WriteAt([]byte("hello"), 0); err != nil {
		t.Fatalf("write after Clear: %v", err)
	}

	// A short write writes its first N bytes, then fails.
	faults.Fail(OpWrite, nil, &ShortWriteError{N: 3, Err: syscall.ENOSPC})
	n, err := f.WriteAt([]byte("world!"), 5)
	if n != 3 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("short write = %d, %v; want 3, ENOSPC", n, err)
	}
	faults.Clear()
	buf := make([]byte, 8)
	if n, _ := f.ReadAt(buf, 0); string(buf[:n]) != "hellowor" {
		t.Fatalf("file holds %q after a short write, want %q", buf[:n], "hellowor")
	}

	// A stall delays the operation, which then runs.
	faults.Stall(OpSync, nil, 50*time.Millisecond)
	start := time.Now()
	must(t, f.Sync())
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("stalled Sync returned after %v", d)
	}
}

// TestFailWriteback checks the fsyncgate model: pages written since the last
// sync stay readable but never reach the disk unless written again.
func TestFailWriteback(t *testing.T) {
	const page = memPageBytes
	mem := NewMem()
	must(t, mem.MkdirAll("/d", 0o755))
	f, err := mem.Create("/d/f")
	must(t, err)
	defer f.Close()
	must(t, mem.SyncDir("/d"))
	must(t, mem.SyncDir("/"))
	durable := bytes.Repeat([]byte{'a'}, page+100) // page 0 whole, page 1 in part
	if _, err := f.WriteAt(durable, 0); err != nil {
		t.Fatal(err)
	}
	must(t, f.Sync())
	lost := bytes.Repeat([]byte{'b'}, 2*page) // the rest of page 1, pages 2 and 3
	if _, err := f.WriteAt(lost, int64(len(durable))); err != nil {
		t.Fatal(err)
	}
	must(t, mem.FailWriteback("/d/f"))

	// Readers still see the lost data.
	got := make([]byte, len(durable)+len(lost))
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got[len(durable):], lost) {
		t.Fatalf("read after a failed writeback: %v", err)
	}
	// A later sync succeeds but does not write the lost pages.
	must(t, f.Sync())
	disk := crashRead(t, mem, "/d/f")
	if len(disk) != len(got) || !bytes.Equal(disk[:len(durable)], durable) {
		t.Fatalf("after crash: %d bytes, durable prefix intact %v", len(disk), bytes.Equal(disk[:min(len(disk), len(durable))], durable))
	}
	if bytes.Contains(disk, []byte{'b'}) {
		t.Fatal("a lost page reached the disk")
	}

	// Writing into page 3 again makes that whole page dirty, with the lost
	// bytes it still holds, as the kernel writes back whole pages; pages 1
	// and 2 stay lost. Truncating through page 1 keeps the durable prefix.
	if _, err := f.WriteAt([]byte("c"), 3*page); err != nil {
		t.Fatal(err)
	}
	must(t, f.Sync())
	disk = crashRead(t, mem, "/d/f")
	if disk[3*page] != 'c' || disk[3*page+1] != 'b' || bytes.Contains(disk[:3*page], []byte{'b'}) ||
		!bytes.Equal(disk[:len(durable)], durable) {
		t.Fatal("rewritten page not synced, or lost pages synced")
	}
	must(t, f.Truncate(int64(len(durable))))
	if _, err := f.WriteAt([]byte("dd"), int64(len(durable))); err != nil {
		t.Fatal(err)
	}
	must(t, f.Sync())
	disk = crashRead(t, mem, "/d/f")
	if want := append(append([]byte{}, durable...), 'd', 'd'); !bytes.Equal(disk, want) {
		t.Fatalf("after truncate, write, sync: disk holds %d bytes, want the durable prefix + \"dd\"", len(disk))
	}
}

func crashRead(t *testing.T, mem *MemFS, name string) []byte {
	t.Helper()
	c := mem.CrashClone()
	g, err := c.Open(name)
	must(t, err)
	defer g.Close()
	fi, err := g.Stat()
	must(t, err)
	b := make([]byte, fi.Size())
	if _, err := g.ReadAt(b, 0); err != nil && len(b) > 0 {
		t.Fatal(err)
	}
	return b
}
