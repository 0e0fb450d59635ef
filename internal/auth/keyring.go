package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Config is the `auth` section of the configuration.
type Config struct {
	// Enabled is "auto" (on when the tokens file has a token), "true" or "false".
	Enabled string `yaml:"enabled"`
	// TokensFile holds the tokens made by `loupe token create`; relative to data_dir unless
	// absolute.
	TokensFile string `yaml:"tokens_file"`
}

// Default is auth.enabled auto with the tokens file tokens.json in the data directory.
func Default() Config { return Config{Enabled: "auto", TokensFile: "tokens.json"} }

// Validate reports invalid fields.
func (c Config) Validate() error {
	var errs []error
	switch c.Enabled {
	case "auto", "true", "false":
	default:
		errs = append(errs, fmt.Errorf("auth.enabled: %q: want auto, true or false", c.Enabled))
	}
	if c.TokensFile == "" {
		errs = append(errs, errors.New(`auth.tokens_file: "": must not be empty`))
	}
	return errors.Join(errs...)
}

// TokensPath is the path of the tokens file: TokensFile, relative to dataDir unless
// absolute.
func (c Config) TokensPath(dataDir string) string {
	if filepath.IsAbs(c.TokensFile) {
		return c.TokensFile
	}
	return filepath.Join(dataDir, c.TokensFile)
}

// Keyring is the running server's view of the tokens file. It re-reads the file when its
// modification time or size changed, looked at most once a second on requests, and on
// Reload (SIGHUP, POST /-/reload). A file that cannot be read or parsed keeps the tokens
// read before, so that a half-edited file does not turn authentication off. Safe for
// concurrent use.
type Keyring struct {
	path   string
	mode   string
	logger *slog.Logger
	now    func() time.Time

	mu        sync.Mutex
	required  bool
	byHash    map[string]Token
	fileMod   time.Time
	fileSize  int64
	lastCheck time.Time
	fails     map[string]*bucket
}

// NewKeyring reads the tokens file of cfg and returns the keyring. An unreadable or invalid
// file is an error: the server does not start on it.
func NewKeyring(cfg Config, dataDir string, logger *slog.Logger) (*Keyring, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := &Keyring{path: cfg.TokensPath(dataDir), mode: cfg.Enabled, logger: logger, now: time.Now,
		fails: map[string]*bucket{}}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	k.lastCheck = k.now()
	return k, nil
}

// Path is the tokens file.
func (k *Keyring) Path() string { return k.path }

// Reload re-reads the tokens file now.
func (k *Keyring) Reload() error {
	st, statErr := os.Stat(k.path)
	tokens, err := ReadFile(k.path)
	if err != nil {
		return err
	}
	byHash := make(map[string]Token, len(tokens))
	for _, t := range tokens {
		byHash[t.Hash] = t
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.byHash = byHash
	k.fileMod, k.fileSize = time.Time{}, -1
	if statErr == nil {
		k.fileMod, k.fileSize = st.ModTime(), st.Size()
	}
	return nil
}

// Require keeps authentication on whatever the tokens file holds: set when a port listens
// beyond loopback because auth was on at start, so that revoking the last token refuses
// every request instead of opening the port.
func (k *Keyring) Require() {
	k.mu.Lock()
	k.required = true
	k.mu.Unlock()
}

// Enabled reports whether requests must carry a token.
func (k *Keyring) Enabled() bool {
	k.maybeReload()
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.enabledLocked()
}

func (k *Keyring) enabledLocked() bool {
	switch {
	case k.mode == "false":
		return false
	case k.mode == "true" || k.required:
		return true
	}
	return len(k.byHash) > 0
}

// Lookup returns the token whose secret is secret.
func (k *Keyring) Lookup(secret string) (Token, bool) {
	k.maybeReload()
	k.mu.Lock()
	defer k.mu.Unlock()
	// A map lookup by hash: its timing can at most tell a hash prefix, which gives nothing
	// towards a secret of 32 random bytes.
	t, ok := k.byHash[hashSecret(secret)]
	return t, ok
}

// maybeReload re-reads the file when it changed, looking at most once a second.
func (k *Keyring) maybeReload() {
	k.mu.Lock()
	now := k.now()
	if now.Sub(k.lastCheck) < time.Second {
		k.mu.Unlock()
		return
	}
	k.lastCheck = now
	mod, size := k.fileMod, k.fileSize
	k.mu.Unlock()
	st, err := os.Stat(k.path)
	switch {
	case err == nil && st.ModTime().Equal(mod) && st.Size() == size:
		return
	case err != nil && size == -1:
		return // still no file
	}
	if err := k.Reload(); err != nil {
		k.logger.Error("tokens file changed but cannot be read; keeping the tokens read before", "err", err)
		return
	}
	k.logger.Info("tokens file re-read", "path", k.path)
}

// Failed attempts (a token that is not known) are limited per source address: failRate a
// second with bursts of failBurst, then 429 until the bucket refills, so that guessing is
// slow. Requests without credentials are not counted: a browser's first request has none.
const (
	failRate     = 10
	failBurst    = 20
	maxFailAddrs = 10000 // addresses tracked; the map is cleared beyond it
)

type bucket struct {
	tokens float64
	last   time.Time
}

func (k *Keyring) refill(ip string) *bucket {
	now := k.now()
	b := k.fails[ip]
	if b == nil {
		if len(k.fails) >= maxFailAddrs {
			clear(k.fails)
		}
		b = &bucket{tokens: failBurst, last: now}
		k.fails[ip] = b
	}
	b.tokens = min(failBurst, b.tokens+now.Sub(b.last).Seconds()*failRate)
	b.last = now
	return b
}

// throttled reports whether ip has used up its failed attempts.
func (k *Keyring) throttled(ip string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.fails[ip]; !ok {
		return false
	}
	return k.refill(ip).tokens < 1
}

// fail counts a failed attempt of ip.
func (k *Keyring) fail(ip string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if b := k.refill(ip); b.tokens >= 1 {
		b.tokens--
	}
}
