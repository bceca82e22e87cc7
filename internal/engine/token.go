package engine

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// sealer turns engine state (iterator positions, pagination cursors) into
// opaque, tamper-proof tokens and back. Tokens are AES-256-GCM sealed under a
// key kept in the catalog, so they survive a restart of the server.
//
// A token is the base64 (standard alphabet, padded) of
//
//	8-byte header 00 00 00 00 00 00 00 01 | key id (1 byte, 0) | 12-byte nonce | ciphertext + 16-byte tag
//
// and the plaintext is padded to a multiple of 16 bytes, so tokens look like
// AWS's shard iterators ("AAAAAAAAAAE...") and their length moves in steps.
type sealer struct{ aead cipher.AEAD }

var tokenHeader = [9]byte{0, 0, 0, 0, 0, 0, 0, 1, 0}

const tokenBlockBytes = 16

func newSealer(key []byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plain []byte) string {
	padded := len(plain) + 1
	if r := padded % tokenBlockBytes; r != 0 {
		padded += tokenBlockBytes - r
	}
	// The last byte says how much padding there is, PKCS#7 style.
	buf := make([]byte, padded)
	copy(buf, plain)
	pad := padded - len(plain)
	for i := len(plain); i < padded; i++ {
		buf[i] = byte(pad)
	}
	out := make([]byte, len(tokenHeader), len(tokenHeader)+s.aead.NonceSize()+padded+s.aead.Overhead())
	copy(out, tokenHeader[:])
	nonce := out[len(out) : len(out)+s.aead.NonceSize()]
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	out = out[:len(out)+len(nonce)]
	out = s.aead.Seal(out, nonce, buf, tokenHeader[:])
	return base64.StdEncoding.EncodeToString(out)
}

var errBadToken = errors.New("bad token")

func (s *sealer) open(token string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return nil, errBadToken
	}
	ns := s.aead.NonceSize()
	if len(raw) < len(tokenHeader)+ns+s.aead.Overhead()+tokenBlockBytes || [9]byte(raw[:9]) != tokenHeader {
		return nil, errBadToken
	}
	nonce := raw[len(tokenHeader) : len(tokenHeader)+ns]
	plain, err := s.aead.Open(nil, nonce, raw[len(tokenHeader)+ns:], tokenHeader[:])
	if err != nil || len(plain) == 0 {
		return nil, errBadToken
	}
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > tokenBlockBytes || pad > len(plain) {
		return nil, errBadToken
	}
	return plain[:len(plain)-pad], nil
}

// Iterator is what a shard iterator holds.
type iteratorState struct {
	CreatedMillis       int64
	StreamCreatedMillis int64
	ShardIndex          uint32
	Offset              uint64 // the next log offset to read
	StreamName          string
}

const iteratorVersion = 1

func (s *sealer) sealIterator(it iteratorState) string {
	b := make([]byte, 0, 32+len(it.StreamName))
	b = append(b, iteratorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(it.CreatedMillis))
	b = binary.BigEndian.AppendUint64(b, uint64(it.StreamCreatedMillis))
	b = binary.BigEndian.AppendUint32(b, it.ShardIndex)
	b = binary.BigEndian.AppendUint64(b, it.Offset)
	b = append(b, it.StreamName...)
	return s.seal(b)
}

func (s *sealer) openIterator(token string) (iteratorState, error) {
	b, err := s.open(token)
	if err != nil {
		return iteratorState{}, err
	}
	if len(b) < 29 || b[0] != iteratorVersion {
		return iteratorState{}, errBadToken
	}
	return iteratorState{
		CreatedMillis:       int64(binary.BigEndian.Uint64(b[1:])),
		StreamCreatedMillis: int64(binary.BigEndian.Uint64(b[9:])),
		ShardIndex:          binary.BigEndian.Uint32(b[17:]),
		Offset:              binary.BigEndian.Uint64(b[21:]),
		StreamName:          string(b[29:]),
	}, nil
}

// IteratorStream returns the name of the stream a shard iterator reads, if
// it is a valid iterator (expired or not).
func (e *Engine) IteratorStream(iterator string) (string, bool) {
	it, err := e.tokens.openIterator(iterator)
	return it.StreamName, err == nil
}
