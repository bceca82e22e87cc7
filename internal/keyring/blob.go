package keyring

import (
	"encoding/binary"
	"fmt"
)

// Wrapped data key layout; see the package documentation.
const (
	blobMagic         = "SLDK"
	blobFormatVersion = 1
	// maxBlobBytes is the most a wrapped data key may take, so a caller can
	// store its length in one byte.
	maxBlobBytes = 255
	// blobFixedBytes is everything but the key id: magic, version, id
	// length, material version, nonce, ciphertext and tag.
	blobFixedBytes = len(blobMagic) + 1 + 1 + 4 + nonceBytes + materialBytes + tagBytes
	maxBlobKeyID   = maxBlobBytes - blobFixedBytes
)

// blobHeader is the authenticated part of a wrapped data key.
type blobHeader struct {
	keyID   string
	version uint32 // material version, from 1
}

// appendHeader appends h's encoding: magic, format version, id length, id,
// material version.
func appendHeader(b []byte, h blobHeader) []byte {
	if len(h.keyID) > maxBlobKeyID {
		panic(fmt.Sprintf("keyring: key id of %d bytes, the blob allows %d", len(h.keyID), maxBlobKeyID))
	}
	b = append(b, blobMagic...)
	b = append(b, blobFormatVersion, byte(len(h.keyID)))
	b = append(b, h.keyID...)
	return binary.LittleEndian.AppendUint32(b, h.version)
}

// parseBlob splits a wrapped data key into its header, the encoded header
// (the GCM additional data) and the sealed part (nonce, ciphertext, tag).
// It checks only the layout; Decrypt authenticates.
func parseBlob(b []byte) (h blobHeader, aad, sealed []byte, err error) {
	bad := func(why string) error {
		return &Error{Kind: ErrInvalidCiphertext, Message: "invalid ciphertext: " + why}
	}
	switch {
	case len(b) < blobFixedBytes || len(b) > maxBlobBytes:
		return h, nil, nil, bad(fmt.Sprintf("a wrapped data key is %d to %d bytes, not %d", blobFixedBytes, maxBlobBytes, len(b)))
	case string(b[:len(blobMagic)]) != blobMagic:
		return h, nil, nil, bad("not a wrapped data key (bad magic)")
	case b[4] != blobFormatVersion:
		return h, nil, nil, bad(fmt.Sprintf("wrapped data key format version %d; this sluice reads %d", b[4], blobFormatVersion))
	}
	idLen := int(b[5])
	if len(b) != blobFixedBytes+idLen {
		return h, nil, nil, bad(fmt.Sprintf("a wrapped data key with a %d-byte key id is %d bytes, not %d", idLen, blobFixedBytes+idLen, len(b)))
	}
	h.keyID = string(b[6 : 6+idLen])
	if !keyIDPattern.MatchString(h.keyID) {
		// The ring only makes UUID keys, and the header is authenticated.
		return h, nil, nil, bad("the key id it names is not a key id")
	}
	h.version = binary.LittleEndian.Uint32(b[6+idLen:])
	if h.version == 0 {
		return h, nil, nil, bad("material version 0")
	}
	headerLen := 6 + idLen + 4
	return h, b[:headerLen], b[headerLen:], nil
}

// GenerateDataKey resolves ref as Resolve does and returns a fresh random
// 32-byte data key and its wrapped form under the key's newest material
// version. Both slices are the caller's. The wrapped form is self-describing
// (see the package documentation) and at most maxBlobBytes long.
func (r *Ring) GenerateDataKey(ref string) (plaintext, wrapped []byte, err error) {
	st, err := r.current()
	if err != nil {
		return nil, nil, err
	}
	k, err := r.resolve(st, ref)
	if err != nil {
		return nil, nil, err
	}
	v := len(k.material)
	plaintext = randomBytes(materialBytes)
	aad := appendHeader(nil, blobHeader{keyID: k.id, version: uint32(v)})
	nonce := randomBytes(nonceBytes)
	wrapped = make([]byte, 0, blobFixedBytes+len(k.id))
	wrapped = append(append(wrapped, aad...), nonce...)
	wrapped = k.aead[v-1].Seal(wrapped, nonce, plaintext, aad)
	return plaintext, wrapped, nil
}

// Decrypt unwraps a data key made by GenerateDataKey and returns its 32
// bytes, the caller's. A blob naming a key or material version the ring does
// not have (after re-reading the file) gives an *Error matching ErrNotFound;
// anything else that is not an intact blob of this ring, an *Error matching
// ErrInvalidCiphertext. It never panics, whatever it is given.
func (r *Ring) Decrypt(wrapped []byte) ([]byte, error) {
	h, aad, sealed, err := parseBlob(wrapped)
	if err != nil {
		return nil, err
	}
	k, err := r.lookup(r.loaded(), h)
	if err != nil {
		// A key or version created or rotated by another process since
		// the last load: look again.
		st, rerr := r.current()
		if rerr != nil {
			return nil, rerr
		}
		if k, err = r.lookup(st, h); err != nil {
			return nil, err
		}
	}
	pt, err := k.aead[h.version-1].Open(nil, sealed[:nonceBytes], sealed[nonceBytes:], aad)
	if err != nil {
		return nil, &Error{Kind: ErrInvalidCiphertext, Message: "invalid ciphertext: the wrapped data key fails authentication (changed, or not made by this key ring)"}
	}
	return pt, nil
}

// lookup finds the key and material version h names.
func (r *Ring) lookup(st *state, h blobHeader) (*keyState, error) {
	k := st.byID[h.keyID]
	if k == nil {
		return nil, keyNotFound(r.keyARN(h.keyID))
	}
	if uint64(h.version) > uint64(len(k.material)) {
		return nil, &Error{Kind: ErrNotFound, Message: fmt.Sprintf("Key '%s' has no key material version %d; it has %d", r.keyARN(h.keyID), h.version, len(k.material))}
	}
	return k, nil
}
