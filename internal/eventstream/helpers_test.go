package eventstream

import (
	"encoding/binary"
	"hash/crc32"
	"runtime"
	"testing"
)

// handFrame wraps headers and payload in a prelude and CRCs, computed here
// from the specification rather than by the encoder.
func handFrame(headers, payload []byte) []byte {
	return handFrameLens(uint32(16+len(headers)+len(payload)), uint32(len(headers)), headers, payload)
}

// handFrameLens is handFrame with the prelude's lengths given, so that
// tests can write preludes that lie (with checksums that match).
func handFrameLens(total, hlen uint32, headers, payload []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, total)
	b = binary.BigEndian.AppendUint32(b, hlen)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	b = append(b, headers...)
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func assertMessage(t testing.TB, got, want *Message) {
	t.Helper()
	if !messagesEqual(got, want) {
		t.Fatalf("message differs\n got %s\nwant %s", describe(got), describe(want))
	}
}

func messagesEqual(a, b *Message) bool {
	if len(a.Headers) != len(b.Headers) || string(a.Payload) != string(b.Payload) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Name != b.Headers[i].Name || !a.Headers[i].Value.Equal(b.Headers[i].Value) {
			return false
		}
	}
	return true
}

func describe(m *Message) string {
	if m == nil {
		return "<nil>"
	}
	s := "{"
	for _, h := range m.Headers {
		s += h.Name + "(" + h.Value.Type().String() + ")=" + h.Value.String() + " "
	}
	return s + "payload " + string(m.Payload) + "}"
}

// runtimeMem samples the cumulative bytes allocated by the process.
type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
