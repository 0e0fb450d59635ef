package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestUISessionSurvivesRestart: a user signs in the way the UI does, the server is
// stopped and started again on the same data directory, and the same cookies still read
// and still pass the CSRF check; the data directory holds neither the session id nor the
// CSRF token, and the sessions file is the owner's alone. `loupe user passwd` then ends
// the session (401) while the server runs, and a restart does not bring it back.
func TestUISessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	const password = "a long enough password"
	addUser(t, dir, "alice", "admin", password)
	s := startServer(t, dir)

	ui := newUIClient(t, s.HTTP)
	code, body := ui.do("POST", sessionPath, fmt.Sprintf(`{"user":"alice","password":%q}`, password), nil)
	require.Equal(t, 200, code, body)
	session, csrf := ui.cookie("loupe_session"), ui.cookie("loupe_csrf")
	require.NotEmpty(t, session)
	code, _ = authedCookieRequest(t, s.HTTP+"/api/loupe/v1/services", session)
	require.Equal(t, 200, code)
	s.stop()

	st, err := os.Stat(filepath.Join(dir, "sessions.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	var leaked []string
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && (bytes.Contains(b, []byte(session)) || bytes.Contains(b, []byte(csrf))) {
			leaked = append(leaked, p)
		}
		return err
	}))
	require.Empty(t, leaked, "no file of the data directory holds the session id or CSRF token")

	s = startServer(t, dir)
	code, body = authedCookieRequest(t, s.HTTP+"/api/loupe/v1/services", session)
	require.Equal(t, 200, code, "the cookie still works after the restart: %s", body)
	ui.base = s.HTTP // the jar keeps the cookies by host, as a browser does
	code, body = ui.do("GET", sessionPath, "", nil)
	require.Equal(t, 200, code, body)
	require.Contains(t, body, `"name":"alice"`)
	code, body = ui.do("POST", "/-/reload", "", map[string]string{"X-CSRF-Token": csrf})
	require.Equal(t, 200, code, "the CSRF token still matches after the restart: %s", body)

	var stderr bytes.Buffer
	cmd := exec.Command(loupeBin, "user", "passwd", "alice", "--password-stdin", "--data-dir", dir)
	cmd.Stdin = strings.NewReader("another long password\n")
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	eventually(t, 10*time.Second, func() error {
		if code, body := authedCookieRequest(t, s.HTTP+"/api/loupe/v1/services", session); code != 401 || !strings.Contains(body, "your session has ended") {
			return fmt.Errorf("after passwd: %d %s", code, body)
		}
		return nil
	})
	s.stop()
	s = startServer(t, dir)
	code, _ = authedCookieRequest(t, s.HTTP+"/api/loupe/v1/services", session)
	require.Equal(t, 401, code, "a restart does not bring an ended session back")
	b, err := os.ReadFile(filepath.Join(dir, "sessions.json"))
	require.NoError(t, err)
	require.NotContains(t, string(b), `"id_sha256"`, "the ended session is gone from the file")
}
