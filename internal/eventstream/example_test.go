package eventstream_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/sluicedata/sluice/internal/eventstream"
)

// A SubscribeToShard response body: the mandatory initial-response, one
// event, then a modelled exception that ends the subscription.
func Example() {
	var body bytes.Buffer
	enc := eventstream.NewEncoder(&body)
	for _, m := range []*eventstream.Message{
		eventstream.EventMessage("initial-response", []byte(`{}`)),
		eventstream.EventMessage("SubscribeToShardEvent", []byte(`{"ContinuationSequenceNumber":"1","MillisBehindLatest":0,"Records":[]}`)),
		eventstream.ExceptionMessage("ResourceInUseException", []byte(`{"message":"taken over"}`)),
	} {
		if err := enc.Encode(m); err != nil {
			fmt.Println(err)
			return
		}
	}

	dec := eventstream.NewDecoder(&body)
	for {
		m, err := dec.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		kind, _ := m.Header(eventstream.HeaderMessageType)
		name, ok := m.Header(eventstream.HeaderEventType)
		if !ok {
			name, _ = m.Header(eventstream.HeaderExceptionType)
		}
		fmt.Printf("%s %s %s\n", kind, name, m.Payload)
	}
	// Output:
	// event initial-response {}
	// event SubscribeToShardEvent {"ContinuationSequenceNumber":"1","MillisBehindLatest":0,"Records":[]}
	// exception ResourceInUseException {"message":"taken over"}
}
