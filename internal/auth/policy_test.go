package auth

import (
	"strings"
	"testing"
)

const (
	testAccount  = "000000000000"
	otherAccount = "111111111111"
	aliceARN     = "arn:aws:iam::000000000000:user/alice"
	bobARN       = "arn:aws:iam::000000000000:user/bob"
	malloryARN   = "arn:aws:iam::111111111111:user/mallory"
	streamARN    = "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
)

func mustParse(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(doc))
	if err != nil {
		t.Fatalf("ParsePolicy(%s): %v", doc, err)
	}
	return p
}

// req is a request by alice on the orders stream, with the given action.
func req(action string) Request {
	return Request{Action: action, Resource: streamARN, PrincipalARN: aliceARN, Account: testAccount}
}

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything:at/all", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a*c", "ac", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"*b*", "abc", true},
		{"a**", "a", true},
		{"arn:aws:kinesis:*:000000000000:stream/*", streamARN, true},
		{"arn:aws:kinesis:*", streamARN, true},
		{"arn:aws:kinesis:us-east-1:*/orders", streamARN, true},
		{"arn:aws:kinesis:us-east-1:000000000000:stream/order?", streamARN, true},
		{"arn:aws:kinesis:us-east-1:000000000000:stream/Orders", streamARN, false},
		{"*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 200), false},
	}
	for _, c := range cases {
		if got := wildcardMatch(c.pattern, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestActionsAndResources(t *testing.T) {
	cases := []struct {
		name     string
		action   string // Action element, JSON
		resource string // Resource element, JSON
		req      Request
		want     Decision
	}{
		{"exact", `"kinesis:PutRecord"`, `"*"`, req("kinesis:PutRecord"), Allow},
		{"action case-insensitive", `"Kinesis:putrecord"`, `"*"`, req("kinesis:PutRecord"), Allow},
		{"other action", `"kinesis:PutRecord"`, `"*"`, req("kinesis:PutRecords"), DefaultDeny},
		{"service star", `"kinesis:*"`, `"*"`, req("kinesis:DeleteStream"), Allow},
		{"other service", `"kinesis:*"`, `"*"`, req("firehose:PutRecord"), DefaultDeny},
		{"prefix star", `"kinesis:Get*"`, `"*"`, req("kinesis:GetRecords"), Allow},
		{"prefix star miss", `"kinesis:Get*"`, `"*"`, req("kinesis:PutRecord"), DefaultDeny},
		{"question mark", `"kinesis:PutRecord?"`, `"*"`, req("kinesis:PutRecords"), Allow},
		{"all", `"*"`, `"*"`, req("kinesis:PutRecord"), Allow},
		{"list", `["kinesis:ListShards","kinesis:PutRecord"]`, `"*"`, req("kinesis:PutRecord"), Allow},
		{"resource exact", `"*"`, `"` + streamARN + `"`, req("kinesis:PutRecord"), Allow},
		{"resource other stream", `"*"`, `"arn:aws:kinesis:us-east-1:000000000000:stream/other"`, req("kinesis:PutRecord"), DefaultDeny},
		{"resource case-sensitive", `"*"`, `"arn:aws:kinesis:us-east-1:000000000000:stream/ORDERS"`, req("kinesis:PutRecord"), DefaultDeny},
		{"resource star spans colons", `"*"`, `"arn:aws:kinesis:*/orders"`, req("kinesis:PutRecord"), Allow},
		{"resource stream star", `"*"`, `"arn:aws:kinesis:us-east-1:000000000000:stream/*"`, req("kinesis:PutRecord"), Allow},
		{"resource other region", `"*"`, `"arn:aws:kinesis:eu-west-1:000000000000:stream/*"`, req("kinesis:PutRecord"), DefaultDeny},
		{"resource consumer under stream", `"*"`, `"arn:aws:kinesis:us-east-1:000000000000:stream/orders/*"`,
			Request{Action: "kinesis:SubscribeToShard", Resource: streamARN + "/consumer/c1:1700000000", Account: testAccount}, Allow},
		{"resource list", `"*"`, `["arn:aws:kinesis:us-east-1:000000000000:stream/a","` + streamARN + `"]`, req("kinesis:PutRecord"), Allow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":`+c.action+`,"Resource":`+c.resource+`}]}`)
			if got := EvaluateIdentity([]*Policy{p}, c.req); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestNotActionNotResource(t *testing.T) {
	cases := []struct {
		name string
		stmt string
		req  Request
		want Decision
	}{
		{"NotAction excludes", `"NotAction":"kinesis:Delete*","Resource":"*"`, req("kinesis:DeleteStream"), DefaultDeny},
		{"NotAction allows the rest", `"NotAction":"kinesis:Delete*","Resource":"*"`, req("kinesis:PutRecord"), Allow},
		{"NotAction list", `"NotAction":["kinesis:Delete*","kinesis:PutRecord"],"Resource":"*"`, req("kinesis:PutRecord"), DefaultDeny},
		{"NotResource excludes", `"Action":"*","NotResource":"` + streamARN + `"`, req("kinesis:PutRecord"), DefaultDeny},
		{"NotResource allows others", `"Action":"*","NotResource":"arn:aws:kinesis:*:*:stream/secret*"`, req("kinesis:PutRecord"), Allow},
		{"both inverted", `"NotAction":"kinesis:Get*","NotResource":"arn:aws:kinesis:*:*:stream/secret"`, req("kinesis:PutRecord"), Allow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow",`+c.stmt+`}}`)
			if got := EvaluateIdentity([]*Policy{p}, c.req); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestExplicitDenyPrecedence(t *testing.T) {
	allowAll := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}}`)
	denyDelete := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kinesis:DeleteStream","Resource":"*"}}`)
	// Deny before Allow within one policy must still win.
	mixed := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Deny","Action":"kinesis:PutRecord*","Resource":"arn:aws:kinesis:*:*:stream/orders"},
		{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	cases := []struct {
		name     string
		policies []*Policy
		req      Request
		want     Decision
	}{
		{"no policies", nil, req("kinesis:PutRecord"), DefaultDeny},
		{"nil policy skipped", []*Policy{nil}, req("kinesis:PutRecord"), DefaultDeny},
		{"allow", []*Policy{allowAll}, req("kinesis:DeleteStream"), Allow},
		{"deny only", []*Policy{denyDelete}, req("kinesis:DeleteStream"), ExplicitDeny},
		{"deny beats allow", []*Policy{allowAll, denyDelete}, req("kinesis:DeleteStream"), ExplicitDeny},
		{"deny beats allow, other order", []*Policy{denyDelete, allowAll}, req("kinesis:DeleteStream"), ExplicitDeny},
		{"deny not matching", []*Policy{allowAll, denyDelete}, req("kinesis:PutRecord"), Allow},
		{"deny first in one policy", []*Policy{mixed}, req("kinesis:PutRecords"), ExplicitDeny},
		{"allow rest of one policy", []*Policy{mixed}, req("kinesis:GetRecords"), Allow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := EvaluateIdentity(c.policies, c.req); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	type ctx = map[string]string
	cases := []struct {
		name string
		cond string // the Condition element, JSON
		ctx  ctx
		want bool
	}{
		{"StringEquals", `{"StringEquals":{"aws:username":"alice"}}`, ctx{"aws:username": "alice"}, true},
		{"StringEquals miss", `{"StringEquals":{"aws:username":"alice"}}`, ctx{"aws:username": "bob"}, false},
		{"StringEquals case", `{"StringEquals":{"aws:username":"alice"}}`, ctx{"aws:username": "Alice"}, false},
		{"StringEquals list any", `{"StringEquals":{"aws:username":["bob","alice"]}}`, ctx{"aws:username": "alice"}, true},
		{"StringEquals key case-insensitive", `{"StringEquals":{"AWS:UserName":"alice"}}`, ctx{"aws:username": "alice"}, true},
		{"StringEquals missing key", `{"StringEquals":{"aws:username":"alice"}}`, ctx{}, false},
		{"StringEquals nil context", `{"StringEquals":{"aws:username":"alice"}}`, nil, false},
		{"StringEqualsIfExists missing", `{"StringEqualsIfExists":{"aws:username":"alice"}}`, ctx{}, true},
		{"StringEqualsIfExists present", `{"StringEqualsIfExists":{"aws:username":"alice"}}`, ctx{"aws:username": "bob"}, false},
		{"StringNotEquals", `{"StringNotEquals":{"aws:username":"alice"}}`, ctx{"aws:username": "bob"}, true},
		{"StringNotEquals miss", `{"StringNotEquals":{"aws:username":"alice"}}`, ctx{"aws:username": "alice"}, false},
		{"StringNotEquals list none", `{"StringNotEquals":{"aws:username":["alice","bob"]}}`, ctx{"aws:username": "bob"}, false},
		{"StringNotEquals missing key (IAM: true)", `{"StringNotEquals":{"aws:username":"alice"}}`, ctx{}, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}`, ctx{"aws:username": "alice"}, true},
		{"StringEqualsIgnoreCase miss", `{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}`, ctx{"aws:username": "bob"}, false},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}`, ctx{"aws:username": "alice"}, false},
		{"StringLike", `{"StringLike":{"aws:username":"al*"}}`, ctx{"aws:username": "alice"}, true},
		{"StringLike ?", `{"StringLike":{"aws:username":"b?b"}}`, ctx{"aws:username": "bob"}, true},
		{"StringLike miss", `{"StringLike":{"aws:username":"al*"}}`, ctx{"aws:username": "bob"}, false},
		{"StringNotLike", `{"StringNotLike":{"aws:username":"al*"}}`, ctx{"aws:username": "bob"}, true},
		{"StringNotLike miss", `{"StringNotLike":{"aws:username":["x*","al*"]}}`, ctx{"aws:username": "alice"}, false},
		{"ArnEquals", `{"ArnEquals":{"aws:SourceArn":"` + streamARN + `"}}`, ctx{"aws:SourceArn": streamARN}, true},
		{"ArnEquals miss", `{"ArnEquals":{"aws:SourceArn":"` + streamARN + `"}}`, ctx{"aws:SourceArn": streamARN + "x"}, false},
		{"ArnLike", `{"ArnLike":{"aws:SourceArn":"arn:aws:kinesis:*:000000000000:stream/*"}}`, ctx{"aws:SourceArn": streamARN}, true},
		{"ArnLike star does not span colons", `{"ArnLike":{"aws:SourceArn":"arn:aws:*:*:000000000000:stream/orders"}}`,
			ctx{"aws:SourceArn": "arn:aws:kinesis:us-east-1:extra:000000000000:stream/orders"}, false},
		{"ArnLike star in each part", `{"ArnLike":{"aws:SourceArn":"arn:aws:*:*:000000000000:stream/orders"}}`, ctx{"aws:SourceArn": streamARN}, true},
		{"ArnLike star alone", `{"ArnLike":{"aws:SourceArn":"*"}}`, ctx{"aws:SourceArn": "anything"}, true},
		{"ArnLike not an ARN", `{"ArnLike":{"aws:SourceArn":"arn:aws:kinesis:*:*:*"}}`, ctx{"aws:SourceArn": "orders"}, false},
		{"ArnNotEquals", `{"ArnNotEquals":{"aws:SourceArn":"` + streamARN + `"}}`, ctx{"aws:SourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/b"}, true},
		{"ArnNotLike", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:kinesis:*:*:stream/*"}}`, ctx{"aws:SourceArn": streamARN}, false},
		{"Bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, ctx{"aws:SecureTransport": "true"}, true},
		{"Bool JSON boolean", `{"Bool":{"aws:SecureTransport":false}}`, ctx{"aws:SecureTransport": "false"}, true},
		{"Bool miss", `{"Bool":{"aws:SecureTransport":"true"}}`, ctx{"aws:SecureTransport": "false"}, false},
		{"Bool missing key", `{"Bool":{"aws:SecureTransport":"true"}}`, ctx{}, false},
		{"BoolIfExists missing key", `{"BoolIfExists":{"aws:SecureTransport":"true"}}`, ctx{}, true},
		{"IpAddress CIDR", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx{"aws:SourceIp": "10.1.2.3"}, true},
		{"IpAddress CIDR miss", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx{"aws:SourceIp": "192.168.1.1"}, false},
		{"IpAddress single", `{"IpAddress":{"aws:SourceIp":"192.168.1.1"}}`, ctx{"aws:SourceIp": "192.168.1.1"}, true},
		{"IpAddress single miss", `{"IpAddress":{"aws:SourceIp":"192.168.1.1"}}`, ctx{"aws:SourceIp": "192.168.1.2"}, false},
		{"IpAddress unmasked CIDR", `{"IpAddress":{"aws:SourceIp":"10.1.2.3/16"}}`, ctx{"aws:SourceIp": "10.1.9.9"}, true},
		{"IpAddress IPv6", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, ctx{"aws:SourceIp": "2001:db8::1"}, true},
		{"IpAddress v4-mapped source", `{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}`, ctx{"aws:SourceIp": "::ffff:127.0.0.1"}, true},
		{"IpAddress list", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.1"]}}`, ctx{"aws:SourceIp": "127.0.0.1"}, true},
		{"IpAddress bad source", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, ctx{"aws:SourceIp": "not-an-ip"}, false},
		{"NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx{"aws:SourceIp": "192.168.1.1"}, true},
		{"NotIpAddress miss", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx{"aws:SourceIp": "10.0.0.1"}, false},
		{"DateLessThan", `{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}`, ctx{"aws:CurrentTime": "2026-11-25T20:00:00Z"}, true},
		{"DateLessThan miss", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx{"aws:CurrentTime": "2026-11-25T20:00:00Z"}, false},
		{"DateLessThan equal", `{"DateLessThan":{"aws:CurrentTime":"2026-11-25T20:00:00Z"}}`, ctx{"aws:CurrentTime": "2026-11-25T20:00:00Z"}, false},
		{"DateLessThanEquals equal", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-11-25T20:00:00Z"}}`, ctx{"aws:CurrentTime": "2026-11-25T20:00:00Z"}, true},
		{"DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx{"aws:CurrentTime": "2026-11-25T20:00:00Z"}, true},
		{"DateGreaterThan equal", `{"DateGreaterThan":{"aws:CurrentTime":"2026-11-25T20:00:00Z"}}`, ctx{"aws:CurrentTime": "2026-11-25T20:00:00Z"}, false},
		{"DateGreaterThanEquals equal", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-11-25T20:00:00Z"}}`, ctx{"aws:CurrentTime": "2026-11-25T20:00:00Z"}, true},
		{"Date time zones", `{"DateLessThan":{"aws:CurrentTime":"2026-11-25T21:00:00+02:00"}}`, ctx{"aws:CurrentTime": "2026-11-25T20:00:00Z"}, false},
		{"Date epoch policy", `{"DateGreaterThan":{"aws:CurrentTime":"1700000000"}}`, ctx{"aws:CurrentTime": "2026-11-25T20:00:00Z"}, true},
		{"Date epoch JSON number", `{"DateLessThan":{"aws:EpochTime":1700000001}}`, ctx{"aws:EpochTime": "1700000000"}, true},
		{"Date unparsable context", `{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}`, ctx{"aws:CurrentTime": "yesterday"}, false},
		{"DateEquals", `{"DateEquals":{"aws:CurrentTime":"2026-11-25"}}`, ctx{"aws:CurrentTime": "2026-11-25T00:00:00Z"}, true},
		{"NumericEquals", `{"NumericEquals":{"kinesis:Limit":10}}`, ctx{"kinesis:Limit": "10"}, true},
		{"NumericNotEquals", `{"NumericNotEquals":{"kinesis:Limit":"10"}}`, ctx{"kinesis:Limit": "10.0"}, false},
		{"NumericLessThan", `{"NumericLessThan":{"kinesis:Limit":"100"}}`, ctx{"kinesis:Limit": "99"}, true},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"kinesis:Limit":"100"}}`, ctx{"kinesis:Limit": "100"}, true},
		{"NumericGreaterThan miss", `{"NumericGreaterThan":{"kinesis:Limit":"100"}}`, ctx{"kinesis:Limit": "100"}, false},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"kinesis:Limit":"100"}}`, ctx{"kinesis:Limit": "1e3"}, true},
		{"Numeric unparsable context", `{"NumericLessThan":{"kinesis:Limit":"100"}}`, ctx{"kinesis:Limit": "ten"}, false},
		{"Null true, absent", `{"Null":{"aws:SourceIp":"true"}}`, ctx{}, true},
		{"Null true, present", `{"Null":{"aws:SourceIp":"true"}}`, ctx{"aws:SourceIp": "10.0.0.1"}, false},
		{"Null false, present", `{"Null":{"aws:SourceIp":false}}`, ctx{"aws:SourceIp": "10.0.0.1"}, true},
		{"all operators must match", `{"Bool":{"aws:SecureTransport":"true"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`,
			ctx{"aws:SecureTransport": "true", "aws:SourceIp": "192.168.0.1"}, false},
		{"all keys must match", `{"StringEquals":{"aws:username":"alice","aws:PrincipalAccount":"000000000000"}}`,
			ctx{"aws:username": "alice", "aws:PrincipalAccount": "111111111111"}, false},
		{"all match", `{"Bool":{"aws:SecureTransport":"true"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"StringLike":{"aws:username":"a*"}}`,
			ctx{"aws:SecureTransport": "true", "aws:SourceIp": "10.9.9.9", "aws:username": "alice"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":`+c.cond+`}}`)
			r := req("kinesis:PutRecord")
			r.Context = c.ctx
			want := DefaultDeny
			if c.want {
				want = Allow
			}
			if got := EvaluateIdentity([]*Policy{p}, r); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestResourcePolicyPrincipals(t *testing.T) {
	policy := func(principal string) *Policy {
		return mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow",`+principal+
			`"Action":"kinesis:PutRecord","Resource":"`+streamARN+`"}}`)
	}
	alice := req("kinesis:PutRecord")
	bob := alice
	bob.PrincipalARN = bobARN
	mallory := alice
	mallory.PrincipalARN, mallory.Account = malloryARN, otherAccount
	cases := []struct {
		name      string
		principal string // Principal or NotPrincipal element with trailing comma, or ""
		req       Request
		want      Decision
	}{
		{"star", `"Principal":"*",`, mallory, Allow},
		{"AWS star", `"Principal":{"AWS":"*"},`, mallory, Allow},
		{"account id", `"Principal":{"AWS":"000000000000"},`, bob, Allow},
		{"account id other account", `"Principal":{"AWS":"000000000000"},`, mallory, DefaultDeny},
		{"root ARN", `"Principal":{"AWS":"arn:aws:iam::000000000000:root"},`, bob, Allow},
		{"root ARN other account", `"Principal":{"AWS":"arn:aws:iam::000000000000:root"},`, mallory, DefaultDeny},
		{"user ARN", `"Principal":{"AWS":"` + aliceARN + `"},`, alice, Allow},
		{"user ARN other user", `"Principal":{"AWS":"` + aliceARN + `"},`, bob, DefaultDeny},
		{"list", `"Principal":{"AWS":["` + bobARN + `","111111111111"]},`, mallory, Allow},
		{"service principal never matches a user", `"Principal":{"Service":"firehose.amazonaws.com"},`, alice, DefaultDeny},
		{"NotPrincipal excludes", `"NotPrincipal":{"AWS":"` + aliceARN + `"},`, alice, DefaultDeny},
		{"NotPrincipal includes the rest", `"NotPrincipal":{"AWS":"` + aliceARN + `"},`, bob, Allow},
		{"NotPrincipal account", `"NotPrincipal":{"AWS":"000000000000"},`, mallory, Allow},
		{"no principal never applies", ``, alice, DefaultDeny},
		{"principal matches, action does not", `"Principal":"*",`, req("kinesis:DeleteStream"), DefaultDeny},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := EvaluateResource(policy(c.principal), c.req); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	if got := EvaluateResource(nil, alice); got != DefaultDeny {
		t.Errorf("nil resource policy: got %v, want DefaultDeny", got)
	}
	deny := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*"},
		{"Effect":"Deny","Principal":{"AWS":"`+bobARN+`"},"Action":"kinesis:*","Resource":"*"}]}`)
	if got := EvaluateResource(deny, bob); got != ExplicitDeny {
		t.Errorf("deny for bob: got %v, want ExplicitDeny", got)
	}
	if got := EvaluateResource(deny, alice); got != Allow {
		t.Errorf("deny for bob, asked by alice: got %v, want Allow", got)
	}
}

func TestAuthorize(t *testing.T) {
	idAllow := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}}`)
	idDeny := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kinesis:*","Resource":"*"}}`)
	resAllow := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},"Action":"kinesis:*","Resource":"*"}}`)
	resDeny := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"kinesis:*","Resource":"*",
		"Condition":{"Bool":{"aws:SecureTransport":"false"}}}}`)
	insecure := req("kinesis:PutRecord")
	insecure.Context = map[string]string{"aws:SecureTransport": "false"}
	secure := req("kinesis:PutRecord")
	secure.Context = map[string]string{"aws:SecureTransport": "true"}
	cases := []struct {
		name     string
		identity []*Policy
		resource *Policy
		req      Request
		want     bool
	}{
		{"nothing", nil, nil, secure, false},
		{"identity allows", []*Policy{idAllow}, nil, secure, true},
		{"resource allows", nil, resAllow, secure, true},
		{"both allow", []*Policy{idAllow}, resAllow, secure, true},
		{"identity deny beats resource allow", []*Policy{idDeny}, resAllow, secure, false},
		{"resource deny beats identity allow", []*Policy{idAllow}, resDeny, insecure, false},
		{"resource deny not applying", []*Policy{idAllow}, resDeny, secure, true},
		{"resource deny alone", nil, resDeny, secure, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Authorize(c.identity, c.resource, c.req); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestKinesisReadOnlyConsumerPolicy uses the read-only consumer policy from
// the Kinesis Data Streams developer guide ("Example policies": a consumer
// that reads one stream), with the stream ARN filled in.
func TestKinesisReadOnlyConsumerPolicy(t *testing.T) {
	p := mustParse(t, `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "kinesis:Get*",
                "kinesis:DescribeStream*",
                "kinesis:ListShards"
            ],
            "Resource": [
                "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
            ]
        },
        {
            "Effect": "Allow",
            "Action": [
                "kinesis:ListStreams"
            ],
            "Resource": [
                "*"
            ]
        }
    ]
}`)
	other := "arn:aws:kinesis:us-east-1:000000000000:stream/other"
	cases := []struct {
		action, resource string
		want             bool
	}{
		{"kinesis:GetRecords", streamARN, true},
		{"kinesis:GetShardIterator", streamARN, true},
		{"kinesis:DescribeStream", streamARN, true},
		{"kinesis:DescribeStreamSummary", streamARN, true},
		{"kinesis:DescribeStreamConsumer", streamARN, true},
		{"kinesis:ListShards", streamARN, true},
		{"kinesis:ListStreams", "arn:aws:kinesis:us-east-1:000000000000:stream/*", true},
		{"kinesis:GetRecords", other, false},
		{"kinesis:ListShards", other, false},
		{"kinesis:PutRecord", streamARN, false},
		{"kinesis:PutRecords", streamARN, false},
		{"kinesis:DeleteStream", streamARN, false},
		{"kinesis:CreateStream", streamARN, false},
		{"kinesis:ListTagsForStream", streamARN, false},
	}
	for _, c := range cases {
		r := Request{Action: c.action, Resource: c.resource, PrincipalARN: aliceARN, Account: testAccount}
		if got := Authorize([]*Policy{p}, nil, r); got != c.want {
			t.Errorf("%s on %s: got %v, want %v", c.action, c.resource, got, c.want)
		}
	}
}

func TestParsePolicyShapes(t *testing.T) {
	// A single statement object, no Version (IAM reads it as 2008-10-17).
	p := mustParse(t, `{"Statement":{"Sid":"one","Effect":"Deny","Action":"kinesis:PutRecord","Resource":"*"}}`)
	if p.Version != "2008-10-17" || len(p.Statements) != 1 || p.Statements[0].Sid != "one" || p.Statements[0].Effect != EffectDeny {
		t.Errorf("single statement: got %+v", p)
	}
	p = mustParse(t, `{"Version":"2012-10-17","Id":"pol","Statement":[
		{"Effect":"Allow","Action":"kinesis:PutRecord","Resource":"*",
		 "Condition":{"StringEquals":{"b":"1","a":["x",true,2.5]},"Bool":{"c":true}}},
		{"Effect":"Allow","Principal":{"AWS":["000000000000","`+aliceARN+`"],"Service":"firehose.amazonaws.com"},"Action":"*","Resource":"*"}]}`)
	if p.ID != "pol" || len(p.Statements) != 2 {
		t.Fatalf("got %+v", p)
	}
	conds := p.Statements[0].Conditions
	var got []string
	for _, c := range conds {
		got = append(got, c.Operator+" "+c.Key+" "+strings.Join(c.Values, ","))
	}
	want := "Bool c true|StringEquals a x,true,2.5|StringEquals b 1"
	if strings.Join(got, "|") != want {
		t.Errorf("conditions: got %q, want %q", strings.Join(got, "|"), want)
	}
	ps := p.Statements[1].Principals
	if ps == nil || ps.Any || len(ps.AWS) != 2 || len(ps.Other["Service"]) != 1 {
		t.Errorf("principal: got %+v", ps)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":{` + s + `}}` }
	cases := []struct {
		name, doc, wantErr string
	}{
		{"empty", ``, "parse policy document"},
		{"not JSON", `{"Version":`, "parse policy document"},
		{"array", `[]`, "parse policy document"},
		{"trailing data", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}} {}`, "data after"},
		{"unknown top-level element", `{"Statment":[]}`, "unknown field"},
		{"bad version", `{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "Version"},
		{"no statement", `{"Version":"2012-10-17"}`, "no Statement"},
		{"null statement", `{"Version":"2012-10-17","Statement":null}`, "no Statement"},
		{"empty statement list", `{"Version":"2012-10-17","Statement":[]}`, "empty"},
		{"statement string", `{"Version":"2012-10-17","Statement":"Allow"}`, "object or a list"},
		{"statement list of strings", `{"Version":"2012-10-17","Statement":["x"]}`, "statement 0"},
		{"no effect", stmt(`"Action":"*","Resource":"*"`), "no Effect"},
		{"bad effect", stmt(`"Effect":"allow","Action":"*","Resource":"*"`), "Effect"},
		{"no action", stmt(`"Effect":"Allow","Resource":"*"`), "no Action"},
		{"both actions", stmt(`"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"`), "both Action and NotAction"},
		{"empty action list", stmt(`"Effect":"Allow","Action":[],"Resource":"*"`), "empty list"},
		{"empty action", stmt(`"Effect":"Allow","Action":"","Resource":"*"`), "empty string"},
		{"action not a string", stmt(`"Effect":"Allow","Action":5,"Resource":"*"`), "Action"},
		{"action list with number", stmt(`"Effect":"Allow","Action":["kinesis:Get*",5],"Resource":"*"`), "Action"},
		{"action without service", stmt(`"Effect":"Allow","Action":"PutRecord","Resource":"*"`), "SERVICE:ACTION"},
		{"no resource", stmt(`"Effect":"Allow","Action":"*"`), "no Resource"},
		{"both resources", stmt(`"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"`), "both Resource"},
		{"unknown statement element", stmt(`"Effect":"Allow","Action":"*","Resources":"*"`), "unknown field"},
		{"sid in error", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"bad","Effect":"Allow","Action":"*"}]}`, `statement 1 (Sid "bad")`},
		{"both principals", stmt(`"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*","Resource":"*"`), "both Principal"},
		{"principal string", stmt(`"Effect":"Allow","Principal":"000000000000","Action":"*","Resource":"*"`), "Principal"},
		{"principal empty object", stmt(`"Effect":"Allow","Principal":{},"Action":"*","Resource":"*"`), "empty object"},
		{"principal unknown type", stmt(`"Effect":"Allow","Principal":{"Users":"alice"},"Action":"*","Resource":"*"`), "unknown principal type"},
		{"principal bad AWS", stmt(`"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"*","Resource":"*"`), "account id or an ARN"},
		{"unknown operator", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringSortOf":{"k":"v"}}}`), "unknown Condition operator"},
		{"NullIfExists", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"k":"true"}}}`), "unknown Condition operator"},
		{"set operator", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"k":"v"}}}`), "set operators"},
		{"condition not an object", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":"x"`), "statement 0"},
		{"condition operator without keys", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{}}}`), "no keys"},
		{"condition empty key", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"":"v"}}}`), "empty key"},
		{"condition value object", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":{"a":1}}}}`), "want a string"},
		{"condition value null", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":null}}}`), "want a string"},
		{"condition empty list", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":[]}}}`), "empty list"},
		{"bad CIDR", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}`), "IpAddress"},
		{"bad IP", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"localhost"}}}`), "NotIpAddress"},
		{"bad date", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}`), "RFC 3339"},
		{"bad number", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"n":"NaN"}}}`), "NumericLessThan"},
		{"bad bool", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}`), "true"},
		{"bad ARN", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"stream/x"}}}`), "ARN pattern"},
		{"Null two values", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"k":["true","false"]}}}`), "one value"},
		{"too big", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Sid":"` + strings.Repeat("x", maxPolicyBytes) + `"}}`, "more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(c.doc))
			if err == nil {
				t.Fatalf("ParsePolicy succeeded with %+v; want an error containing %q", p, c.wantErr)
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %q does not contain %q", err, c.wantErr)
			}
		})
	}
}

// FuzzParsePolicy checks that ParsePolicy never panics and that a parsed
// policy evaluates, without panicking, to decisions Authorize combines as
// documented.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:Get*","Resource":"*"}}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Deny","NotAction":"*","NotResource":"arn:*","Principal":"*",
		"Condition":{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"},"Null":{"k":"true"},"DateLessThan":{"t":1700000000}}}]}`))
	f.Add([]byte(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotPrincipal":{"AWS":["000000000000"]}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := ParsePolicy(doc)
		if err != nil {
			return
		}
		r := Request{Action: "kinesis:GetRecords", Resource: streamARN, PrincipalARN: aliceARN, Account: testAccount,
			Context: map[string]string{"aws:SourceIp": "10.0.0.1", "aws:CurrentTime": "2026-11-25T20:00:00Z", "k": "v", "t": "x"}}
		id, res := EvaluateIdentity([]*Policy{p}, r), EvaluateResource(p, r)
		for _, d := range []Decision{id, res} {
			if d != DefaultDeny && d != Allow && d != ExplicitDeny {
				t.Fatalf("decision %v out of range", d)
			}
		}
		want := id != ExplicitDeny && res != ExplicitDeny && (id == Allow || res == Allow)
		if got := Authorize([]*Policy{p}, p, r); got != want {
			t.Fatalf("Authorize = %v, but identity %v and resource %v", got, id, res)
		}
	})
}

func TestPolicyVariables(t *testing.T) {
	type ctx = map[string]string
	cases := []struct {
		name     string
		version  string
		resource string // Resource element, JSON
		cond     string // Condition element, JSON, or ""
		resARN   string
		ctx      ctx
		want     bool
	}{
		{"resource variable", "2012-10-17", `"arn:aws:kinesis:*:*:stream/${aws:username}-*"`, "",
			"arn:aws:kinesis:us-east-1:000000000000:stream/alice-logs", ctx{"aws:username": "alice"}, true},
		{"resource variable other user", "2012-10-17", `"arn:aws:kinesis:*:*:stream/${aws:username}-*"`, "",
			"arn:aws:kinesis:us-east-1:000000000000:stream/bob-logs", ctx{"aws:username": "alice"}, false},
		{"resource variable key case-insensitive", "2012-10-17", `"arn:aws:kinesis:*:*:stream/${AWS:UserName}"`, "",
			"arn:aws:kinesis:us-east-1:000000000000:stream/alice", ctx{"aws:username": "alice"}, true},
		{"resource variable absent", "2012-10-17", `"arn:aws:kinesis:*:*:stream/${aws:username}"`, "",
			"arn:aws:kinesis:us-east-1:000000000000:stream/", ctx{}, false},
		{"variable value is literal, not a wildcard", "2012-10-17", `"arn:aws:kinesis:*:*:stream/${aws:username}"`, "",
			"arn:aws:kinesis:us-east-1:000000000000:stream/anything", ctx{"aws:username": "*"}, false},
		{"escaped star is literal", "2012-10-17", `"arn:aws:kinesis:*:*:stream/a${*}"`, "",
			"arn:aws:kinesis:us-east-1:000000000000:stream/ab", nil, false},
		{"escaped star matches itself", "2012-10-17", `"arn:aws:kinesis:*:*:stream/a${*}"`, "",
			"arn:aws:kinesis:us-east-1:000000000000:stream/a*", nil, true},
		{"backslash in pattern is literal", "2012-10-17", `"arn:aws:kinesis:*:*:stream/a\\${aws:username}"`, "",
			`arn:aws:kinesis:us-east-1:000000000000:stream/a\alice`, ctx{"aws:username": "alice"}, true},
		{"2008 version has no variables", "2008-10-17", `"arn:aws:kinesis:*:*:stream/${aws:username}"`, "",
			"arn:aws:kinesis:us-east-1:000000000000:stream/${aws:username}", ctx{"aws:username": "alice"}, true},
		{"2008 version does not expand", "2008-10-17", `"arn:aws:kinesis:*:*:stream/${aws:username}"`, "",
			"arn:aws:kinesis:us-east-1:000000000000:stream/alice", ctx{"aws:username": "alice"}, false},
		{"StringEquals variable", "2012-10-17", `"*"`, `{"StringEquals":{"kinesis:owner":"${aws:username}"}}`,
			streamARN, ctx{"aws:username": "alice", "kinesis:owner": "alice"}, true},
		{"StringEquals variable miss", "2012-10-17", `"*"`, `{"StringEquals":{"kinesis:owner":"${aws:username}"}}`,
			streamARN, ctx{"aws:username": "bob", "kinesis:owner": "alice"}, false},
		{"StringLike variable", "2012-10-17", `"*"`, `{"StringLike":{"kinesis:owner":"${aws:username}*"}}`,
			streamARN, ctx{"aws:username": "al", "kinesis:owner": "alice"}, true},
		{"StringNotEquals variable absent", "2012-10-17", `"*"`, `{"StringNotEquals":{"kinesis:owner":"${aws:username}"}}`,
			streamARN, ctx{"kinesis:owner": "alice"}, true},
		{"ArnLike variable", "2012-10-17", `"*"`, `{"ArnLike":{"aws:SourceArn":"arn:aws:kinesis:*:*:stream/${aws:username}"}}`,
			streamARN, ctx{"aws:username": "orders", "aws:SourceArn": streamARN}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cond := ""
			if c.cond != "" {
				cond = `,"Condition":` + c.cond
			}
			p := mustParse(t, `{"Version":"`+c.version+`","Statement":{"Effect":"Allow","Action":"*","Resource":`+c.resource+cond+`}}`)
			r := Request{Action: "kinesis:PutRecord", Resource: c.resARN, PrincipalARN: aliceARN, Account: testAccount, Context: c.ctx}
			want := DefaultDeny
			if c.want {
				want = Allow
			}
			if got := EvaluateIdentity([]*Policy{p}, r); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestGlobMatchEscapes(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{`a\?`, "a?", true},
		{`a\?`, "ab", false},
		{`a\\b`, `a\b`, true},
		{`*\*x`, "ab*x", true},
		{`*\*x`, "a*b*x", true},
		{`*\*x`, "abx", false},
		{`a\`, "a", false},
	}
	for _, c := range cases {
		if got := globMatch(c.pattern, c.s, true); got != c.want {
			t.Errorf("globMatch(%q, %q, true) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}
