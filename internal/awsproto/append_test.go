package awsproto

import (
	"bytes"
	"encoding/base64"
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

// stdString is what encoding/json makes of s with HTML escaping off.
func stdString(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// TestAppendJSONString holds AppendJSONString to encoding/json: plain
// ASCII runs of every length with each kind of special byte at every
// position (the eight-byte fast path's edges), then random strings.
func TestAppendJSONString(t *testing.T) {
	specials := []string{"\"", "\\", "\x00", "\x1f", "\n", "\x7f", "\x80", "\xff", "é", "\u2028", "\u2029", "<", "&", " ", "~"}
	for n := range 20 {
		for pos := 0; pos <= n; pos++ {
			for _, sp := range specials {
				s := strings.Repeat("a", pos) + sp + strings.Repeat("9", n-pos)
				if got, want := string(AppendJSONString([]byte("x"), s)), "x"+stdString(t, s); got != want {
					t.Fatalf("%q: got %s, want %s", s, got, want)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	const alphabet = "abc019\"\\\x00\x01\x1f\x20\x7f\x80\xbf\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80"
	for range 5000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
			if r.IntN(3) > 0 {
				b[i] = byte('a' + r.IntN(26))
			}
		}
		if got, want := string(AppendJSONString(nil, string(b))), stdString(t, string(b)); got != want {
			t.Fatalf("%q: got %s, want %s", b, got, want)
		}
	}
}

// TestAppendJSONBytes holds the six-bytes-a-step base64 encoder to the
// standard library's for every length up to 100 and random data.
func TestAppendJSONBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for n := range 100 {
		for range 20 {
			p := make([]byte, n)
			for i := range p {
				p[i] = byte(r.Uint32())
			}
			want := `x"` + base64.StdEncoding.EncodeToString(p) + `"`
			if got := string(AppendJSONBytes([]byte("x"), p)); got != want {
				t.Fatalf("%x: got %s, want %s", p, got, want)
			}
		}
	}
	if got := string(AppendJSONBytes(nil, nil)); got != "null" {
		t.Errorf("nil: %s", got)
	}
	if got := string(AppendJSONBytes(nil, []byte{})); got != `""` {
		t.Errorf("empty: %s", got)
	}
}

func BenchmarkAppendJSONBytes(b *testing.B) {
	p := bytes.Repeat([]byte{0x5a, 0xa5, 0x3c}, 34)[:100]
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(p)))
	for range b.N {
		buf = AppendJSONBytes(buf[:0], p)
	}
}

func BenchmarkAppendJSONString(b *testing.B) {
	s := "49546986683135544286507457936321625675700192471156785154"
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for range b.N {
		buf = AppendJSONString(buf[:0], s)
	}
}
