// An application using @sentry/node as its documentation shows.
// argv: DSN, mode ("all", "limited" or "bad"). Prints the transaction's trace id.
// Inside the transaction, report raises RangeError from two of its lines, called from two
// lines of the span's callback (one issue: lines do not count), and SyntaxError from a third
// (another issue). Every event carries the password of $SHOP_PASSWORD in extra, which the
// server must scrub (from the environment, so that the source lines the SDK sends do not
// hold it).
const Sentry = require("@sentry/node");

const [dsn, mode] = process.argv.slice(2);
Sentry.init({ dsn, tracesSampleRate: 1.0, release: "shop@3.0.0", environment: "e2e", serverName: "node-host" });

function checkout(cart) {
  if (!cart.sku) throw new TypeError("cart has no sku");
}

function average(json) {
  const values = JSON.parse(json);
  if (values.length === 0) throw new RangeError("average of no values");
  return values.reduce((a, b) => a + b) / values.length;
}

function report(kind) {
  if (kind === "daily") return average("[]");
  if (kind === "weekly") return average("[]");
  return average("{");
}

function capture(f) {
  try {
    f();
  } catch (e) {
    Sentry.captureException(e);
  }
}

async function main() {
  if (mode === "all") {
    Sentry.setExtra("password", process.env.SHOP_PASSWORD);
    Sentry.addBreadcrumb({ category: "cart", message: "added item 42", level: "info" });
    try {
      checkout({});
    } catch (e) {
      Sentry.captureException(e);
    }
    Sentry.captureMessage("payment provider slow", "warning");
    Sentry.withScope((scope) => {
      scope.setFingerprint(["payments-timeout"]);
      Sentry.captureMessage("timeout talking to payments");
    });
    let traceId = "";
    await Sentry.startSpan({ name: "GET /node-cart", op: "http.server" }, async (span) => {
      traceId = span.spanContext().traceId;
      await Sentry.startSpan({ name: "SELECT * FROM carts", op: "db.query" }, async () => {
        await new Promise((r) => setTimeout(r, 10));
      });
      capture(() => report("daily"));
      capture(() => report("weekly"));
      capture(() => report("broken"));
    });
    const id = Sentry.captureCheckIn({ monitorSlug: "node-nightly", status: "in_progress" },
      { schedule: { type: "crontab", value: "0 3 * * *" }, checkinMargin: 5, maxRuntime: 30 });
    await Sentry.flush(10000);
    Sentry.captureCheckIn({ checkInId: id, monitorSlug: "node-nightly", status: "ok", duration: 2 });
    await Sentry.flush(10000);
    console.log(traceId);
  } else if (mode === "limited") {
    Sentry.captureMessage("first");
    await Sentry.flush(10000);
    Sentry.captureMessage("second");
    await Sentry.flush(10000);
    // The answer to "second" was 429 with X-Sentry-Rate-Limits: these stay in the process.
    for (let i = 0; i < 5; i++) Sentry.captureMessage(`more ${i}`);
    await Sentry.flush(5000);
  } else {
    Sentry.captureMessage("from a bad key");
    await Sentry.flush(10000);
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
