package keyring

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The key ring file and its neighbours in the data directory.
const (
	// FileName is the key ring file in the data directory.
	FileName = "keyring.json"
	// lockName is the file mutations flock. It is empty, created on first
	// use and never deleted.
	lockName  = "keyring.lock"
	tmpSuffix = ".tmp"
)

// Format constants; see the package documentation for the layout.
const (
	fileFormatVersion = 1
	materialBytes     = 32 // AES-256 key material and data keys
	nonceBytes        = 12 // AES-GCM standard nonce
	tagBytes          = 16 // AES-GCM tag
	// sealedMaterialBytes is a sealed material version: nonce, ciphertext, tag.
	sealedMaterialBytes = nonceBytes + materialBytes + tagBytes
)

// Limits. A ring stays small: the file is read whole on every Resolve and
// GenerateDataKey, and rewritten whole by every mutation. A full ring
// (maxKeys keys of maxMaterialVersions versions, about 90 bytes of JSON per
// version) fits in maxFileBytes.
const (
	maxKeys             = 10_000
	maxMaterialVersions = 50   // per key; Rotate refuses beyond it
	maxDescriptionBytes = 8192 // KMS's Description limit, counted in UTF-8 bytes here
	maxAliasNameBytes   = 256  // KMS's AliasName limit
	maxFileBytes        = 64 << 20
)

var (
	checkPlaintext = []byte("sluice keyring master key check")
	checkAAD       = []byte("sluice-keyring/1 check")

	// keyIDPattern is what KMS takes for a key id: any UUID (the ring makes
	// version 4 ones, but an id from elsewhere is "does not exist", not
	// invalid) or a multi-Region key id.
	keyIDPattern = regexp.MustCompile(`^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
)

const (
	kekInfo = "sluice keyring v1 kek"
	macInfo = "sluice keyring v1 mac"
)

// fileRing is keyring.json. Field order is the order encoding/json writes,
// which the MAC covers.
type fileRing struct {
	Version int               `json:"version"`
	Check   string            `json:"check"`
	Keys    []fileKey         `json:"keys"`
	Aliases map[string]string `json:"aliases"`
	MAC     string            `json:"mac"`
}

type fileKey struct {
	ID          string   `json:"id"`
	Description string   `json:"description"`
	Created     string   `json:"created"`
	Rotated     string   `json:"rotated,omitempty"`
	Material    []string `json:"material"`
}

// secrets are the subkeys derived from a master key.
type secrets struct {
	kek    cipher.AEAD // seals the check value and the key material
	macKey []byte      // HMAC-SHA256 key for the file MAC
}

func deriveSecrets(master []byte) secrets {
	if len(master) != MasterKeyBytes {
		panic(fmt.Sprintf("keyring: master key of %d bytes, want %d", len(master), MasterKeyBytes))
	}
	kek, err := hkdf.Key(sha256.New, master, nil, kekInfo, materialBytes)
	if err != nil {
		panic(fmt.Sprintf("keyring: derive kek: %v", err)) // only for lengths out of HKDF's range
	}
	macKey, err := hkdf.Key(sha256.New, master, nil, macInfo, sha256.Size)
	if err != nil {
		panic(fmt.Sprintf("keyring: derive mac key: %v", err))
	}
	return secrets{kek: newGCM(kek), macKey: macKey}
}

// newGCM returns AES-256-GCM under key, which is always materialBytes long.
func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(fmt.Sprintf("keyring: AES key of %d bytes: %v", len(key), err))
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("keyring: GCM: %v", err))
	}
	return gcm
}

// seal returns nonce || ciphertext || tag under a fresh random nonce.
func seal(aead cipher.AEAD, plaintext, aad []byte) []byte {
	nonce := randomBytes(nonceBytes)
	return aead.Seal(nonce, nonce, plaintext, aad)
}

// open reverses seal.
func open(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < nonceBytes+tagBytes {
		return nil, errors.New("too short")
	}
	return aead.Open(nil, sealed[:nonceBytes], sealed[nonceBytes:], aad)
}

func materialAAD(id string, version int) []byte {
	return []byte("sluice-keyring/1 material " + id + " " + strconv.Itoa(version))
}

// state is one decoded version of the file. It is never changed once a Ring
// publishes it; mutations decode a fresh one from the file.
type state struct {
	raw     []byte      // the file bytes it was decoded from
	check   string      // kept verbatim when the file is rewritten
	keys    []*keyState // in file order: creation order
	byID    map[string]*keyState
	aliases map[string]string // alias name -> key id
}

type keyState struct {
	id          string
	description string
	created     time.Time
	rotated     time.Time // zero if never rotated
	sealed      []string  // material versions as stored in the file
	material    [][]byte  // plaintext of sealed, same index
	aead        []cipher.AEAD
}

// aliasesOf returns the aliases pointing at id, sorted (map iteration order
// is random, so it sorts).
func (st *state) aliasesOf(id string) []string {
	var out []string
	for a, target := range st.aliases {
		if target == id {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

func (st *state) addKey(k *keyState) {
	st.keys = append(st.keys, k)
	st.byID[k.id] = k
}

// addMaterial seals plaintext as k's next version under sec.
func (k *keyState) addMaterial(sec secrets, plaintext []byte) {
	version := len(k.material) + 1
	k.sealed = append(k.sealed, base64.StdEncoding.EncodeToString(seal(sec.kek, plaintext, materialAAD(k.id, version))))
	k.material = append(k.material, plaintext)
	k.aead = append(k.aead, newGCM(plaintext))
}

// newState returns a ring holding only the default key.
func newState(sec secrets, now time.Time) *state {
	st := &state{
		check:   base64.StdEncoding.EncodeToString(seal(sec.kek, checkPlaintext, checkAAD)),
		byID:    map[string]*keyState{},
		aliases: map[string]string{},
	}
	k := &keyState{id: newKeyID(), description: defaultKeyDescription, created: now}
	k.addMaterial(sec, randomBytes(materialBytes))
	st.addKey(k)
	st.aliases[DefaultAlias] = k.id
	return st
}

// encode renders st as the file's bytes.
func encode(st *state, sec secrets) []byte {
	f := fileRing{Version: fileFormatVersion, Check: st.check, Keys: make([]fileKey, 0, len(st.keys)), Aliases: st.aliases}
	for _, k := range st.keys {
		fk := fileKey{ID: k.id, Description: k.description, Created: formatTime(k.created), Material: k.sealed}
		if !k.rotated.IsZero() {
			fk.Rotated = formatTime(k.rotated)
		}
		f.Keys = append(f.Keys, fk)
	}
	f.MAC = base64.StdEncoding.EncodeToString(fileMAC(&f, sec))
	b, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("keyring: marshal: %v", err)) // strings, slices and maps always marshal
	}
	return append(b, '\n')
}

// fileMAC is the MAC of f with its MAC field empty. f.MAC is restored.
func fileMAC(f *fileRing, sec secrets) []byte {
	saved := f.MAC
	f.MAC = ""
	b, err := json.Marshal(f)
	f.MAC = saved
	if err != nil {
		panic(fmt.Sprintf("keyring: marshal: %v", err))
	}
	m := hmac.New(sha256.New, sec.macKey)
	m.Write(b)
	return m.Sum(nil)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// decode checks and decodes the file's bytes. path is for errors only. Errors
// wrap ErrWrongMasterKey (the check value does not open and the MAC does not
// verify), ErrIncompatibleVersion, or are a *CorruptionError.
func decode(path string, raw []byte, sec secrets) (*state, error) {
	corrupt := func(offset int64, format string, args ...any) error {
		return &CorruptionError{File: path, Offset: offset, Reason: fmt.Sprintf(format, args...)}
	}
	// The version first, read leniently, so a newer format is reported as
	// such and not as an unknown field.
	var v struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, jsonCorruption(path, err)
	}
	switch {
	case v.Version == nil:
		return nil, corrupt(-1, "no format version")
	case *v.Version != fileFormatVersion:
		return nil, fmt.Errorf("key ring %s has format version %d; this sluice reads version %d: %w", path, *v.Version, fileFormatVersion, ErrIncompatibleVersion)
	}
	var f fileRing
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, jsonCorruption(path, err)
	}
	check, err := base64.StdEncoding.DecodeString(f.Check)
	if err != nil {
		return nil, corrupt(-1, "check value is not base64")
	}
	mac, err := base64.StdEncoding.DecodeString(f.MAC)
	if err != nil {
		return nil, corrupt(-1, "mac is not base64")
	}
	macOK := hmac.Equal(mac, fileMAC(&f, sec))
	if pt, err := open(sec.kek, check, checkAAD); err != nil || !bytes.Equal(pt, checkPlaintext) {
		if macOK {
			return nil, corrupt(-1, "the master key check value is damaged")
		}
		return nil, &Error{Kind: ErrWrongMasterKey, Message: fmt.Sprintf("the master key does not open key ring %s, which was written under a different master key", path)}
	}
	if !macOK {
		return nil, corrupt(-1, "it was changed outside sluice (its MAC does not match)")
	}
	st, reason := decodeKeys(&f, sec)
	if reason != "" {
		return nil, corrupt(-1, "%s", reason)
	}
	st.raw = raw
	return st, nil
}

// decodeKeys builds the state from a file whose MAC verified; a damaged
// field here means the file was written wrongly, not tampered with. It
// returns a reason on failure.
func decodeKeys(f *fileRing, sec secrets) (*state, string) {
	st := &state{check: f.Check, byID: map[string]*keyState{}, aliases: map[string]string{}}
	if len(f.Keys) > maxKeys {
		return nil, fmt.Sprintf("%d keys; the limit is %d", len(f.Keys), maxKeys)
	}
	for i, fk := range f.Keys {
		k, reason := decodeKey(fk, sec)
		if reason != "" {
			return nil, fmt.Sprintf("key %d: %s", i, reason)
		}
		if st.byID[k.id] != nil {
			return nil, fmt.Sprintf("key %d: id %s appears twice", i, k.id)
		}
		st.addKey(k)
	}
	for name, id := range f.Aliases {
		if !aliasPattern.MatchString(name) || len(name) > maxAliasNameBytes {
			return nil, fmt.Sprintf("alias %q is not a valid alias name", name)
		}
		if st.byID[id] == nil {
			return nil, fmt.Sprintf("alias %s points at key %q, which is not in the ring", name, id)
		}
		st.aliases[name] = id
	}
	if st.aliases[DefaultAlias] == "" {
		return nil, fmt.Sprintf("the default alias %s is missing", DefaultAlias)
	}
	return st, ""
}

func decodeKey(fk fileKey, sec secrets) (*keyState, string) {
	if !keyIDPattern.MatchString(fk.ID) {
		return nil, fmt.Sprintf("id %q is not a lowercase UUID v4", fk.ID)
	}
	k := &keyState{id: fk.ID, description: fk.Description}
	var err error
	if k.created, err = time.Parse(time.RFC3339Nano, fk.Created); err != nil {
		return nil, fmt.Sprintf("%s: created %q is not an RFC 3339 time", fk.ID, fk.Created)
	}
	if fk.Rotated != "" {
		if k.rotated, err = time.Parse(time.RFC3339Nano, fk.Rotated); err != nil {
			return nil, fmt.Sprintf("%s: rotated %q is not an RFC 3339 time", fk.ID, fk.Rotated)
		}
	}
	if len(fk.Material) == 0 || len(fk.Material) > maxMaterialVersions {
		return nil, fmt.Sprintf("%s: %d material versions; want 1 to %d", fk.ID, len(fk.Material), maxMaterialVersions)
	}
	for i, s := range fk.Material {
		sealed, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(sealed) != sealedMaterialBytes {
			return nil, fmt.Sprintf("%s: material version %d is not %d bytes of base64", fk.ID, i+1, sealedMaterialBytes)
		}
		pt, err := open(sec.kek, sealed, materialAAD(fk.ID, i+1))
		if err != nil {
			return nil, fmt.Sprintf("%s: material version %d does not open under the master key", fk.ID, i+1)
		}
		k.sealed = append(k.sealed, s)
		k.material = append(k.material, pt)
		k.aead = append(k.aead, newGCM(pt))
	}
	return k, ""
}

// jsonCorruption turns a JSON error into a CorruptionError, with the byte
// offset when encoding/json knows it.
func jsonCorruption(path string, err error) error {
	offset := int64(-1)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	return &CorruptionError{File: path, Offset: offset, Reason: "not a key ring: " + err.Error()}
}

// validDescription reports why d cannot be a key description, or "".
func validDescription(d string) string {
	switch {
	case len(d) > maxDescriptionBytes:
		return fmt.Sprintf("a description is at most %d bytes, not %d", maxDescriptionBytes, len(d))
	case !utf8.ValidString(d):
		return "a description must be valid UTF-8"
	}
	return ""
}
