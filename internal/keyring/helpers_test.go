package keyring

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testRegion  = "us-east-1"
	testAccount = "123456789012"
)

func testMaster(b byte) []byte { return bytes.Repeat([]byte{b}, MasterKeyBytes) }

// testClock returns a clock that advances one second per reading, safe for
// concurrent use, so creation times are distinct and known.
func testClock() func() time.Time {
	base := time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC)
	var n atomic.Int64
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

func testOptions() Options {
	return Options{Region: testRegion, AccountID: testAccount, Now: testClock()}
}

func mustOpen(t testing.TB, dir string, master []byte) *Ring {
	t.Helper()
	r, err := Open(dir, master, testOptions())
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return r
}

func mustCreate(t testing.TB, r *Ring, description string) Key {
	t.Helper()
	k, err := r.Create(description)
	if err != nil {
		t.Fatalf("Create(%q): %v", description, err)
	}
	return k
}
