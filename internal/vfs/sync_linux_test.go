package vfs

import "testing"

// TestSyncfsReportsErrorsRelease: kernels before 5.8, whose syncfs reports
// no writeback errors, are recognised from their release string.
func TestSyncfsReportsErrorsRelease(t *testing.T) {
	for release, want := range map[string]bool{
		"6.18.44-fc-v782": true, "5.8.0": true, "5.15.0-91-generic": true, "10.0": true,
		"5.7.19": false, "4.19.0-26-amd64": false, "3.10.0-1160.el7.x86_64": false, "": false, "x.y": false,
	} {
		if got := syncfsReportsErrors(release); got != want {
			t.Errorf("syncfsReportsErrors(%q) = %v, want %v", release, got, want)
		}
	}
}
