// Browser checks of the Errors pages (run by checks.mjs on the same seeded server): the
// issue list groups the Sentry events of seed-errors.mjs as expected (two call sites of one
// bug are one issue, another bug another), its filters and sorts, the issue page (frames in
// order with library frames collapsed, context lines, the exception chain, breadcrumbs,
// paging through events), the links to the trace and to the logs and back from the trace's
// span, status changes that persist, and the keyboard.
export async function errorChecks({ page, base, expected, check, assert, shot }) {
  const E = expected.errors;
  if (!E) throw new Error('expected.json has no errors: run seed-errors.mjs');
  const rowsData = () =>
    page.$$eval('[data-testid="issue-row"]', (els) =>
      els.map((e) => ({
        id: e.dataset.issueId,
        status: e.dataset.status,
        service: e.dataset.service,
        title: e.querySelector('[data-testid="issue-link"]').textContent,
        events: Number(e.querySelector('[data-testid="issue-events"]').textContent.replace(/\D/g, '')),
        users: Number(e.querySelector('[data-testid="issue-users"]').textContent.replace(/\D/g, '')),
        spark: (e.querySelector('[data-testid="issue-sparkline"]').dataset.values ?? '').split(',').map(Number),
        bars: e.querySelectorAll('[data-testid="issue-sparkline"] rect[height]:not([fill="transparent"])').length,
      })),
    );
  const waitRows = (pred, arg) => page.waitForFunction(pred, arg, { timeout: 10000 });
  const waitListed = async (url, n) => {
    await page.goto(`${base}${url}`);
    await page.waitForFunction(
      (m) => document.querySelectorAll('[data-testid="issue-row"]').length === m && !document.querySelector('.loading'),
      n,
      { timeout: 10000 },
    ).catch(async () => {
      throw new Error(`${url}: want ${n} issues, the page lists ${JSON.stringify((await rowsData()).map((r) => r.title))}`);
    });
    return rowsData();
  };
  const ids = {};

  await check('errors: two call sites of one bug are one issue, another bug another, with counts and sparklines', async () => {
    await page.goto(`${base}/errors`);
    await page.getByTestId('issues-table').waitFor({ timeout: 10000 });
    const rows = await rowsData();
    const a = rows.filter((r) => r.service === E.a.service);
    const b = rows.filter((r) => r.service === E.b.service);
    assert(a.length === 1, `shop-api issues: ${JSON.stringify(a.map((r) => r.title))}, want one`);
    assert(b.length === 1, `shop-worker issues: ${JSON.stringify(b.map((r) => r.title))}, want one`);
    assert(a[0].title === E.a.title && b[0].title === E.b.title, `titles ${a[0].title} / ${b[0].title}`);
    assert(a[0].events === E.a.events && a[0].users === E.a.users, `A: ${a[0].events} events ${a[0].users} users, want ${E.a.events} and ${E.a.users}`);
    assert(b[0].events === E.b.events && b[0].users === E.b.users, `B: ${b[0].events} events ${b[0].users} users`);
    // The sparkline: 24 hourly buckets holding every event of the last 24 hours, one bar
    // per non-empty bucket (the six events are an hour or more apart but the last two).
    assert(a[0].spark.length === 24, `A's sparkline has ${a[0].spark.length} buckets`);
    const sum = a[0].spark.reduce((x, y) => x + y, 0);
    assert(sum === E.a.events, `A's sparkline counts ${sum}, want ${E.a.events}`);
    const nonEmpty = a[0].spark.filter((v) => v > 0).length;
    assert(nonEmpty >= 5 && a[0].bars === nonEmpty, `A's sparkline: ${nonEmpty} non-empty buckets, ${a[0].bars} bars`);
    ids.a = a[0].id;
    ids.b = b[0].id;
    // OpenTelemetry exceptions of seed.mjs land in the same list.
    assert(rows.some((r) => r.title.includes('SocketTimeoutException')), `no OpenTelemetry issue in ${JSON.stringify(rows.map((r) => r.title))}`);
    await shot('errors');
  });

  await check('errors: filters and sorts, each in the URL', async () => {
    // Text search, typed and submitted with Enter.
    await page.goto(`${base}/errors`);
    await page.getByTestId('errors-search').fill('keyerror');
    await page.getByTestId('errors-search').press('Enter');
    await page.waitForURL(/q=keyerror/);
    await waitRows((id) => [...document.querySelectorAll('[data-testid="issue-row"]')].map((e) => e.dataset.issueId).join() === id, ids.b);
    // Service, environment and release from the selects.
    await page.goto(`${base}/errors`);
    await page.getByTestId('errors-service').selectOption(E.b.service);
    await page.waitForURL(/service=shop-worker/);
    await waitRows((id) => [...document.querySelectorAll('[data-testid="issue-row"]')].map((e) => e.dataset.issueId).join() === id, ids.b);
    let rows = await waitListed('/errors?environment=staging', 1);
    assert(rows[0].id === ids.a, `environment=staging lists ${rows[0].title}`);
    await page.goto(`${base}/errors`);
    await page.getByTestId('errors-release').selectOption('shop@1.2.0');
    await page.waitForURL(/release=shop%401\.2\.0|release=shop@1\.2\.0/);
    await waitRows((id) => [...document.querySelectorAll('[data-testid="issue-row"]')].map((e) => e.dataset.issueId).join() === id, ids.a);
    // Sorts: A has the most events and users and was first seen before every other issue;
    // B was last seen after A.
    await page.goto(`${base}/errors`);
    await page.getByTestId('errors-sort').selectOption('events');
    await page.waitForURL(/sort=events/);
    await waitRows((id) => document.querySelector('[data-testid="issue-row"]')?.dataset.issueId === id, ids.a);
    rows = await rowsData();
    assert(rows.every((r, i) => i === 0 || r.events <= rows[i - 1].events), `not sorted by events: ${rows.map((r) => r.events)}`);
    rows = await waitListed('/errors?sort=users', rows.length);
    assert(rows[0].id === ids.a, `sort=users: first ${rows[0].title}`);
    rows = await waitListed('/errors?sort=first_seen', rows.length);
    assert(rows[rows.length - 1].id === ids.a, `sort=first_seen: last ${rows[rows.length - 1].title}, want A (first seen 5 h ago)`);
    rows = await waitListed('/errors', rows.length);
    assert(rows.findIndex((r) => r.id === ids.b) < rows.findIndex((r) => r.id === ids.a), 'last seen: B (5 min ago) before A (10 min ago)');
    // The time range: the last 30 minutes hold only A's newest event; an absolute range
    // that ends 3 hours ago holds no issue last seen since.
    rows = await waitListed(`/errors?service=${E.a.service}&from=now-30m`, 1);
    assert(rows[0].spark.reduce((x, y) => x + y, 0) === 1, `30 minutes: A's sparkline ${rows[0].spark}`);
    const to = new Date(Date.now() - 3 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await page.goto(`${base}/errors?service=${E.a.service}&from=now-7d&to=${to}`);
    await page.getByTestId('errors-empty').waitFor({ timeout: 10000 });
    // A filter without matches says so (and not "send us errors").
    await page.goto(`${base}/errors?q=no-such-issue-anywhere`);
    await page.getByTestId('errors-empty').waitFor({ timeout: 10000 });
    const empty = await page.getByTestId('errors-empty').innerText();
    assert(/No issues match/.test(empty), `empty state: ${empty.slice(0, 200)}`);
  });

  await check('errors: the issue page shows the latest event: chain, frames, context, breadcrumbs, tags', async () => {
    await page.goto(`${base}/errors?service=${E.a.service}`);
    // Keyboard: focus the issue's link and press Enter.
    await page.getByTestId('issue-link').first().focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/errors/${ids.a}$`));
    await page.getByTestId('event-view').waitFor({ timeout: 10000 });
    assert((await page.getByTestId('issue-title').innerText()).includes(E.a.title), 'title');
    assert((await page.getByTestId('issue-events').innerText()) === String(E.a.events), 'events');
    assert((await page.getByTestId('issue-users').innerText()) === String(E.a.users), 'users');
    const rel = await page.getByTestId('issue-releases').innerText();
    const env = await page.getByTestId('issue-environments').innerText();
    assert(E.a.releases.every((r) => rel.includes(r)) && E.a.environments.every((e) => env.includes(e)), `releases ${rel} / environments ${env}`);
    const envTag = await page.locator('[data-testid="tag-dist"][data-key="environment"]').innerText();
    assert(/prod\s*83%/.test(envTag) && /staging\s*17%/.test(envTag), `environment distribution: ${envTag}`);
    const series = (await page.getByTestId('issue-series').getAttribute('data-values')).split(',').map(Number);
    assert(series.length === 14 && series.reduce((x, y) => x + y, 0) === E.a.events, `the 14-day series: ${series}`);
    const day = (await page.getByTestId('issue-series-24h').getAttribute('data-values')).split(',').map(Number);
    assert(day.length === 24 && day.reduce((x, y) => x + y, 0) === E.a.events && day.filter((v) => v).length >= 5, `the 24-hour series: ${day}`);
    // The latest event.
    assert((await page.getByTestId('event-view').getAttribute('data-event-id')) === E.a.eventIds[0], 'not the latest event');
    assert((await page.getByTestId('event-position').innerText()).startsWith('1 of'), 'position');
    // The chain: the raised exception first, then its cause.
    const types = await page.$$eval('[data-testid="exception"]', (els) => els.map((e) => e.dataset.type));
    assert(JSON.stringify(types) === JSON.stringify(['ZeroDivisionError', 'JSONDecodeError']), `exceptions ${types}`);
    const raised = page.locator('[data-testid="exception"]').first();
    const cause = page.locator('[data-testid="exception"]').nth(1);
    const visibleFrames = (exc) => exc.locator(':scope > [data-testid="frames"] > [data-testid="frame"]').evaluateAll((els) => els.map((e) => e.dataset.function));
    const toggles = (exc) => exc.locator(':scope > [data-testid="frames"] > li > [data-testid="library-toggle"]');
    // Most recent call first: the in-app frames, then the Flask frames collapsed in one row.
    assert(JSON.stringify(await visibleFrames(raised)) === JSON.stringify(E.a.inAppFrames), `raised frames ${await visibleFrames(raised)}`);
    assert((await toggles(raised).count()) === 1 && /2 library frames/.test(await toggles(raised).innerText()), 'the Flask frames are not one collapsed row');
    const lastIsToggle = await raised.locator(':scope > [data-testid="frames"] > li').last().evaluate((li) => li.classList.contains('lib-group'));
    assert(lastIsToggle, 'the library frames are not after the in-app frames');
    // The crashing in-app frame is open on its source lines.
    const ctx = await raised.locator('[data-testid="context-lines"]').first().innerText();
    assert(ctx.includes(E.a.contextLine), `context lines: ${ctx}`);
    const current = await raised.locator('.ctx-line.current').first().innerText();
    assert(current.includes(E.a.contextLine) && current.includes('17'), `current line: ${current}`);
    // The cause raised inside the JSON library: its library frames come first, collapsed.
    assert(JSON.stringify(await visibleFrames(cause)) === JSON.stringify(E.a.causeFrames.inApp), `cause frames ${await visibleFrames(cause)}`);
    assert((await cause.locator(':scope > [data-testid="frames"] > li').first().evaluate((li) => li.classList.contains('lib-group'))), 'cause: the json frames are not first');
    // Opening the collapsed row with the keyboard shows the Flask frames.
    await toggles(raised).focus();
    await page.keyboard.press('Enter');
    const all = await raised.locator('[data-testid="frame"]').evaluateAll((els) => els.map((e) => e.dataset.function));
    assert(JSON.stringify(all) === JSON.stringify([...E.a.inAppFrames, ...E.a.libraryFrames]), `expanded frames ${all}`);
    // Oldest call first reverses the order.
    await page.getByTestId('frames-oldest-first').click();
    const oldest = await visibleFrames(raised);
    assert(oldest[oldest.length - 1] === 'total', `oldest first ends with ${oldest}`);
    await page.getByTestId('frames-newest-first').click();
    // Breadcrumbs, tags, request, user.
    const crumbs = await page.$$eval('[data-testid="breadcrumb"]', (els) => els.map((e) => e.textContent));
    assert(crumbs.length === E.a.breadcrumbs.length && E.a.breadcrumbs.every((b, i) => crumbs[i].includes(b)), `breadcrumbs ${JSON.stringify(crumbs)}`);
    const tags = await page.getByTestId('event-tags').innerText();
    assert(tags.includes('browser=Chrome 126'), `tags: ${tags}`);
    const req = await page.getByTestId('event-request').innerText();
    assert(req.includes('POST') && req.includes('http://shop.example/checkout') && req.includes('[Filtered]') && !req.includes('secret-token'), `request: ${req}`);
    assert((await page.getByTestId('event-user').innerText()).includes('u1@shop.example'), 'user');
    await page.evaluate(() => document.querySelector('main').scrollTo(0, 0));
    await shot('issue');
    await page.getByTestId('breadcrumbs').scrollIntoViewIfNeeded();
    await page.getByTestId('breadcrumbs').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot('issue-breadcrumbs');
  });

  await check('errors: paging through the events of an issue, and a reload on one', async () => {
    await page.goto(`${base}/errors/${ids.a}`);
    const shown = () => page.getByTestId('event-view').getAttribute('data-event-id');
    await page.getByTestId('event-view').waitFor({ timeout: 10000 });
    assert((await page.getByTestId('event-newer').isDisabled()), 'Newer is enabled on the latest event');
    for (let i = 1; i < E.a.eventIds.length; i++) {
      await page.getByTestId('event-older').click();
      await page.waitForURL(new RegExp(`event=${E.a.eventIds[i]}`));
      await page.waitForFunction((id) => document.querySelector('[data-testid="event-view"]')?.dataset.eventId === id, E.a.eventIds[i], { timeout: 10000 });
    }
    assert((await page.getByTestId('event-older').isDisabled()), 'Older is enabled on the oldest event');
    // An event without context lines or a trace says so rather than showing empty boxes.
    assert((await page.locator('[data-testid="context-lines"]').count()) === 0, 'the oldest event has no context lines');
    await page.reload();
    await page.waitForFunction((id) => document.querySelector('[data-testid="event-view"]')?.dataset.eventId === id, E.a.eventIds.at(-1), { timeout: 10000 });
    // The event may show (fetched alone) before the pages of events that give its position
    // have been read ("looking…" meanwhile): wait for the position rather than read it once.
    await page.waitForFunction((n) => document.querySelector('[data-testid="event-position"]')?.textContent?.startsWith(`${n} of`), E.a.eventIds.length, { timeout: 10000 })
      .catch(async () => assert(false, `position after reload: ${await page.getByTestId('event-position').innerText()}`));
    await page.getByTestId('event-newer').click();
    await page.waitForFunction((id) => document.querySelector('[data-testid="event-view"]')?.dataset.eventId === id, E.a.eventIds.at(-2), { timeout: 10000 });
    await page.getByTestId('event-newest').click();
    await page.waitForURL(new RegExp(`/errors/${ids.a}$`));
    assert((await shown()) === E.a.eventIds[0], 'Latest');
  });

  await check('errors: the event links to its trace, whose failed span links back to the issue', async () => {
    await page.goto(`${base}/errors/${ids.a}`);
    await page.getByTestId('event-trace-link').click();
    await page.waitForURL(new RegExp(`/traces/${E.a.trace.traceId}\\?span=${E.a.trace.errSpan}`));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="span-row"]').length === 3, null, { timeout: 10000 });
    const detail = page.getByTestId('span-detail');
    await detail.waitFor();
    assert((await detail.innerText()).includes('cart.total'), 'the selected span is not the failed one');
    const link = detail.getByTestId('span-issue-link');
    await link.waitFor({ timeout: 10000 });
    assert((await link.innerText()).includes(E.a.title), `span issue link: ${await link.innerText()}`);
    // The trace's header lists the issue too.
    assert((await page.getByTestId('trace-issue-link').count()) === 1, 'trace header issue links');
    await shot('trace-issue');
    await link.click();
    await page.waitForURL(new RegExp(`/errors/${ids.a}$`));
    await page.getByTestId('event-view').waitFor({ timeout: 10000 });
    // An OpenTelemetry exception on a span (seed.mjs's charge span) links to its issue too.
    const kt = expected.knownTrace;
    const charge = kt.spans.find((s) => s.name === 'charge');
    await page.goto(`${base}/traces/${kt.traceId}?span=${charge.id}`);
    const otel = page.getByTestId('span-detail').getByTestId('span-issue-link');
    await otel.waitFor({ timeout: 10000 });
    assert((await otel.innerText()).includes('SocketTimeoutException'), `charge span issue: ${await otel.innerText()}`);
    await otel.click();
    await page.waitForURL(/\/errors\/[0-9a-f]+$/);
    await page.getByTestId('event-view').waitFor({ timeout: 10000 });
    const raw = await page.locator('[data-testid="frame"]').evaluateAll((els) => els.map((e) => e.dataset.function));
    assert(raw.includes('charge'), `the OpenTelemetry event's parsed frames: ${raw}`);
  });

  await check('errors: the logs around the event, for its service', async () => {
    await page.goto(`${base}/errors/${ids.a}`);
    await page.getByTestId('event-logs-link').click();
    await page.waitForURL(/\/logs\?service=shop-api&from=\d{4}-.*&to=\d{4}-/);
    await page.waitForFunction((line) => [...document.querySelectorAll('[data-testid="log-row"]')].some((r) => r.textContent.includes(line)), E.a.logLine, { timeout: 10000 });
  });

  await check('errors: status changes persist after a reload', async () => {
    const status = () => page.getByTestId('issue-status').first().innerText();
    const waitStatus = (s) => page.waitForFunction((want) => document.querySelector('[data-testid="issue-status"]')?.dataset.status === want, s, { timeout: 10000 })
      .catch(async () => { throw new Error(`status ${await status()}, want ${s}`); });
    await page.goto(`${base}/errors/${ids.b}`);
    await page.getByTestId('issue-resolve').click();
    await waitStatus('resolved');
    await page.reload();
    await waitStatus('resolved');
    assert((await page.getByTestId('issue-unresolve').count()) === 1, 'no Unresolve on a resolved issue');
    // The list hides it among the unresolved and shows it among the resolved.
    const unresolved = await waitListed(`/errors?service=${E.b.service}&status=resolved`, 1);
    assert(unresolved[0].status === 'resolved', `listed as ${unresolved[0].status}`);
    await page.goto(`${base}/errors?service=${E.b.service}`);
    await page.getByTestId('errors-empty').waitFor({ timeout: 10000 });
    // Unresolve, then ignore for 24 hours.
    await page.goto(`${base}/errors/${ids.b}`);
    await page.getByTestId('issue-unresolve').click();
    await waitStatus('unresolved');
    await page.getByTestId('issue-ignore-for').selectOption('24h');
    await page.getByTestId('issue-ignore').click();
    await waitStatus('ignored');
    await page.reload();
    await waitStatus('ignored');
    assert(/until/.test(await page.getByTestId('issue-status-note').innerText()), 'the ignore note has no end');
    await page.getByTestId('issue-unresolve').click();
    await waitStatus('unresolved');
    // Resolve in the next release: events of shop@1.3.0 do not reopen it.
    await page.goto(`${base}/errors/${ids.a}`);
    await page.getByTestId('issue-resolve-next').click();
    await waitStatus('resolved');
    await page.reload();
    await waitStatus('resolved');
    const note = await page.getByTestId('issue-status-note').innerText();
    assert(note.includes('shop@1.3.0'), `resolved in next release note: ${note}`);
    await page.getByTestId('issue-unresolve').click();
    await waitStatus('unresolved');
  });

  await check('errors: an unknown issue shows the API error plainly', async () => {
    await page.goto(`${base}/errors/00000000000000000000000000000000`);
    const box = page.locator('.error-box');
    await box.waitFor({ timeout: 10000 });
    assert((await box.innerText()).includes('not found'), 'says not found');
  }, { allow: [/status of 404/] });
}
