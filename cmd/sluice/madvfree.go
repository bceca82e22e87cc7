package main

import (
	"os"
	"runtime"
	"strings"
	"syscall"
)

// The Go runtime returns freed heap pages to the kernel with
// MADV_DONTNEED by default: the next use of such a page is a page fault.
// sluice serve and sluice bench run with GODEBUG=madvdontneed=0 instead
// (MADV_FREE): the pages stay mapped until the kernel needs the memory,
// so the heap reuses them without faulting. On the virtual machine
// measured a fault is dear, and this cut the put-to-subscribe p99 in
// every paired run (docs/performance.md, "Freed memory kept mapped"); the
// cost is an RSS that falls only when the machine is short of memory.
// The setting is read once, when the runtime starts, and //go:debug does
// not offer it, so the process executes itself again with it set.

// madvFreeEnv returns environ with madvdontneed=0 added to GODEBUG, and
// true; or false when GODEBUG already names madvdontneed: the operator's
// choice, or this process already is the second execution.
func madvFreeEnv(environ []string) ([]string, bool) {
	const key, setting = "GODEBUG=", "madvdontneed=0"
	for i, kv := range environ {
		v, ok := strings.CutPrefix(kv, key)
		if !ok {
			continue
		}
		for _, s := range strings.Split(v, ",") {
			if strings.HasPrefix(s, "madvdontneed=") {
				return nil, false
			}
		}
		out := append([]string{}, environ...)
		if v == "" {
			out[i] = key + setting
		} else {
			out[i] = key + v + "," + setting
		}
		return out, true
	}
	return append(append([]string{}, environ...), key+setting), true
}

// execWithMadvFree executes this program again, same process and
// arguments, with madvdontneed=0 in GODEBUG, unless GODEBUG names it
// already. It returns only when there is nothing to do or the execution
// failed; the program then goes on as it is.
func execWithMadvFree() {
	if runtime.GOOS != "linux" {
		return // MADV_FREE is what the runtime uses elsewhere, or has none
	}
	env, ok := madvFreeEnv(os.Environ())
	if !ok {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, env)
}
