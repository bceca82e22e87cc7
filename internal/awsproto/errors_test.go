package awsproto

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// Every exception the Kinesis, Firehose and Kinesis Analytics models name
// (reference §1.4 and the per-operation lists of Appendices B-D), the
// protocol errors of AWS's front end, and the DynamoDB lease-table subset.
var wantExceptions = map[string]struct {
	status    int
	retryable bool
}{
	// Kinesis Data Streams.
	"AccessDeniedException":                  {400, false},
	"DryRunOperationException":               {400, false},
	"ExpiredIteratorException":               {400, false},
	"ExpiredNextTokenException":              {400, false},
	"InternalFailureException":               {500, true},
	"InvalidArgumentException":               {400, false},
	"KMSAccessDeniedException":               {400, false},
	"KMSDisabledException":                   {400, false},
	"KMSInvalidStateException":               {400, false},
	"KMSNotFoundException":                   {400, false},
	"KMSOptInRequired":                       {400, false},
	"KMSThrottlingException":                 {400, false},
	"LimitExceededException":                 {400, true},
	"ProvisionedThroughputExceededException": {400, true},
	"ResourceInUseException":                 {400, false},
	"ResourceNotFoundException":              {400, false},
	"ValidationException":                    {400, false},
	// Firehose.
	"ConcurrentModificationException": {400, false},
	"InvalidKMSResourceException":     {400, false},
	"InvalidSourceException":          {400, false},
	"ServiceUnavailableException":     {503, true},
	// Kinesis Analytics.
	"CodeValidationException":                        {400, false},
	"InvalidApplicationConfigurationException":       {400, false},
	"ResourceProvisionedThroughputExceededException": {400, false},
	"TooManyTagsException":                           {400, false},
	"UnableToDetectSchemaException":                  {400, false},
	"UnsupportedOperationException":                  {400, false},
	// Protocol.
	"SerializationException":              {400, false},
	"UnknownOperationException":           {400, false},
	"MissingAuthenticationTokenException": {400, false},
	"IncompleteSignatureException":        {400, false},
	"InvalidSignatureException":           {400, false},
	"UnrecognizedClientException":         {400, false},
	"ExpiredTokenException":               {400, false},
	"ThrottlingException":                 {400, true},
	"RequestEntityTooLargeException":      {413, false},
	"RequestTimeoutException":             {408, true},
	"MalformedHttpRequestException":       {400, false},
	"InternalFailure":                     {500, true},
	// DynamoDB (KCL lease tables).
	"ConditionalCheckFailedException":          {400, false},
	"ItemCollectionSizeLimitExceededException": {400, false},
	"RequestLimitExceeded":                     {400, true},
	"TransactionConflictException":             {400, false},
	"InternalServerError":                      {500, true},
}

func TestCatalogue(t *testing.T) {
	all := Exceptions()
	if len(all) != len(wantExceptions) {
		t.Errorf("catalogue has %d entries, test expects %d", len(all), len(wantExceptions))
	}
	if !slices.IsSortedFunc(all, func(a, b Exception) int { return strings.Compare(a.Type, b.Type) }) {
		t.Error("Exceptions() is not sorted")
	}
	for _, e := range all {
		want, ok := wantExceptions[e.Type]
		if !ok {
			t.Errorf("%s: not expected by the test", e.Type)
			continue
		}
		if e.Status != want.status || e.Retryable != want.retryable {
			t.Errorf("%s: status %d retryable %v; want %d %v", e.Type, e.Status, e.Retryable, want.status, want.retryable)
		}
		if err := checkException(e); err != nil {
			t.Errorf("%s: %v", e.Type, err)
		}
		wantKey := "message"
		if e.Type == "SerializationException" {
			wantKey = "Message"
		}
		if e.MessageKey != wantKey {
			t.Errorf("%s: message key %q, want %q", e.Type, e.MessageKey, wantKey)
		}
		got, ok := LookupException(e.Type)
		if !ok || !reflect.DeepEqual(got, e) {
			t.Errorf("LookupException(%s) = %+v, %v", e.Type, got, ok)
		}
		// Errorf takes its status and flag from the entry.
		err := Errorf(e.Type, "m %d", 1)
		if err.Type != e.Type || err.Status != e.Status || err.Retryable != e.Retryable || err.Message != "m 1" {
			t.Errorf("Errorf(%s) = %+v", e.Type, err)
		}
	}
	for typ := range wantExceptions {
		if _, ok := LookupException(typ); !ok {
			t.Errorf("%s: missing from errors.json", typ)
		}
	}
	if _, ok := LookupException("NoSuchException"); ok {
		t.Error("LookupException found an unknown type")
	}
	// Callers cannot change the catalogue through what they get.
	e, _ := LookupException("ResourceNotFoundException")
	e.Services[0] = "changed"
	if e2, _ := LookupException("ResourceNotFoundException"); e2.Services[0] == "changed" {
		t.Error("LookupException shares its Services slice")
	}
}

// The retryable flag is what aws-sdk-go-v2's standard retryer does:
// throttle codes and 5xx statuses.
func TestCatalogueRetryableMatchesSDK(t *testing.T) {
	sdkThrottle := []string{"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
		"TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
		"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
		"PriorRequestNotComplete", "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException"}
	for _, e := range Exceptions() {
		want := e.Status >= 500 || slices.Contains(sdkThrottle, e.Type)
		if e.Retryable != want {
			t.Errorf("%s: retryable %v, SDK retries: %v", e.Type, e.Retryable, want)
		}
	}
}

func TestCatalogueRejectsBadData(t *testing.T) {
	bad := []string{
		`{"exceptions": []}`,
		`not json`,
		`{"exceptions": [{"type": "AException", "status": 400, "services": ["kinesis"], "description": "d", "extra": 1}]}`,
		`{"exceptions": [{"type": "aException", "status": 400, "services": ["kinesis"], "description": "d"}]}`,
		`{"exceptions": [{"type": "A-Exception", "status": 400, "services": ["kinesis"], "description": "d"}]}`,
		`{"exceptions": [{"type": "AException", "status": 418, "services": ["kinesis"], "description": "d"}]}`,
		`{"exceptions": [{"type": "AException", "status": 500, "retryable": false, "services": ["kinesis"], "description": "d"}]}`,
		`{"exceptions": [{"type": "AException", "status": 400, "services": [], "description": "d"}]}`,
		`{"exceptions": [{"type": "AException", "status": 400, "services": ["s3"], "description": "d"}]}`,
		`{"exceptions": [{"type": "AException", "status": 400, "services": ["kinesis"], "messageKey": "msg", "description": "d"}]}`,
		`{"exceptions": [{"type": "AException", "status": 400, "services": ["kinesis"]}]}`,
		`{"exceptions": [{"type": "AException", "status": 400, "services": ["kinesis"], "description": "d"},
		                 {"type": "AException", "status": 400, "services": ["kinesis"], "description": "d"}]}`,
	}
	for _, data := range bad {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("mustLoadCatalogue accepted %s", data)
				}
			}()
			mustLoadCatalogue([]byte(data))
		}()
	}
	good := mustLoadCatalogue([]byte(`{"exceptions": [{"type": "AException", "status": 400, "services": ["kinesis"], "description": "d"}]}`))
	if good["AException"].MessageKey != "message" {
		t.Errorf("default message key = %q", good["AException"].MessageKey)
	}
}

func TestErrorf(t *testing.T) {
	e := Errorf("ResourceNotFoundException", "Stream %s under account %s not found.", "s", "123456789012")
	if e.Error() != "ResourceNotFoundException: Stream s under account 123456789012 not found." {
		t.Errorf("Error() = %q", e.Error())
	}
	// Without args the text is kept as is, '%' included.
	errorf := Errorf // called through a variable: vet would flag the literal '%'
	if e := errorf("ValidationException", "100% sure"); e.Message != "100% sure" {
		t.Errorf("Message = %q", e.Message)
	}
	if e := Errorf("UnknownOperationException", ""); e.Error() != "UnknownOperationException" {
		t.Errorf("Error() without message = %q", e.Error())
	}
	defer func() {
		if recover() == nil {
			t.Error("Errorf with an unknown type did not panic")
		}
	}()
	Errorf("NoSuchException", "x")
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name   string
		p      Protocol
		err    *Error
		status int
		body   map[string]string
	}{
		{"json", JSON, Errorf("ResourceNotFoundException", "Stream s under account 123456789012 not found."), 400,
			map[string]string{"__type": "ResourceNotFoundException", "message": "Stream s under account 123456789012 not found."}},
		{"cbor", CBOR, Errorf("ProvisionedThroughputExceededException", "Rate exceeded for shard shardId-000000000000 in stream s under account 123456789012."), 400,
			map[string]string{"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded for shard shardId-000000000000 in stream s under account 123456789012."}},
		{"serialization spells Message", JSON, serializationError("Start of list found where not expected"), 400,
			map[string]string{"__type": "SerializationException", "Message": "Start of list found where not expected"}},
		{"cbor serialization", CBOR, serializationError("Expected null"), 400,
			map[string]string{"__type": "SerializationException", "Message": "Expected null"}},
		{"no message", JSON, serializationError(""), 400, map[string]string{"__type": "SerializationException"}},
		{"internal failure", JSON, Errorf("InternalFailure", ""), 500, map[string]string{"__type": "InternalFailure"}},
		{"service unavailable", CBOR, Errorf("ServiceUnavailableException", "Slow down."), 503,
			map[string]string{"__type": "ServiceUnavailableException", "message": "Slow down."}},
		{"code member", JSON, &Error{Type: "InvalidKMSResourceException", Message: "m", Status: 400, Code: "KMS.AccessDeniedException"}, 400,
			map[string]string{"__type": "InvalidKMSResourceException", "message": "m", "code": "KMS.AccessDeniedException"}},
		{"zero status from catalogue", JSON, &Error{Type: "InternalFailureException", Message: "x"}, 500,
			map[string]string{"__type": "InternalFailureException", "message": "x"}},
		{"zero protocol writes JSON", 0, Errorf("AccessDeniedException", "no"), 400,
			map[string]string{"__type": "AccessDeniedException", "message": "no"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteError(rec, tt.p, tt.err)
			res := rec.Result()
			p := tt.p
			if p == 0 {
				p = JSON
			}
			if res.StatusCode != tt.status {
				t.Errorf("status %d, want %d", res.StatusCode, tt.status)
			}
			if got := res.Header.Get("Content-Type"); got != p.ContentType() {
				t.Errorf("Content-Type %q", got)
			}
			if got := res.Header.Get("X-Amzn-ErrorType"); got != tt.err.Type {
				t.Errorf("X-Amzn-ErrorType %q", got)
			}
			if got := res.Header.Get("Content-Length"); got != itoa(rec.Body.Len()) {
				t.Errorf("Content-Length %q for %d bytes", got, rec.Body.Len())
			}
			var body map[string]string
			var err error
			if p == JSON {
				err = json.Unmarshal(rec.Body.Bytes(), &body)
			} else {
				err = cbor.Unmarshal(rec.Body.Bytes(), &body)
			}
			if err != nil {
				t.Fatalf("body %q: %v", rec.Body.Bytes(), err)
			}
			if !reflect.DeepEqual(body, tt.body) {
				t.Errorf("body %v, want %v", body, tt.body)
			}
		})
	}
}

func TestWriteErrorBytes(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, JSON, Errorf("ResourceNotFoundException", "Stream <s> not found."))
	if got := rec.Body.String(); got != `{"__type":"ResourceNotFoundException","message":"Stream <s> not found."}` {
		t.Errorf("JSON body %s", got)
	}
	rec = httptest.NewRecorder()
	WriteError(rec, JSON, serializationError("Expected null"))
	if got := rec.Body.String(); got != `{"__type":"SerializationException","Message":"Expected null"}` {
		t.Errorf("JSON body %s", got)
	}
	rec = httptest.NewRecorder()
	WriteError(rec, CBOR, &Error{Type: "InvalidSourceException", Message: "m", Code: "c"})
	want := newCB().mapN(3).text("__type").text("InvalidSourceException").text("message").text("m").text("code").text("c").done()
	if got := rec.Body.Bytes(); string(got) != string(want) {
		t.Errorf("CBOR body %x, want %x", got, want)
	}
	rec = httptest.NewRecorder()
	WriteError(rec, CBOR, serializationError(""))
	// {"__type": "SerializationException"} as a definite map.
	want = append([]byte{0xa1, 0x66}, "__type\x76SerializationException"...)
	if got := rec.Body.Bytes(); string(got) != string(want) {
		t.Errorf("CBOR body %x, want %x", got, want)
	}
}

// TestWriteErrorInvalidUTF8: a message quoting invalid UTF-8 the client
// sent (an Authorization header) stays well-formed CBOR: each invalid byte
// becomes U+FFFD, as in the JSON answer. Found by TestProtoFuzz, whose
// CBOR decoder refused such an IncompleteSignatureException.
func TestWriteErrorInvalidUTF8(t *testing.T) {
	e := Errorf("IncompleteSignatureException", "Authorization=AWS4 Credential\xefx\xe0\xb1/us")
	for _, p := range []Protocol{JSON, CBOR} {
		rec := httptest.NewRecorder()
		WriteError(rec, p, e)
		var m map[string]string
		var err error
		if p == CBOR {
			err = cbor.Unmarshal(rec.Body.Bytes(), &m)
		} else {
			err = json.Unmarshal(rec.Body.Bytes(), &m)
		}
		if err != nil {
			t.Fatalf("%s: %v: %q", p, err, rec.Body.Bytes())
		}
		if want := "Authorization=AWS4 Credential\ufffdx\ufffd\ufffd/us"; m["message"] != want {
			t.Errorf("%s: message %q, want %q", p, m["message"], want)
		}
	}
	if e.Message != "Authorization=AWS4 Credential\xefx\xe0\xb1/us" {
		t.Errorf("WriteError changed the error: %q", e.Message)
	}
}

func TestWriteResponse(t *testing.T) {
	type out struct {
		ShardId        *string    `json:"ShardId,omitempty"`
		SequenceNumber *string    `json:"SequenceNumber,omitempty"`
		Arrival        *Timestamp `json:"ApproximateArrivalTimestamp,omitempty"`
		Data           []byte     `json:"Data,omitempty"`
	}
	tests := []struct {
		p    Protocol
		v    any
		body string
	}{
		{JSON, nil, `{}`},
		{JSON, (*out)(nil), `{}`},
		{CBOR, nil, "\xa0"},
		{JSON, out{}, `{}`},
		{JSON, out{ShardId: ptr("shardId-000000000001"), SequenceNumber: ptr("49546986683135544286507457936321625675700192471156785154"),
			Arrival: &Timestamp{1572297168123}, Data: []byte("hi")},
			`{"ShardId":"shardId-000000000001","SequenceNumber":"49546986683135544286507457936321625675700192471156785154","ApproximateArrivalTimestamp":1572297168.123,"Data":"aGk="}`},
		{CBOR, out{ShardId: ptr("s"), Arrival: &Timestamp{1572297168123}, Data: []byte("hi")},
			"\xa3\x67ShardId\x61s\x78\x1bApproximateArrivalTimestamp\xc1\x1b\x00\x00\x01\x6e\x14\x36\xd4\xfb\x64Data\x42hi"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		if err := WriteResponse(rec, tt.p, tt.v); err != nil {
			t.Fatal(err)
		}
		if rec.Code != 200 || rec.Header().Get("Content-Type") != tt.p.ContentType() ||
			rec.Header().Get("Content-Length") != itoa(len(tt.body)) {
			t.Errorf("%v %T: status %d headers %v", tt.p, tt.v, rec.Code, rec.Header())
		}
		if rec.Body.String() != tt.body {
			t.Errorf("%v %T: body\n %q\nwant\n %q", tt.p, tt.v, rec.Body.String(), tt.body)
		}
	}
}

// appendedOut encodes itself, as GetRecords' output does.
type appendedOut struct {
	Text string `json:"Text"`
}

func (o *appendedOut) AppendJSON(b []byte) []byte {
	b = append(b, `{"Text":`...)
	b = AppendJSONString(b, o.Text)
	return append(b, '}')
}

// TestWriteResponseAppender checks responses built in pooled buffers: each
// body is exactly its own, however big or small the response before it,
// and the other protocol and nil pointers take the Marshal path.
func TestWriteResponseAppender(t *testing.T) {
	for _, n := range []int{100_000, 3, 0, 1 << 20, 10, 100_000} {
		v := &appendedOut{Text: strings.Repeat("x", n)}
		for _, p := range []Protocol{JSON, CBOR} {
			want, err := Marshal(p, v)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			if err := WriteResponse(rec, p, v); err != nil {
				t.Fatal(err)
			}
			if rec.Body.String() != string(want) || rec.Header().Get("Content-Length") != itoa(len(want)) {
				t.Fatalf("%v, %d bytes of text: Content-Length %s, body %.80q..., want %.80q...",
					p, n, rec.Header().Get("Content-Length"), rec.Body.String(), want)
			}
		}
	}
	rec := httptest.NewRecorder()
	if err := WriteResponse(rec, JSON, (*appendedOut)(nil)); err != nil || rec.Body.String() != "{}" {
		t.Errorf("nil pointer: %q, %v", rec.Body.String(), err)
	}
}

func TestBufferCache(t *testing.T) {
	c := bufferCache{maxBuffers: 2, maxBytes: 100}
	if b := c.get(); b != nil {
		t.Fatalf("empty cache gave %d bytes", cap(b))
	}
	c.put(make([]byte, 5, 60))
	c.put(make([]byte, 0, 50)) // over maxBytes: dropped
	c.put(make([]byte, 0, 30))
	c.put(make([]byte, 0, 1)) // over maxBuffers: dropped
	for _, want := range []int{30, 60} {
		if b := c.get(); cap(b) != want || len(b) != 0 {
			t.Errorf("get = len %d cap %d, want len 0 cap %d", len(b), cap(b), want)
		}
	}
	if b := c.get(); b != nil || c.mu.bytes != 0 {
		t.Errorf("drained cache gave %d bytes, counts %d", cap(b), c.mu.bytes)
	}
}

func TestWriteResponseEncodeFailure(t *testing.T) {
	rec := httptest.NewRecorder()
	err := WriteResponse(rec, JSON, map[string]any{"x": make(chan int)})
	if err == nil {
		t.Fatal("no error for an unencodable response")
	}
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("X-Amzn-ErrorType") != "InternalFailure" ||
		rec.Body.String() != `{"__type":"InternalFailure"}` {
		t.Errorf("got %d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// appendOut is a JSONAppender: WriteResponse encodes it into a pooled buffer.
type appendOut struct{ S string }

func (o appendOut) AppendJSON(b []byte) []byte {
	b = append(b, `{"S":`...)
	return append(AppendJSONString(b, o.S), '}')
}

// keepingWriter is a ResponseWriter whose Write keeps p, as Go's HTTP/2
// server may after a failed write, and fails when told to.
type keepingWriter struct {
	*httptest.ResponseRecorder
	kept [][]byte
	fail bool
}

func (w *keepingWriter) Write(p []byte) (int, error) {
	w.kept = append(w.kept, p)
	if w.fail {
		return 0, errors.New("stream reset")
	}
	return w.ResponseRecorder.Write(p)
}

func TestWriteResponseReusesOnlyFreeBuffers(t *testing.T) {
	// Each answer must be whole and exact, whatever buffer it was built
	// in, and a buffer a failed Write may still hold must never be
	// written into again.
	failed := &keepingWriter{ResponseRecorder: httptest.NewRecorder(), fail: true}
	if err := WriteResponse(failed, JSON, appendOut{S: strings.Repeat("a", 1000)}); err == nil {
		t.Fatal("the failed Write's error was not returned")
	}
	if err := WriteResponse(failed, JSON, EncodeSelf(JSON, appendOut{S: strings.Repeat("z", 1000)})); err == nil {
		t.Fatal("the failed Write's error was not returned for an encoded answer")
	}
	want := `{"S":"` + strings.Repeat("a", 1000) + `"}`
	wantEncoded := `{"S":"` + strings.Repeat("z", 1000) + `"}`
	for i := range 50 {
		v := appendOut{S: strings.Repeat(string(rune('b'+i%20)), 1+i*37)}
		rec := httptest.NewRecorder()
		var out any = v
		if i%2 == 1 {
			out = EncodeSelf(JSON, v) // encoded by the operation, in a cached buffer
		}
		if err := WriteResponse(rec, JSON, out); err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(v); rec.Body.String() != string(b) || rec.Header().Get("Content-Length") != itoa(len(b)) {
			t.Fatalf("answer %d: %q (Content-Length %s), want %q", i, rec.Body.String(), rec.Header().Get("Content-Length"), b)
		}
		if string(failed.kept[0]) != want || string(failed.kept[1]) != wantEncoded {
			t.Fatalf("answer %d wrote into a buffer a failed Write kept: %.40q, %.40q", i, failed.kept[0], failed.kept[1])
		}
	}
}

// TestEncoded: an answer an operation encoded itself is written as it is,
// with its headers; it appends only as the protocol it was encoded in.
func TestEncoded(t *testing.T) {
	e := EncodeSelf(JSON, appendOut{S: "x"})
	rec := httptest.NewRecorder()
	if err := WriteResponse(rec, JSON, e); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK || rec.Body.String() != `{"S":"x"}` || rec.Header().Get("Content-Type") != JSON.ContentType() ||
		rec.Header().Get("Content-Length") != "9" {
		t.Errorf("got %d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}
	e = EncodeSelf(JSON, appendOut{S: "y"})
	if got, err := Marshal(JSON, e); err != nil || string(got) != `{"S":"y"}` {
		t.Errorf("Marshal(JSON, encoded) = %s, %v", got, err)
	}
	if got := e.AppendJSON([]byte("[")); string(got) != `[{"S":"y"}` {
		t.Errorf("AppendJSON = %s", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("a JSON answer appended as CBOR did not panic")
		}
	}()
	e.AppendCBOR(nil)
}
