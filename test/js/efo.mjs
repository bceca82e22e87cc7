// efo.mjs checks enhanced fan-out against Sluice with the AWS SDK for
// JavaScript v3, as test/e2e/js_test.go runs it:
//
//	node efo.mjs ENDPOINT STREAM [CA_FILE]
//
// or with SLUICE_ENDPOINT, SLUICE_STREAM and SLUICE_CA_FILE in the
// environment. ENDPOINT is https://HOST:PORT for the TLS port or
// http://HOST:PORT for the plain port. The Kinesis client's default request
// handler is NodeHttp2Handler for every operation; for an http:// endpoint
// it calls http2.connect("http://..."), which speaks HTTP/2 with prior
// knowledge (h2c), so no handler configuration is needed for either port.
//
// It creates a one-shard stream, registers a consumer, subscribes at LATEST,
// puts 10 records and expects exactly those 10, in order, with the sequence
// numbers PutRecord returned. It exits 0 on success and 1 with a message on
// stderr otherwise; the whole run is bounded by SLUICE_JS_TIMEOUT_MS
// (default 60000).
//
// Node reads NODE_EXTRA_CA_CERTS only at startup, so when CA_FILE is given
// and the variable does not already name it, the script runs itself again
// with it set.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  KinesisClient,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  RegisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  SubscribeToShardCommand,
  PutRecordCommand,
} from "@aws-sdk/client-kinesis";

const endpoint = process.argv[2] ?? process.env.SLUICE_ENDPOINT;
const streamName = process.argv[3] ?? process.env.SLUICE_STREAM ?? "js-efo";
const caFile = process.argv[4] ?? process.env.SLUICE_CA_FILE ?? "";
const timeoutMs = Number(process.env.SLUICE_JS_TIMEOUT_MS ?? 60000);
const recordCount = 10;
// pollMs is the interval between Describe calls while waiting for ACTIVE.
const pollMs = 50;

function fail(msg) {
  process.stderr.write(`efo.mjs: FAIL: ${msg}\n`);
  process.exit(1);
}

if (!endpoint) {
  fail("usage: node efo.mjs ENDPOINT STREAM [CA_FILE] (or SLUICE_ENDPOINT, SLUICE_STREAM, SLUICE_CA_FILE)");
}

if (caFile && process.env.NODE_EXTRA_CA_CERTS !== caFile) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), endpoint, streamName, caFile], {
    stdio: "inherit",
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
  });
  if (child.error) fail(`re-run with NODE_EXTRA_CA_CERTS: ${child.error.message}`);
  process.exit(child.status ?? 1);
}

const deadline = Date.now() + timeoutMs;
const overall = setTimeout(() => fail(`not done within ${timeoutMs} ms`), timeoutMs);
const abort = new AbortController();

const client = new KinesisClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDSLUICEJS", secretAccessKey: "sluice-js-secret" },
  maxAttempts: 1, // every server answer reaches the script as it was sent
});

function log(msg) {
  process.stdout.write(`efo.mjs: ${msg}\n`);
}

async function waitFor(what, check) {
  for (;;) {
    const status = await check();
    if (status === "ACTIVE") return;
    if (Date.now() > deadline) fail(`${what} not ACTIVE (last status ${status})`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function main() {
  log(`endpoint ${endpoint}, stream ${streamName}, handler ${client.config.requestHandler?.constructor?.name}`);
  await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 1 }));
  let streamARN;
  await waitFor(`stream ${streamName}`, async () => {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    streamARN = d.StreamDescriptionSummary.StreamARN;
    return d.StreamDescriptionSummary.StreamStatus;
  });

  const reg = await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamARN, ConsumerName: "js-reader" }));
  const consumerARN = reg.Consumer.ConsumerARN;
  await waitFor(`consumer ${consumerARN}`, async () => {
    const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerARN }));
    return d.ConsumerDescription.ConsumerStatus;
  });

  const sub = await client.send(
    new SubscribeToShardCommand({
      ConsumerARN: consumerARN,
      ShardId: "shardId-000000000000",
      StartingPosition: { Type: "LATEST" },
    }),
    { abortSignal: abort.signal },
  );
  const events = sub.EventStream[Symbol.asyncIterator]();

  // The first event comes at once, empty: the subscription is in place
  // and LATEST is fixed, so records put from now on must all arrive.
  const first = await nextEvent(events);
  if (first.Records.length !== 0) fail(`first event has ${first.Records.length} records, want 0`);

  const want = [];
  for (let i = 0; i < recordCount; i++) {
    const out = await client.send(
      new PutRecordCommand({ StreamName: streamName, PartitionKey: `k${i}`, Data: new TextEncoder().encode(`record-${i}`) }),
    );
    want.push({ seq: out.SequenceNumber, data: `record-${i}` });
  }

  const got = [];
  let continuation = first.ContinuationSequenceNumber;
  while (got.length < want.length) {
    const ev = await nextEvent(events);
    got.push(...ev.Records);
    continuation = ev.ContinuationSequenceNumber;
  }
  if (got.length !== want.length) fail(`received ${got.length} records, want ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const data = new TextDecoder().decode(got[i].Data);
    if (got[i].SequenceNumber !== want[i].seq || data !== want[i].data) {
      fail(`record ${i}: got ${got[i].SequenceNumber} ${JSON.stringify(data)}, want ${want[i].seq} ${JSON.stringify(want[i].data)}`);
    }
  }
  if (continuation !== want[want.length - 1].seq) {
    fail(`ContinuationSequenceNumber ${continuation}, want ${want[want.length - 1].seq}`);
  }
  log(`received ${got.length} records in order over ${endpoint}`);
}

// nextEvent returns the next SubscribeToShardEvent; an exception event, an
// error or the end of the stream fail the run.
async function nextEvent(events) {
  const { value, done } = await events.next();
  if (done) fail("event stream ended early");
  if (!value.SubscribeToShardEvent) fail(`unexpected event ${JSON.stringify(Object.keys(value))}`);
  return value.SubscribeToShardEvent;
}

try {
  await main();
} catch (err) {
  fail(`${err.name}: ${err.message}${err.$metadata?.httpStatusCode ? ` (HTTP ${err.$metadata.httpStatusCode})` : ""}`);
}
clearTimeout(overall);
abort.abort();
client.destroy();
process.exit(0);
