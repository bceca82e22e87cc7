// Package testwait is for tests: it waits for a condition with a deadline,
// which the project's tests do instead of sleeping for a guessed time.
package testwait

import (
	"testing"
	"time"
)

// Until polls cond every millisecond until it holds, failing the test
// (naming what it waited for) once limit has passed.
func Until(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(time.Millisecond)
	}
}
