package kinesis

import (
	"math"
	"regexp"
	"unicode/utf8"

	"github.com/sluicedata/sluice/internal/awsproto"
)

// validator collects model-constraint problems in the order AWS checks them
// (the order of the members in the operation's input shape) and turns them
// into one ValidationException in AWS's Coral wording (awsproto builds the
// texts).
type validator struct{ problems []string }

func (v *validator) add(problem string) {
	if problem != "" && len(v.problems) < awsproto.MaxValidationProblems {
		v.problems = append(v.problems, problem)
	}
}

// full reports whether AWS would stop collecting problems.
func (v *validator) full() bool { return len(v.problems) >= awsproto.MaxValidationProblems }

// err returns the ValidationException for the problems found, or nil.
func (v *validator) err() error {
	if e := awsproto.ValidationError(v.problems); e != nil {
		return e
	}
	return nil
}

// strRule is the model's constraint on a string member.
type strRule struct {
	required bool
	min, max int // in characters; max 0 means unbounded
	pattern  *regexp.Regexp
	patText  string
	enum     []string
}

// str checks a string member: every failing constraint is reported, in
// AWS's order (enum, pattern, minimum, maximum length). Lengths count Unicode
// characters; AWS counts UTF-16 units, so the two differ only for
// characters outside the Basic Multilingual Plane.
// strOK reports whether str would find nothing wrong with val: the hot
// paths check first and build a member's path only for a bad value.
func strOK(val *string, r strRule) bool {
	if val == nil {
		return !r.required
	}
	s := *val
	n := utf8.RuneCountInString(s)
	return (r.enum == nil || contains(r.enum, s)) && (r.pattern == nil || r.pattern.MatchString(s)) &&
		n >= r.min && (r.max <= 0 || n <= r.max)
}

func (v *validator) str(path string, val *string, r strRule) {
	if val == nil {
		if r.required {
			v.add(awsproto.ProblemRequired(path))
		}
		return
	}
	s := *val
	n := utf8.RuneCountInString(s)
	if r.enum != nil && !contains(r.enum, s) {
		v.add(awsproto.ProblemEnum(s, path, r.enum))
	}
	if r.pattern != nil && !r.pattern.MatchString(s) {
		v.add(awsproto.ProblemPattern(s, path, r.patText))
	}
	if n < r.min {
		v.add(awsproto.ProblemMinLen(s, path, r.min))
	}
	if r.max > 0 && n > r.max {
		v.add(awsproto.ProblemMaxLen(s, path, r.max))
	}
}

// intRule is the model's constraint on an integer member.
type intRule struct {
	required bool
	min, max int64
}

// noMax is an intRule.max for members bounded only below.
const noMax = math.MaxInt64

// int checks an Integer member (Go int32, as the SDKs model it).
func (v *validator) int(path string, val *int32, r intRule) {
	if val == nil {
		if r.required {
			v.add(awsproto.ProblemRequired(path))
		}
		return
	}
	v.add(awsproto.ProblemRange(int64(*val), path, r.min, r.max))
}

// blob checks a blob member's length in bytes.
func (v *validator) blob(path string, val []byte, required bool, maxBytes int) {
	if val == nil {
		if required {
			v.add(awsproto.ProblemRequired(path))
		}
		return
	}
	if len(val) > maxBytes {
		v.add(awsproto.ProblemMaxLen(val, path, maxBytes))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The model's patterns. Go's regexp has no possessive or lookaround forms,
// and none of these need them. Each is anchored: the model's patterns must
// match the whole value.
var (
	streamNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	streamARNPattern  = regexp.MustCompile(`^arn:aws.*:kinesis:.*:\d{12}:stream/\S+$`)
	hashKeyPattern    = regexp.MustCompile(`^(0|([1-9]\d{0,38}))$`)
	seqNumPattern     = regexp.MustCompile(`^(0|([1-9]\d{0,128}))$`)
	streamIDPattern   = regexp.MustCompile(`^[a-z0-9]{20}-[a-z0-9]{3}$`)
)

var (
	ruleStreamName    = strRule{min: 1, max: 128, pattern: streamNamePattern, patText: "[a-zA-Z0-9_.-]+"}
	ruleStreamARN     = strRule{min: 1, max: 2048, pattern: streamARNPattern, patText: `arn:aws.*:kinesis:.*:\d{12}:stream/\S+`}
	ruleStreamID      = strRule{min: 1, max: 24, pattern: streamIDPattern, patText: "[a-z0-9]{20}-[a-z0-9]{3}"}
	ruleShardID       = strRule{min: 1, max: 128, pattern: streamNamePattern, patText: "[a-zA-Z0-9_.-]+"}
	rulePartitionKey  = strRule{required: true, min: 1, max: 256}
	ruleHashKey       = strRule{pattern: hashKeyPattern, patText: `0|([1-9]\d{0,38})`}
	ruleSeqNum        = strRule{pattern: seqNumPattern, patText: `0|([1-9]\d{0,128})`}
	ruleNextToken     = strRule{min: 1, max: 1048576}
	ruleShardIterator = strRule{required: true, min: 1, max: 512}
)

// Model enums.
var (
	enumStreamMode   = []string{"PROVISIONED", "ON_DEMAND"}
	enumIteratorType = []string{"AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"}
	enumShardFilter  = []string{"AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP"}
	enumDistribution = []string{"AUTO", "USER_PARTITION_KEY"}
)

// streamRefRules validates the StreamName/StreamARN/StreamId members.
func (v *validator) streamRef(r *streamRef) {
	v.str("streamName", r.StreamName, ruleStreamName)
	v.str("streamARN", r.StreamARN, ruleStreamARN)
	v.str("streamId", r.StreamId, ruleStreamID)
}
