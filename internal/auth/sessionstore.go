package auth

import (
	"crypto/sha256"
	"slices"
	"time"

	"github.com/loupe-dev/loupe/internal/atomicfile"
)

// The sessions file (auth.sessions_file) keeps the UI's sessions across restarts. Only the
// server writes it: the whole file, atomically and readable by its owner only
// (atomicfile), after every sign-in, sign-out and ended session, so that a session the
// server acknowledged survives a restart and one it ended does not come back. It holds
// the SHA-256 of each session id, never the id: a stolen file signs no one in.
//
// `loupe user passwd` and `loupe user remove` do not write it (the server would overwrite
// their change): a user session remembers the fingerprint of the password hash it signed
// in with, so a new password or a removed user ends it at once, and the server drops it
// from the file when it sees the users file change, or at its next start.

// storedSession is a session as the file keeps it.
type storedSession struct {
	IDHash    string    `json:"id_sha256"`
	Kind      string    `json:"kind"` // user or token
	Name      string    `json:"name"`
	TokenHash string    `json:"token_sha256,omitempty"`
	UserHash  string    `json:"password_fingerprint,omitempty"`
	Expires   time.Time `json:"expires"`
}

type sessionsFile struct {
	Sessions []storedSession `json:"sessions"`
}

// loadSessions takes up the live sessions of the file, dropping expired ones and those
// whose user or token has changed, and rewrites the file when it dropped any. A file that
// cannot be read is logged and left to be replaced by the next write: everyone signs in
// again, and the server starts.
func (k *Keyring) loadSessions() {
	var f sessionsFile
	if err := atomicfile.ReadJSON(k.sessionsPath, &f); err != nil {
		k.logger.Error("UI sessions file cannot be read; starting without sessions (users sign in again)", "err", err)
		return
	}
	now := k.now()
	k.mu.Lock()
	for _, st := range f.Sessions {
		if len(st.IDHash) != sha256.Size*2 || (st.Kind != "user" && st.Kind != "token") || !now.Before(st.Expires) {
			continue
		}
		k.sessions[st.IDHash] = &session{kind: st.Kind, name: st.Name, tokenHash: st.TokenHash,
			userHash: st.UserHash, expires: st.Expires}
	}
	kept := len(k.sessions)
	k.mu.Unlock()
	kept -= k.pruneSessions()
	if kept != len(f.Sessions) {
		k.saveSessions()
	}
	if kept > 0 {
		k.logger.Info("UI sessions taken up from the last run", "sessions", kept, "file", k.sessionsPath)
	}
}

// pruneSessions ends the sessions that have expired or whose user or token no longer
// holds (removed, a new password, revoked, expired), and returns how many it ended.
func (k *Keyring) pruneSessions() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	n := 0
	for h, s := range k.sessions {
		if !k.validLocked(s, now) {
			delete(k.sessions, h)
			n++
		}
	}
	return n
}

// validLocked reports whether s is live at now with the files as last read. k.mu is held.
func (k *Keyring) validLocked(s *session, now time.Time) bool {
	if !now.Before(s.expires) {
		return false
	}
	switch s.kind {
	case "user":
		u, ok := k.users[s.name]
		return ok && s.userHash == passwordFingerprint(u)
	case "token":
		t, ok := k.byHash[s.tokenHash]
		return ok && !t.Expired(now)
	}
	return false
}

// saveSessions writes the live sessions to the file. A failure is logged: the sessions
// stay valid in memory, and the next write (any sign-in or sign-out) tries again.
func (k *Keyring) saveSessions() {
	k.saveMu.Lock()
	defer k.saveMu.Unlock()
	k.mu.Lock()
	now := k.now()
	list := make([]storedSession, 0, len(k.sessions))
	for h, s := range k.sessions {
		if now.Before(s.expires) {
			list = append(list, storedSession{IDHash: h, Kind: s.kind, Name: s.name, TokenHash: s.tokenHash,
				UserHash: s.userHash, Expires: s.expires.UTC()})
		}
	}
	k.mu.Unlock()
	slices.SortFunc(list, func(a, b storedSession) int { return a.Expires.Compare(b.Expires) })
	if err := atomicfile.WriteJSON(k.sessionsPath, sessionsFile{Sessions: list}); err != nil {
		k.logger.Error("UI sessions file not written: the latest sign-ins and sign-outs are not kept across a restart until the next write succeeds", "err", err)
	}
}
