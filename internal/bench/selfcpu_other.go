//go:build !unix

package bench

// selfCPUSeconds is 0 where getrusage is missing: no load generator CPU
// is reported there.
func selfCPUSeconds() float64 { return 0 }
