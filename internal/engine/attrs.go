package engine

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
)

// This file holds the stream attributes that are not about shards or
// records: tags, the resource policy, shard-level metrics, server-side
// encryption, the record size limit, warm throughput and the record
// distribution strategy. Each change goes through updateStream, so it is
// persisted with the rest of the stream's catalog record.

// Limits on stream attributes, with AWS's defaults.
const (
	// maxTagsPerStream is how many tags one stream may carry.
	maxTagsPerStream = 50
	// maxPolicyBytes bounds a resource policy document (UTF-8 bytes). AWS
	// documents no figure for Kinesis; 20 KiB is IAM's usual ceiling for
	// resource policies.
	maxPolicyBytes = 20 << 10
	// maxEncryptionChanges is how many Start/StopStreamEncryption calls a
	// stream accepts per encryptionChangeWindow.
	maxEncryptionChanges   = 25
	encryptionChangeWindow = 24 * time.Hour
	// maxWarmThroughputMiBps is the warm throughput ceiling of an on-demand
	// stream: 10 GiBps.
	maxWarmThroughputMiBps = 10 << 10
	// MinMaxRecordSizeKiB and MaxMaxRecordSizeKiB bound MaxRecordSizeInKiB.
	MinMaxRecordSizeKiB = 1024
	MaxMaxRecordSizeKiB = 10240
)

// Record distribution strategies.
const (
	DistributionAuto             = "AUTO"
	DistributionUserPartitionKey = "USER_PARTITION_KEY"
)

// EncryptionKMS and EncryptionNone are the EncryptionType values.
const (
	EncryptionKMS  = "KMS"
	EncryptionNone = "NONE"
)

// MetricAll asks for every shard-level metric.
const MetricAll = "ALL"

// ShardLevelMetrics are the enhanced monitoring metrics in the model's
// order, which is also the order they are reported in.
var ShardLevelMetrics = []string{
	"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
	"WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds",
}

// Tag is one stream tag.
type Tag struct {
	Key   string
	Value string
}

// requireNotCreating is for attribute changes that AWS refuses while a
// stream is being created but allows while it is UPDATING. updateStream
// has already refused DELETING and applied any due transition.
func (e *Engine) requireNotCreating(st *stream) error {
	if st.meta.Status == StatusCreating {
		return e.notActive(st.meta.Name, st.meta.Status)
	}
	return nil
}

// --- Tags ---

// tagCharsOK reports whether s uses only the characters AWS allows in tag
// keys and values: Unicode letters, digits, white space and _ . / = + - % @.
func tagCharsOK(s string) bool {
	for _, r := range s {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsNumber(r), unicode.IsSpace(r), unicode.Is(unicode.Z, r):
		case strings.ContainsRune("_./=+-%@", r):
		default:
			return false
		}
	}
	return true
}

const reservedTagPrefix = "aws:"

// checkTagKeys applies AWS's tag rules to keys and values: the reserved
// "aws:" prefix first (it would also fail the character check, but this
// message says why), then the characters. action is "add tags to" or
// "remove tags from" or "create" and names the operation in the message.
func (e *Engine) checkTagKeys(action, name string, keys, values []string) error {
	for _, k := range keys {
		if strings.HasPrefix(strings.ToLower(k), reservedTagPrefix) {
			return errorf(CodeInvalidArgument,
				"Failed to %s stream %s under account %s because some tag keys start with the reserved prefix 'aws:'.",
				action, name, e.cfg.AccountID)
		}
	}
	for _, list := range [][]string{keys, values} {
		for _, s := range list {
			if !tagCharsOK(s) {
				return errorf(CodeInvalidArgument,
					"Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - %% @.")
			}
		}
	}
	return nil
}

func (e *Engine) tooManyTags(action, name string) *Error {
	return errorf(CodeInvalidArgument,
		"Failed to %s stream %s under account %s because a given stream cannot have more than %d tags associated with it.",
		action, name, e.cfg.AccountID, maxTagsPerStream)
}

func splitTags(tags map[string]string) (keys, values []string) {
	for k, v := range tags {
		keys = append(keys, k)
		values = append(values, v)
	}
	return keys, values
}

// CheckCreateStreamTags applies AWS's tag rules (characters, the reserved
// "aws:" prefix, at most 50 tags) to the tags of a CreateStream call, after
// model validation and before the stream is created.
func (e *Engine) CheckCreateStreamTags(name string, tags map[string]string) error {
	keys, values := splitTags(tags)
	if err := e.checkTagKeys("create", name, keys, values); err != nil {
		return err
	}
	if len(tags) > maxTagsPerStream {
		return e.tooManyTags("create", name)
	}
	return nil
}

// Resource names what a ResourceARN points to: a stream, or one of its
// enhanced fan-out consumers.
type Resource struct {
	Stream   string
	Consumer string // "" for the stream itself
}

// attrsLocked returns the tags and policy fields of res. The caller holds
// st.mu.
func (e *Engine) attrsLocked(st *stream, res Resource, now int64) (*map[string]string, *string, error) {
	if res.Consumer == "" {
		return &st.meta.Tags, &st.meta.Policy, nil
	}
	c := st.findConsumerLocked(res.Consumer, now)
	if c == nil {
		return nil, nil, e.consumerNotFound(res.Consumer)
	}
	return &c.Tags, &c.Policy, nil
}

// AddTags adds tags to a stream, replacing the values of keys it already
// has. The stream may not hold more than 50 tags afterwards.
func (e *Engine) AddTags(name string, tags map[string]string) error {
	return e.AddResourceTags(Resource{Stream: name}, tags)
}

// AddResourceTags is AddTags for a stream or a consumer.
func (e *Engine) AddResourceTags(res Resource, tags map[string]string) error {
	keys, values := splitTags(tags)
	if err := e.checkTagKeys("add tags to", res.Stream, keys, values); err != nil {
		return err
	}
	return e.updateStream(res.Stream, false, func(st *stream, now int64) (bool, error) {
		if err := e.requireNotCreating(st); err != nil {
			return false, err
		}
		cur, _, err := e.attrsLocked(st, res, now)
		if err != nil {
			return false, err
		}
		n := len(*cur)
		for k := range tags {
			if _, ok := (*cur)[k]; !ok {
				n++
			}
		}
		if n > maxTagsPerStream {
			return false, e.tooManyTags("add tags to", res.Stream)
		}
		if *cur == nil {
			*cur = make(map[string]string, len(tags))
		}
		for k, v := range tags {
			(*cur)[k] = v
		}
		return false, nil
	})
}

// RemoveTags removes the tags with the given keys; keys the stream does not
// have are ignored, as on AWS.
func (e *Engine) RemoveTags(name string, keys []string) error {
	return e.RemoveResourceTags(Resource{Stream: name}, keys)
}

// RemoveResourceTags is RemoveTags for a stream or a consumer.
func (e *Engine) RemoveResourceTags(res Resource, keys []string) error {
	if err := e.checkTagKeys("remove tags from", res.Stream, keys, nil); err != nil {
		return err
	}
	return e.updateStream(res.Stream, false, func(st *stream, now int64) (bool, error) {
		if err := e.requireNotCreating(st); err != nil {
			return false, err
		}
		cur, _, err := e.attrsLocked(st, res, now)
		if err != nil {
			return false, err
		}
		for _, k := range keys {
			delete(*cur, k)
		}
		if len(*cur) == 0 {
			*cur = nil
		}
		return false, nil
	})
}

// ListTags returns the stream's tags sorted by key, starting after
// exclusiveStartKey ("" for the first), at most limit of them (limit <= 0
// means all), and whether more follow. The returned slice is the caller's.
func (e *Engine) ListTags(name, exclusiveStartKey string, limit int) ([]Tag, bool, error) {
	return e.ListResourceTags(Resource{Stream: name}, exclusiveStartKey, limit)
}

// ListResourceTags is ListTags for a stream or a consumer.
func (e *Engine) ListResourceTags(res Resource, exclusiveStartKey string, limit int) ([]Tag, bool, error) {
	var tags []Tag
	err := e.viewStream(res.Stream, func(st *stream, now int64) error {
		cur, _, err := e.attrsLocked(st, res, now)
		if err != nil {
			return err
		}
		tags = make([]Tag, 0, len(*cur))
		for k, v := range *cur {
			if exclusiveStartKey == "" || k > exclusiveStartKey {
				tags = append(tags, Tag{Key: k, Value: v})
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	if limit > 0 && len(tags) > limit {
		return tags[:limit], true, nil
	}
	return tags, false, nil
}

// --- Resource policy ---

// PutResourcePolicy attaches policy, an IAM policy document, to a stream
// or consumer, replacing any it had. The document is checked first (see
// CheckPolicy).
func (e *Engine) PutResourcePolicy(res Resource, policy string) error {
	if err := CheckPolicy(policy); err != nil {
		return err
	}
	return e.updateStream(res.Stream, false, func(st *stream, now int64) (bool, error) {
		if err := e.requireNotCreating(st); err != nil {
			return false, err
		}
		_, cur, err := e.attrsLocked(st, res, now)
		if err != nil {
			return false, err
		}
		*cur = policy
		return false, nil
	})
}

// ResourcePolicy returns the policy document of a stream or consumer, or
// "{}" when it has none, which is what AWS answers.
func (e *Engine) ResourcePolicy(res Resource) (string, error) {
	var policy string
	err := e.viewStream(res.Stream, func(st *stream, now int64) error {
		_, cur, err := e.attrsLocked(st, res, now)
		if err == nil {
			policy = *cur
		}
		return err
	})
	if policy == "" {
		policy = "{}"
	}
	return policy, err
}

// DeleteResourcePolicy removes the policy of a stream or consumer. One
// without a policy gets ResourceNotFoundException naming resourceARN.
func (e *Engine) DeleteResourcePolicy(res Resource, resourceARN string) error {
	return e.updateStream(res.Stream, false, func(st *stream, now int64) (bool, error) {
		if err := e.requireNotCreating(st); err != nil {
			return false, err
		}
		_, cur, err := e.attrsLocked(st, res, now)
		if err != nil {
			return false, err
		}
		if *cur == "" {
			return false, errorf(CodeResourceNotFound, "No resource policy found for resource ARN %s.", resourceARN)
		}
		*cur = ""
		return false, nil
	})
}

// --- Enhanced monitoring ---

// expandMetrics turns a ShardLevelMetrics list (model-valid names, ALL
// included) into a set.
func expandMetrics(metrics []string) map[string]bool {
	set := make(map[string]bool, len(ShardLevelMetrics))
	for _, m := range metrics {
		if m == MetricAll {
			for _, x := range ShardLevelMetrics {
				set[x] = true
			}
			continue
		}
		set[m] = true
	}
	return set
}

// orderedMetrics lists the metrics in set in the model's order; never nil.
func orderedMetrics(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for _, m := range ShardLevelMetrics {
		if set[m] {
			out = append(out, m)
		}
	}
	return out
}

// UpdateShardLevelMetrics enables (enable) or disables the given
// shard-level metrics, ALL meaning all seven, and returns the metrics
// before and after the change, in the model's order.
func (e *Engine) UpdateShardLevelMetrics(name string, metrics []string, enable bool) (current, desired []string, err error) {
	err = e.updateStream(name, true, func(st *stream, _ int64) (bool, error) {
		set := expandMetrics(st.meta.ShardLevelMetrics)
		current = orderedMetrics(set)
		for m := range expandMetrics(metrics) {
			if enable {
				set[m] = true
			} else {
				delete(set, m)
			}
		}
		desired = orderedMetrics(set)
		st.meta.ShardLevelMetrics = desired
		if len(desired) == 0 {
			st.meta.ShardLevelMetrics = nil
		}
		return false, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return current, desired, nil
}

// --- Encryption ---

// KMS key references AWS accepts as KeyId: a key ARN, an alias ARN, a key
// id (single- or multi-Region) or an alias name.
var (
	kmsKeyIDPattern    = `([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|mrk-[0-9a-fA-F]{32})`
	kmsAliasPattern    = `alias/[a-zA-Z0-9/_-]+`
	kmsKeyRefPattern   = regexp.MustCompile(`^(` + kmsKeyIDPattern + `|` + kmsAliasPattern + `|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/` + kmsKeyIDPattern + `|` + kmsAliasPattern + `))$`)
	encryptionWindowMs = encryptionChangeWindow.Milliseconds()
)

// ValidKMSKeyRef reports whether keyID is a well-formed KMS key reference.
// Whether the key exists is for the key ring to say.
func ValidKMSKeyRef(keyID string) bool { return kmsKeyRefPattern.MatchString(keyID) }

// recordEncryptionChangeLocked enforces AWS's limit of 25 encryption
// changes per stream in a rolling 24 hours and records this one. The
// caller holds st.mu for writing.
func (e *Engine) recordEncryptionChangeLocked(st *stream, now int64) error {
	recent := st.meta.EncryptionChanges[:0]
	for _, t := range st.meta.EncryptionChanges {
		if now-t < encryptionWindowMs {
			recent = append(recent, t)
		}
	}
	st.meta.EncryptionChanges = recent
	if len(recent) >= maxEncryptionChanges {
		return errorf(CodeLimitExceeded,
			"Stream %s under account %s has exceeded the limit of %d encryption changes in a rolling 24-hour period.",
			st.meta.Name, e.cfg.AccountID, maxEncryptionChanges)
	}
	st.meta.EncryptionChanges = append(st.meta.EncryptionChanges, now)
	return nil
}

func (e *Engine) invalidKeyID(keyID string) *Error {
	return errorf(CodeInvalidArgument,
		"KeyId %s is not a valid KMS key id, key ARN, alias name or alias ARN.", keyID)
}

// StartStreamEncryption turns on server-side encryption with the KMS key
// keyID (or switches to another key). The stream passes through UPDATING.
func (e *Engine) StartStreamEncryption(name, keyID string) error {
	if !ValidKMSKeyRef(keyID) {
		return e.invalidKeyID(keyID)
	}
	if e.cfg.Keys == nil {
		return noEncryption()
	}
	if _, err := e.cfg.Keys.Resolve(keyID); err != nil {
		if kerr := kmsError(err); kerr != nil {
			return kerr
		}
		return e.internalFailure(err)
	}
	return e.updateStream(name, true, func(st *stream, now int64) (bool, error) {
		if err := e.recordEncryptionChangeLocked(st, now); err != nil {
			return false, err
		}
		st.meta.EncryptionType, st.meta.KeyID = EncryptionKMS, keyID
		return true, nil
	})
}

// StopStreamEncryption turns server-side encryption off. keyID must be the
// key the stream is encrypted with. The stream passes through UPDATING.
func (e *Engine) StopStreamEncryption(name, keyID string) error {
	if !ValidKMSKeyRef(keyID) {
		return e.invalidKeyID(keyID)
	}
	return e.updateStream(name, true, func(st *stream, now int64) (bool, error) {
		if st.meta.EncryptionType != EncryptionKMS {
			return false, errorf(CodeInvalidArgument,
				"Stream %s under account %s is not encrypted.", name, e.cfg.AccountID)
		}
		if st.meta.KeyID != keyID {
			return false, errorf(CodeInvalidArgument,
				"KeyId %s does not match the KeyId %s that stream %s under account %s is encrypted with.",
				keyID, st.meta.KeyID, name, e.cfg.AccountID)
		}
		if err := e.recordEncryptionChangeLocked(st, now); err != nil {
			return false, err
		}
		st.meta.EncryptionType, st.meta.KeyID = EncryptionNone, ""
		return true, nil
	})
}

// --- Record size, warm throughput, record distribution ---

// UpdateMaxRecordSize sets the largest record (partition key plus data) the
// stream accepts, in KiB (MinMaxRecordSizeKiB..MaxMaxRecordSizeKiB,
// checked by the caller). It applies to puts at once.
func (e *Engine) UpdateMaxRecordSize(name string, kib int) error {
	if kib < MinMaxRecordSizeKiB || kib > MaxMaxRecordSizeKiB {
		panic("engine: UpdateMaxRecordSize outside the model's range")
	}
	return e.updateStream(name, true, func(st *stream, _ int64) (bool, error) {
		st.meta.MaxRecordSizeKiB = kib
		return false, nil
	})
}

// WarmThroughput is an on-demand stream's warm throughput in MiB/s.
type WarmThroughput struct {
	TargetMiBps  int
	CurrentMiBps int
}

// UpdateWarmThroughput sets the warm throughput of an ON_DEMAND stream in
// an account whose MinimumThroughputBillingCommitment is on. The stream
// passes through UPDATING. It returns the new target and the throughput
// before the change.
func (e *Engine) UpdateWarmThroughput(name string, mibps int) (WarmThroughput, error) {
	if mibps < 0 {
		panic("engine: negative warm throughput")
	}
	st := e.lookup(name)
	if st == nil {
		return WarmThroughput{}, e.streamNotFound(name)
	}
	commitment, err := e.AccountSettings()
	if err != nil {
		return WarmThroughput{}, err
	}
	var out WarmThroughput
	err = e.updateStream(name, true, func(st *stream, _ int64) (bool, error) {
		if st.meta.Mode != ModeOnDemand {
			return false, errorf(CodeInvalidArgument,
				"Warm throughput is only supported for streams in ON_DEMAND capacity mode. Stream %s under account %s is in %s mode.",
				name, e.cfg.AccountID, st.meta.Mode)
		}
		if commitment.Status == CommitmentDisabled {
			return false, errorf(CodeInvalidArgument,
				"Warm throughput requires MinimumThroughputBillingCommitment to be enabled for account %s.", e.cfg.AccountID)
		}
		if mibps > maxWarmThroughputMiBps {
			return false, errorf(CodeLimitExceeded,
				"Requested warm throughput (%d MiBps) for stream %s under account %s exceeds the limit of %d MiBps.",
				mibps, name, e.cfg.AccountID, maxWarmThroughputMiBps)
		}
		if st.meta.WarmThroughputMiBps != nil {
			out.CurrentMiBps = *st.meta.WarmThroughputMiBps
		}
		out.TargetMiBps = mibps
		v := mibps
		st.meta.WarmThroughputMiBps = &v
		return true, nil
	})
	if err != nil {
		return WarmThroughput{}, err
	}
	return out, nil
}

// UpdateRecordDistribution sets the stream's record distribution strategy.
// AUTO is for ON_DEMAND streams only; USER_PARTITION_KEY, the default, is
// accepted for any stream.
func (e *Engine) UpdateRecordDistribution(name, strategy string) error {
	return e.updateStream(name, true, func(st *stream, _ int64) (bool, error) {
		if strategy == DistributionAuto && st.meta.Mode != ModeOnDemand {
			return false, errorf(CodeInvalidArgument,
				"RecordDistributionStrategy AUTO is only supported for streams in ON_DEMAND capacity mode. Stream %s under account %s is in %s mode.",
				name, e.cfg.AccountID, st.meta.Mode)
		}
		st.meta.RecordDistribution = strategy
		if strategy == DistributionUserPartitionKey {
			st.meta.RecordDistribution = ""
		}
		return false, nil
	})
}

// StreamSettings are the attributes DescribeStreamSummary reports beyond
// StreamInfo.
type StreamSettings struct {
	// WarmThroughput is nil when it was never set.
	WarmThroughput *WarmThroughput
	// RecordDistribution is AUTO or USER_PARTITION_KEY.
	RecordDistribution string
}

// StreamSettings returns the stream's warm throughput and record
// distribution strategy. While a warm throughput change is in progress
// (UPDATING) the current throughput is reported as 0: the engine keeps
// only the target.
func (e *Engine) StreamSettings(name string) (StreamSettings, error) {
	var out StreamSettings
	err := e.viewStream(name, func(st *stream, now int64) error {
		out.RecordDistribution = st.meta.RecordDistribution
		if out.RecordDistribution == "" {
			out.RecordDistribution = DistributionUserPartitionKey
		}
		if w := st.meta.WarmThroughputMiBps; w != nil {
			wt := WarmThroughput{TargetMiBps: *w}
			if st.statusLocked(now) == StatusActive {
				wt.CurrentMiBps = *w
			}
			out.WarmThroughput = &wt
		}
		return nil
	})
	return out, err
}

// --- Policy documents ---

// Policy element names AWS's IAM policy grammar allows.
var (
	policyTopElements       = []string{"Version", "Id", "Statement"}
	policyStatementElements = []string{"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
	policyPrincipalTypes    = []string{"AWS", "Service", "Federated", "CanonicalUser"}
	policyVersions          = []string{"2012-10-17", "2008-10-17"}
)

func policyError(format string, args ...any) *Error {
	return errorf(CodeInvalidArgument, format, args...)
}

// errPolicySyntax is IAM's answer to a document that is not a JSON object
// of the policy grammar's shapes.
func errPolicySyntax() *Error { return policyError("Syntax errors in policy.") }

// CheckPolicy checks that doc is an IAM policy document: a JSON object
// with an optional Version (2012-10-17 or 2008-10-17) and Id, and a
// Statement that is one statement object or a non-empty list of them. A
// statement has Effect Allow or Deny, exactly one of Action and NotAction,
// exactly one of Resource and NotResource, and optionally Sid (unique in
// the document), Principal or NotPrincipal, and Condition. The messages
// are IAM's where IAM has one for the fault.
func CheckPolicy(doc string) error {
	if len(doc) > maxPolicyBytes {
		return policyError("Policy document exceeds the maximum size of %d bytes.", maxPolicyBytes)
	}
	var top map[string]any
	if err := json.Unmarshal([]byte(doc), &top); err != nil || top == nil {
		return errPolicySyntax()
	}
	if err := unknownElement(top, policyTopElements); err != nil {
		return err
	}
	if v, ok := top["Version"]; ok {
		s, isStr := v.(string)
		if !isStr || !containsString(policyVersions, s) {
			return policyError("The policy must contain a valid version string")
		}
	}
	if v, ok := top["Id"]; ok {
		if _, isStr := v.(string); !isStr {
			return errPolicySyntax()
		}
	}
	var statements []any
	switch s := top["Statement"].(type) {
	case nil:
		return policyError("Missing required field Statement")
	case map[string]any:
		statements = []any{s}
	case []any:
		if len(s) == 0 {
			return policyError("Missing required field Statement")
		}
		statements = s
	default:
		return errPolicySyntax()
	}
	sids := make(map[string]bool)
	for _, raw := range statements {
		st, ok := raw.(map[string]any)
		if !ok {
			return errPolicySyntax()
		}
		if err := checkStatement(st, sids); err != nil {
			return err
		}
	}
	return nil
}

func checkStatement(st map[string]any, sids map[string]bool) error {
	if err := unknownElement(st, policyStatementElements); err != nil {
		return err
	}
	if v, ok := st["Sid"]; ok {
		sid, isStr := v.(string)
		if !isStr {
			return errPolicySyntax()
		}
		if sid != "" && sids[sid] {
			return policyError("Statement IDs (SID) in a single policy must be unique.")
		}
		sids[sid] = true
	}
	switch effect := st["Effect"].(type) {
	case nil:
		return policyError("Missing required field Effect")
	case string:
		if effect != "Allow" && effect != "Deny" {
			return policyError("Invalid effect: %s", effect)
		}
	default:
		return errPolicySyntax()
	}
	if err := exactlyOne(st, "Action", "NotAction", "Policy statement must contain actions."); err != nil {
		return err
	}
	if err := exactlyOne(st, "Resource", "NotResource", "Policy statement must contain resources."); err != nil {
		return err
	}
	if _, both := st["NotPrincipal"]; both {
		if _, p := st["Principal"]; p {
			return policyError("Policy statement must not contain both Principal and NotPrincipal.")
		}
	}
	for _, name := range []string{"Principal", "NotPrincipal"} {
		if v, ok := st[name]; ok && !validPrincipal(v) {
			return policyError("Invalid principal in policy")
		}
	}
	if v, ok := st["Condition"]; ok && !validCondition(v) {
		return errPolicySyntax()
	}
	return nil
}

// exactlyOne checks that st has one of the elements a and b (a string or a
// non-empty list of strings), not both.
func exactlyOne(st map[string]any, a, b, missing string) error {
	va, hasA := st[a]
	vb, hasB := st[b]
	switch {
	case hasA && hasB:
		return policyError("Policy statement must not contain both %s and %s.", a, b)
	case hasA:
		if !stringOrList(va) {
			return errPolicySyntax()
		}
	case hasB:
		if !stringOrList(vb) {
			return errPolicySyntax()
		}
	default:
		return policyError("%s", missing)
	}
	return nil
}

// stringOrList reports whether v is a non-empty string or a non-empty list
// of non-empty strings.
func stringOrList(v any) bool {
	switch x := v.(type) {
	case string:
		return x != ""
	case []any:
		if len(x) == 0 {
			return false
		}
		for _, e := range x {
			if s, ok := e.(string); !ok || s == "" {
				return false
			}
		}
		return true
	}
	return false
}

// validPrincipal accepts "*" or an object whose keys are principal types
// and whose values are principals (strings or lists of them).
func validPrincipal(v any) bool {
	switch x := v.(type) {
	case string:
		return x == "*"
	case map[string]any:
		if len(x) == 0 {
			return false
		}
		for k, ids := range x {
			if !containsString(policyPrincipalTypes, k) || !stringOrList(ids) {
				return false
			}
		}
		return true
	}
	return false
}

// validCondition accepts {operator: {key: value or [values]}} where values
// are strings, numbers or booleans.
func validCondition(v any) bool {
	ops, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, raw := range ops {
		keys, ok := raw.(map[string]any)
		if !ok || len(keys) == 0 {
			return false
		}
		for _, val := range keys {
			vals, isList := val.([]any)
			if !isList {
				vals = []any{val}
			}
			for _, x := range vals {
				switch x.(type) {
				case string, float64, bool:
				default:
					return false
				}
			}
		}
	}
	return true
}

func unknownElement(obj map[string]any, allowed []string) error {
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !containsString(allowed, k) {
			return policyError("Policy document contains an unsupported element: %s", k)
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
