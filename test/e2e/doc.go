// Package e2e holds Sluice's end-to-end tests. They build the real sluice
// binary once, start it as a child process on a free loopback port with a
// fresh data directory, and drive it with real clients: aws-sdk-go-v2, the
// AWS CLI v2 (Debian's awscli package), raw JSON 1.1 and CBOR 1.1 requests
// shaped like the Java SDK's, and HTTP/2 without TLS (h2c).
//
// The crash test (TestCrashDurability) kills the server with SIGKILL under
// write load and checks that every acknowledged record survives exactly once.
// Its round count comes from SLUICE_CRASH_ROUNDS (default 20 when CI=true,
// 3 otherwise) and its random schedule from SLUICE_CRASH_SEED.
//
// Run everything with `bash scripts/test.sh` from the repository root.
package e2e
