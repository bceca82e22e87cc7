package auth

import (
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/sluicedata/sluice/internal/awsproto"
)

// CredentialsFile is the JSON file --credentials-file names.
type CredentialsFile struct {
	Users []User `json:"users"`
}

// User is one principal with its access keys and IAM policy documents.
type User struct {
	Name       string            `json:"name"`
	AccessKeys []AccessKey       `json:"accessKeys"`
	Policies   []json.RawMessage `json:"policies,omitempty"`
}

// AccessKey is an access key pair, with an optional session token that
// requests must then carry in X-Amz-Security-Token.
type AccessKey struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken,omitempty"`
}

// LoadCredentials reads and checks a credentials file, policies included.
func LoadCredentials(path string) (*CredentialsFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read credentials file: %w", err)
	}
	var f CredentialsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse credentials file %s: %w", path, err)
	}
	seen := map[string]bool{}
	for _, u := range f.Users {
		if u.Name == "" {
			return nil, fmt.Errorf("credentials file %s: a user has no name", path)
		}
		for i, doc := range u.Policies {
			if _, err := ParsePolicy(doc); err != nil {
				return nil, fmt.Errorf("credentials file %s: user %s, policy %d: %w", path, u.Name, i+1, err)
			}
		}
		for _, k := range u.AccessKeys {
			if k.AccessKeyID == "" || k.SecretAccessKey == "" {
				return nil, fmt.Errorf("credentials file %s: user %s has an access key without id or secret", path, u.Name)
			}
			if seen[k.AccessKeyID] {
				return nil, fmt.Errorf("credentials file %s: access key %s appears twice", path, k.AccessKeyID)
			}
			seen[k.AccessKeyID] = true
		}
	}
	return &f, nil
}

// Principal is who a verified request comes from.
type Principal struct {
	User     string
	Scope    Scope
	Policies []*Policy // the user's identity policies
}

type keyEntry struct {
	user     string
	key      AccessKey
	policies []*Policy
}

// Verifier checks SigV4 signatures. It is safe for concurrent use; Load
// replaces the credentials atomically (for SIGHUP).
type Verifier struct {
	now func() time.Time

	mu   sync.RWMutex
	keys map[string]keyEntry
}

// NewVerifier returns a verifier over f. now is the clock; nil means the
// wall clock.
func NewVerifier(f *CredentialsFile, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{now: now}
	v.Load(f)
	return v
}

// Load replaces the verifier's credentials.
func (v *Verifier) Load(f *CredentialsFile) {
	keys := map[string]keyEntry{}
	for _, u := range f.Users {
		var policies []*Policy
		for _, doc := range u.Policies {
			if p, err := ParsePolicy(doc); err == nil { // LoadCredentials checked them
				policies = append(policies, p)
			}
		}
		for _, k := range u.AccessKeys {
			keys[k.AccessKeyID] = keyEntry{user: u.Name, key: k, policies: policies}
		}
	}
	v.mu.Lock()
	v.keys = keys
	v.mu.Unlock()
}

// Verify checks r's signature against body: an Authorization header, or a
// presigned query string (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
// X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature and an optional
// X-Amz-Security-Token). A presigned request's payload hash is
// UNSIGNED-PAYLOAD unless it carries X-Amz-Content-Sha256. Errors are
// AWS's, checked in AWS's order: shape, date, scope, key, signature.
func (v *Verifier) Verify(r *http.Request, body []byte) (Principal, *awsproto.Error) {
	q := r.URL.Query()
	h := r.Header.Get("Authorization")
	_, presigned := q["X-Amz-Algorithm"]
	var s signedParts
	var aerr *awsproto.Error
	switch {
	case presigned && h != "":
		return Principal{}, awsproto.Errorf("InvalidSignatureException", "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")
	case presigned:
		s, aerr = parseQueryAuth(q, r.Header)
	case h == "":
		return Principal{}, awsproto.Errorf("MissingAuthenticationTokenException", "Missing Authentication Token")
	default:
		s, aerr = parseAuthorization(h, r.Header)
	}
	if aerr != nil {
		return Principal{}, aerr
	}
	if aerr := s.checkTime(v.now().UTC()); aerr != nil {
		return Principal{}, aerr
	}
	scope, aerr := s.scope()
	if aerr != nil {
		return Principal{}, aerr
	}
	v.mu.RLock()
	entry, ok := v.keys[scope.AccessKeyID]
	v.mu.RUnlock()
	if !ok || (entry.key.SessionToken != "" && s.securityToken != entry.key.SessionToken) {
		return Principal{}, awsproto.Errorf("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	payloadHash := s.payloadHash
	switch {
	case payloadHash == "" && s.presigned:
		payloadHash = "UNSIGNED-PAYLOAD"
	case payloadHash == "":
		payloadHash = sha256Hex(body)
	case payloadHash != "UNSIGNED-PAYLOAD" && payloadHash != sha256Hex(body):
		return Principal{}, signatureMismatch()
	}
	credScope := scope.Date + "/" + scope.Region + "/" + scope.Service + "/aws4_request"
	stringToSign := algorithm + "\n" + s.amzDate + "\n" + credScope + "\n" + sha256Hex([]byte(canonicalRequest(r, s.signedHeaders, payloadHash)))
	want := hmacSHA256(signingKey(entry.key.SecretAccessKey, scope), stringToSign)
	got, err := hex.DecodeString(s.signature)
	// hmac.Equal takes the same time for any two slices of equal length,
	// so the comparison tells nothing about how much of a guess was right.
	if err != nil || !hmac.Equal(want, got) {
		return Principal{}, signatureMismatch()
	}
	return Principal{User: entry.user, Scope: scope, Policies: entry.policies}, nil
}

func signatureMismatch() *awsproto.Error {
	return awsproto.Errorf("InvalidSignatureException",
		"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
}
