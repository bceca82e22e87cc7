package awsproto

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// shout implements both unmarshaler interfaces: the decoders hand it the
// raw member.
type shout string

func (s *shout) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return serializationError("shout wants a string")
	}
	*s = shout(strings.ToUpper(v))
	return nil
}

func (s *shout) UnmarshalCBOR(b []byte) error {
	var v string
	if err := cbor.Unmarshal(b, &v); err != nil {
		return err // not an *Error: the message is dropped
	}
	*s = shout(strings.ToUpper(v))
	return nil
}

type withCustom struct {
	S   shout           `json:"S"`
	P   *shout          `json:"P,omitempty"`
	Raw json.RawMessage `json:"Raw,omitempty"`
}

func TestUnmarshalCustomTypes(t *testing.T) {
	var got withCustom
	if err := Unmarshal(JSON, []byte(`{"S":"abc","P":"x","Raw":{"a":[1, 2]}}`), &got); err != nil {
		t.Fatal(err)
	}
	if got.S != "ABC" || got.P == nil || *got.P != "X" || string(got.Raw) != `{"a":[1, 2]}` {
		t.Errorf("got %+v", got)
	}
	mustSerialization(t, Unmarshal(JSON, []byte(`{"S":1}`), &got), "shout wants a string")

	got = withCustom{}
	body := newCB().mapN(2).text("S").text("abc").text("P").null().done()
	if err := Unmarshal(CBOR, body, &got); err != nil {
		t.Fatal(err)
	}
	if got.S != "ABC" || got.P != nil {
		t.Errorf("got %+v", got)
	}
	mustSerialization(t, Unmarshal(CBOR, newCB().mapN(1).text("S").uint(1).done(), &got), "")
	mustSerialization(t, Unmarshal(CBOR, newCB().mapN(1).text("S").head(3, 5).done(), &got), "")
}

func TestProtocolString(t *testing.T) {
	if JSON.String() != "json" || CBOR.String() != "cbor" || Protocol(9).String() != "Protocol(9)" {
		t.Error(JSON.String(), CBOR.String(), Protocol(9).String())
	}
}

// Generic members take any value, in both protocols.
func TestUnmarshalAny(t *testing.T) {
	var got allTypes
	body := `{"Any":{"n":-1.5e3,"s":"\u00e9","t":true,"f":false,"z":null,"l":[[],{}],"big":1e400}}`
	if err := Unmarshal(JSON, []byte(body), &got); err != nil {
		t.Fatal(err)
	}
	m := got.Any.(map[string]any)
	if m["n"] != -1500.0 || m["s"] != "é" || m["t"] != true || m["f"] != false || m["z"] != nil || m["big"] != 1.7976931348623157e308 {
		t.Errorf("got %#v", m)
	}
	for _, bad := range []string{`{"Any":{"a" 1}}`, `{"Any":[1,}`, `{"Any":tru}`, `{"Any":"\x"}`, `{"Any":-}`, `{"Any":{"a":[}}`} {
		mustSerialization(t, Unmarshal(JSON, []byte(bad), &got), "")
	}
	got = allTypes{}
	cb := newCB().mapN(1).text("Any").indefMap().
		text("i").neg(9).text("h").half(0x7e00).text("b").tag(2).bytes([]byte{1, 0}).
		text("t").tag(1).uint(5).text("l").indefArray().text("x").brk().
		text("d").array(1).mapN(0).brk().done()
	if err := Unmarshal(CBOR, cb, &got); err != nil {
		t.Fatal(err)
	}
	m = got.Any.(map[string]any)
	if m["i"] != -10.0 || m["h"] != 0.0 || m["b"] != 256.0 || m["t"] != 5.0 || len(m["l"].([]any)) != 1 {
		t.Errorf("got %#v", m)
	}
	for _, bad := range [][]byte{
		newCB().mapN(1).text("Any").mapN(1).uint(1).uint(1).done(),
		newCB().mapN(1).text("Any").array(2).uint(1).done(),
		newCB().mapN(1).text("Any").head(4, 1<<30).done(),
		newCB().mapN(1).text("Any").head(5, 1<<30).done(),
		newCB().mapN(1).text("Any").tag(2).text("x").done(),
		newCB().mapN(1).text("Any").raw(0x9f).done(),
		newCB().mapN(1).text("Any").raw(0xbf).done(),
	} {
		mustSerialization(t, Unmarshal(CBOR, bad, &got), "")
	}
}

func TestFloatToInt(t *testing.T) {
	for f, want := range map[float64]int64{1.9: 1, -1.1: -2, 1e300: 1<<63 - 1, -1e300: -1 << 63} {
		if got := floatToInt(f); got != want {
			t.Errorf("floatToInt(%v) = %d", f, got)
		}
	}
	if floatToInt(nan()) != 0 {
		t.Error("NaN")
	}
}

func nan() float64 { z := 0.0; return z / z }
