package auth

// This file evaluates IAM policy documents: identity policies (a user's) and
// a stream's resource policy, combined as IAM does for a same-account request.
// It is a pure function of the documents and the request: the caller supplies
// the time and the source address through Request.Context.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxPolicyBytes bounds one policy document. IAM's own limits are smaller
// (10,240 characters for a user's inline policies, 20 KiB for a Kinesis
// resource policy); this bound only keeps a hostile document from costing
// much, and leaves room for hand-written, pretty-printed files.
const maxPolicyBytes = 64 * 1024

// Policy is a parsed IAM policy document. It is immutable after ParsePolicy
// and safe for concurrent use by any number of goroutines.
type Policy struct {
	Version    string
	ID         string
	Statements []Statement
}

// Statement is one statement of a policy. Exactly one of Actions and
// NotActions is set, and exactly one of Resources and NotResources.
// Principals and NotPrincipals are nil when the statement has none, as in
// identity policies.
type Statement struct {
	Sid           string
	Effect        Effect
	Actions       []string
	NotActions    []string
	Resources     []string
	NotResources  []string
	Principals    *PrincipalSet
	NotPrincipals *PrincipalSet
	Conditions    []Condition

	// vars is set in "2012-10-17" documents, where ${key} in a resource or
	// in a string or ARN condition value is a policy variable.
	vars bool
}

// Effect is a statement's Effect.
type Effect int

const (
	// EffectAllow is "Allow".
	EffectAllow Effect = iota + 1
	// EffectDeny is "Deny".
	EffectDeny
)

// PrincipalSet is a statement's Principal or NotPrincipal. Any is set for
// "*" and {"AWS": "*"}. AWS holds account ids and ARNs. Other holds the
// values of other principal types (Service, Federated, CanonicalUser): they
// are kept so a document round-trips in meaning, but never match a request,
// whose principal is always an IAM user.
type PrincipalSet struct {
	Any   bool
	AWS   []string
	Other map[string][]string
}

// Condition is one operator and key of a statement's Condition block, with
// the values the policy gives for it.
type Condition struct {
	Operator string // as written, e.g. "StringLikeIfExists"
	Key      string // e.g. "aws:SourceIp"; matched case-insensitively
	Values   []string

	op       condOp
	ifExists bool
	vars     bool // see Statement.vars
}

// Request is what a decision is made about.
type Request struct {
	Action       string // e.g. "kinesis:PutRecord"
	Resource     string // the ARN acted on, e.g. arn:aws:kinesis:us-east-1:000000000000:stream/s
	PrincipalARN string // e.g. arn:aws:iam::000000000000:user/alice
	Account      string // the principal's account id, e.g. 000000000000
	// Context holds condition keys: "aws:SecureTransport" ("true" or
	// "false"), "aws:SourceIp" (an IP address), "aws:CurrentTime" (RFC 3339),
	// "aws:username", ... Keys are matched case-insensitively, as in IAM.
	// A key that is absent is not the same as one set to "".
	Context map[string]string
}

// Decision is the outcome of evaluating policies against a request.
type Decision int

const (
	// DefaultDeny means no statement applied: the request is denied unless
	// another policy allows it.
	DefaultDeny Decision = iota
	// Allow means an Allow statement applied and no Deny statement did.
	Allow
	// ExplicitDeny means a Deny statement applied; nothing can override it.
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case DefaultDeny:
		return "DefaultDeny"
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}

// EvaluateIdentity evaluates identity policies (a user's). Explicit Deny
// wins over Allow; no match is DefaultDeny. Principal and NotPrincipal, which
// IAM rejects in identity policies, are ignored here. Nil policies are skipped.
func EvaluateIdentity(policies []*Policy, r Request) Decision {
	d := DefaultDeny
	for _, p := range policies {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			s := &p.Statements[i]
			if !s.appliesTo(r) {
				continue
			}
			if s.Effect == EffectDeny {
				return ExplicitDeny
			}
			d = Allow
		}
	}
	return d
}

// EvaluateResource evaluates a resource policy. Only statements whose
// Principal matches the request's principal (or whose NotPrincipal does not)
// count; a statement with neither names no principal and never applies,
// since IAM requires one in a resource policy. A nil policy is DefaultDeny.
func EvaluateResource(p *Policy, r Request) Decision {
	if p == nil {
		return DefaultDeny
	}
	d := DefaultDeny
	for i := range p.Statements {
		s := &p.Statements[i]
		if !s.principalApplies(r) || !s.appliesTo(r) {
			continue
		}
		if s.Effect == EffectDeny {
			return ExplicitDeny
		}
		d = Allow
	}
	return d
}

// Authorize combines identity and resource policies as IAM does for a
// same-account request: any explicit Deny denies; otherwise an Allow from
// either allows; otherwise the request is denied. resource may be nil.
func Authorize(identity []*Policy, resource *Policy, r Request) bool {
	id := EvaluateIdentity(identity, r)
	res := EvaluateResource(resource, r)
	if id == ExplicitDeny || res == ExplicitDeny {
		return false
	}
	return id == Allow || res == Allow
}

// appliesTo reports whether the statement's actions, resources and
// conditions all match the request. It does not look at principals.
func (s *Statement) appliesTo(r Request) bool {
	if s.Actions != nil && !anyMatch(s.Actions, r.Action, matchAction) {
		return false
	}
	if s.NotActions != nil && anyMatch(s.NotActions, r.Action, matchAction) {
		return false
	}
	matchRes := func(pattern, arn string) bool { return s.matchResource(pattern, arn, r.Context) }
	if s.Resources != nil && !anyMatch(s.Resources, r.Resource, matchRes) {
		return false
	}
	if s.NotResources != nil && anyMatch(s.NotResources, r.Resource, matchRes) {
		return false
	}
	for i := range s.Conditions {
		if !s.Conditions[i].matches(r) {
			return false
		}
	}
	return true
}

func (s *Statement) principalApplies(r Request) bool {
	switch {
	case s.Principals != nil:
		return s.Principals.matches(r)
	case s.NotPrincipals != nil:
		return !s.NotPrincipals.matches(r)
	}
	return false
}

// matches reports whether the set names the request's principal: "*" names
// everyone; an account id or the account's root ARN names every principal
// of that account; any other ARN names exactly that principal.
func (ps *PrincipalSet) matches(r Request) bool {
	if ps.Any {
		return true
	}
	for _, v := range ps.AWS {
		if v == "*" {
			return true
		}
		if isAccountID(v) {
			if r.Account != "" && v == r.Account {
				return true
			}
			continue
		}
		if acct, ok := rootARNAccount(v); ok {
			if r.Account != "" && acct == r.Account {
				return true
			}
			continue
		}
		if r.PrincipalARN != "" && v == r.PrincipalARN {
			return true
		}
	}
	return false
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// rootARNAccount returns the account of an "arn:PARTITION:iam::ACCOUNT:root".
func rootARNAccount(s string) (string, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || parts[5] != "root" {
		return "", false
	}
	return parts[4], isAccountID(parts[4])
}

func anyMatch(patterns []string, s string, match func(pattern, s string) bool) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

// matchAction matches an action pattern such as "kinesis:Get*"; IAM action
// names are case-insensitive.
func matchAction(pattern, action string) bool {
	return wildcardMatch(strings.ToLower(pattern), strings.ToLower(action))
}

// matchResource matches a Resource element against the ARN acted on. As in
// IAM, '*' and '?' may span ':' and '/', and matching is case-sensitive.
// Policy variables are expanded first; a pattern naming a key the request
// does not have matches nothing.
func (s *Statement) matchResource(pattern, arn string, ctx map[string]string) bool {
	if !s.vars || !strings.Contains(pattern, "${") {
		return wildcardMatch(pattern, arn)
	}
	expanded, ok := expandVars(pattern, ctx, true)
	return ok && globMatch(expanded, arn, true)
}

// expandVars replaces the policy variables ${key} in s with the values of
// those keys in ctx, and ${*}, ${?}, ${$} with the literal characters. It
// reports false when a key is absent. With escape set the result is a glob
// pattern for globMatch(..., true): text from variables is escaped so that
// it matches only itself, while '*' and '?' written in s stay wildcards.
func expandVars(s string, ctx map[string]string, escape bool) (string, bool) {
	var b strings.Builder
	literal := func(t string) {
		for i := 0; i < len(t); i++ {
			if escape && (t[i] == '*' || t[i] == '?' || t[i] == '\\') {
				b.WriteByte('\\')
			}
			b.WriteByte(t[i])
		}
	}
	for {
		start := strings.Index(s, "${")
		end := -1
		if start >= 0 {
			end = strings.IndexByte(s[start:], '}')
		}
		if start < 0 || end < 0 {
			break
		}
		text := s[:start]
		if escape {
			text = strings.ReplaceAll(text, "\\", "\\\\")
		}
		b.WriteString(text)
		name := s[start+2 : start+end]
		switch name {
		case "*", "?", "$":
			literal(name)
		default:
			v, ok := lookupContext(ctx, name)
			if !ok {
				return "", false
			}
			literal(v)
		}
		s = s[start+end+1:]
	}
	if escape {
		s = strings.ReplaceAll(s, "\\", "\\\\")
	}
	b.WriteString(s)
	return b.String(), true
}

// wildcardMatch reports whether s matches pattern, where '*' matches any run
// of bytes (including none) and '?' any one byte.
func wildcardMatch(pattern, s string) bool {
	return globMatch(pattern, s, false)
}

// globMatch is wildcardMatch where, with esc set, a backslash makes the
// byte after it literal. It backtracks only to the last '*', so it runs in
// O(len(pattern)*len(s)) at worst.
func globMatch(pattern, s string, esc bool) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case esc && p+1 < len(pattern) && pattern[p] == '\\' && pattern[p+1] == s[i]:
			p += 2
			i++
		case esc && p < len(pattern) && pattern[p] == '\\':
			// An escaped byte that does not match, or a trailing backslash.
			if star < 0 {
				return false
			}
			p = star + 1
			mark++
			i = mark
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// condOp is a condition operator with any IfExists suffix removed.
type condOp int

const (
	opStringEquals condOp = iota + 1
	opStringNotEquals
	opStringEqualsIgnoreCase
	opStringNotEqualsIgnoreCase
	opStringLike
	opStringNotLike
	opArnEquals
	opArnLike
	opArnNotEquals
	opArnNotLike
	opBool
	opIPAddress
	opNotIPAddress
	opDateEquals
	opDateNotEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opNumericEquals
	opNumericNotEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opNull
)

var condOps = map[string]condOp{
	"StringEquals":              opStringEquals,
	"StringNotEquals":           opStringNotEquals,
	"StringEqualsIgnoreCase":    opStringEqualsIgnoreCase,
	"StringNotEqualsIgnoreCase": opStringNotEqualsIgnoreCase,
	"StringLike":                opStringLike,
	"StringNotLike":             opStringNotLike,
	"ArnEquals":                 opArnEquals,
	"ArnLike":                   opArnLike,
	"ArnNotEquals":              opArnNotEquals,
	"ArnNotLike":                opArnNotLike,
	"Bool":                      opBool,
	"IpAddress":                 opIPAddress,
	"NotIpAddress":              opNotIPAddress,
	"DateEquals":                opDateEquals,
	"DateNotEquals":             opDateNotEquals,
	"DateLessThan":              opDateLessThan,
	"DateLessThanEquals":        opDateLessThanEquals,
	"DateGreaterThan":           opDateGreaterThan,
	"DateGreaterThanEquals":     opDateGreaterThanEquals,
	"NumericEquals":             opNumericEquals,
	"NumericNotEquals":          opNumericNotEquals,
	"NumericLessThan":           opNumericLessThan,
	"NumericLessThanEquals":     opNumericLessThanEquals,
	"NumericGreaterThan":        opNumericGreaterThan,
	"NumericGreaterThanEquals":  opNumericGreaterThanEquals,
	"Null":                      opNull,
}

// negated reports whether the operator is true when no policy value
// matches. IAM evaluates such an operator to true when the key is absent
// from the request, so that, for example, a Deny on NotIpAddress also denies
// a request that carries no source address.
func (o condOp) negated() bool {
	switch o {
	case opStringNotEquals, opStringNotEqualsIgnoreCase, opStringNotLike,
		opArnNotEquals, opArnNotLike, opNotIPAddress, opDateNotEquals, opNumericNotEquals:
		return true
	}
	return false
}

// lookupContext finds a condition key; IAM condition keys are
// case-insensitive.
func lookupContext(ctx map[string]string, key string) (string, bool) {
	if v, ok := ctx[key]; ok {
		return v, true
	}
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// matches evaluates the condition. With several policy values, a positive
// operator matches when any value does, and a negated one when none of the
// values matches its positive form. An absent key makes a positive operator
// false and a negated one true (IAM's rule), and any ...IfExists operator
// true. A context value that does not parse as the operator's type (a date,
// an address, a number) matches no value.
func (c *Condition) matches(r Request) bool {
	v, ok := lookupContext(r.Context, c.Key)
	if c.op == opNull {
		// The policy value is "true" (the key must be absent) or "false"
		// (it must be present); ParsePolicy checked it is one of them.
		want := strings.EqualFold(c.Values[0], "true")
		return want == !ok
	}
	if !ok {
		return c.ifExists || c.op.negated()
	}
	hit := false
	for _, want := range c.Values {
		esc := false
		if c.vars && c.op.takesVariables() && strings.Contains(want, "${") {
			var ok bool
			esc = c.op.isPattern()
			if want, ok = expandVars(want, r.Context, esc); !ok {
				continue // a variable naming an absent key matches nothing
			}
		}
		if positiveMatch(c.op, want, v, esc) {
			hit = true
			break
		}
	}
	if c.op.negated() {
		return !hit
	}
	return hit
}

// takesVariables reports whether policy variables expand in the operator's
// values: the string and ARN operators, as in IAM.
func (o condOp) takesVariables() bool {
	return o >= opStringEquals && o <= opArnNotLike
}

// isPattern reports whether the operator's values are glob patterns.
func (o condOp) isPattern() bool {
	return o >= opStringLike && o <= opArnNotLike
}

// positiveMatch compares one policy value with the context value under the
// positive form of op. esc means want came from expandVars with escaping.
func positiveMatch(op condOp, want, got string, esc bool) bool {
	switch op {
	case opStringEquals, opStringNotEquals:
		return want == got
	case opStringEqualsIgnoreCase, opStringNotEqualsIgnoreCase:
		return strings.EqualFold(want, got)
	case opStringLike, opStringNotLike:
		return globMatch(want, got, esc)
	case opArnEquals, opArnLike, opArnNotEquals, opArnNotLike:
		return arnLike(want, got, esc)
	case opBool:
		return strings.EqualFold(want, got)
	case opIPAddress, opNotIPAddress:
		return ipInPrefix(want, got)
	case opDateEquals, opDateNotEquals, opDateLessThan, opDateLessThanEquals,
		opDateGreaterThan, opDateGreaterThanEquals:
		return compareDates(op, want, got)
	case opNumericEquals, opNumericNotEquals, opNumericLessThan, opNumericLessThanEquals,
		opNumericGreaterThan, opNumericGreaterThanEquals:
		return compareNumbers(op, want, got)
	}
	panic(fmt.Sprintf("auth: condition operator %d has no comparison", op))
}

// arnLike matches an ARN pattern component by component, as IAM's ArnLike
// does (and ArnEquals, which IAM documents as behaving identically): the
// six colon-separated parts must each match, and wildcards do not span the
// colons between the first five. The last part, the resource, may itself
// contain colons.
func arnLike(pattern, arn string, esc bool) bool {
	if pattern == "*" {
		return true
	}
	pp := strings.SplitN(pattern, ":", 6)
	ap := strings.SplitN(arn, ":", 6)
	if len(pp) != 6 || len(ap) != 6 {
		return false
	}
	for i := range pp {
		if !globMatch(pp[i], ap[i], esc) {
			return false
		}
	}
	return true
}

func ipInPrefix(want, got string) bool {
	prefix, err := parsePrefix(want)
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(strings.TrimSpace(got))
	if err != nil {
		return false
	}
	return prefix.Contains(addr.Unmap())
}

// parsePrefix parses a CIDR block or a single address, which stands for
// the block holding only itself.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("IPv4-mapped prefix %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseDate parses an RFC 3339 time, a date alone (yyyy-mm-dd, midnight
// UTC) or whole epoch seconds.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor epoch seconds", s)
}

func compareDates(op condOp, want, got string) bool {
	w, err := parseDate(want)
	if err != nil {
		return false
	}
	g, err := parseDate(got)
	if err != nil {
		return false
	}
	switch op {
	case opDateEquals, opDateNotEquals:
		return g.Equal(w)
	case opDateLessThan:
		return g.Before(w)
	case opDateLessThanEquals:
		return !g.After(w)
	case opDateGreaterThan:
		return g.After(w)
	case opDateGreaterThanEquals:
		return !g.Before(w)
	}
	panic(fmt.Sprintf("auth: compareDates called with operator %d", op))
}

func parseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not a finite number", s)
	}
	return f, nil
}

func compareNumbers(op condOp, want, got string) bool {
	w, err := parseNumber(want)
	if err != nil {
		return false
	}
	g, err := parseNumber(got)
	if err != nil {
		return false
	}
	switch op {
	case opNumericEquals, opNumericNotEquals:
		return g == w
	case opNumericLessThan:
		return g < w
	case opNumericLessThanEquals:
		return g <= w
	case opNumericGreaterThan:
		return g > w
	case opNumericGreaterThanEquals:
		return g >= w
	}
	panic(fmt.Sprintf("auth: compareNumbers called with operator %d", op))
}

// rawPolicy and rawStatement are the JSON shapes of a document. Elements
// are kept raw where IAM allows more than one shape.
type rawPolicy struct {
	Version   string          `json:"Version"`
	ID        string          `json:"Id"`
	Statement json.RawMessage `json:"Statement"`
}

type rawStatement struct {
	Sid          string                                `json:"Sid"`
	Effect       string                                `json:"Effect"`
	Action       json.RawMessage                       `json:"Action"`
	NotAction    json.RawMessage                       `json:"NotAction"`
	Resource     json.RawMessage                       `json:"Resource"`
	NotResource  json.RawMessage                       `json:"NotResource"`
	Principal    json.RawMessage                       `json:"Principal"`
	NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
	Condition    map[string]map[string]json.RawMessage `json:"Condition"`
}

// ParsePolicy parses an IAM policy JSON document: Version ("2012-10-17" or
// "2008-10-17"; absent means "2008-10-17", as in IAM), optional Id, and
// Statement as an object or a non-empty list. Each statement has an
// optional Sid; Effect "Allow" or "Deny"; exactly one of Action and
// NotAction and exactly one of Resource and NotResource (a string or a
// non-empty list of strings); optionally Principal or NotPrincipal ("*" or
// {"AWS": account id, ARN, "*", or a list}, other principal types kept but
// never matching); and an optional Condition {operator: {key: value or
// list}}, whose values may be JSON strings, booleans or numbers.
//
// In "2012-10-17" documents, ${key} in a Resource or NotResource pattern
// and in the values of the String and Arn condition operators is a policy
// variable, replaced at evaluation by that key of Request.Context (${*},
// ${?} and ${$} stand for the literal characters). A pattern or value whose
// variable names an absent key matches nothing. Default values
// (${key, 'default'}) are not supported.
//
// Unknown elements, unknown condition operators, set operators
// (ForAnyValue:, ForAllValues:, which need multi-valued keys the request
// context does not have) and condition values that cannot be compared (a
// bad CIDR, date or number) are rejected here, so that a document is
// refused when it is loaded rather than silently never matching later.
func ParsePolicy(doc []byte) (*Policy, error) {
	if len(doc) > maxPolicyBytes {
		return nil, fmt.Errorf("policy document is %d bytes, more than the %d allowed", len(doc), maxPolicyBytes)
	}
	var raw rawPolicy
	if err := decodeStrict(doc, &raw); err != nil {
		return nil, fmt.Errorf("parse policy document: %w", err)
	}
	switch raw.Version {
	case "":
		raw.Version = "2008-10-17"
	case "2012-10-17", "2008-10-17":
	default:
		return nil, fmt.Errorf("policy Version %q: want \"2012-10-17\" or \"2008-10-17\"", raw.Version)
	}
	rawStmts, err := splitStatements(raw.Statement)
	if err != nil {
		return nil, err
	}
	p := &Policy{Version: raw.Version, ID: raw.ID, Statements: make([]Statement, 0, len(rawStmts))}
	for i, rs := range rawStmts {
		var st rawStatement
		if err := decodeStrict(rs, &st); err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
		s, err := st.build(raw.Version == "2012-10-17")
		if err != nil {
			if st.Sid != "" {
				return nil, fmt.Errorf("statement %d (Sid %q): %w", i, st.Sid, err)
			}
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

// decodeStrict decodes exactly one JSON value with no unknown fields.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

// isNull reports whether an element is absent or JSON null.
func isNull(b json.RawMessage) bool {
	return len(b) == 0 || string(bytes.TrimSpace(b)) == "null"
}

func splitStatements(b json.RawMessage) ([]json.RawMessage, error) {
	if isNull(b) {
		return nil, fmt.Errorf("policy has no Statement")
	}
	t := bytes.TrimSpace(b)
	switch t[0] {
	case '{':
		return []json.RawMessage{t}, nil
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, fmt.Errorf("parse Statement: %w", err)
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("policy Statement list is empty")
		}
		return list, nil
	}
	return nil, fmt.Errorf("policy Statement must be an object or a list of objects")
}

func (st *rawStatement) build(vars bool) (Statement, error) {
	s := Statement{Sid: st.Sid, vars: vars}
	switch st.Effect {
	case "Allow":
		s.Effect = EffectAllow
	case "Deny":
		s.Effect = EffectDeny
	case "":
		return s, fmt.Errorf("no Effect")
	default:
		return s, fmt.Errorf("Effect %q: want \"Allow\" or \"Deny\"", st.Effect)
	}
	var err error
	if s.Actions, s.NotActions, err = exactlyOne("Action", st.Action, st.NotAction); err != nil {
		return s, err
	}
	for _, a := range append(append([]string(nil), s.Actions...), s.NotActions...) {
		if a != "*" && !strings.Contains(a, ":") {
			return s, fmt.Errorf("action %q: want SERVICE:ACTION or \"*\"", a)
		}
	}
	if s.Resources, s.NotResources, err = exactlyOne("Resource", st.Resource, st.NotResource); err != nil {
		return s, err
	}
	if !isNull(st.Principal) && !isNull(st.NotPrincipal) {
		return s, fmt.Errorf("both Principal and NotPrincipal")
	}
	if !isNull(st.Principal) {
		if s.Principals, err = parsePrincipal(st.Principal); err != nil {
			return s, fmt.Errorf("Principal: %w", err)
		}
	}
	if !isNull(st.NotPrincipal) {
		if s.NotPrincipals, err = parsePrincipal(st.NotPrincipal); err != nil {
			return s, fmt.Errorf("NotPrincipal: %w", err)
		}
	}
	if s.Conditions, err = parseConditions(st.Condition, vars); err != nil {
		return s, err
	}
	return s, nil
}

// exactlyOne parses an element that IAM allows in a positive (Action) or a
// negated (NotAction) form, but not both and not neither.
func exactlyOne(name string, pos, neg json.RawMessage) (p, n []string, err error) {
	switch {
	case !isNull(pos) && !isNull(neg):
		return nil, nil, fmt.Errorf("both %s and Not%s", name, name)
	case !isNull(pos):
		p, err = parseStrings(pos)
	case !isNull(neg):
		n, err = parseStrings(neg)
		name = "Not" + name
	default:
		return nil, nil, fmt.Errorf("no %s or Not%s", name, name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, n, nil
}

// parseStrings parses a string or a non-empty list of non-empty strings.
func parseStrings(b json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		if one == "" {
			return nil, fmt.Errorf("empty string")
		}
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("want a string or a list of strings")
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	for _, v := range list {
		if v == "" {
			return nil, fmt.Errorf("empty string in list")
		}
	}
	return list, nil
}

func parsePrincipal(b json.RawMessage) (*PrincipalSet, error) {
	var star string
	if err := json.Unmarshal(b, &star); err == nil {
		if star != "*" {
			return nil, fmt.Errorf("string form must be \"*\", got %q", star)
		}
		return &PrincipalSet{Any: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("want \"*\" or an object such as {\"AWS\": ...}")
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("empty object")
	}
	ps := &PrincipalSet{}
	for typ, v := range m {
		vals, err := parseStrings(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", typ, err)
		}
		switch typ {
		case "AWS":
			for _, a := range vals {
				switch {
				case a == "*":
					ps.Any = true
				case isAccountID(a), strings.HasPrefix(a, "arn:"):
				default:
					return nil, fmt.Errorf("AWS %q: want \"*\", a 12-digit account id or an ARN", a)
				}
			}
			ps.AWS = vals
		case "Service", "Federated", "CanonicalUser":
			if ps.Other == nil {
				ps.Other = make(map[string][]string)
			}
			ps.Other[typ] = vals
		default:
			return nil, fmt.Errorf("unknown principal type %q", typ)
		}
	}
	return ps, nil
}

// parseConditions flattens a Condition block into one Condition per
// operator and key, in a fixed order (by operator, then key) so that
// evaluation and errors do not depend on map order.
func parseConditions(block map[string]map[string]json.RawMessage, vars bool) ([]Condition, error) {
	var out []Condition
	for opName, keys := range block {
		op, ifExists, err := parseOperator(opName)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("Condition %s has no keys", opName)
		}
		for key, raw := range keys {
			if key == "" {
				return nil, fmt.Errorf("Condition %s has an empty key", opName)
			}
			vals, err := parseConditionValues(raw)
			if err != nil {
				return nil, fmt.Errorf("Condition %s %s: %w", opName, key, err)
			}
			if err := checkConditionValues(op, vals); err != nil {
				return nil, fmt.Errorf("Condition %s %s: %w", opName, key, err)
			}
			out = append(out, Condition{Operator: opName, Key: key, Values: vals, op: op, ifExists: ifExists, vars: vars})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Operator != out[j].Operator {
			return out[i].Operator < out[j].Operator
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

func parseOperator(name string) (op condOp, ifExists bool, err error) {
	if strings.HasPrefix(name, "ForAnyValue:") || strings.HasPrefix(name, "ForAllValues:") {
		return 0, false, fmt.Errorf("Condition operator %q: set operators are not supported", name)
	}
	base := name
	if b, ok := strings.CutSuffix(name, "IfExists"); ok {
		base, ifExists = b, true
	}
	op, ok := condOps[base]
	if !ok || (op == opNull && ifExists) {
		return 0, false, fmt.Errorf("unknown Condition operator %q", name)
	}
	return op, ifExists, nil
}

// parseConditionValues parses a condition value: a string, boolean or
// number, or a non-empty list of them. Numbers keep their JSON text.
func parseConditionValues(b json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	scalar := func(x any) (string, error) {
		switch x := x.(type) {
		case string:
			return x, nil
		case bool:
			return strconv.FormatBool(x), nil
		case json.Number:
			return x.String(), nil
		}
		return "", fmt.Errorf("want a string, boolean or number, or a list of them")
	}
	list, isList := v.([]any)
	if !isList {
		s, err := scalar(v)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	out := make([]string, len(list))
	for i, x := range list {
		s, err := scalar(x)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// checkConditionValues rejects policy values the operator cannot compare.
func checkConditionValues(op condOp, vals []string) error {
	if op == opNull && len(vals) != 1 {
		return fmt.Errorf("Null takes one value, \"true\" or \"false\"")
	}
	for _, v := range vals {
		var err error
		switch op {
		case opBool, opNull:
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				err = fmt.Errorf("%q is not \"true\" or \"false\"", v)
			}
		case opIPAddress, opNotIPAddress:
			_, err = parsePrefix(v)
		case opDateEquals, opDateNotEquals, opDateLessThan, opDateLessThanEquals,
			opDateGreaterThan, opDateGreaterThanEquals:
			_, err = parseDate(v)
		case opNumericEquals, opNumericNotEquals, opNumericLessThan, opNumericLessThanEquals,
			opNumericGreaterThan, opNumericGreaterThanEquals:
			_, err = parseNumber(v)
		case opArnEquals, opArnLike, opArnNotEquals, opArnNotLike:
			if v != "*" && len(strings.SplitN(v, ":", 6)) != 6 {
				err = fmt.Errorf("%q is not an ARN pattern", v)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
