package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestTargetBlanks: an X-Amz-Target with blanks around it names the same
// operation over HTTP/2 as over HTTP/1.1, where parsing drops them. Found
// by TestProtoFuzz: over h2c "Kinesis_20131202.ListStreams " was an
// UnknownOperationException.
func TestTargetBlanks(t *testing.T) {
	l := startLive(t, Config{})
	for _, h2 := range []bool{false, true} {
		hc := &http.Client{Timeout: waitLimit}
		if h2 {
			hc = h2cClient(t)
		}
		req, _ := http.NewRequest(http.MethodPost, "http://"+l.addr+"/", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", ctJSON)
		req.Header.Set("X-Amz-Target", " Kinesis_20131202.ListStreams\t")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		hc.CloseIdleConnections()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", resp.Proto, resp.StatusCode, b)
		}
	}
}
