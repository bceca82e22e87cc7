// Package bench is `sluice bench`: a load generator for any endpoint that
// speaks the Kinesis Data Streams API (Sluice, kinesalite, kinesis-mock,
// AWS itself), and a measure of the local disk to compare it with.
//
// # Modes
//
//   - put: producers write PutRecords (or PutRecord) calls for a duration,
//     open loop or paced to a rate; acknowledged records/s and call latency.
//   - get: optionally fill the stream with the put engine, then drain it
//     from TRIM_HORIZON with GetShardIterator + GetRecords; records/s.
//   - e2e: write at a fixed rate while consumers read by polling
//     GetRecords or through SubscribeToShard; put-to-read latency of every
//     record, from a send time stamped into its data. An optional warm-up
//     (Config.Warmup) writes first at the same rate, unmeasured.
//   - fanout: e2e with several enhanced fan-out consumers per shard.
//   - disk: sequential writes with an fdatasync per block, and single
//     small fdatasyncs, through internal/vfs as storage does them.
//
// # Its own cost
//
// The generator must not be what limits a run on a 2-core machine shared
// with the server. So request bodies are encoded once per producer with
// awsproto (a few per producer, with different partition keys) and only
// the send time is patched into them before each call; GetRecords bodies
// are appended by hand into a reused buffer; answers are read by small
// hand-written scanners (scan_json.go, scan_cbor.go) that pick out the few
// members needed without building the answer; SigV4 signs with
// UNSIGNED-PAYLOAD, so no body is hashed, and a signature is reused for
// every call to the same operation within a second; latencies go into
// fixed-bucket histograms, one per goroutine, merged at the end. Each
// goroutine that calls keeps a keep-alive HTTP/1.1 connection of its own
// and writes its request and reads the answer itself (client.go): net/http's
// transport hands every call to a writing and a reading goroutine and
// back, and on two shared cores each hand-off waits for a processor.
// Subscriptions share one HTTP/2 connection per consumer (h2.go; h2c
// for http://), whose frames one goroutine reads, decoding each event and
// handing it to its subscription in place; flow-control credit goes back
// as the KCL's client returns it, at half of a 512 KiB stream window, not
// every 4 KiB read as net/http's client does. Every report says what the
// generator itself took (client_cpu_s, from getrusage), beside the
// server's CPU when --server-pid names it.
//
// # Goroutines
//
// Run owns every goroutine it starts: producers, readers, consumer tasks
// and the progress line all end and are waited for before Run returns,
// and the connections are closed. Each goroutine keeps its own caller
// (signer cache, response buffer) and histograms; shared totals are
// atomic counters.
//
// # Counting
//
// Throttles are records refused with ProvisionedThroughputExceededException
// (per entry, or every record of a refused call; for GetRecords, refused
// calls); they are counted, never retried blindly. Errors are failed calls
// and failed entries; the first message is kept as a sample.
package bench
