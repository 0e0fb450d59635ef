// Browser checks of the Profiles page (run by checks.mjs on the server seeded by
// seed-profiles.mjs): the flame graph names the seeded functions with their share, search
// highlights frames and shows the matched share, a click zooms in and "Reset zoom" zooms
// out, the sandwich of a function shows its callers and the spans that ran it, the diff
// colours the grown function red and the shrunk one green, and "Profile of this span" in
// the trace view opens the flame graph of that span's samples. Frames are SVG elements
// carrying their name, share (of the root) and width (of the drawing) in data attributes.
export async function profileChecks({ page, base, expected, check, assert, shot }) {
  const P = expected.profiles;
  if (!P) throw new Error('expected.json has no profiles: run seed-profiles.mjs');
  const query = `{service_name="${P.service}"}`;
  // The type the folded .cpu profiles were stored as: the one whose flame graph of shop-api
  // has main.checkoutWork (a CPU type, whatever its unit).
  const api = async (path, params) => {
    const res = await fetch(`${base}/api/loupe/v1/profiles/${path}?${new URLSearchParams(params)}`);
    const body = await res.json();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body.status === 'success' ? body.data : body;
  };
  let type = '';
  const frames = () =>
    page.$$eval('[data-testid="flamegraph"] [data-testid="flame-frame"]', (els) =>
      els.map((e) => ({ name: e.dataset.name, share: Number(e.dataset.share), width: Number(e.dataset.width), match: e.dataset.match, change: e.dataset.change, fill: e.dataset.fill })),
    );
  const frame = async (name) => (await frames()).find((f) => f.name === name);
  const waitFrame = (name, testId = 'flamegraph') =>
    page.locator(`[data-testid="${testId}"] [data-testid="flame-frame"][data-name="${name}"]`).first().waitFor({ timeout: 15000 });
  // hoverTip hovers the frame named name and returns its tooltip's text. A frame the page
  // moves under the mouse (a late layout change) loses its tooltip: hover again, up to 5 times.
  const hoverTip = async (name) => {
    const tooltip = page.getByTestId('flame-tooltip');
    for (let i = 0; ; i++) {
      await page.locator(`[data-testid="flamegraph"] [data-name="${name}"]`).first().hover();
      try {
        await tooltip.waitFor({ timeout: 3000 });
        return await tooltip.innerText({ timeout: 3000 });
      } catch (e) {
        if (i >= 4) throw e;
        await page.mouse.move(0, 0);
      }
    }
  };
  const near = (got, want, what) => assert(Math.abs(got - want) <= 0.1 * want, `${what}: ${got}, want ${want.toFixed(3)} (±10%)`);

  await check('profiles: the flame graph and the top table name the seeded functions with their share', async () => {
    const { types } = await api('types', { start: 'now-1h', end: 'now' });
    for (const t of [...types].sort((a, b) => (b.sample_type === 'cpu') - (a.sample_type === 'cpu'))) {
      const g = await api('flamegraph', { type: t.id, query, start: 'now-1h', end: 'now' });
      if (g.top.some((r) => r.function === 'main.checkoutWork')) {
        type = t.id;
        break;
      }
    }
    assert(type, `no profile type has main.checkoutWork for ${query}: types ${JSON.stringify(types.map((t) => t.id))}`);
    await page.goto(`${base}/profiles?${new URLSearchParams({ type, query })}`);
    await waitFrame('main.checkoutWork');
    near((await frame('main.checkoutWork')).share, P.checkoutWorkShare, 'main.checkoutWork share');
    near((await frame('main.allocHeavy')).share, P.allocHeavyShare, 'main.allocHeavy share');
    assert((await frame('total')).width === 1, 'the root is not full width');
    const row = page.locator('[data-testid="top-row"][data-function="main.checkoutWork"]');
    const selfText = await row.getByTestId('top-self').innerText();
    assert(/\b50%/.test(selfText), `top table self of main.checkoutWork: ${selfText}, want 50%`);
    // The series chart drawn after the flame graph may move it from under the mouse,
    // which hides the tooltip (mouse leave): hover once the page is laid out.
    await page.getByTestId('profile-series').locator('canvas').first().waitFor({ timeout: 10000 });
    const tip = await hoverTip('main.checkoutWork');
    assert(tip.includes('main.checkoutWork') && /self: .*\(50%\)/.test(tip) && /total: .*\(50%\)/.test(tip), `tooltip: ${tip}`);
    await shot('profiles');
  });

  await check('profiles: search highlights matching frames and shows the matched share', async () => {
    assert(type, 'no type (the first check failed)');
    await page.getByTestId('flame-search').fill('alloc');
    await page.waitForURL(/search=alloc/);
    await page.getByTestId('flame-matched').waitFor();
    const matched = (await frames()).filter((f) => f.match === '1').map((f) => f.name).sort();
    assert(JSON.stringify(matched) === JSON.stringify(['main.allocHeavy', 'runtime.mallocgc']), `highlighted frames: ${matched}`);
    const m = await page.getByTestId('flame-matched').innerText();
    // mallocgc is inside allocHeavy: the matched share counts it once.
    assert(m.includes(`${Math.round(P.allocHeavyShare * 100)}%`), `matched share: ${m}, want ${(P.allocHeavyShare * 100).toFixed(1)}%`);
    const rows = await page.$$eval('[data-testid="top-row"]', (els) => els.map((e) => e.dataset.function).sort());
    assert(JSON.stringify(rows) === JSON.stringify(['main.allocHeavy', 'runtime.mallocgc']), `top table while searching: ${rows}`);
    await shot('profiles-search');
    await page.getByTestId('flame-search').fill('');
    await page.waitForURL((u) => !u.searchParams.has('search'));
  });

  await check('profiles: a click zooms in on a frame, reset zooms out', async () => {
    assert(type, 'no type (the first check failed)');
    await page.locator('[data-testid="flamegraph"] [data-name="main.handle"]').click();
    await page.waitForURL(/zoom=main\.main%3Bmain\.handle|zoom=main\.main;main\.handle/);
    await page.waitForFunction(() => document.querySelector('[data-testid="flamegraph"] [data-name="main.handle"]')?.dataset.width === '1.0000');
    const f = await frames();
    assert(!f.some((x) => x.name === 'runtime.gcBgMarkWorker'), 'a sibling of the zoomed frame is still drawn');
    // main.handle has 2600 of the samples; checkoutWork 1400 of them.
    near(f.find((x) => x.name === 'main.checkoutWork').width, 1400 / 2600, 'main.checkoutWork width when zoomed');
    await page.getByTestId('flame-reset').click();
    await page.waitForURL((u) => !u.searchParams.has('zoom'));
    await waitFrame('runtime.gcBgMarkWorker');
    near((await frame('main.checkoutWork')).width, P.checkoutWorkShare, 'main.checkoutWork width after reset');
  });

  await check('profiles: the sandwich of a function shows its callers and callees', async () => {
    assert(type, 'no type (the first check failed)');
    await page.locator('[data-testid="top-row"][data-function="main.allocHeavy"]').click();
    await page.waitForURL(/fn=main\.allocHeavy/);
    await waitFrame('main.handle', 'sandwich-callers');
    await waitFrame('runtime.mallocgc', 'sandwich-callees');
    const callers = await page.$$eval('[data-testid="sandwich-callers"] [data-testid="flame-frame"]', (els) => els.map((e) => e.dataset.name));
    assert(JSON.stringify(callers) === JSON.stringify(['main.allocHeavy', 'main.handle', 'main.main']), `callers: ${callers}`);
    await shot('profiles-sandwich');
    await page.getByTestId('sandwich-close').click();
    await page.waitForURL((u) => !u.searchParams.has('fn'));
  });

  await check('profiles: the diff colours the grown function red and the shrunk one green', async () => {
    assert(type, 'no type (the first check failed)');
    const p = { type, query, view: 'diff', sort: 'change', left_query: query, left_from: P.left.from, left_to: P.left.to, right_query: query, right_from: P.right.from, right_to: P.right.to };
    await page.goto(`${base}/profiles?${new URLSearchParams(p)}`);
    await waitFrame('main.allocHeavy');
    const grown = await frame('main.allocHeavy');
    const shrunk = await frame('main.checkoutWork');
    assert(grown.change === 'grew' && /^rgb\((\d+),/.test(grown.fill) && Number(grown.fill.match(/\d+/g)[0]) > 200, `main.allocHeavy: ${JSON.stringify(grown)}, want red (grew)`);
    const [r, gr] = shrunk.fill.match(/\d+/g).map(Number);
    assert(shrunk.change === 'shrank' && gr > r, `main.checkoutWork: ${JSON.stringify(shrunk)}, want green (shrank)`);
    const row = await page.locator('[data-testid="top-row"]').first().getAttribute('data-function');
    assert(row === 'main.allocHeavy' || row === 'runtime.mallocgc', `the diff table sorted by change starts with ${row}`);
    const tip = await hoverTip('main.checkoutWork');
    assert(/left: .*\(70%\)/.test(tip) && /shrank/.test(tip), `diff tooltip: ${tip}`);
    await shot('profiles-diff');
  });

  await check('profiles: "Profile of this span" in the trace view opens that span\'s flame graph', async () => {
    assert(P.span, 'no span profile seeded (no known trace)');
    await page.goto(`${base}/traces/${P.span.traceId}`);
    await page.locator(`[data-span-id="${P.span.id}"]`).click();
    await page.getByTestId('span-profile-link').click();
    await page.waitForURL(new RegExp(`/profiles\\?.*span_id=${P.span.id}`));
    await page.getByTestId('profile-span-filter').waitFor();
    await waitFrame(P.span.fn);
    near((await frame(P.span.fn)).share, P.span.share, `${P.span.fn} share in the span's profile`);
    assert(!(await frame('main.checkoutWork')), 'the span profile shows samples of other spans');
    await shot('profiles-span');
  });

  await check('profiles: the sandwich of a function lists the spans that ran it, linking to their profiles', async () => {
    assert(P.span, 'no span profile seeded (no known trace)');
    await page.goto(`${base}/profiles?${new URLSearchParams({ query: '{service_name="payments"}', fn: P.span.fn })}`);
    const link = page.getByTestId('fn-span-link').first();
    await link.waitFor({ timeout: 15000 });
    const text = await link.innerText();
    assert(text.includes(P.span.id) && text.includes('charge'), `spans of ${P.span.fn}: ${text}`);
    await link.click();
    await page.waitForURL(new RegExp(`span_id=${P.span.id}`));
    await waitFrame(P.span.fn);
  });
}

/** profilesEmptyCheck: before any profile arrives the page says where to push them. */
export async function profilesEmptyCheck({ page, base, check, assert }) {
  await check('empty profiles: shows how to push profiles, with the real address', async () => {
    const http = process.env.LOUPE_HTTP;
    assert(http, 'LOUPE_HTTP must be set');
    await page.goto(`${base}/profiles`);
    const box = page.getByTestId('profiles-empty');
    await box.waitFor({ timeout: 10000 });
    await page.waitForFunction((h) => (document.querySelector('[data-testid="profiles-empty"]')?.innerText ?? '').includes(`http://${h}/ingest`), http, { timeout: 10000 })
      .catch(async () => { throw new Error(`empty profiles state lacks http://${http}/ingest: ${(await box.innerText()).slice(0, 300)}`); });
  });
}
