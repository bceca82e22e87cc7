// Package e2e holds Sluice's end-to-end tests. They build the real sluice
// binary once (with -race when the tests run with -race), start it as a
// child process on a free loopback port with a fresh data directory, and
// drive it with real clients: aws-sdk-go-v2, the AWS CLI v2 (Debian's awscli
// package), raw JSON 1.1 and CBOR 1.1 requests shaped like the Java SDK's,
// and HTTP/2 without TLS (h2c).
//
// startServer runs the server with --shard-limits off, because functional
// tests read a shard more often than AWS's 5 calls a second allow;
// startServerAWSLimits keeps the defaults. Every server is stopped with
// SIGTERM at the end of its test and must exit 0; its output is logged when
// the test fails.
//
// The crash test (TestCrashDurability) kills the server with SIGKILL under
// mixed load (writers on several streams, SplitShard/MergeShards/
// UpdateShardCount, retention and consumer changes, SubscribeToShard
// readers) and checks that every acknowledged record survives exactly once,
// per key in order, and that the shard graph stays consistent.
// Its round count comes from SLUICE_CRASH_ROUNDS (default 20 under CI=true or
// scripts/test.sh, 3 otherwise) and its random schedule from
// SLUICE_CRASH_SEED, which every run logs.
//
// The soak (TestFanOutSoak) runs 100 subscriptions and 10 polling
// consumers under steady load for SLUICE_SOAK_SECONDS (default 60 under
// CI=true or scripts/test.sh, 10 otherwise) and checks that the server's
// RSS, goroutines and open descriptors stay flat (runs of 30 s or more;
// TestSoakFlatRule shows the rule on synthetic leaks).
//
// SLUICE_E2E_BIN=path runs the tests against a prebuilt binary instead of
// building ./cmd/sluice. Run everything with `bash scripts/test.sh`.
package e2e
