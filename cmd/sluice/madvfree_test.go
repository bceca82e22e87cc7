package main

import (
	"slices"
	"testing"
)

func TestMadvFreeEnv(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []string
		want []string // nil: nothing to do
	}{
		{"no GODEBUG", []string{"HOME=/root", "PATH=/bin"}, []string{"HOME=/root", "PATH=/bin", "GODEBUG=madvdontneed=0"}},
		{"empty GODEBUG", []string{"GODEBUG=", "PATH=/bin"}, []string{"GODEBUG=madvdontneed=0", "PATH=/bin"}},
		{"other settings kept", []string{"PATH=/bin", "GODEBUG=gctrace=1,http2debug=1"}, []string{"PATH=/bin", "GODEBUG=gctrace=1,http2debug=1,madvdontneed=0"}},
		{"operator's choice", []string{"GODEBUG=gctrace=1,madvdontneed=1"}, nil},
		{"already executed again", []string{"GODEBUG=madvdontneed=0"}, nil},
		{"a look-alike is not the setting", []string{"GODEBUG=xmadvdontneed=1", "XGODEBUG=madvdontneed=1"}, []string{"GODEBUG=xmadvdontneed=1,madvdontneed=0", "XGODEBUG=madvdontneed=1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := slices.Clone(c.in)
			got, ok := madvFreeEnv(in)
			if ok != (c.want != nil) || !slices.Equal(got, c.want) {
				t.Errorf("madvFreeEnv(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.want != nil)
			}
			if !slices.Equal(in, c.in) {
				t.Errorf("madvFreeEnv changed its argument: %q", in)
			}
		})
	}
}
