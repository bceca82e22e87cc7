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

// procCPUSeconds returns the CPU time of process pid and of every process
// descended from it, all threads included: a --server-pid that names a
// wrapper (a shell, nice, npx) still measures the server it started. Each
// process counts its own user and system time and that of its children
// it has reaped, so CPU stays counted when a descendant exits and its
// parent waits for it.
func procCPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	root, err := parseProcStat(b)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	procs := map[int]procStat{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == pid {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited since the listing
		}
		if st, err := parseProcStat(b); err == nil {
			procs[n] = st
		}
	}
	total := root.seconds()
	for n, st := range procs {
		if descends(procs, n, pid) {
			total += st.seconds()
		}
	}
	return total, nil
}

// descends reports whether process n has pid among its ancestors.
func descends(procs map[int]procStat, n, pid int) bool {
	for hops := 0; hops < len(procs)+1; hops++ {
		st, ok := procs[n]
		if !ok {
			return false
		}
		if st.ppid == pid {
			return true
		}
		n = st.ppid
	}
	return false
}

// procStat is what procCPUSeconds reads of a /proc/<pid>/stat line.
type procStat struct {
	ppid  int
	ticks uint64 // utime + stime + cutime + cstime
}

func (s procStat) seconds() float64 { return float64(s.ticks) / userHZ }

// parseProcStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/<pid>/stat line, in seconds.
func parseProcStatCPU(b []byte) (float64, error) {
	f, err := procStatFields(b)
	if err != nil {
		return 0, err
	}
	ticks, err := sumTicks(f[11:13])
	return float64(ticks) / userHZ, err
}

// parseProcStat reads the parent (field 4) and the process's own and
// reaped children's CPU times (fields 14 to 17).
func parseProcStat(b []byte) (procStat, error) {
	f, err := procStatFields(b)
	if err != nil {
		return procStat{}, err
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return procStat{}, fmt.Errorf("server CPU: %w", err)
	}
	ticks, err := sumTicks(f[11:15])
	return procStat{ppid: ppid, ticks: ticks}, err
}

// procStatFields returns a stat line's fields from the third (the state)
// on. The command name (field 2) is in parentheses and may hold spaces
// and parentheses itself, so fields are counted from the last ')'.
func procStatFields(b []byte) ([][]byte, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("server CPU: no ')' in /proc stat line")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3, the state
	if len(f) < 15 {
		return nil, fmt.Errorf("server CPU: %d fields after the command name, want at least 15", len(f))
	}
	return f, nil
}

func sumTicks(fields [][]byte) (uint64, error) {
	var ticks uint64
	for _, s := range fields {
		n, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("server CPU: %w", err)
		}
		ticks += n
	}
	return ticks, nil
}

// cpuMeter measures the CPU a server process spends during a phase, and
// the load generator's own (this process's) CPU beside it. The zero pid
// measures no server.
type cpuMeter struct {
	pid   int
	start float64
	self  float64 // selfCPUSeconds at the start
}

// startCPU begins a measurement of pid (0: none) and of this process.
func startCPU(pid int) (*cpuMeter, error) {
	m := &cpuMeter{pid: pid, self: selfCPUSeconds()}
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
	res.ClientCPUSeconds = selfCPUSeconds() - m.self
	if res.Records > 0 {
		res.ClientCPUPerMillion = res.ClientCPUSeconds / float64(res.Records) * 1e6
	}
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
