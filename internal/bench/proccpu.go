package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: Linux exports
// them in USER_HZ, 100 per second on every architecture it supports.
const userHZ = 100

// procCPUSeconds returns the user plus system CPU time of process pid
// and all its threads, from /proc/<pid>/stat.
func procCPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	return parseProcStatCPU(b)
}

// parseProcStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/<pid>/stat line. The command name (field 2) is in parentheses and
// may hold spaces and parentheses itself, so fields are counted from the
// last ')'.
func parseProcStatCPU(b []byte) (float64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("server CPU: no ')' in /proc stat line")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("server CPU: %d fields after the command name, want at least 13", len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("server CPU: %w", err)
		}
		ticks += n
	}
	return float64(ticks) / userHZ, nil
}

// cpuMeter measures the CPU a server process spends during a phase.
// The zero pid measures nothing.
type cpuMeter struct {
	pid   int
	start float64
}

// startCPU begins a measurement of pid (0: none).
func startCPU(pid int) (*cpuMeter, error) {
	m := &cpuMeter{pid: pid}
	if pid == 0 {
		return m, nil
	}
	var err error
	m.start, err = procCPUSeconds(pid)
	return m, err
}

// finish records the CPU spent since start in res, with the CPU per
// million records res counts.
func (m *cpuMeter) finish(res *Result) error {
	if m.pid == 0 {
		return nil
	}
	now, err := procCPUSeconds(m.pid)
	if err != nil {
		return err
	}
	res.ServerCPUSeconds = now - m.start
	if res.Records > 0 {
		res.ServerCPUPerMillion = res.ServerCPUSeconds / float64(res.Records) * 1e6
	}
	return nil
}
