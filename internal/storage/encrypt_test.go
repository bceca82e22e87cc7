package storage

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicedata/sluice/internal/vfs"
)

// testKeys is a DataKeys that wraps data keys with AES-GCM under one key
// per reference: what a key ring does, without its file.
type testKeys struct {
	keks      map[string][]byte
	generated atomic.Int64
	decrypted atomic.Int64
}

var errUnknownTestKey = errors.New("unknown test key")

func newTestKeys(refs ...string) *testKeys {
	k := &testKeys{keks: map[string][]byte{}}
	for _, r := range refs {
		kek := make([]byte, 32)
		rand.Read(kek)
		k.keks[r] = kek
	}
	return k
}

func (k *testKeys) aead(ref string) (cipher.AEAD, error) {
	kek, ok := k.keks[ref]
	if !ok {
		return nil, fmt.Errorf("%w %q", errUnknownTestKey, ref)
	}
	b, _ := aes.NewCipher(kek)
	return cipher.NewGCM(b)
}

// GenerateDataKey wraps as: ref length, ref, nonce, sealed key.
func (k *testKeys) GenerateDataKey(ref string) ([]byte, []byte, error) {
	a, err := k.aead(ref)
	if err != nil {
		return nil, nil, err
	}
	k.generated.Add(1)
	dk := make([]byte, 32)
	rand.Read(dk)
	w := append([]byte{byte(len(ref))}, ref...)
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	w = append(w, nonce...)
	return dk, a.Seal(w, nonce, dk, nil), nil
}

func (k *testKeys) Decrypt(w []byte) ([]byte, error) {
	k.decrypted.Add(1)
	if len(w) < 1 || len(w) < 1+int(w[0])+12 {
		return nil, errors.New("short wrapped key")
	}
	ref := string(w[1 : 1+w[0]])
	a, err := k.aead(ref)
	if err != nil {
		return nil, err
	}
	p := w[1+w[0]:]
	return a.Open(nil, p[:12], p[12:], nil)
}

// keyedEntries are entry(from..) records whose data carries a marker that
// a raw scan can look for.
func keyedEntries(from, count int, marker string) []Entry {
	es := entries(from, count, 60)
	for i := range es {
		copy(es[i].Data[len(es[i].Data)-len(marker)-4:], marker)
	}
	return es
}

func appendWithKey(t testing.TB, l *ShardLog, es []Entry, now int64, ref string) {
	t.Helper()
	if _, err := l.AppendWithKey(es, now, ref); err != nil {
		t.Fatalf("AppendWithKey(%q): %v", ref, err)
	}
}

// rawContains reports which files under dir contain needle.
func rawContains(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestEncryptedSegments writes plaintext, then under key a, then key b,
// then plaintext again, on a real directory, and checks that every record
// reads back (before and after a reopen), that each key change started a
// segment with a data key of its own, and that the raw files hold the
// plaintext markers only of the unencrypted batches.
func TestEncryptedSegments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	keys := newTestKeys("a", "b")
	opts := quietOptions(t, Options{DataKeys: keys})
	s, err := Open(vfs.Default(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	l := createShard(t, s, "s/1")
	// An encrypted append into the new, empty segment rekeys it in place.
	appendWithKey(t, l, keyedEntries(0, 5, "SECRET-A1"), 1, "a")
	appendWithKey(t, l, keyedEntries(5, 5, "PLAIN-P1"), 2, "")
	appendWithKey(t, l, keyedEntries(10, 5, "SECRET-A2"), 3, "a")
	appendWithKey(t, l, keyedEntries(15, 5, "SECRET-A3"), 4, "a")
	appendWithKey(t, l, keyedEntries(20, 5, "SECRET-B1"), 5, "b")
	appendWithKey(t, l, keyedEntries(25, 5, "PLAIN-P2"), 6, "")
	if got := keys.generated.Load(); got != 3 {
		t.Errorf("generated %d data keys, want 3 (one per encrypted segment)", got)
	}
	segs := l.view.Load().segs
	var refs []string
	for _, sg := range segs {
		refs = append(refs, sg.keyRef())
	}
	if want := []string{"a", "", "a", "b", ""}; strings.Join(refs, ",") != strings.Join(want, ",") {
		t.Errorf("segment keys %q, want %q", refs, want)
	}
	check := func(l *ShardLog) {
		t.Helper()
		recs := readAll(t, l, 0)
		if len(recs) != 30 {
			t.Fatalf("read %d records, want 30", len(recs))
		}
		for i, r := range recs {
			marker := []string{"SECRET-A1", "PLAIN-P1", "SECRET-A2", "SECRET-A3", "SECRET-B1", "PLAIN-P2"}[i/5]
			want := keyedEntries(i, 1, marker)[0]
			if r.Offset != uint64(i) || r.PartitionKey != want.PartitionKey || !bytes.Equal(r.Data, want.Data) {
				t.Fatalf("record %d = {%d %q %q}, want %q", i, r.Offset, r.PartitionKey, r.Data, want.Data)
			}
		}
		// Time seeks decrypt too.
		if off, err := l.SeekTime(4); err != nil || off != 15 {
			t.Fatalf("SeekTime(4) = %d, %v; want 15", off, err)
		}
	}
	check(l)
	s.Close()

	for _, m := range []string{"SECRET-A1", "SECRET-A2", "SECRET-A3", "SECRET-B1"} {
		if hits := rawContains(t, dir, []byte(m)); len(hits) > 0 {
			t.Errorf("plaintext %q found in %v", m, hits)
		}
	}
	for _, m := range []string{"PLAIN-P1", "PLAIN-P2"} {
		if hits := rawContains(t, dir, []byte(m)); len(hits) == 0 {
			t.Errorf("unencrypted %q not found in the raw files: the scan would miss plaintext", m)
		}
	}
	// Partition keys of encrypted records are sealed too.
	if hits := rawContains(t, dir, []byte("k17")); len(hits) > 0 {
		t.Errorf("partition key of an encrypted record found in %v", hits)
	}

	// Reopened with the keys, everything reads; the active segment's data
	// key is unwrapped once and appends go on under it.
	s2, err := Open(vfs.Default(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := s2.OpenShard("s/1")
	if err != nil {
		t.Fatal(err)
	}
	check(l2)
	appendWithKey(t, l2, keyedEntries(30, 2, "SECRET-B2"), 7, "b")
	if recs := readAll(t, l2, 30); len(recs) != 2 {
		t.Fatalf("read %d records after reopen append, want 2", len(recs))
	}
	s2.Close()

	// Without a key provider, plaintext segments read and encrypted ones
	// fail with ErrNoDataKeys, not as corruption.
	noKeys := quietOptions(t, Options{})
	s3, err := Open(vfs.Default(), dir, noKeys)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	l3, err := s3.OpenShard("s/1")
	if err != nil || l3.Err() != nil {
		t.Fatalf("open without keys: %v, %v", err, l3.Err())
	}
	if recs, err := l3.Read(5, 5, 1<<20); err != nil || len(recs) != 5 {
		t.Fatalf("plaintext read without keys: %d records, %v", len(recs), err)
	}
	_, err = l3.Read(0, 5, 1<<20)
	if !errors.Is(err, ErrNoDataKeys) {
		t.Fatalf("encrypted read without keys: %v, want ErrNoDataKeys", err)
	}
	var ce *CorruptionError
	if errors.As(err, &ce) {
		t.Fatalf("missing key reported as corruption: %v", err)
	}
	if _, err := l3.AppendWithKey(entries(32, 1, 10), 8, "a"); !errors.Is(err, ErrNoDataKeys) {
		t.Fatalf("encrypted append without keys: %v", err)
	}
	if l3.Err() != nil {
		t.Fatalf("a key error failed the log: %v", l3.Err())
	}
}

// TestEncryptedAppendUnknownKey: a data key that cannot be made fails the
// call only; the log goes on.
func TestEncryptedAppendUnknownKey(t *testing.T) {
	keys := newTestKeys("a")
	s := openStore(t, vfs.NewMem(), Options{DataKeys: keys})
	l := createShard(t, s, "s/1")
	mustAppend(t, l, entries(0, 2, 10), 1)
	if _, err := l.AppendWithKey(entries(2, 1, 10), 2, "nope"); !errors.Is(err, errUnknownTestKey) {
		t.Fatalf("AppendWithKey(nope) = %v, want the provider's error", err)
	}
	if l.Err() != nil || l.End() != 2 {
		t.Fatalf("after a key error: Err %v End %d", l.Err(), l.End())
	}
	appendWithKey(t, l, entries(2, 3, 10), 3, "a")
	checkRecords(t, readAll(t, l, 0), 0, 10)
}

// TestEncryptedTamper: a sealed batch whose ciphertext is changed and
// whose CRC is fixed up (as an attacker would) fails authentication and
// is reported as corruption; so is a batch moved to another offset.
func TestEncryptedTamper(t *testing.T) {
	mem := vfs.NewMem()
	keys := newTestKeys("a")
	opts := Options{DataKeys: keys}
	s := openStore(t, mem, opts)
	l := createShard(t, s, crashKey)
	appendWithKey(t, l, entries(0, 3, 40), 1, "a")
	appendWithKey(t, l, entries(3, 3, 40), 2, "a")
	s.Close()
	pos := batchPositions(t, mem, segPath(0))
	b := readFileBytes(t, mem, segPath(0))
	second := b[pos[1]:]
	second[batchHeaderBytes+gcmNonceBytes+5] ^= 1
	h, _ := parseBatchHeader(second)
	le.PutUint32(second[4:], crcOf(second[8:h.size()]))
	writeFileBytes(t, mem, segPath(0), b)

	r := reopen(t, mem, opts)
	if recs, err := r.Read(0, 3, 1<<20); err != nil || len(recs) != 3 {
		t.Fatalf("first batch: %d records, %v", len(recs), err)
	}
	_, err := r.Read(3, 3, 1<<20)
	if ce := asCorruption(t, err); !strings.Contains(ce.Reason, "authentication") || ce.Offset != pos[1] {
		t.Fatalf("tampered batch: %v", err)
	}
}

// TestEncryptedBatchesNeedTheirSegmentKey: the batch header is the
// additional data, so a sealed batch copied to another offset fails.
func TestEncryptedBatchesNeedTheirSegmentKey(t *testing.T) {
	aead, _ := newAEAD(make([]byte, 32))
	es := entries(0, 2, 30)
	b := make([]byte, encodedBatchBytes(es)+encOverheadBytes)
	encodeRecords(b[:len(b)-gcmTagBytes], batchHeaderBytes+gcmNonceBytes, es)
	if err := sealBatch(b, 10, 2, 99, aead); err != nil {
		t.Fatal(err)
	}
	h, reason := parseBatchHeader(b)
	if reason != "" || !h.encrypted() || checkFrame(b, &h) != "" {
		t.Fatalf("sealed batch: %+v %q", h, reason)
	}
	if r := walkRecords(b, &h, nil); r == "" {
		t.Fatal("walkRecords read an encrypted batch without its key")
	}
	plain, err := openBatch(nil, b, aead)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if r := walkPlainRecords(plain, &h, func(i int, _ int64, k, d []byte) bool {
		n++
		return string(k) == es[i].PartitionKey && bytes.Equal(d, es[i].Data)
	}); r != "" || n != 2 {
		t.Fatalf("decrypted walk: %q, %d records", r, n)
	}
	le.PutUint64(b[8:], 11) // move it
	if _, err := openBatch(nil, b, aead); err == nil {
		t.Fatal("a batch moved to another offset still authenticates")
	}
}

// TestEncryptedSegmentHeader: the key extension round-trips and every
// flipped bit of it is caught.
func TestEncryptedSegmentHeader(t *testing.T) {
	k := segmentKeyInfo{keyRef: "alias/aws/kinesis", wrapped: bytes.Repeat([]byte{7}, 90)}
	h := encodeSegmentHeader(5, k)
	got, r := parseSegmentHeader(h, 5)
	if r != "" || got.keyRef != k.keyRef || !bytes.Equal(got.wrapped, k.wrapped) {
		t.Fatalf("round trip: %+v %q", got, r)
	}
	for i := range h {
		h[i] ^= 0x04
		n, r := segmentHeaderLen(h, 5)
		if r == "" && n == len(h) {
			_, r = parseSegmentHeader(h, 5)
		}
		if r == "" {
			t.Fatalf("flip at %d not detected", i)
		}
		h[i] ^= 0x04
	}
}

// TestEncryptedCrashAtEverySync is TestCrashAtEverySync with batches that
// switch keys, so crashes land in rekeys of empty segments and in rolls
// to new data keys.
func TestEncryptedCrashAtEverySync(t *testing.T) {
	keys := newTestKeys("a", "b")
	crashAtEverySync(t, Options{SegmentBytes: 600, IndexIntervalBytes: 100, DataKeys: keys},
		[]string{"a", "a", "", "b", "b", "b", "a", "", "", "a", "a", "b"})
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
