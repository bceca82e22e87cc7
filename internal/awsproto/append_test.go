package awsproto

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestAppendJSONStringMatchesEncodingJSON holds AppendJSONString to
// encoding/json (HTML escaping off) on strings long enough for its
// eight-byte steps, with the bytes that need care at every offset.
func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	pieces := []string{"a", "Z", "0", "~", "\x7f", "\"", "\\", "\n", "\x00", "\x1f", " ", "<", "&",
		"é", "日本", "\u2028", "\u2029", "\xff", "\xc3", "😀", "\x80", "12345678"}
	r := rand.New(rand.NewPCG(7, 8))
	for range 50_000 {
		var sb strings.Builder
		for n := r.IntN(40); n > 0; n-- {
			if r.IntN(3) == 0 {
				sb.WriteString(pieces[r.IntN(len(pieces))])
			} else {
				sb.WriteByte(byte('a' + r.IntN(26)))
			}
		}
		s := sb.String()
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString([]byte("x"), s); string(got) != "x"+strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("AppendJSONString(%q) = %s, want %s", s, got[1:], want.Bytes())
		}
	}
}
