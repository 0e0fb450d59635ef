package jobs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/shirou/gopsutil/v4/process"
)

// treeSampler measures the process tree rooted at one pid. CPU time and I/O of processes
// that exit between samples are kept, so totals never go backwards. Not goroutine-safe.
type treeSampler struct {
	root  int32
	start time.Time
	procs map[int32]*procState
	// gone holds the last known CPU seconds and I/O bytes of processes that have exited.
	goneCPU             float64
	goneRead, goneWrite uint64
	lastCPU             float64
	lastAt              time.Time
}

type procState struct {
	p           *process.Process
	cpu         float64
	read, write uint64
}

func newTreeSampler(root int, start time.Time) *treeSampler {
	return &treeSampler{root: int32(root), start: start, procs: map[int32]*procState{}, lastAt: start}
}

// tree returns the pids of root and all its descendants, from one scan of the process table.
func (s *treeSampler) tree(ctx context.Context) []int32 {
	pids, err := process.PidsWithContext(ctx)
	if err != nil {
		return []int32{s.root}
	}
	children := map[int32][]int32{}
	for _, pid := range pids {
		if st, err := readProcStat(pid); err == nil {
			children[st.ppid] = append(children[st.ppid], pid)
		}
	}
	out := []int32{s.root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// procStat is the part of /proc/<pid>/stat the sampler needs.
type procStat struct {
	ppid int32
	cpu  float64 // user + system seconds
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat; it is part of the Linux ABI
// (USER_HZ), 100 on every architecture Loupe builds for.
const userHZ = 100

// readProcStat reads /proc/<pid>/stat directly: gopsutil's reader parses every field and
// allocates for each, which made a sample of a busy machine cost milliseconds.
func readProcStat(pid int32) (procStat, error) {
	var st procStat
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
	if err != nil {
		return st, err
	}
	// The command name (field 2) may contain spaces and parentheses: fields start after
	// the last ')'. Then: state ppid pgrp session tty tpgid flags minflt cminflt majflt
	// cmajflt utime stime.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return st, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return st, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, err := strconv.ParseInt(string(f[1]), 10, 32)
	if err != nil {
		return st, fmt.Errorf("/proc/%d/stat ppid: %w", pid, err)
	}
	utime, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return st, fmt.Errorf("/proc/%d/stat: bad cpu times", pid)
	}
	st.ppid = int32(ppid)
	st.cpu = float64(utime+stime) / userHZ
	return st, nil
}

// sample takes one sample at now.
func (s *treeSampler) sample(ctx context.Context, now time.Time) Sample {
	smp := Sample{T: now.Sub(s.start).Seconds()}
	alive := map[int32]bool{}
	var cpuNow float64
	var readNow, writeNow uint64
	for _, pid := range s.tree(ctx) {
		st, ok := s.procs[pid]
		if !ok {
			p, err := process.NewProcessWithContext(ctx, pid)
			if err != nil {
				continue
			}
			st = &procState{p: p}
			s.procs[pid] = st
		}
		ps, err := readProcStatus(pid)
		if err != nil {
			continue // exited since the scan
		}
		alive[pid] = true
		smp.Processes++
		smp.RSSBytes += ps.rss
		smp.Threads += ps.threads
		smp.MaxHWMBytes = max(smp.MaxHWMBytes, ps.hwm)
		if ps, err := readProcStat(pid); err == nil {
			st.cpu = ps.cpu
		}
		if io, err := st.p.IOCountersWithContext(ctx); err == nil {
			st.read, st.write = io.ReadBytes, io.WriteBytes
		}
		cpuNow += st.cpu
		readNow += st.read
		writeNow += st.write
	}
	for pid, st := range s.procs {
		if !alive[pid] {
			s.goneCPU += st.cpu
			s.goneRead += st.read
			s.goneWrite += st.write
			delete(s.procs, pid)
		}
	}
	total := s.goneCPU + cpuNow
	if dt := now.Sub(s.lastAt).Seconds(); dt > 0 && total >= s.lastCPU {
		smp.CPUPercent = 100 * (total - s.lastCPU) / dt
	}
	s.lastCPU, s.lastAt = total, now
	smp.ReadBytes = s.goneRead + readNow
	smp.WriteBytes = s.goneWrite + writeNow
	return smp
}

// sampleSet keeps at most max samples of a run of any length: when full it drops every
// other sample and from then on keeps one in two (then four, ...), so the kept samples stay
// evenly spread over the whole run.
type sampleSet struct {
	max, stride, seen int
	samples           []Sample
}

func newSampleSet(max int) *sampleSet { return &sampleSet{max: max, stride: 1} }

func (s *sampleSet) add(smp Sample) {
	s.seen++
	if (s.seen-1)%s.stride != 0 {
		return
	}
	s.samples = append(s.samples, smp)
	if len(s.samples) >= s.max {
		kept := s.samples[:0]
		for i := 0; i < len(s.samples); i += 2 {
			kept = append(kept, s.samples[i])
		}
		s.samples = kept
		s.stride *= 2
	}
}

// procStatus is what /proc/<pid>/status says about memory and threads.
type procStatus struct {
	rss, hwm uint64 // bytes
	threads  int
}

// readProcStatus reads /proc/<pid>/status. VmHWM is the peak resident set of the process
// since its exec, which (unlike getrusage's ru_maxrss) does not include the memory of the
// parent it was forked from.
func readProcStatus(pid int32) (procStatus, error) {
	var st procStatus
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		switch string(k) {
		case "VmRSS":
			st.rss = n * 1024
		case "VmHWM":
			st.hwm = n * 1024
		case "Threads":
			st.threads = int(n)
		}
	}
	return st, nil
}
