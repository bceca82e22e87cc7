package keyring

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecrypt feeds Decrypt arbitrary bytes: it must never panic, must fail
// with ErrInvalidCiphertext or ErrNotFound, and may succeed only for a data
// key the ring really wrapped, returning that key.
func FuzzDecrypt(f *testing.F) {
	r := mustOpen(f, f.TempDir(), testMaster(1))
	k := mustCreate(f, r, "fuzz")
	if _, err := r.Rotate(k.ID); err != nil {
		f.Fatal(err)
	}
	var wrapped, plain [][]byte
	for _, ref := range []string{DefaultAlias, k.ID} {
		pt, w, err := r.GenerateDataKey(ref)
		if err != nil {
			f.Fatal(err)
		}
		wrapped, plain = append(wrapped, w), append(plain, pt)
		f.Add(w)
		f.Add(w[:len(w)-1])
		f.Add(w[:46])
	}
	f.Add([]byte{})
	f.Add([]byte("SLDK"))
	f.Add([]byte("SLDK\x01\x00\x01\x00\x00\x00"))
	f.Add(append(appendHeader(nil, blobHeader{keyID: k.ID, version: 3}), make([]byte, 60)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := r.Decrypt(b)
		if err != nil {
			if pt != nil {
				t.Fatalf("Decrypt returned %x with error %v", pt, err)
			}
			if !errors.Is(err, ErrInvalidCiphertext) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("Decrypt error %v is neither ErrInvalidCiphertext nor ErrNotFound", err)
			}
			return
		}
		for i, w := range wrapped {
			if bytes.Equal(b, w) {
				if !bytes.Equal(pt, plain[i]) {
					t.Fatalf("Decrypt(data key %d) = %x, want %x", i, pt, plain[i])
				}
				return
			}
		}
		t.Fatalf("Decrypt accepted % x, which the ring never made", b)
	})
}
