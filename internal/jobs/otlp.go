package jobs

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// scopeName is the instrumentation scope of everything `loupe run` emits.
const scopeName = "loupe.run"

// What a server looks for to find run records in OTLP data: the run span, and the log
// record sent when a run starts, carry the record as JSON in RecordAttribute, under an
// instrumentation scope named ScopeName.
const (
	ScopeName       = scopeName
	RecordAttribute = "loupe.run.record"
	// EventAttribute is "started" on the log record sent at the start of a run, and
	// "heartbeat" on the copies of it sent every heartbeat interval.
	EventAttribute = "loupe.run.event"
)

// putResource writes the run's metadata as resource attributes. full adds what is only
// known at the end of the run (git, Python, GPUs, cgroup, host details); logs and metrics
// shipped during the run carry the attributes known at start.
func putResource(attrs pcommon.Map, rec *Record, full bool) {
	attrs.PutStr("service.name", rec.Name)
	attrs.PutStr("service.instance.id", rec.RunID)
	attrs.PutStr("loupe.run.id", rec.RunID)
	attrs.PutStr("loupe.run.name", rec.Name)
	for _, k := range sortedKeys(rec.Tags) {
		attrs.PutStr("loupe.run.tag."+k, rec.Tags[k])
	}
	attrs.PutStr("process.command_line", rec.CommandLine)
	if len(rec.Command) > 0 {
		attrs.PutStr("process.executable.name", rec.Command[0])
		args := attrs.PutEmptySlice("process.command_args")
		for _, a := range rec.Command {
			args.AppendEmpty().SetStr(a)
		}
	}
	if rec.PID != 0 {
		attrs.PutInt("process.pid", int64(rec.PID))
	}
	attrs.PutStr("process.owner", rec.User)
	attrs.PutStr("process.working_directory", rec.Cwd)
	attrs.PutStr("host.name", rec.Host.Hostname)
	attrs.PutStr("os.type", rec.Host.OS)
	if s := rec.Scheduler; s != nil {
		attrs.PutStr("loupe.scheduler.type", s.Type)
		if s.JobID != "" {
			attrs.PutStr(s.Type+".job.id", s.JobID)
		}
		for _, k := range sortedKeys(s.Vars) {
			attrs.PutStr(s.Type+"."+schedulerKey(k), s.Vars[k])
		}
	}
	if !full {
		return
	}
	h := rec.Host
	putNonEmpty(attrs, "host.arch", h.Arch)
	putNonEmpty(attrs, "os.description", strings.TrimSpace(h.Platform+" "+h.PlatformVersion))
	putNonEmpty(attrs, "os.version", h.KernelVersion)
	putNonEmpty(attrs, "host.cpu.model.name", h.CPUModel)
	putPositive(attrs, "host.cpu.logical_count", int64(h.CPULogical))
	putPositive(attrs, "host.cpu.physical_count", int64(h.CPUPhysical))
	putPositive(attrs, "host.memory.total", int64(h.MemoryTotalBytes))
	if g := rec.Git; g != nil {
		putNonEmpty(attrs, "vcs.ref.head.revision", g.Commit)
		putNonEmpty(attrs, "vcs.ref.head.name", g.Branch)
		putNonEmpty(attrs, "vcs.repository.url.full", g.RemoteURL)
		attrs.PutBool("vcs.dirty", g.Dirty)
		attrs.PutStr("vcs.root", g.Root)
	}
	if p := rec.Python; p != nil {
		attrs.PutStr("python.version", p.Version)
		attrs.PutStr("python.executable", p.Executable)
		putNonEmpty(attrs, "python.env.type", p.EnvType)
		putNonEmpty(attrs, "python.env.name", p.EnvName)
	}
	if rec.Go != nil {
		attrs.PutStr("go.version", rec.Go.Version)
	}
	if rec.R != nil {
		attrs.PutStr("r.version", rec.R.Version)
	}
	if len(rec.GPUs) > 0 {
		attrs.PutInt("gpu.count", int64(len(rec.GPUs)))
		attrs.PutStr("gpu.model", rec.GPUs[0].Name)
		putNonEmpty(attrs, "gpu.driver.version", rec.GPUs[0].DriverVersion)
	}
	if c := rec.Cgroup; c != nil {
		putNonEmpty(attrs, "container.cpu.max", c.CPUMax)
		putNonEmpty(attrs, "container.memory.max", c.MemoryMax)
	}
	for _, k := range sortedKeys(rec.Env) {
		attrs.PutStr("loupe.env."+k, rec.Env[k])
	}
}

// schedulerKey turns SLURM_JOB_NAME into job_name (the prefix becomes the namespace).
func schedulerKey(name string) string {
	if _, rest, ok := strings.Cut(name, "_"); ok && rest != "" {
		return strings.ToLower(rest)
	}
	return strings.ToLower(name)
}

func putNonEmpty(m pcommon.Map, k, v string) {
	if v != "" {
		m.PutStr(k, v)
	}
}

func putPositive(m pcommon.Map, k string, v int64) {
	if v > 0 {
		m.PutInt(k, v)
	}
}

func traceIDOf(rec *Record) pcommon.TraceID {
	var id pcommon.TraceID
	_ = decodeHex(id[:], rec.Telemetry.TraceID)
	return id
}

func spanIDOf(rec *Record) pcommon.SpanID {
	var id pcommon.SpanID
	_ = decodeHex(id[:], rec.Telemetry.SpanID)
	return id
}

// runSpan is the run as one root span, with every attribute of the record; the whole record
// is also attached as JSON (loupe.run.record) so a server can rebuild it exactly.
func runSpan(rec *Record) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	putResource(rs.Resource().Attributes(), rec, true)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(scopeName)
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(traceIDOf(rec))
	sp.SetSpanID(spanIDOf(rec))
	if rec.Telemetry.ParentSpanID != "" {
		var parent pcommon.SpanID
		if decodeHex(parent[:], rec.Telemetry.ParentSpanID) == nil {
			sp.SetParentSpanID(parent)
		}
	}
	sp.SetName(rec.Name)
	sp.SetKind(ptrace.SpanKindInternal)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(rec.StartTime))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(rec.EndTime))
	a := sp.Attributes()
	a.PutStr("loupe.run.status", rec.Status)
	a.PutInt("process.exit.code", int64(rec.ExitCode))
	putNonEmpty(a, "loupe.run.signal", rec.Signal)
	putNonEmpty(a, "error.message", rec.Error)
	a.PutDouble("loupe.run.duration", rec.DurationSeconds)
	a.PutDouble("loupe.run.cpu.user_time", rec.Resources.UserCPUSeconds)
	a.PutDouble("loupe.run.cpu.system_time", rec.Resources.SystemCPUSeconds)
	a.PutInt("loupe.run.memory.max_rss", int64(rec.Resources.MaxRSSBytes))
	a.PutInt("loupe.run.memory.peak_rss", int64(rec.Resources.PeakRSSBytes))
	a.PutStr("loupe.run.timezone", rec.Timezone)
	if p := rec.Python; p != nil && len(p.Packages) > 0 && packagesSize(p.Packages) <= maxPackagesAttrBytes {
		pk := a.PutEmptySlice("python.packages")
		for _, x := range p.Packages {
			pk.AppendEmpty().SetStr(x.Name + "==" + x.Version)
		}
	}
	// The samples are left out: they are the run's metrics already, and would make the
	// span hundreds of kilobytes for a long run.
	slim := *rec
	slim.Samples = nil
	if b, err := json.Marshal(&slim); err == nil {
		a.PutStr(RecordAttribute, string(b))
	}
	if rec.Status == "succeeded" {
		sp.Status().SetCode(ptrace.StatusCodeOk)
	} else {
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(statusMessage(rec))
	}
	return td
}

// maxPackagesAttrBytes keeps the python.packages attribute within a server's default
// attribute value limit (16 KiB): a larger list would get the whole run span refused. The
// packages are in loupe.run.record either way, which has the larger limit of a log body.
const maxPackagesAttrBytes = 16 << 10

func packagesSize(ps []Package) int {
	n := 0
	for _, p := range ps {
		n += len(p.Name) + 2 + len(p.Version)
	}
	return n
}

func statusMessage(rec *Record) string {
	switch {
	case rec.Error != "":
		return rec.Error
	case rec.Signal != "":
		return "killed by " + rec.Signal
	default:
		return "exit status " + itoa(rec.ExitCode)
	}
}

// startLog is the log record that announces a run as it starts, so that a server lists it
// as running before it ends. It carries the record known at start, with status "running".
func startLog(rec *Record) (plog.Logs, error) { return runningLog(rec, nil) }

// heartbeatLog is the running record again, sent every heartbeat interval while the job
// runs with heartbeat_time set to at, so that the server can tell a run whose `loupe run`
// died without its final record (SIGKILL, a crashed node) from one still running.
func heartbeatLog(rec *Record, at time.Time) (plog.Logs, error) { return runningLog(rec, &at) }

func runningLog(rec *Record, heartbeat *time.Time) (plog.Logs, error) {
	started := *rec
	started.Status = "running"
	started.Samples = nil
	started.HeartbeatTime = heartbeat
	b, err := json.Marshal(&started)
	if err != nil {
		return plog.Logs{}, fmt.Errorf("encode start record: %w", err)
	}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	putResource(rl.Resource().Attributes(), rec, false)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(scopeName)
	lr := sl.LogRecords().AppendEmpty()
	ts := pcommon.NewTimestampFromTime(rec.StartTime)
	if heartbeat != nil {
		ts = pcommon.NewTimestampFromTime(*heartbeat)
	}
	lr.SetTimestamp(ts)
	lr.SetObservedTimestamp(ts)
	lr.SetTraceID(traceIDOf(rec))
	lr.SetSpanID(spanIDOf(rec))
	if heartbeat == nil {
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		lr.Body().SetStr("run started: " + rec.CommandLine)
		lr.Attributes().PutStr(EventAttribute, "started")
	} else {
		lr.SetSeverityNumber(plog.SeverityNumberDebug)
		lr.SetSeverityText("DEBUG")
		lr.Body().SetStr("run heartbeat: " + rec.CommandLine)
		lr.Attributes().PutStr(EventAttribute, "heartbeat")
	}
	lr.Attributes().PutStr(RecordAttribute, string(b))
	return ld, nil
}

// logsOf turns output lines into OTLP log records in the run's trace context.
func logsOf(rec *Record, lines []logEntry) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	putResource(rl.Resource().Attributes(), rec, false)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(scopeName)
	tid, sid := traceIDOf(rec), spanIDOf(rec)
	recs := sl.LogRecords()
	recs.EnsureCapacity(len(lines))
	for _, l := range lines {
		lr := recs.AppendEmpty()
		ts := pcommon.NewTimestampFromTime(l.Time)
		lr.SetTimestamp(ts)
		lr.SetObservedTimestamp(ts)
		lr.SetTraceID(tid)
		lr.SetSpanID(sid)
		body := l.Body
		if len(body) > 0 && body[len(body)-1] == '\r' {
			body = body[:len(body)-1]
		}
		if utf8.Valid(body) {
			lr.Body().SetStr(string(body))
		} else {
			// Binary output: the text is kept readable and the record says it was altered.
			lr.Body().SetStr(strings.ToValidUTF8(string(body), "\uFFFD"))
			lr.Attributes().PutBool("loupe.log.invalid_utf8", true)
		}
		if l.Severity != plog.SeverityNumberUnspecified {
			lr.SetSeverityNumber(l.Severity)
			lr.SetSeverityText(severityText(l.Severity))
		}
		// stream is Loupe's own name, log.iostream the OpenTelemetry semantic convention's.
		lr.Attributes().PutStr("stream", l.Stream)
		lr.Attributes().PutStr("log.iostream", l.Stream)
		if l.Lines > 1 {
			lr.Attributes().PutInt("loupe.log.lines", int64(l.Lines))
		}
		if l.Truncated {
			lr.Attributes().PutBool("loupe.log.truncated", true)
			lr.Attributes().PutInt("loupe.log.original_size", int64(l.Size))
		}
	}
	return ld
}

// metricsOf turns samples into gauges and counters. start is the run start, the start of
// every cumulative series.
func metricsOf(rec *Record, samples []Sample, start time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	putResource(rm.Resource().Attributes(), rec, false)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(scopeName)
	ms := sm.Metrics()
	startTS := pcommon.NewTimestampFromTime(start)
	gauge := func(name, unit, desc string, val func(Sample) float64) {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		m.SetDescription(desc)
		dps := m.SetEmptyGauge().DataPoints()
		for _, s := range samples {
			dp := dps.AppendEmpty()
			dp.SetTimestamp(sampleTS(start, s))
			dp.SetDoubleValue(val(s))
			dp.Attributes().PutStr("loupe.run.id", rec.RunID)
		}
	}
	counter := func(name, unit, desc string, val func(Sample) float64) {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		m.SetDescription(desc)
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for _, s := range samples {
			dp := sum.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(startTS)
			dp.SetTimestamp(sampleTS(start, s))
			dp.SetDoubleValue(val(s))
			dp.Attributes().PutStr("loupe.run.id", rec.RunID)
		}
	}
	gauge("loupe.run.cpu.utilization", "1", "CPU used by the run's process tree, in cores (1 = one core busy)",
		func(s Sample) float64 { return s.CPUPercent / 100 })
	gauge("loupe.run.memory.rss", "By", "Resident memory of the run's process tree",
		func(s Sample) float64 { return float64(s.RSSBytes) })
	gauge("loupe.run.threads", "{thread}", "Threads in the run's process tree",
		func(s Sample) float64 { return float64(s.Threads) })
	gauge("loupe.run.processes", "{process}", "Processes in the run's process tree",
		func(s Sample) float64 { return float64(s.Processes) })
	counter("loupe.run.io.read", "By", "Bytes read from storage by the run's process tree",
		func(s Sample) float64 { return float64(s.ReadBytes) })
	counter("loupe.run.io.write", "By", "Bytes written to storage by the run's process tree",
		func(s Sample) float64 { return float64(s.WriteBytes) })
	if hasGPU(samples) {
		gpuGauge(ms, rec, samples, start, "loupe.run.gpu.utilization", "1", func(g GPUSample) float64 { return g.UtilizationPct / 100 })
		gpuGauge(ms, rec, samples, start, "loupe.run.gpu.memory.used", "By", func(g GPUSample) float64 { return float64(g.MemoryUsedBytes) })
	}
	return md
}

func hasGPU(samples []Sample) bool {
	for _, s := range samples {
		if len(s.GPUs) > 0 {
			return true
		}
	}
	return false
}

func gpuGauge(ms pmetric.MetricSlice, rec *Record, samples []Sample, start time.Time, name, unit string, val func(GPUSample) float64) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	dps := m.SetEmptyGauge().DataPoints()
	for _, s := range samples {
		for _, g := range s.GPUs {
			dp := dps.AppendEmpty()
			dp.SetTimestamp(sampleTS(start, s))
			dp.SetDoubleValue(val(g))
			dp.Attributes().PutStr("loupe.run.id", rec.RunID)
			dp.Attributes().PutInt("gpu.index", int64(g.Index))
		}
	}
}

// summaryMetrics are the end-of-run totals, one point each at the end time, so that PromQL
// can chart durations and alert on failures (loupe_run_exit_code != 0).
func summaryMetrics(rec *Record) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	putResource(rm.Resource().Attributes(), rec, false)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(scopeName)
	ts := pcommon.NewTimestampFromTime(rec.EndTime)
	add := func(name, unit string, v float64) {
		m := sm.Metrics().AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(ts)
		dp.SetDoubleValue(v)
		dp.Attributes().PutStr("loupe.run.id", rec.RunID)
		dp.Attributes().PutStr("loupe.run.status", rec.Status)
	}
	add("loupe.run.duration", "s", rec.DurationSeconds)
	add("loupe.run.exit_code", "", float64(rec.ExitCode))
	add("loupe.run.cpu.user_time", "s", rec.Resources.UserCPUSeconds)
	add("loupe.run.cpu.system_time", "s", rec.Resources.SystemCPUSeconds)
	add("loupe.run.memory.max_rss", "By", float64(rec.Resources.MaxRSSBytes))
	return md
}

func sampleTS(start time.Time, s Sample) pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(start.Add(time.Duration(s.T * float64(time.Second))))
}
