package sentry

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/loupe-dev/loupe/internal/atomicfile"
)

// Config is the `sentry` section of the server configuration.
type Config struct {
	// Projects are the Sentry projects and their DSN keys. More may be created with
	// `loupe sentry-dsn create`, which writes them to KeysFile.
	Projects []Project `yaml:"projects"`
	// KeysFile holds the projects and keys created by `loupe sentry-dsn create`; relative
	// to the data directory. Default sentry-keys.json.
	KeysFile string `yaml:"keys_file"`
	// EventsPerSecond is each project's rate limit (events, transactions and check-ins per
	// second, averaged over Burst); 0 means no limit. A project's own setting wins.
	EventsPerSecond float64 `yaml:"events_per_second"`
	// Burst is how many items a project may send at once above its rate. Default: the
	// rate, at least 1.
	Burst int `yaml:"burst"`
	// CronsCheckInterval is how often Crons monitors are checked for missed and timed-out
	// check-ins (internal/crons). Default 30s; the end-to-end tests shorten it.
	CronsCheckInterval model.Duration `yaml:"crons_check_interval"`
}

// Project is one Sentry project: the number in its DSN's path, a name (the service name
// of its events and spans) and the public keys that may send to it.
type Project struct {
	ID              string   `yaml:"id" json:"id"`
	Name            string   `yaml:"name" json:"name"`
	Keys            []string `yaml:"keys" json:"keys"`
	EventsPerSecond float64  `yaml:"events_per_second,omitempty" json:"events_per_second,omitempty"`
	Burst           int      `yaml:"burst,omitempty" json:"burst,omitempty"`
}

// Default returns the defaults: no project (until one is configured or created), no rate
// limit.
func Default() Config {
	return Config{KeysFile: "sentry-keys.json", CronsCheckInterval: model.Duration(30 * time.Second)}
}

// KeysPath is the path of the keys file: KeysFile, relative to dataDir unless absolute;
// "" when KeysFile is "" (no keys file).
func (c Config) KeysPath(dataDir string) string {
	if c.KeysFile == "" || filepath.IsAbs(c.KeysFile) {
		return c.KeysFile
	}
	return filepath.Join(dataDir, c.KeysFile)
}

// Validate reports every invalid field, naming it.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, val any, why string) { errs = append(errs, fmt.Errorf("%s: %v: %s", key, val, why)) }
	if c.EventsPerSecond < 0 {
		bad("sentry.events_per_second", c.EventsPerSecond, "must be 0 (no limit) or positive")
	}
	if c.Burst < 0 {
		bad("sentry.burst", c.Burst, "must be 0 (default) or positive")
	}
	if c.CronsCheckInterval < 0 {
		bad("sentry.crons_check_interval", c.CronsCheckInterval, "must be 0 (default, 30s) or positive")
	}
	if err := validateProjects(c.Projects, "sentry.projects"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validateProjects(ps []Project, key string) error {
	var errs []error
	bad := func(i int, field string, val any, why string) {
		errs = append(errs, fmt.Errorf("%s[%d].%s: %v: %s", key, i, field, val, why))
	}
	ids, names, keys := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, p := range ps {
		if !validProjectID(p.ID) {
			bad(i, "id", strconv.Quote(p.ID), "want a positive number (Sentry SDKs refuse other project ids)")
		} else if ids[p.ID] {
			bad(i, "id", p.ID, "used by two projects")
		}
		ids[p.ID] = true
		if strings.TrimSpace(p.Name) == "" {
			bad(i, "name", strconv.Quote(p.Name), "must not be empty")
		} else if names[p.Name] {
			bad(i, "name", strconv.Quote(p.Name), "used by two projects")
		}
		names[p.Name] = true
		if len(p.Keys) == 0 {
			bad(i, "keys", "[]", "want at least one key (any string of 16 to 64 letters and digits; `loupe sentry-dsn create` makes one)")
		}
		for j, k := range p.Keys {
			if !validKey(k) {
				bad(i, fmt.Sprintf("keys[%d]", j), strconv.Quote(k), "want 16 to 64 letters and digits")
			} else if keys[k] {
				bad(i, fmt.Sprintf("keys[%d]", j), "...", "the key is used twice")
			}
			keys[k] = true
		}
		if p.EventsPerSecond < 0 {
			bad(i, "events_per_second", p.EventsPerSecond, "must be 0 (the default) or positive")
		}
		if p.Burst < 0 {
			bad(i, "burst", p.Burst, "must be 0 (the default) or positive")
		}
	}
	return errors.Join(errs...)
}

func validProjectID(id string) bool {
	n, err := strconv.ParseUint(id, 10, 63)
	return err == nil && n > 0 && strconv.FormatUint(n, 10) == id
}

func validKey(k string) bool {
	if len(k) < 16 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// NewKey returns a new random public key: 32 hex digits, like Sentry's.
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// keysFile is the JSON document of the keys file.
type keysFile struct {
	Projects []Project `json:"projects"`
}

// ReadKeysFile returns the projects of the keys file at path; none when it does not exist.
func ReadKeysFile(path string) ([]Project, error) {
	var f keysFile
	if err := atomicfile.ReadJSON(path, &f); err != nil {
		return nil, fmt.Errorf("sentry keys file: %w", err)
	}
	if err := validateProjects(f.Projects, path+": projects"); err != nil {
		return nil, err
	}
	return f.Projects, nil
}

// CreateKey adds a new key for the project named name to the keys file at path, creating
// the project (with the next free id after those of configured and file projects) when
// neither has it, and returns the project with the new key last in Keys. The file is
// replaced atomically and readable by its owner only.
func CreateKey(path string, configured []Project, name string) (Project, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Project{}, errors.New("a project name is required")
	}
	file, err := ReadKeysFile(path)
	if err != nil {
		return Project{}, err
	}
	key := NewKey()
	idx := slices.IndexFunc(file, func(p Project) bool { return p.Name == name })
	if idx < 0 {
		p := Project{Name: name}
		if c := slices.IndexFunc(configured, func(p Project) bool { return p.Name == name }); c >= 0 {
			p.ID = configured[c].ID
		} else {
			var maxID uint64
			for _, q := range slices.Concat(configured, file) {
				if n, err := strconv.ParseUint(q.ID, 10, 63); err == nil && n > maxID {
					maxID = n
				}
			}
			p.ID = strconv.FormatUint(maxID+1, 10)
		}
		file = append(file, p)
		idx = len(file) - 1
	}
	file[idx].Keys = append(file[idx].Keys, key)
	if err := atomicfile.WriteJSON(path, keysFile{Projects: file}); err != nil {
		return Project{}, fmt.Errorf("sentry keys: %w", err)
	}
	p := file[idx]
	p.Keys = []string{key}
	return p, nil
}

// DSN formats the DSN of key for a project at the base URL of the HTTP port
// (http://host:port): http://KEY@host:port/ID.
func DSN(base, key, projectID string) string {
	scheme, host, ok := strings.Cut(base, "://")
	if !ok {
		scheme, host = "http", base
	}
	return scheme + "://" + key + "@" + strings.TrimSuffix(host, "/") + "/" + projectID
}

// Projects resolves DSN keys to projects: the configured ones and those of the keys file.
// A key that is not known re-reads the keys file when it changed (looked at most once a
// second), so keys made by `loupe sentry-dsn create` work without a restart. Safe for
// concurrent use.
type Projects struct {
	configured []Project
	path       string
	defRate    float64
	defBurst   int

	mu        sync.Mutex
	byKey     map[string]Project
	fileMod   time.Time
	fileSize  int64
	lastCheck time.Time
}

// NewProjects returns the projects of cfg, reading the keys file at keysPath ("" for none).
func NewProjects(cfg Config, keysPath string) (*Projects, error) {
	p := &Projects{configured: cfg.Projects, path: keysPath, defRate: cfg.EventsPerSecond, defBurst: cfg.Burst}
	if err := p.reload(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Projects) reload() error {
	var file []Project
	if p.path != "" {
		st, err := os.Stat(p.path)
		if err == nil {
			p.fileMod, p.fileSize = st.ModTime(), st.Size()
		}
		if file, err = ReadKeysFile(p.path); err != nil {
			return err
		}
	}
	byKey := map[string]Project{}
	for _, pr := range slices.Concat(p.configured, file) {
		// A project of the file with the name of a configured one shares its id (CreateKey
		// does so); its limits are the configured project's.
		if c := slices.IndexFunc(p.configured, func(c Project) bool { return c.ID == pr.ID }); c >= 0 {
			keys := pr.Keys
			pr = p.configured[c]
			pr.Keys = keys
		}
		if pr.EventsPerSecond == 0 {
			pr.EventsPerSecond = p.defRate
		}
		if pr.Burst == 0 {
			pr.Burst = p.defBurst
		}
		for _, k := range pr.Keys {
			if _, dup := byKey[k]; !dup {
				byKey[k] = pr
			}
		}
	}
	p.byKey = byKey
	return nil
}

// Lookup returns the project of key.
func (p *Projects) Lookup(key string) (Project, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr, ok := p.byKey[key]; ok {
		return pr, true
	}
	now := time.Now()
	if p.path == "" || now.Sub(p.lastCheck) < time.Second {
		return Project{}, false
	}
	p.lastCheck = now
	st, err := os.Stat(p.path)
	if err != nil || st.ModTime().Equal(p.fileMod) && st.Size() == p.fileSize {
		return Project{}, false
	}
	if err := p.reload(); err != nil {
		return Project{}, false // keep the keys known so far; the next change is read again
	}
	pr, ok := p.byKey[key]
	return pr, ok
}
