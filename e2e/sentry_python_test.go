package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sentryPython is an application using Debian's python3-sentry-sdk as its documentation
// shows. argv: DSN, mode ("all", "limited" or "bad"). It prints the transaction's trace id.
// Inside the transaction, report raises ZeroDivisionError from two of its lines, called from
// two lines of the script (one issue: lines do not count), and TypeError from a third (another
// issue). Every event carries the password of $SHOP_PASSWORD in extra, which the server must
// scrub (from the environment, so that the source lines the SDK sends do not hold it).
const sentryPython = `
import os, sys, time
import sentry_sdk
from sentry_sdk import add_breadcrumb, capture_exception, capture_message, push_scope, start_transaction

dsn, mode = sys.argv[1], sys.argv[2]
sentry_sdk.init(dsn=dsn, traces_sample_rate=1.0, release="shop@1.0.0", environment="e2e", server_name="py-host")

def checkout(cart):
    return cart["sku"]

def average(total, count):
    return total / count

def report(kind):
    if kind == "daily":
        return average(70, 0)
    if kind == "weekly":
        return average(490, 0)
    return average("490", 7)

if mode == "all":
    sentry_sdk.set_extra("password", os.environ["SHOP_PASSWORD"])
    add_breadcrumb(category="cart", message="added item 42", level="info")
    try:
        checkout({})
    except Exception as e:
        capture_exception(e)
    capture_message("payment provider slow", level="warning")
    with push_scope() as scope:
        scope.fingerprint = ["payments-timeout"]
        capture_message("timeout talking to payments")
    with start_transaction(op="http.server", name="POST /checkout") as tx:
        with tx.start_child(op="db.query", description="SELECT * FROM carts"):
            time.sleep(0.01)
        try:
            report("daily")
        except Exception as e:
            capture_exception(e)
        try:
            report("weekly")
        except Exception as e:
            capture_exception(e)
        try:
            report("broken")
        except Exception as e:
            capture_exception(e)
        print(tx.trace_id)
    sentry_sdk.flush(10)
elif mode == "limited":
    capture_message("first")
    sentry_sdk.flush(10)
    capture_message("second")
    sentry_sdk.flush(10)
    # The answer to "second" was 429 with X-Sentry-Rate-Limits: these stay in the process.
    for i in range(5):
        capture_message("more %d" % i)
    sentry_sdk.flush(5)
else:
    capture_message("from a bad key")
    sentry_sdk.flush(10)
`

func runSentryPython(t *testing.T, dsn, mode string) string {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import sentry_sdk").Run(); err != nil {
		t.Fatalf("python3-sentry-sdk is missing: apt-get install python3-sentry-sdk (scripts/test-deps.sh does): %v", err)
	}
	script := filepath.Join(t.TempDir(), "app.py")
	require.NoError(t, writeFile(script, sentryPython))
	cmd := exec.Command("/usr/bin/python3", script, dsn, mode)
	cmd.Env = append(os.Environ(), "SHOP_PASSWORD="+sentryPassword)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.TrimSpace(string(out))
}

// TestSentryPythonSDK: Debian's python3-sentry-sdk, unchanged, against the real binary.
func TestSentryPythonSDK(t *testing.T) {
	s := startSentryServer(t)
	traceID := runSentryPython(t, s.dsn(sentryKeyAPI, "1"), "all")
	require.Len(t, traceID, 32, traceID)

	waitSentryItems(t, s, "1", "event", sentryEventsProject1)
	checkSentryIssues(t, s, "KeyError", "added item 42", "shop@1.0.0", "extra.password")
	tr := waitTrace(t, s, traceID, 2)
	require.ElementsMatch(t, []string{"shop-api: POST /checkout", "shop-api: SELECT * FROM carts"}, tr.spanNames())
	checkSentryGrouping(t, s, "ZeroDivisionError", "TypeError", traceID, "extra.password")

	checkSentryRefusals(t, s, runSentryPython)
}
