package dashboards

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// SourceBuiltin is the Source of the dashboards built into the binary.
const SourceBuiltin = "builtin"

// Provisioned is a read-only dashboard loaded from a file or built in.
type Provisioned struct {
	Dashboard Dashboard
	Source    string    // SourceBuiltin, or the file's path
	Updated   time.Time // the file's modification time; the binary's start for built-ins
}

// ProvisioningError is a file that did not load; the others still do.
type ProvisioningError struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

// Provisioner loads the dashboards of the built-in set and of the *.json files in a
// list of directories (Loupe's or Grafana's JSON; Grafana's goes through ImportGrafana),
// and reloads the directories when a file is added, changed or removed. It is safe for
// concurrent use.
type Provisioner struct {
	builtin fs.FS
	dirs    []string
	logger  *slog.Logger
	started time.Time

	builtinOnce sync.Once // the built-ins do not change: they are decoded at the first Load
	builtins    []Provisioned
	builtinErrs []ProvisioningError

	mu    sync.RWMutex
	byUID map[string]Provisioned
	errs  []ProvisioningError
	stamp string // of the files last loaded: names, sizes and modification times
}

// NewProvisioner returns a provisioner of the *.json files at the root of builtin (nil:
// none) and in dirs. Call Load, then Run to follow changes.
func NewProvisioner(builtin fs.FS, dirs []string, logger *slog.Logger) *Provisioner {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Provisioner{builtin: builtin, dirs: dirs, logger: logger, started: time.Now(), byUID: map[string]Provisioned{}}
}

// Load (re)loads every dashboard now. A file that does not load is reported by Errors
// and logged; the previous version of its dashboard is not kept, so that what is served
// is always what the files say.
func (p *Provisioner) Load() { p.load(p.scan()) }

// load (re)loads every dashboard from files, scanned with stamp.
func (p *Provisioner) load(stamp string, files []provFile) {
	p.builtinOnce.Do(p.decodeBuiltins)
	byUID := map[string]Provisioned{}
	errs := slices.Clone(p.builtinErrs)
	add := func(src string, d Dashboard, updated time.Time) {
		if prev, ok := byUID[d.UID]; ok {
			errs = append(errs, ProvisioningError{Source: src, Error: fmt.Sprintf("uid %q is already provisioned by %s", d.UID, prev.Source)})
			return
		}
		byUID[d.UID] = Provisioned{Dashboard: d, Source: src, Updated: updated}
	}
	for _, b := range p.builtins {
		add(b.Source, b.Dashboard, b.Updated)
	}
	for _, f := range files {
		if f.err != nil {
			errs = append(errs, ProvisioningError{Source: f.path, Error: f.err.Error()})
			continue
		}
		d, err := readFile(f.path)
		if err != nil {
			errs = append(errs, ProvisioningError{Source: f.path, Error: err.Error()})
			continue
		}
		add(f.path, d, f.mod)
	}
	for _, e := range errs {
		p.logger.Warn("dashboard not provisioned", "source", e.Source, "err", e.Error)
	}
	p.mu.Lock()
	p.byUID, p.errs, p.stamp = byUID, errs, stamp
	p.mu.Unlock()
	p.logger.Debug("dashboards provisioned", "dashboards", len(byUID), "errors", len(errs))
}

// decodeBuiltins decodes the *.json files at the root of p.builtin.
func (p *Provisioner) decodeBuiltins() {
	if p.builtin == nil {
		return
	}
	names, _ := fs.Glob(p.builtin, "*.json")
	for _, name := range names {
		raw, err := fs.ReadFile(p.builtin, name)
		if err == nil {
			var d Dashboard
			if d, err = decodeFile(raw, name); err == nil {
				p.builtins = append(p.builtins, Provisioned{Dashboard: d, Source: SourceBuiltin, Updated: p.started})
				continue
			}
		}
		p.builtinErrs = append(p.builtinErrs, ProvisioningError{Source: SourceBuiltin + "/" + name, Error: err.Error()})
	}
}

type provFile struct {
	path string
	mod  time.Time
	err  error
}

// scan lists the *.json files of the directories, and a stamp that changes when one of
// them is added, removed or rewritten.
func (p *Provisioner) scan() (string, []provFile) {
	h := sha256.New()
	var files []provFile
	for _, dir := range p.dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			files = append(files, provFile{path: dir, err: fmt.Errorf("provisioning directory: %w", err)})
			fmt.Fprintf(h, "%s\x00err\x00", dir)
			continue
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			fp := filepath.Join(dir, e.Name())
			info, err := os.Stat(fp) // follows symlinks, as Kubernetes ConfigMaps mount files
			if err != nil {
				files = append(files, provFile{path: fp, err: err})
				continue
			}
			fmt.Fprintf(h, "%s\x00%d\x00%d\x00", fp, info.Size(), info.ModTime().UnixNano())
			files = append(files, provFile{path: fp, mod: info.ModTime().UTC()})
		}
	}
	return string(h.Sum(nil)), files
}

// Run reloads when the files change, checking every interval, until ctx ends.
func (p *Provisioner) Run(ctx context.Context, interval time.Duration) {
	if len(p.dirs) == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			stamp, files := p.scan()
			p.mu.RLock()
			changed := stamp != p.stamp
			p.mu.RUnlock()
			if changed {
				p.logger.Info("provisioned dashboards changed on disk: reloading", "dirs", strings.Join(p.dirs, " "))
				p.load(stamp, files)
			}
		}
	}
}

// List returns the provisioned dashboards by title.
func (p *Provisioner) List() []Provisioned {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]Provisioned, 0, len(p.byUID))
	for _, d := range p.byUID {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i].Dashboard.Title), strings.ToLower(out[j].Dashboard.Title)
		if a != b {
			return a < b
		}
		return out[i].Dashboard.UID < out[j].Dashboard.UID
	})
	return out
}

// Get returns the provisioned dashboard uid.
func (p *Provisioner) Get(uid string) (Provisioned, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	d, ok := p.byUID[uid]
	return d, ok
}

// Errors returns the files that did not load at the last Load.
func (p *Provisioner) Errors() []ProvisioningError {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.errs)
}

func readFile(fp string) (Dashboard, error) {
	f, err := os.Open(fp)
	if err != nil {
		return Dashboard{}, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return Dashboard{}, err
	}
	if len(raw) > MaxBytes {
		return Dashboard{}, fmt.Errorf("larger than %d bytes (%d MiB), the limit of a dashboard", MaxBytes, MaxBytes>>20)
	}
	return decodeFile(raw, fp)
}

// decodeFile decodes a provisioned file, Loupe's model or Grafana's, and validates it. A
// dashboard without a uid takes the file's name.
func decodeFile(raw []byte, name string) (Dashboard, error) {
	var d Dashboard
	if IsGrafana(raw) {
		var err error
		if d, _, err = ImportGrafana(raw); err != nil {
			return d, err
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			return d, fmt.Errorf("decode: %w", err)
		}
		if d.UID == "" {
			d.UID = slug(strings.TrimSuffix(path.Base(filepath.ToSlash(name)), ".json"))
		}
		Normalize(&d) // ImportGrafana normalizes its own
	}
	d.Version = 1
	if err := Validate(&d); err != nil {
		return d, err
	}
	return d, nil
}
