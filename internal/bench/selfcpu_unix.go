//go:build unix

package bench

import "syscall"

// selfCPUSeconds is the user and system CPU time of this process, all
// threads, to the microsecond (getrusage), or 0 where it cannot be read.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
