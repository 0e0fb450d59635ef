package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// Config is the `auth` section of the configuration.
type Config struct {
	// Enabled is "auto" (on when the tokens file has a token or the users file a user),
	// "true" or "false".
	Enabled string `yaml:"enabled"`
	// TokensFile holds the tokens made by `loupe token create`; relative to data_dir unless
	// absolute.
	TokensFile string `yaml:"tokens_file"`
	// UsersFile holds the users made by `loupe user add` (UI sign-in with a password);
	// relative to data_dir unless absolute.
	UsersFile string `yaml:"users_file"`
	// SessionsFile keeps the UI's sessions (hashed ids, expiry), so that they survive a
	// restart; relative to data_dir unless absolute. Written by the server only.
	SessionsFile string `yaml:"sessions_file"`
	// SessionMaxAge is how long a UI sign-in lasts before the user signs in again.
	SessionMaxAge model.Duration `yaml:"session_max_age"`
}

// Default is auth.enabled auto with the tokens file tokens.json, the users file
// users.json and the sessions file sessions.json in the data directory, and UI sessions
// of 12 hours.
func Default() Config {
	return Config{Enabled: "auto", TokensFile: "tokens.json", UsersFile: "users.json",
		SessionsFile: "sessions.json", SessionMaxAge: model.Duration(12 * time.Hour)}
}

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
	if c.UsersFile == "" {
		errs = append(errs, errors.New(`auth.users_file: "": must not be empty`))
	}
	if c.SessionsFile == "" {
		errs = append(errs, errors.New(`auth.sessions_file: "": must not be empty`))
	}
	if c.SessionMaxAge < model.Duration(time.Minute) {
		errs = append(errs, fmt.Errorf("auth.session_max_age: %s: must be at least 1m", c.SessionMaxAge))
	}
	return errors.Join(errs...)
}

// TokensPath is the path of the tokens file: TokensFile, relative to dataDir unless
// absolute.
func (c Config) TokensPath(dataDir string) string { return inDataDir(dataDir, c.TokensFile) }

// UsersPath is the path of the users file: UsersFile, relative to dataDir unless absolute.
func (c Config) UsersPath(dataDir string) string { return inDataDir(dataDir, c.UsersFile) }

// SessionsPath is the path of the sessions file: SessionsFile, relative to dataDir unless
// absolute.
func (c Config) SessionsPath(dataDir string) string { return inDataDir(dataDir, c.SessionsFile) }

func inDataDir(dataDir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dataDir, name)
}

// Keyring is the running server's view of the tokens and users files and its UI sessions.
// It re-reads a file when its modification time or size changed, looked at most once a
// second on requests, and on Reload (SIGHUP, POST /-/reload). A file that cannot be read
// or parsed keeps what was read before, so that a half-edited file does not turn
// authentication off. Safe for concurrent use.
type Keyring struct {
	path         string
	usersPath    string
	sessionsPath string
	mode         string
	maxAge       time.Duration
	logger       *slog.Logger
	now          func() time.Time

	mu        sync.Mutex
	required  bool
	byHash    map[string]Token
	users     map[string]User
	files     [2]fileStamp // tokens, users
	lastCheck time.Time
	fails     map[string]*bucket
	sessions  map[string]*session // by the SHA-256 of the cookie value (session.go)

	// saveMu orders writes of the sessions file (sessionstore.go), so that the last
	// change is the one written last.
	saveMu sync.Mutex
}

// fileStamp is what a file looked like when it was read; size -1 when it did not exist.
type fileStamp struct {
	mod  int64 // Unix nanoseconds, so that stamps compare with ==
	size int64
}

func stamp(path string) fileStamp {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{size: -1}
	}
	return fileStamp{mod: st.ModTime().UnixNano(), size: st.Size()}
}

// NewKeyring reads the tokens and users files of cfg and returns the keyring. An
// unreadable or invalid file is an error: the server does not start on it. The UI
// sessions saved by the last run are taken up again (a damaged sessions file is logged
// and ignored: everyone signs in again).
func NewKeyring(cfg Config, dataDir string, logger *slog.Logger) (*Keyring, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := &Keyring{path: cfg.TokensPath(dataDir), usersPath: cfg.UsersPath(dataDir), sessionsPath: cfg.SessionsPath(dataDir), mode: cfg.Enabled,
		maxAge: time.Duration(cfg.SessionMaxAge), logger: logger, now: time.Now,
		fails: map[string]*bucket{}, sessions: map[string]*session{}}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	k.lastCheck = k.now()
	k.loadSessions()
	return k, nil
}

// Path is the tokens file.
func (k *Keyring) Path() string { return k.path }

// UsersPath is the users file.
func (k *Keyring) UsersPath() string { return k.usersPath }

// Reload re-reads the tokens and users files now.
func (k *Keyring) Reload() error {
	stamps := [2]fileStamp{stamp(k.path), stamp(k.usersPath)}
	tokens, err := ReadFile(k.path)
	if err != nil {
		return err
	}
	users, err := ReadUsers(k.usersPath)
	if err != nil {
		return err
	}
	byHash := make(map[string]Token, len(tokens))
	for _, t := range tokens {
		byHash[t.Hash] = t
	}
	byName := make(map[string]User, len(users))
	for _, u := range users {
		byName[u.Name] = u
	}
	k.mu.Lock()
	k.byHash, k.users, k.files = byHash, byName, stamps
	k.mu.Unlock()
	// Sessions of removed users, of users with a new password and of revoked tokens go
	// from the sessions file too.
	if k.pruneSessions() > 0 {
		k.saveSessions()
	}
	return nil
}

// Require keeps authentication on whatever the files hold: set when a port listens beyond
// loopback because auth was on at start, so that revoking the last token refuses every
// request instead of opening the port.
func (k *Keyring) Require() {
	k.mu.Lock()
	k.required = true
	k.mu.Unlock()
}

// Enabled reports whether requests must carry credentials.
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
	return len(k.byHash) > 0 || len(k.users) > 0
}

// Lookup returns the token whose secret is secret, expired or not.
func (k *Keyring) Lookup(secret string) (Token, bool) {
	return k.lookupHash(hashSecret(secret))
}

func (k *Keyring) lookupHash(hash string) (Token, bool) {
	k.maybeReload()
	k.mu.Lock()
	defer k.mu.Unlock()
	// A map lookup by hash: its timing can at most tell a hash prefix, which gives nothing
	// towards a secret of 32 random bytes.
	t, ok := k.byHash[hash]
	return t, ok
}

// user returns the user named name.
func (k *Keyring) user(name string) (User, bool) {
	k.maybeReload()
	k.mu.Lock()
	defer k.mu.Unlock()
	u, ok := k.users[name]
	return u, ok
}

// maybeReload re-reads the files when one changed, looking at most once a second.
func (k *Keyring) maybeReload() {
	k.mu.Lock()
	now := k.now()
	if now.Sub(k.lastCheck) < time.Second {
		k.mu.Unlock()
		return
	}
	k.lastCheck = now
	before := k.files
	k.mu.Unlock()
	if [2]fileStamp{stamp(k.path), stamp(k.usersPath)} == before {
		return
	}
	if err := k.Reload(); err != nil {
		k.logger.Error("tokens or users file changed but cannot be read; keeping what was read before", "err", err)
		return
	}
	k.logger.Info("tokens and users files re-read", "tokens", k.path, "users", k.usersPath)
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
