package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/loupe-dev/loupe/internal/atomicfile"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// User is a person who signs in to the web UI with a name and a password (`loupe user
// add`). Only a bcrypt hash of the password is kept.
type User struct {
	Name    string    `json:"name"`
	Scopes  []Scope   `json:"scopes"`
	Created time.Time `json:"created"`
	// Hash is the bcrypt hash of the password. Unlike a token, a password is chosen by a
	// person and may be guessable, so a stolen file must make each guess slow.
	Hash string `json:"bcrypt"`
	// Tenant, when set, is the only tenant the user's sessions act for, as a token's.
	Tenant string `json:"tenant,omitempty"`
}

// Allows reports whether the user has scope (admin grants every scope).
func (u User) Allows(scope Scope) bool {
	return slices.Contains(u.Scopes, scope) || slices.Contains(u.Scopes, ScopeAdmin)
}

type usersFile struct {
	Users []User `json:"users"`
}

// bcryptCost makes a check take about a quarter of a second on a server core (2^12
// rounds); tests lower it.
var bcryptCost = 12

// MinPasswordLength is the shortest password `loupe user add` accepts.
const MinPasswordLength = 12

// ReadUsers returns the users of the file at path; none when it does not exist.
func ReadUsers(path string) ([]User, error) {
	var f usersFile
	if err := atomicfile.ReadJSON(path, &f); err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	for i, u := range f.Users {
		if u.Name == "" || len(u.Scopes) == 0 || !strings.HasPrefix(u.Hash, "$2") {
			return nil, fmt.Errorf("users file %s: user %d (%q): needs a name, scopes and a bcrypt hash", path, i, u.Name)
		}
		if u.Tenant != "" {
			if err := tenant.Validate(u.Tenant); err != nil {
				return nil, fmt.Errorf("users file %s: user %d (%q): %w", path, i, u.Name, err)
			}
		}
	}
	return f.Users, nil
}

// UserScopes parses the scopes of a user: read or admin (a person does not send data).
func UserScopes(s string) ([]Scope, error) {
	scopes, err := ParseScopes(s)
	if err != nil {
		return nil, err
	}
	if slices.Contains(scopes, ScopeIngest) {
		return nil, errors.New("a user signs in to the UI: want read or admin (ingest is for tokens)")
	}
	return scopes, nil
}

func checkPassword(password string) error {
	switch {
	case len(password) < MinPasswordLength:
		return fmt.Errorf("the password is %d characters: at least %d are needed", len(password), MinPasswordLength)
	case len(password) > 72:
		// bcrypt reads 72 bytes; a longer password would be silently cut.
		return errors.New("the password is longer than 72 bytes, the most bcrypt reads")
	}
	return nil
}

// AddUser adds a user named name to the file at path, or with replace sets the password
// and scopes of an existing one (nil scopes keep the user's).
func AddUser(path, name, password string, scopes []Scope, replace bool, now time.Time) (User, error) {
	return addUser(path, name, password, scopes, "", replace, now)
}

// AddTenantUser is AddUser (not replace) for a user bound to tenant tenantID.
func AddTenantUser(path, name, password string, scopes []Scope, tenantID string, now time.Time) (User, error) {
	if err := tenant.Validate(tenantID); err != nil {
		return User{}, err
	}
	return addUser(path, name, password, scopes, tenantID, false, now)
}

func addUser(path, name, password string, scopes []Scope, tenantID string, replace bool, now time.Time) (User, error) {
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " \t\r\n:") {
		return User{}, fmt.Errorf("user name %q: must not be empty or contain spaces or ':'", name)
	}
	if err := checkPassword(password); err != nil {
		return User{}, err
	}
	users, err := ReadUsers(path)
	if err != nil {
		return User{}, err
	}
	i := slices.IndexFunc(users, func(u User) bool { return u.Name == name })
	switch {
	case i >= 0 && !replace:
		return User{}, fmt.Errorf("a user named %q exists: use `loupe user passwd` to change the password", name)
	case i < 0 && replace:
		return User{}, fmt.Errorf("no user named %q in %s", name, path)
	case i < 0 && len(scopes) == 0:
		return User{}, errors.New("a user needs a scope: read or admin")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return User{}, err
	}
	if i < 0 {
		users = append(users, User{Name: name, Scopes: scopes, Created: now.UTC().Truncate(time.Second), Hash: string(hash), Tenant: tenantID})
		i = len(users) - 1
	} else {
		users[i].Hash = string(hash)
		if len(scopes) > 0 {
			users[i].Scopes = scopes
		}
	}
	if err := writeUsers(path, users); err != nil {
		return User{}, err
	}
	return users[i], nil
}

// RemoveUser removes the user named name; its sessions end within a second.
func RemoveUser(path, name string) error {
	users, err := ReadUsers(path)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(users, func(u User) bool { return u.Name == name })
	if i < 0 {
		return fmt.Errorf("no user named %q in %s", name, path)
	}
	return writeUsers(path, slices.Delete(users, i, i+1))
}

func writeUsers(path string, users []User) error {
	if users == nil {
		users = []User{}
	}
	return atomicfile.WriteJSON(path, usersFile{Users: users})
}

// dummyHash is compared against when a user name is unknown, so that a sign-in with an
// unknown name takes as long as one with a wrong password and does not tell which names
// exist.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("loupe-no-such-user"), bcryptCost)
	return h
})

// bcryptSlots bounds the password checks that run at once: each takes a core for about a
// quarter of a second, and sign-ins from many addresses must not take every core.
var bcryptSlots = make(chan struct{}, 2)

// verifyPassword reports whether password is the password of u (found says u exists).
func verifyPassword(u User, found bool, password string) bool {
	bcryptSlots <- struct{}{}
	defer func() { <-bcryptSlots }()
	if !found {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(password)) == nil
}
