package kinesis

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/testwait"
)

// TestGetRecordsWaitsForATurn holds the only read turn and checks that a
// GetRecords call waits for it, then answers in full once it is given back.
func TestGetRecordsWaitsForATurn(t *testing.T) {
	s := newService(t)
	s.reads = newTurns(1)
	mustCall(t, s, "CreateStream", `{"StreamName":"s","ShardCount":1}`)
	mustCall(t, s, "PutRecord", `{"StreamName":"s","PartitionKey":"k","Data":"aGVsbG8="}`)
	it := mustCall(t, s, "GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}`).(getShardIteratorOutput).ShardIterator

	s.reads.take()
	type answer struct {
		out any
		err *awsproto.Error
	}
	done := make(chan answer, 1)
	go func() {
		out, err := call(s, "GetRecords", `{"ShardIterator":"`+it+`"}`)
		done <- answer{out, err}
	}()
	testwait.Until(t, 10*time.Second, "GetRecords to wait for a turn", func() bool { return s.reads.waiting.Load() == 1 })
	select {
	case a := <-done:
		t.Fatalf("GetRecords answered while the only turn was held: %v %v", a.out, a.err)
	default:
	}
	s.reads.give()

	var a answer
	select {
	case a = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("GetRecords did not answer after the turn was given back")
	}
	if a.err != nil {
		t.Fatalf("GetRecords: %v", a.err)
	}
	enc, ok := a.out.(awsproto.Encoded)
	if !ok {
		t.Fatalf("GetRecords answered a %T, want awsproto.Encoded", a.out)
	}
	var got struct {
		Records []struct {
			Data         []byte
			PartitionKey string
		}
		NextShardIterator string
	}
	if err := awsproto.Unmarshal(awsproto.JSON, enc.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 1 || string(got.Records[0].Data) != "hello" || got.Records[0].PartitionKey != "k" || got.NextShardIterator == "" {
		t.Fatalf("GetRecords answered %s", enc.Bytes())
	}
	// The turn came back: the next call needs it too.
	if _, err := call(s, "GetRecords", `{"ShardIterator":"`+it+`"}`); err != nil {
		t.Fatalf("second GetRecords: %v", err)
	}
	if n := len(s.reads.ch); n != 0 {
		t.Fatalf("%d turns still taken after the calls answered", n)
	}
}

// TestGetRecordsErrorGivesTurnBack checks that a call the engine refuses
// (an iterator it cannot open) waits for a turn like any other and gives it
// back.
func TestGetRecordsErrorGivesTurnBack(t *testing.T) {
	s := newService(t)
	s.reads = newTurns(1)
	s.reads.take()
	done := make(chan *awsproto.Error, 1)
	go func() {
		_, err := call(s, "GetRecords", `{"ShardIterator":"`+strings.Repeat("A", 100)+`"}`)
		done <- err
	}()
	testwait.Until(t, 10*time.Second, "the call to wait for a turn", func() bool { return s.reads.waiting.Load() == 1 })
	s.reads.give()
	select {
	case err := <-done:
		if err == nil || err.Type != "InvalidArgumentException" {
			t.Fatalf("GetRecords with a made-up iterator: %v, want InvalidArgumentException", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("GetRecords did not answer after the turn was given back")
	}
	if n := len(s.reads.ch); n != 0 {
		t.Fatalf("%d turns still taken after a refused call", n)
	}
}

func TestReadTurns(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for procs, want := range map[int]int{1: 1, 2: 1, 3: 1, 4: 2, 16: 8} {
		runtime.GOMAXPROCS(procs)
		if got := readTurns(); got != want {
			t.Errorf("GOMAXPROCS %d: %d read turns, want %d", procs, got, want)
		}
	}
}

// TestGetRecordsEmptyAnswer: an answer without records, from a fresh
// process's first read and from one after reused buffers, has
// "Records":[] as AWS sends, never null.
func TestGetRecordsEmptyAnswer(t *testing.T) {
	for {
		if _, ok := recordOuts.Get(); !ok {
			break
		}
	}
	s := newService(t)
	mustCall(t, s, "CreateStream", `{"StreamName":"s","ShardCount":1}`)
	it := mustCall(t, s, "GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"LATEST"}`).(getShardIteratorOutput).ShardIterator
	for i := range 3 {
		if i == 1 {
			mustCall(t, s, "PutRecord", `{"StreamName":"s","PartitionKey":"k","Data":"aGVsbG8="}`)
			it = mustCall(t, s, "GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}`).(getShardIteratorOutput).ShardIterator
		}
		out := mustCall(t, s, "GetRecords", `{"ShardIterator":"`+it+`"}`).(awsproto.Encoded)
		body := string(out.Bytes())
		if i != 1 && !strings.HasPrefix(body, `{"Records":[],`) {
			t.Fatalf("read %d: %s", i, body)
		}
		var next struct{ NextShardIterator string }
		if err := awsproto.Unmarshal(awsproto.JSON, out.Bytes(), &next); err != nil {
			t.Fatal(err)
		}
		it = next.NextShardIterator
	}
}
