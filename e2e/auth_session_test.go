package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const sessionPath = "/api/loupe/v1/session"

// addUser runs `loupe user add` with the password on standard input.
func addUser(t *testing.T, dataDir, name, scope, password string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(loupeBin, "user", "add", name, "--scope", scope, "--password-stdin", "--data-dir", dataDir)
	cmd.Stdin = strings.NewReader(password + "\n")
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), stderr.String())
}

// uiClient is an HTTP client with a cookie jar, which keeps and sends the session cookies
// as the browser does.
type uiClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newUIClient(t *testing.T, base string) *uiClient {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &uiClient{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (u *uiClient) do(method, path, body string, header map[string]string) (int, string) {
	u.t.Helper()
	req, err := http.NewRequest(method, u.base+path, strings.NewReader(body))
	require.NoError(u.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := u.c.Do(req)
	require.NoError(u.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// cookie is the value of the jar's cookie name for the server.
func (u *uiClient) cookie(name string) string {
	req, _ := http.NewRequest("GET", u.base+"/", nil)
	for _, c := range u.c.Jar.Cookies(req.URL) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// TestUISignIn drives the UI's sign-in the way the browser does: a user made with `loupe
// user add` signs in with a password, reads with the session cookie, is refused a
// state-changing call without the CSRF token and allowed with it, and signs out; a token
// signs in too; a token made with --expires is refused with a 401 that says it expired.
func TestUISignIn(t *testing.T) {
	dir := t.TempDir()
	const password = "a long enough password"
	addUser(t, dir, "alice", "admin", password)
	viewer := strings.TrimSpace(loupeCLI(t, "token", "create", "--name", "viewer", "--scope", "read", "--data-dir", dir))
	s := startServer(t, dir)

	ui := newUIClient(t, s.HTTP)
	code, body := ui.do("GET", "/logs", "", nil)
	require.Equal(t, 200, code, "the UI's page loads without credentials")
	require.Contains(t, body, `<div id="root">`)
	code, body = ui.do("GET", "/api/loupe/v1/services", "", map[string]string{"Sec-Fetch-Mode": "cors"})
	require.Equal(t, 401, code, body)

	code, body = ui.do("POST", sessionPath, `{"user":"alice","password":"not the password"}`, nil)
	require.Equal(t, 401, code, body)
	require.Contains(t, body, "wrong user name or password")
	code, body = ui.do("POST", sessionPath, fmt.Sprintf(`{"user":"alice","password":%q}`, password), nil)
	require.Equal(t, 200, code, body)
	require.Contains(t, body, `"name":"alice"`)
	csrf := ui.cookie("loupe_csrf")
	require.NotEmpty(t, csrf)
	require.NotEmpty(t, ui.cookie("loupe_session"))

	code, body = ui.do("GET", "/api/loupe/v1/services", "", nil)
	require.Equal(t, 200, code, "a read with the session cookie: %s", body)
	code, body = ui.do("POST", "/-/reload", "", nil)
	require.Equal(t, 403, code, body)
	require.Contains(t, body, "X-CSRF-Token")
	code, body = ui.do("POST", "/-/reload", "", map[string]string{"X-CSRF-Token": csrf})
	require.Equal(t, 200, code, "the same call with the CSRF token: %s", body)

	session := ui.cookie("loupe_session")
	code, body = ui.do("DELETE", sessionPath, "", map[string]string{"X-CSRF-Token": csrf})
	require.Equal(t, 200, code, body)
	require.Empty(t, ui.cookie("loupe_session"), "sign-out deletes the cookie")
	code, _ = ui.do("GET", "/api/loupe/v1/services", "", nil)
	require.Equal(t, 401, code)
	// The old cookie, kept by someone, is refused: the session is gone on the server.
	code, body = authedCookieRequest(t, s.HTTP+"/api/loupe/v1/services", session)
	require.Equal(t, 401, code)
	require.Contains(t, body, "your session has ended")

	// A read token signs in too, and its session reads but cannot do admin's calls.
	tok := newUIClient(t, s.HTTP)
	code, body = tok.do("POST", sessionPath, fmt.Sprintf(`{"token":%q}`, viewer), nil)
	require.Equal(t, 200, code, body)
	code, _ = tok.do("GET", "/api/loupe/v1/services", "", nil)
	require.Equal(t, 200, code)
	code, body = tok.do("POST", "/-/reload", "", map[string]string{"X-CSRF-Token": tok.cookie("loupe_csrf")})
	require.Equal(t, 403, code, body)
	require.Contains(t, body, "needs the admin scope")

	// Token expiry (`loupe token create --expires`): listed, then refused with a 401 that
	// says so, without a restart.
	short := strings.TrimSpace(loupeCLI(t, "token", "create", "--name", "short", "--scope", "read", "--expires", "2s", "--data-dir", dir))
	require.Regexp(t, `short\s+\S+\s+read\s+\S+\s+\d{4}-\d\d-\d\dT`, loupeCLI(t, "token", "list", "--data-dir", dir))
	eventually(t, 30*time.Second, func() error {
		code, _, body := authedRequest(t, "GET", s.HTTP+"/api/loupe/v1/services", "Bearer "+short, "", "")
		if code != 401 || !strings.Contains(body, `token "short" expired at`) {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	require.Contains(t, loupeCLI(t, "token", "list", "--data-dir", dir), "(expired)")
}

func authedCookieRequest(t *testing.T, url, session string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "loupe_session", Value: session})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
