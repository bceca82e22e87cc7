package eventstream

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchPayloads are a 1 MiB SubscribeToShardEvent, the size of a busy
// shard's event, and a small one such as a caught-up heartbeat.
var benchPayloads = []struct {
	name string
	size int
}{
	{"small", 128},
	{"1MiB", 1 << 20},
}

func benchEvent(size int) *Message {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return EventMessage("SubscribeToShardEvent", p)
}

func BenchmarkEncode(b *testing.B) {
	for _, bp := range benchPayloads {
		b.Run(bp.name, func(b *testing.B) {
			m := benchEvent(bp.size)
			e := NewEncoder(io.Discard)
			enc, _ := AppendMessage(nil, m)
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if err := e.Encode(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bp := range benchPayloads {
		b.Run(bp.name, func(b *testing.B) {
			enc, err := AppendMessage(nil, benchEvent(bp.size))
			if err != nil {
				b.Fatal(err)
			}
			r := bytes.NewReader(enc)
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(enc)
				if _, err := NewDecoder(r).Decode(); err != nil {
					b.Fatal(fmt.Sprint(err))
				}
			}
		})
	}
}
