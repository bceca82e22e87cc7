package keyring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestGenerateDataKey(t *testing.T) {
	r := mustOpen(t, t.TempDir(), testMaster(1))
	def, err := r.Resolve(DefaultAlias)
	if err != nil {
		t.Fatal(err)
	}
	pt, w, err := r.GenerateDataKey(DefaultAlias)
	if err != nil {
		t.Fatal(err)
	}
	if len(pt) != 32 {
		t.Fatalf("plaintext of %d bytes", len(pt))
	}
	if len(w) != blobFixedBytes+36 || len(w) > maxBlobBytes {
		t.Fatalf("wrapped data key of %d bytes, want %d", len(w), blobFixedBytes+36)
	}
	// The layout of the package documentation.
	if string(w[:4]) != "SLDK" || w[4] != 1 || w[5] != 36 || string(w[6:42]) != def.ID || binary.LittleEndian.Uint32(w[42:46]) != 1 {
		t.Errorf("header % x does not match the documented layout", w[:46])
	}
	pt2, w2, err := r.GenerateDataKey(DefaultAlias)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(pt, pt2) || bytes.Equal(w[46:58], w2[46:58]) {
		t.Error("two data keys share a plaintext or a nonce")
	}
	if got, err := r.Decrypt(w); err != nil || !bytes.Equal(got, pt) {
		t.Errorf("Decrypt = %x, %v; want %x", got, err, pt)
	}
	if _, _, err := r.GenerateDataKey("alias/missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GenerateDataKey(alias/missing) = %v, want ErrNotFound", err)
	}
}

func TestDecryptTampered(t *testing.T) {
	r := mustOpen(t, t.TempDir(), testMaster(1))
	k := mustCreate(t, r, "")
	_, w, err := r.GenerateDataKey(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Every single-bit change fails, as not found (the key id or version
	// now names something else) or as invalid ciphertext.
	for i := range w {
		for bit := 0; bit < 8; bit++ {
			b := bytes.Clone(w)
			b[i] ^= 1 << bit
			if _, err := r.Decrypt(b); !errors.Is(err, ErrInvalidCiphertext) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("Decrypt with byte %d bit %d flipped = %v", i, bit, err)
			}
		}
	}
	other := mustCreate(t, r, "")
	withID := func(id string, version uint32) []byte {
		b := appendHeader(nil, blobHeader{keyID: id, version: version})
		return append(b, w[46:]...)
	}
	tests := []struct {
		name string
		blob []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrInvalidCiphertext, ""},
		{"truncated", w[:len(w)-1], ErrInvalidCiphertext, ""},
		{"extended", append(bytes.Clone(w), 0), ErrInvalidCiphertext, ""},
		{"too long", make([]byte, 300), ErrInvalidCiphertext, ""},
		{"another key", withID(other.ID, 1), ErrInvalidCiphertext, ""},
		{"unknown key", withID("0b5b7c8e-1f2a-4c3d-9e4f-5a6b7c8d9e0f", 1), ErrNotFound,
			"Key 'arn:aws:kms:us-east-1:123456789012:key/0b5b7c8e-1f2a-4c3d-9e4f-5a6b7c8d9e0f' does not exist"},
		{"unknown version", withID(k.ID, 2), ErrNotFound,
			"Key 'arn:aws:kms:us-east-1:123456789012:key/" + k.ID + "' has no key material version 2; it has 1"},
		{"version 0", withID(k.ID, 0), ErrInvalidCiphertext, ""},
		{"not a key id", withID("../../etc/passwd", 1), ErrInvalidCiphertext, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Decrypt(tt.blob)
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("Decrypt = %x, %v; want %v", got, err, tt.want)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("error %q, want %q", err, tt.msg)
			}
		})
	}
	// A version rotated in later decrypts data keys wrapped under it.
	if _, err := r.Rotate(k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Decrypt(withID(k.ID, 2)); !errors.Is(err, ErrInvalidCiphertext) {
		t.Errorf("Decrypt of v1 ciphertext relabelled v2 = %v, want ErrInvalidCiphertext", err)
	}
}

func TestDecryptUnderAnotherMasterKey(t *testing.T) {
	// Two rings with the same key ids cannot happen (ids are random), but
	// a data key must not open under another ring's material anyway.
	r1 := mustOpen(t, t.TempDir(), testMaster(1))
	r2 := mustOpen(t, t.TempDir(), testMaster(1))
	_, w, err := r1.GenerateDataKey(DefaultAlias)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Decrypt(w); !errors.Is(err, ErrNotFound) {
		t.Errorf("r2.Decrypt(r1's data key) = %v, want ErrNotFound", err)
	}
}
