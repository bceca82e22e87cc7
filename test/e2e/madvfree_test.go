package e2e

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestServeMadvFree: sluice serve runs with GODEBUG=madvdontneed=0 (freed
// heap pages returned with MADV_FREE), in the process that was started,
// keeping the rest of GODEBUG; a madvdontneed the operator set is left as
// it is.
func TestServeMadvFree(t *testing.T) {
	for _, c := range []struct{ env, want string }{
		{"GODEBUG=", "madvdontneed=0"},
		{"GODEBUG=gctrace=0", "gctrace=0,madvdontneed=0"},
		{"GODEBUG=madvdontneed=1", "madvdontneed=1"},
	} {
		t.Run(c.env, func(t *testing.T) {
			srv := startServerEnv(t, t.TempDir(), []string{c.env}, "--shard-limits", "off")
			// The process the harness started answers /healthz (startServer
			// waited for it) and its environment is the one it executed with.
			environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", srv.cmd.Process.Pid))
			if err != nil {
				t.Fatal(err)
			}
			var godebug []string
			for _, kv := range bytes.Split(environ, []byte{0}) {
				if v, ok := strings.CutPrefix(string(kv), "GODEBUG="); ok {
					godebug = append(godebug, v)
				}
			}
			if len(godebug) != 1 || godebug[0] != c.want {
				t.Errorf("started with %s: the server runs with GODEBUG %q, want exactly %q", c.env, godebug, c.want)
			}
			createStream(t, srv.client(), "s", 1)
		})
	}
}
