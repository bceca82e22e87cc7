package awsproto

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

func TestTimestampJSON(t *testing.T) {
	tests := []struct {
		ms   int64
		json string
	}{
		{1572297168123, "1572297168.123"},
		{1572297168000, "1572297168.0"},
		{1572297168100, "1572297168.1"},
		{1572297168120, "1572297168.12"},
		{1572297168001, "1572297168.001"},
		{1441215410867, "1441215410.867"},
		{0, "0.0"},
		{1, "0.001"},
		{-1, "-0.001"},
		{-500, "-0.5"},
		{-1500, "-1.5"},
		{-1000, "-1.0"},
		{math.MaxInt64, "9223372036854775.807"},
		{math.MinInt64, "-9223372036854775.808"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(Timestamp{tt.ms})
		if err != nil || string(b) != tt.json {
			t.Errorf("Marshal(%d) = %s, %v; want %s", tt.ms, b, err, tt.json)
		}
		var got Timestamp
		if err := json.Unmarshal([]byte(tt.json), &got); err != nil || got.Millis != tt.ms {
			t.Errorf("Unmarshal(%s) = %d, %v; want %d", tt.json, got.Millis, err, tt.ms)
		}
	}
	// Exponent form and null.
	var got Timestamp
	if err := json.Unmarshal([]byte("1.45979992648E9"), &got); err != nil || got.Millis != 1459799926480 {
		t.Errorf("exponent form: %d, %v", got.Millis, err)
	}
	got = Timestamp{7}
	if err := got.UnmarshalJSON([]byte("null")); err != nil || got.Millis != 7 {
		t.Errorf("null: %d, %v", got.Millis, err)
	}
	err := got.UnmarshalJSON([]byte(`"2019-10-28T21:12:48Z"`))
	mustSerialization(t, err, "class java.lang.String can not be converted to milliseconds since epoch")
	mustSerialization(t, got.UnmarshalJSON([]byte(`1 2`)), "")
}

func TestTimestampCBOR(t *testing.T) {
	tests := []struct {
		ms   int64
		cbor []byte
	}{
		{1572297168123, []byte{0xc1, 0x1b, 0, 0, 0x01, 0x6e, 0x14, 0x36, 0xd4, 0xfb}},
		{0, []byte{0xc1, 0x00}},
		{23, []byte{0xc1, 0x17}},
		{24, []byte{0xc1, 0x18, 24}},
		{256, []byte{0xc1, 0x19, 1, 0}},
		{1 << 16, []byte{0xc1, 0x1a, 0, 1, 0, 0}},
		{-1, []byte{0xc1, 0x20}},
		{-1500, []byte{0xc1, 0x39, 0x05, 0xdb}},
		{math.MinInt64, []byte{0xc1, 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		b, err := Timestamp{tt.ms}.MarshalCBOR()
		if err != nil || string(b) != string(tt.cbor) {
			t.Errorf("MarshalCBOR(%d) = %x, %v; want %x", tt.ms, b, err, tt.cbor)
		}
		var got Timestamp
		if err := got.UnmarshalCBOR(tt.cbor); err != nil || got.Millis != tt.ms {
			t.Errorf("UnmarshalCBOR(%x) = %d, %v; want %d", tt.cbor, got.Millis, err, tt.ms)
		}
	}
	// fxamacker/cbor uses the methods for Timestamp members.
	type s struct {
		T  Timestamp  `json:"T"`
		TP *Timestamp `json:"TP,omitempty"`
	}
	b, err := cbor.Marshal(s{T: Timestamp{5}, TP: &Timestamp{6}})
	if err != nil {
		t.Fatal(err)
	}
	var back s
	if err := cbor.Unmarshal(b, &back); err != nil || back.T.Millis != 5 || back.TP.Millis != 6 {
		t.Errorf("fxamacker round trip: %+v, %v", back, err)
	}
	var got Timestamp
	mustSerialization(t, got.UnmarshalCBOR(newCB().text("x").done()), "class java.lang.String can not be converted to milliseconds since epoch")
	mustSerialization(t, got.UnmarshalCBOR([]byte{0xc1}), "")
}

func TestTimestampTime(t *testing.T) {
	tm := time.Date(2019, 10, 28, 21, 12, 48, 123_999_999, time.UTC)
	ts := TimestampFromTime(tm)
	if ts.Millis != 1572297168123 {
		t.Errorf("TimestampFromTime = %d", ts.Millis)
	}
	if !ts.Time().Equal(tm.Truncate(time.Millisecond)) || ts.Time().Location() != time.UTC {
		t.Errorf("Time() = %v", ts.Time())
	}
	if s := ts.String(); s != "2019-10-28T21:12:48.123Z" {
		t.Errorf("String() = %q", s)
	}
	// Before the epoch, the millisecond is floored.
	if ts := TimestampFromTime(time.Unix(-1, 999_999_999)); ts.Millis != -1 {
		t.Errorf("pre-epoch = %d", ts.Millis)
	}
}
