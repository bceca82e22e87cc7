package awsproto

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestWriteFuzzSeeds rewrites the seed corpora in testdata/fuzz from the
// lists below when SLUICE_WRITE_FUZZ_SEEDS=1; otherwise it only checks
// that every listed seed is there.
func TestWriteFuzzSeeds(t *testing.T) {
	write := os.Getenv("SLUICE_WRITE_FUZZ_SEEDS") == "1"
	for target, seeds := range map[string][][]byte{
		"FuzzUnmarshalJSON": jsonSeeds(),
		"FuzzUnmarshalCBOR": cborSeeds(),
	} {
		dir := filepath.Join("testdata", "fuzz", target)
		for _, s := range seeds {
			name := fmt.Sprintf("seed-%x", sha256.Sum256(s))[:21]
			path := filepath.Join(dir, name)
			content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
			if write {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != content {
				t.Errorf("seed %s missing or stale (run with SLUICE_WRITE_FUZZ_SEEDS=1): %v", path, err)
			}
		}
	}
}

func jsonSeeds() [][]byte {
	s := []string{
		``, `{}`, `[]`, `null`, `"x"`, `1`, ` `, `{`, `hello`,
		`{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"pk"}]}`,
		`{"StreamName":"s","Records":[{"Data":"","PartitionKey":"pk","ExplicitHashKey":"340282366920938463463374607431768211455"},{"Data":"AA==","PartitionKey":"p2"}],"Timestamp":1459799926.48,"Limit":10000}`,
		`{"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/s","Timestamp":1.45979992648E9}`,
		`{"Timestamp":-0.0005,"Limit":-2147483649}`,
		`{"Limit":34.56,"Timestamp":1e300}`,
		`{"Limit":"23"}`, `{"Limit":true}`, `{"StreamName":23}`, `{"StreamName":[]}`, `{"StreamName":{}}`,
		`{"Records":"23"}`, `{"Records":{}}`, `{"Records":[23]}`, `{"Records":[[]]}`,
		`{"Records":[{"Data":"23456"}]}`, `{"Records":[{"Data":"=+/="}]}`, `{"Records":[{"Data":"+/+="}]}`,
		`{"Records":[{"Data":true}]}`, `{"Timestamp":"2019-10-28T21:12:48Z"}`, `{"Timestamp":false}`,
		`{"StreamName":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00\ud83d"}`,
		"{\"StreamName\":\"a\xffb\"}",
		`{"Unknown":{"a":[1,2.5e3,-0.1E-2,{"b":null,"c":true,"d":false}]},"StreamName":null}`,
		`{"StreamName":"x","StreamName":"y","Records":[{}],"Records":[{},{}]}`,
		`{"a":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}`,
		`{"Records":[{"Data":"AAAA","PartitionKey":"k"}],}`, `{"a" 1}`, `{"a":01}`, `{"a":1.}`, `{"a":"\u12"}`,
	}
	out := make([][]byte, len(s))
	for i := range s {
		out[i] = []byte(s[i])
	}
	return out
}

func cborSeeds() [][]byte {
	const ms = 1572297168123
	return [][]byte{
		{}, {0xa0}, {0xbf, 0xff}, {0x80}, {0xf6}, {0x01}, {0xff}, {0x1c}, {0xbf},
		// PutRecords as the Java SDK v2 writes it: indefinite maps and arrays.
		newCB().indefMap().text("StreamName").text("s").text("Records").indefArray().
			indefMap().text("Data").bytes([]byte("hello")).text("PartitionKey").text("pk").brk().
			indefMap().text("Data").bytes(nil).text("PartitionKey").text("p2").text("ExplicitHashKey").text("1").brk().
			brk().brk().done(),
		// Definite lengths, tag 1 + millis.
		newCB().mapN(4).text("StreamName").text("s").text("Records").array(1).
			mapN(2).text("Data").bytes([]byte{0, 1}).text("PartitionKey").text("pk").
			text("Timestamp").tag(1).uint(ms).text("Limit").uint(10000).done(),
		// Chunked strings.
		newCB().indefMap().indefText("Stream", "Name").indefText("s", "1").text("Records").array(1).
			mapN(1).text("Data").indefBytes([]byte{1}, []byte{2, 3}).brk().done(),
		// Floats of every width; untagged timestamps.
		newCB().mapN(2).text("Limit").half(0x3e00).text("Timestamp").double(1572297168.123).done(),
		newCB().mapN(2).text("Limit").single(34.56).text("Timestamp").tag(1).double(1.5e9).done(),
		newCB().mapN(2).text("Limit").neg(2147483648).text("Timestamp").neg(0).done(),
		newCB().mapN(1).text("Limit").tag(2).bytes([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0}).done(),
		// Type errors.
		newCB().mapN(1).text("StreamName").uint(23).done(),
		newCB().mapN(1).text("StreamName").bytes([]byte("s")).done(),
		newCB().mapN(1).text("Limit").text("23").done(),
		newCB().mapN(1).text("Records").mapN(0).done(),
		newCB().mapN(1).text("Records").array(1).text("x").done(),
		newCB().mapN(1).text("Records").array(1).mapN(1).text("Data").text("23456").done(),
		newCB().mapN(1).text("Timestamp").boolean(true).done(),
		// Unknown members of every kind, null and undefined.
		newCB().indefMap().text("X").indefArray().uint(1).null().raw(0xf7).boolean(false).half(0x7c00).
			indefBytes([]byte{9}).tag(55799).mapN(1).text("k").array(0).brk().
			text("StreamName").null().brk().done(),
		// Malformed.
		newCB().mapN(2).text("StreamName").text("s").done(),
		newCB().mapN(1).uint(1).uint(2).done(),
		newCB().mapN(1).text("StreamName").raw(0x7f, 0x41, 0x61, 0xff).done(),
		newCB().mapN(1).text("StreamName").head(3, 1<<40).done(),
		newCB().mapN(0).uint(0).done(),
	}
}
