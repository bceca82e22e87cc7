package vfs

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestSyncfsReportsErrorsRelease: kernels before 5.8, whose syncfs reports
// no writeback errors, are recognised from their release string.
func TestSyncfsReportsErrorsRelease(t *testing.T) {
	for release, want := range map[string]bool{
		"6.18.44-fc-v782": true, "5.8.0": true, "5.15.0-91-generic": true, "10.0": true,
		"5.7.19": false, "4.19.0-26-amd64": false, "3.10.0-1160.el7.x86_64": false, "": false, "x.y": false,
	} {
		if got := syncfsReportsErrors(release); got != want {
			t.Errorf("syncfsReportsErrors(%q) = %v, want %v", release, got, want)
		}
	}
}

// TestStartWriteback: the operating system's files start writeback of a
// range they were written in, and the data reads back after it.
func TestStartWriteback(t *testing.T) {
	f, err := Default().Create(filepath.Join(t.TempDir(), "seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wb, ok := f.(WritebackStarter)
	if !ok {
		t.Fatalf("%T does not start writeback", f)
	}
	data := bytes.Repeat([]byte("sluice"), 20000)
	if _, err := f.WriteAt(data, 4096); err != nil {
		t.Fatal(err)
	}
	if err := wb.StartWriteback(4096, int64(len(data))); err != nil {
		t.Fatalf("StartWriteback: %v", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got, 4096); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %v, equal %v", err, bytes.Equal(got, data))
	}
}
