package keyring

import (
	"fmt"
	"regexp"
	"strings"
)

// aliasPattern is KMS's AliasName pattern. SetAlias also refuses the
// reserved prefix alias/aws/; the file may hold DefaultAlias.
var aliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]+$`)

// reservedAliasPrefix starts the names AWS keeps for its managed keys.
const reservedAliasPrefix = "alias/aws/"

// CheckAlias returns nil if SetAlias accepts name as an alias name, else an
// error wrapping ErrInvalidAlias that says why. Callers use it to validate
// input before doing anything else.
func CheckAlias(name string) error {
	switch {
	case !strings.HasPrefix(name, "alias/"):
		// KMS's ValidationException text (seen in
		// aws-controllers-k8s/community#1878).
		return invalidAlias(`Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	case len(name) > maxAliasNameBytes:
		return invalidAlias(fmt.Sprintf("Alias name is %d characters; the limit is %d.", len(name), maxAliasNameBytes))
	case !aliasPattern.MatchString(name):
		return invalidAlias(fmt.Sprintf("Alias name %q must match the pattern ^alias/[a-zA-Z0-9/_-]+$.", name))
	case strings.HasPrefix(name, reservedAliasPrefix):
		return invalidAlias("Alias names beginning with " + reservedAliasPrefix + " are reserved for AWS managed keys.")
	}
	return nil
}

func invalidAlias(msg string) error { return &Error{Kind: ErrInvalidAlias, Message: msg} }

// The texts of KMS's NotFoundException, as real KMS returns them:
//
//   - "Key 'arn:aws:kms:us-east-1:123456789012:key/<id>' does not exist": an
//     unknown key id or key ARN; KMS names the key by its ARN even when given
//     the bare id (boto/botocore#2107, nakedible/openssl-engine-kms#1,
//     aws/aws-cli#1517, binxio/aws-ssm-copy#10).
//   - "Alias arn:aws:kms:us-west-2:271462348125:alias/parameter_store_key is
//     not found.": an unknown alias name or alias ARN; KMS names the alias by
//     its ARN (cloudposse/docs#152, sigstore/cosign#1474).
//   - "Invalid arn us-west-1": an ARN naming another region
//     (nakedible/openssl-engine-kms#1, pulumi/pulumi#17022,
//     kubernetes-retired/kube-aws#1041).
//   - "Invalid keyId <ref>": a key id that is not a key id at all, such as an
//     alias name without "alias/" (realestate-com-au/shush#1; localstack's
//     KMS provider, whose messages are checked against AWS in its parity
//     tests, formats it this way).
func keyNotFound(arn string) error {
	return &Error{Kind: ErrNotFound, Message: "Key '" + arn + "' does not exist"}
}

func aliasNotFound(arn string) error {
	return &Error{Kind: ErrNotFound, Message: "Alias " + arn + " is not found."}
}

func invalidARN(region string) error {
	return &Error{Kind: ErrNotFound, Message: "Invalid arn " + region}
}

func invalidKeyID(ref string) error {
	return &Error{Kind: ErrNotFound, Message: "Invalid keyId " + ref}
}

// keyARN is the ARN of key id in this ring's region and account.
func (r *Ring) keyARN(id string) string {
	return "arn:aws:kms:" + r.opts.Region + ":" + r.opts.AccountID + ":key/" + id
}

func (r *Ring) aliasARN(alias string) string {
	return "arn:aws:kms:" + r.opts.Region + ":" + r.opts.AccountID + ":" + alias
}

// resolve finds the key ref names in st: a key id, key ARN, alias name or
// alias ARN. ARNs must name this ring's region and account.
func (r *Ring) resolve(st *state, ref string) (*keyState, error) {
	if strings.HasPrefix(ref, "arn:") {
		return r.resolveARN(st, ref)
	}
	if strings.HasPrefix(ref, "alias/") {
		if id, ok := st.aliases[ref]; ok {
			return st.byID[id], nil
		}
		return nil, aliasNotFound(r.aliasARN(ref))
	}
	if !keyIDPattern.MatchString(ref) {
		return nil, invalidKeyID(ref)
	}
	if k := st.byID[ref]; k != nil {
		return k, nil
	}
	return nil, keyNotFound(r.keyARN(ref))
}

// resolveARN handles arn:aws:kms:<region>:<account>:key/<id> and
// arn:aws:kms:<region>:<account>:alias/<name>.
func (r *Ring) resolveARN(st *state, ref string) (*keyState, error) {
	parts := strings.SplitN(ref, ":", 6)
	if len(parts) != 6 || parts[1] != "aws" || parts[2] != "kms" {
		return nil, invalidKeyID(ref)
	}
	region, account, resource := parts[3], parts[4], parts[5]
	var isAlias bool
	switch {
	case strings.HasPrefix(resource, "alias/"):
		isAlias = true
	case strings.HasPrefix(resource, "key/"):
	default:
		return nil, invalidKeyID(ref)
	}
	if region != r.opts.Region {
		return nil, invalidARN(region)
	}
	if isAlias {
		if id, ok := st.aliases[resource]; ok && account == r.opts.AccountID {
			return st.byID[id], nil
		}
		return nil, aliasNotFound(ref)
	}
	id := strings.TrimPrefix(resource, "key/")
	if k := st.byID[id]; k != nil && account == r.opts.AccountID {
		return k, nil
	}
	return nil, keyNotFound(ref)
}
