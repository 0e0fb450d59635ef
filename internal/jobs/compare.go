package jobs

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Comparison is what differs between two runs a and b: their resource totals side by side,
// every captured scalar that differs, and the packages that were added, removed or changed.
// Its JSON form is the body of GET /api/loupe/v1/runs/compare (docs/api-native.md).
type Comparison struct {
	// Resources has one entry per resource total, always all of them, in resourceKeys order.
	Resources []ResourceDiff `json:"resources"`
	// Changes are sorted by section (in sectionOrder) and then by key.
	Changes []Change `json:"changes"`
	// Packages are sorted by manager and then by normalised name; unchanged ones are only
	// counted, in UnchangedPackages.
	Packages          []PackageChange `json:"packages"`
	UnchangedPackages int             `json:"unchanged_packages"`
}

// ResourceDiff compares one resource total. Delta is B-A; Ratio is B/A, nil when A is 0.
type ResourceDiff struct {
	Key   string   `json:"key"`
	A     float64  `json:"a"`
	B     float64  `json:"b"`
	Delta float64  `json:"delta"`
	Ratio *float64 `json:"ratio,omitempty"`
}

// Change is one captured value that differs, in string form; "" when absent on one side.
type Change struct {
	Section string `json:"section"`
	Key     string `json:"key"`
	A       string `json:"a"`
	B       string `json:"b"`
}

// PackageChange is one package whose version differs. Change is "added" (only in b),
// "removed" (only in a) or "changed"; the absent side's version is "".
type PackageChange struct {
	Manager string `json:"manager"`
	Name    string `json:"name"`
	A       string `json:"a"`
	B       string `json:"b"`
	Change  string `json:"change"`
}

// resourceKeys is the order of Comparison.Resources.
var resourceKeys = []string{"duration_seconds", "user_cpu_seconds", "system_cpu_seconds",
	"peak_rss_bytes", "max_rss_bytes", "read_bytes", "write_bytes", "cpu_percent_mean",
	"cpu_percent_max", "max_threads", "max_processes"}

// sectionOrder is the order of Comparison.Changes.
var sectionOrder = []string{"run", "tags", "host", "scheduler", "git", "python", "go", "r",
	"gpus", "cgroup", "env"}

// Compare returns what differs from run a to run b. It is a pure function of the two
// records; nil records compare as empty ones.
func Compare(a, b *Record) Comparison {
	if a == nil {
		a = &Record{}
	}
	if b == nil {
		b = &Record{}
	}
	c := Comparison{Resources: compareResources(a, b), Changes: []Change{}, Packages: []PackageChange{}}
	fa, fb := scalars(a), scalars(b)
	for key, va := range fa {
		if vb := fb[key]; va != vb {
			c.Changes = append(c.Changes, Change{Section: key.section, Key: key.name, A: va, B: vb})
		}
	}
	for key, vb := range fb {
		if _, ok := fa[key]; !ok && vb != "" {
			c.Changes = append(c.Changes, Change{Section: key.section, Key: key.name, A: "", B: vb})
		}
	}
	slices.SortFunc(c.Changes, func(x, y Change) int {
		return cmp.Or(cmp.Compare(slices.Index(sectionOrder, x.Section), slices.Index(sectionOrder, y.Section)),
			cmp.Compare(x.Key, y.Key))
	})
	var pa, pb packageLists
	if a.Python != nil {
		pa = packageLists{pip: a.Python.Packages, conda: a.Python.CondaPackages}
	}
	if b.Python != nil {
		pb = packageLists{pip: b.Python.Packages, conda: b.Python.CondaPackages}
	}
	for _, m := range []struct {
		manager string
		a, b    []Package
	}{{"conda", pa.conda, pb.conda}, {"pip", pa.pip, pb.pip}} {
		changes, same := comparePackages(m.manager, m.a, m.b)
		c.Packages = append(c.Packages, changes...)
		c.UnchangedPackages += same
	}
	return c
}

type packageLists struct{ pip, conda []Package }

func compareResources(a, b *Record) []ResourceDiff {
	values := func(r *Record) []float64 {
		x := r.Resources
		return []float64{r.DurationSeconds, x.UserCPUSeconds, x.SystemCPUSeconds,
			float64(x.PeakRSSBytes), float64(x.MaxRSSBytes), float64(x.ReadBytes), float64(x.WriteBytes),
			x.CPUPercentMean, x.CPUPercentMax, float64(x.MaxThreads), float64(x.MaxProcesses)}
	}
	va, vb := values(a), values(b)
	out := make([]ResourceDiff, len(resourceKeys))
	for i, k := range resourceKeys {
		d := ResourceDiff{Key: k, A: va[i], B: vb[i], Delta: vb[i] - va[i]}
		if va[i] != 0 {
			r := vb[i] / va[i]
			d.Ratio = &r
		}
		out[i] = d
	}
	return out
}

// fieldKey names one captured scalar.
type fieldKey struct{ section, name string }

// scalars flattens the captured scalars of r into strings. A field that was not captured
// (a nil section, an omitted value) is left out, which Compare reads as "".
func scalars(r *Record) map[fieldKey]string {
	m := map[fieldKey]string{}
	put := func(section, name, v string) {
		if v != "" {
			m[fieldKey{section, name}] = v
		}
	}
	// positive formats a count that is omitted from the record when unknown (0).
	positive := func(n uint64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatUint(n, 10)
	}
	put("run", "name", r.Name)
	put("run", "command_line", r.CommandLine)
	put("run", "cwd", r.Cwd)
	put("run", "user", r.User)
	put("run", "exit_code", strconv.Itoa(r.ExitCode))
	put("run", "signal", r.Signal)
	put("run", "timezone", r.Timezone)
	put("run", "status", r.Status)
	for k, v := range r.Tags {
		put("tags", k, v)
	}
	h := r.Host
	put("host", "hostname", h.Hostname)
	put("host", "os", h.OS)
	put("host", "platform", h.Platform)
	put("host", "platform_version", h.PlatformVersion)
	put("host", "kernel_version", h.KernelVersion)
	put("host", "arch", h.Arch)
	put("host", "cpu_model", h.CPUModel)
	put("host", "cpu_logical", positive(uint64(max(h.CPULogical, 0))))
	put("host", "cpu_physical", positive(uint64(max(h.CPUPhysical, 0))))
	put("host", "memory_total_bytes", positive(h.MemoryTotalBytes))
	put("host", "virtualization", h.Virtualization)
	if s := r.Scheduler; s != nil {
		put("scheduler", "type", s.Type)
		put("scheduler", "job_id", s.JobID)
		for k, v := range s.Vars {
			put("scheduler", "vars."+k, v)
		}
	}
	if g := r.Git; g != nil {
		put("git", "commit", g.Commit)
		put("git", "branch", g.Branch)
		put("git", "dirty", strconv.FormatBool(g.Dirty))
		put("git", "remote_url", g.RemoteURL)
		put("git", "root", g.Root)
	}
	if p := r.Python; p != nil {
		put("python", "version", p.Version)
		put("python", "executable", p.Executable)
		put("python", "env_type", p.EnvType)
		put("python", "env_name", p.EnvName)
		put("python", "prefix", p.Prefix)
	}
	if r.Go != nil {
		put("go", "version", r.Go.Version)
	}
	if r.R != nil {
		put("r", "version", r.R.Version)
	}
	for _, g := range r.GPUs {
		i := strconv.Itoa(g.Index) + "."
		put("gpus", i+"name", g.Name)
		put("gpus", i+"driver_version", g.DriverVersion)
		put("gpus", i+"memory_total_bytes", positive(g.MemoryTotalBytes))
	}
	if c := r.Cgroup; c != nil {
		put("cgroup", "cpu_max", c.CPUMax)
		put("cgroup", "memory_max", c.MemoryMax)
	}
	for k, v := range r.Env {
		put("env", k, v)
	}
	return m
}

// comparePackages diffs two package lists of one manager by normalised name. It returns the
// changes sorted by normalised name and the number of packages with the same version on
// both sides. A name listed twice on one side counts once, with its first version.
func comparePackages(manager string, a, b []Package) ([]PackageChange, int) {
	type entry struct{ name, version string }
	index := func(list []Package) map[string]entry {
		m := make(map[string]entry, len(list))
		for _, p := range list {
			k := NormalizePackageName(p.Name)
			if _, dup := m[k]; !dup {
				m[k] = entry{p.Name, p.Version}
			}
		}
		return m
	}
	ia, ib := index(a), index(b)
	type keyed struct {
		key string
		PackageChange
	}
	var changes []keyed
	same := 0
	for k, ea := range ia {
		eb, ok := ib[k]
		switch {
		case !ok:
			changes = append(changes, keyed{k, PackageChange{Manager: manager, Name: ea.name, A: ea.version, Change: "removed"}})
		case ea.version == eb.version:
			same++
		default:
			// b's spelling of the name: the later run is usually the one being looked at.
			changes = append(changes, keyed{k, PackageChange{Manager: manager, Name: eb.name, A: ea.version, B: eb.version, Change: "changed"}})
		}
	}
	for k, eb := range ib {
		if _, ok := ia[k]; !ok {
			changes = append(changes, keyed{k, PackageChange{Manager: manager, Name: eb.name, B: eb.version, Change: "added"}})
		}
	}
	slices.SortFunc(changes, func(x, y keyed) int { return cmp.Compare(x.key, y.key) })
	out := make([]PackageChange, len(changes))
	for i, c := range changes {
		out[i] = c.PackageChange
	}
	return out, same
}

// NormalizePackageName is the PEP 503 form of a Python package name: lower case, with
// every run of '-', '_' and '.' replaced by one '-' ("Typing_Extensions" and
// "typing.extensions" are both "typing-extensions").
func NormalizePackageName(name string) string {
	var sb strings.Builder
	sb.Grow(len(name))
	sep := false
	for _, r := range name {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep {
			sb.WriteByte('-')
			sep = false
		}
		sb.WriteRune(toLowerASCII(r))
	}
	if sep {
		sb.WriteByte('-')
	}
	return sb.String()
}

// toLowerASCII lowers A-Z only: PEP 503 names are ASCII, and a non-ASCII name is then kept
// as written rather than folded by locale rules.
func toLowerASCII(r rune) rune {
	if 'A' <= r && r <= 'Z' {
		return r + ('a' - 'A')
	}
	return r
}
