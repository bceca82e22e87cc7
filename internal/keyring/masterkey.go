package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MasterKeyBytes is the length of a master key: an AES-256 key.
const MasterKeyBytes = 32

// EnvMasterKey is the environment variable that holds the master key itself
// when no key file is given.
const EnvMasterKey = "SLUICE_MASTER_KEY"

// maxMasterKeyFileBytes bounds what LoadMasterKey reads: a key file holds 64
// hex characters or 44 base64 ones and maybe a newline, so anything this
// large is not a key file.
const maxMasterKeyFileBytes = 4096

// errMasterKeyForm is the one error for a master key that does not parse. It
// says which forms are accepted and never repeats what it was given.
var errMasterKeyForm = errors.New("a master key must be 64 hex characters or standard base64 of exactly 32 bytes (make one with `sluice keys new-master-key`)")

// ParseMasterKey accepts 64 hex characters or standard (padded) base64 of
// exactly 32 bytes; surrounding whitespace is ignored. Errors say which forms
// are accepted and never echo the key.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*MasterKeyBytes {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == MasterKeyBytes {
		return b, nil
	}
	return nil, errMasterKeyForm
}

// LoadMasterKey reads the master key from file if file is not empty, else
// parses envVal (the caller passes os.Getenv(EnvMasterKey)). It returns nil,
// nil when both are empty: the caller decides whether a master key is
// required. It does not check the file's permissions; FilePermsTooOpen does,
// so the caller can warn.
func LoadMasterKey(file, envVal string) ([]byte, error) {
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("read master key file: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxMasterKeyFileBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read master key file %s: %w", file, err)
		}
		if len(b) > maxMasterKeyFileBytes {
			return nil, fmt.Errorf("master key file %s: %w", file, errMasterKeyForm)
		}
		key, err := ParseMasterKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("master key file %s: %w", file, err)
		}
		return key, nil
	}
	if envVal == "" {
		return nil, nil
	}
	key, err := ParseMasterKey(envVal)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvMasterKey, err)
	}
	return key, nil
}

// FilePermsTooOpen reports whether path can be read or written by its group
// or by others, so the caller can warn that the master key is exposed. It is
// false when path cannot be stat'ed: LoadMasterKey reports that.
func FilePermsTooOpen(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	return fi.Mode().Perm()&0o077 != 0
}

// NewMasterKey returns MasterKeyBytes random bytes from crypto/rand.
func NewMasterKey() []byte {
	return randomBytes(MasterKeyBytes)
}

// randomBytes returns n bytes from crypto/rand, whose Read never fails: it
// crashes the program rather than return less than asked.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
