// Drives ferry's web console in headless Chromium (Playwright), against a real daemon and
// the fake OpenRouter started by tests/e2e/console.rs, which scripts the fake's replies in
// the order of the steps below. Every step asserts what a user would see; a failure exits
// non-zero with the step's name. Screenshots of every page (1440 px and 390 px wide) go to
// $ARTIFACTS.
//
// Environment: FERRY_URL, FERRY_TOKEN, ARTIFACTS, WAV_FILE, PNG_FILE, CHROMIUM (browser binary).

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';

const base = process.env.FERRY_URL;
const token = process.env.FERRY_TOKEN;
const artifacts = process.env.ARTIFACTS;
const wavFile = process.env.WAV_FILE;
const pngFile = process.env.PNG_FILE;
const PAGES = ['', 'sessions', 'runs', 'assets', 'spend', 'keys', 'models'];
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
const page = await context.newPage();
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));
page.on('dialog', (d) => d.accept());

let current = '';
async function step(name, fn) {
  current = name;
  const t = Date.now();
  await fn();
  console.log(`ok  ${name} (${Date.now() - t} ms)`);
}

async function shot(name) {
  await page.screenshot({ path: `${artifacts}/${name}-1440.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${artifacts}/${name}-390.png`, fullPage: true });
  // Nothing may overflow sideways at 390 px (tables scroll inside their own box).
  const [overflow, culprits] = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > width + 1)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`);
    return [document.documentElement.scrollWidth - width, wide];
  });
  assert.ok(overflow <= 1, `${name}: the page is ${overflow}px wider than a 390 px screen: ${culprits.join(', ')}`);
  await page.setViewportSize({ width: 1440, height: 900 });
}

/** Sends an input on the open session and returns the live answer's locator. */
async function send(text) {
  const before = await page.locator('li.msg-assistant').count();
  await page.fill('#content', text);
  await page.click('#send-button');
  const answer = page.locator('li.msg-assistant').nth(before);
  await answer.waitFor();
  return answer;
}

try {
  await step('without a cookie every page redirects to sign-in', async () => {
    for (const p of PAGES) {
      const resp = await page.goto(`${base}/ui/${p}`);
      assert.equal(new URL(page.url()).pathname, '/ui/sign-in', p);
      assert.equal(new URL(page.url()).searchParams.get('next'), `/ui/${p}`);
      assert.equal(resp.status(), 200);
    }
  });

  await step('sign in', async () => {
    await page.goto(`${base}/ui/sign-in?next=/ui/sessions`);
    await shot('sign-in');
    await page.fill('#credential', 'not-the-token-at-all');
    await page.click('#sign-in button[type=submit]');
    await page.locator('#sign-in-error').waitFor();
    assert.match(await page.textContent('#sign-in-error'), /unauthorized|not accepted/);
    await page.fill('#credential', token);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/ui/sessions`);
    const cookies = await context.cookies();
    const c = cookies.find((x) => x.name === 'ferry_console');
    assert.ok(c, 'session cookie set');
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, 'Strict');
    assert.ok(!c.value.includes(token), 'the cookie is not the token');
    assert.equal(await page.evaluate(() => document.cookie.includes('ferry_console')), false, 'HttpOnly: scripts cannot read it');
  });

  await step('send an input and see the streamed answer appear in pieces', async () => {
    await page.fill('#new-id', 'web-1');
    await page.click('#new-session button');
    await page.locator('#send').waitFor();
    await page.evaluate(() => {
      // Record every state of the answer text as it changes (no timing involved).
      window.snapshots = [];
      new MutationObserver(() => {
        const a = document.querySelector('li.msg-assistant .answer');
        if (a && window.snapshots.at(-1) !== a.textContent) window.snapshots.push(a.textContent);
      }).observe(document.getElementById('transcript'), { subtree: true, childList: true, characterData: true });
      // Layout shifts not caused by the user's own input (the Layout Instability API).
      window.shifts = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (!e.hadRecentInput) window.shifts.push(e.value);
      }).observe({ type: 'layout-shift' });
    });
    const answer = await send('Tell me about foxes');
    await answer.locator('.badge.status-completed').waitFor();
    const final = await answer.locator('.answer').textContent();
    assert.equal(final, 'Foxes are small omnivores with bushy tails and sharp ears.');
    const snapshots = await page.evaluate(() => window.snapshots);
    const partial = snapshots.filter((s) => s.length > 0 && s.length < final.length);
    assert.ok(partial.length >= 2, `the answer grew in pieces: ${JSON.stringify(snapshots)}`);
    for (const s of partial) assert.ok(final.startsWith(s), `each piece extends the text: ${s}`);
    assert.deepEqual(await page.evaluate(() => window.shifts), [], 'nothing moved while the answer streamed');
    // The session is listed and its transcript reloads from the API.
    await page.reload();
    await page.locator('li.msg-assistant .text', { hasText: 'bushy tails' }).waitFor();
    await page.locator('a[data-session="web-1"]').waitFor();
  });

  let imageId = '';
  await step('ask for an image through the tool loop: shown in the transcript', async () => {
    const answer = await send('Draw me a fox');
    await answer.locator('.badge.status-completed').waitFor();
    assert.match(await answer.locator('.activity').textContent(), /generate_image/);
    const img = answer.locator('img[data-asset]').first();
    await img.waitFor();
    imageId = await img.getAttribute('data-asset');
    await page.waitForFunction((id) => {
      const i = document.querySelector(`li.msg-assistant img[data-asset="${id}"]`);
      return i && i.complete && i.naturalWidth > 0;
    }, imageId);
    assert.match(await answer.locator('.answer').textContent(), /Here is your fox/);
    await shot('sessions');
  });

  await step('send an input with a file attached: the image is in the transcript', async () => {
    await page.setInputFiles('#files', pngFile);
    const answer = await send('What is in this picture?');
    await answer.locator('.badge.status-completed').waitFor();
    assert.match(await answer.locator('.answer').textContent(), /dark blue square/);
    await page.waitForFunction(() => {
      const i = [...document.querySelectorAll('li.msg-user img[data-asset]')].at(-1);
      return i && i.complete && i.naturalWidth === 8;
    });
  });

  await step('a failed run shows its code and message', async () => {
    const answer = await send('This one fails');
    const error = answer.locator('.run-error');
    await error.waitFor();
    assert.match(await error.textContent(), /upstream_\w+: .*the model is overloaded/);
    await page.goto(`${base}/ui/runs?status=failed`);
    await page.locator('#run-list a[data-run]').first().click();
    const detail = page.locator('#run-detail .run-error');
    await detail.waitFor();
    assert.match(await detail.locator('.error-code').textContent(), /^upstream_\w+$/);
    assert.match(await detail.locator('.error-message').textContent(), /the model is overloaded/);
    await page.locator('#timeline li[data-kind="run.failed"]').waitFor();
    await shot('runs');
    await page.goto(`${base}/ui/`);
    await page.locator('#failures tbody code.bad').first().waitFor();
    assert.match(await page.locator('#failures tbody').textContent(), /the model is overloaded/);
    await page.locator('#routes tbody tr').first().waitFor();
    assert.match(await page.locator('#routes tbody').textContent(), /openrouter/);
    await shot('overview');
  });

  await step('a run in flight: listed on the overview, cancelled from the runs page', async () => {
    // The history arrives late (as on a loaded machine): the form must wait for it, or the
    // input would land above the history and `send` would pick an old answer.
    const history = `${base}/v1/sessions/web-1/runs?limit=100`;
    await page.route(history, async (route) => {
      await new Promise((done) => setTimeout(done, 1500));
      await route.continue();
    });
    await page.goto(`${base}/ui/sessions?id=web-1`);
    await page.locator('#send:not([hidden])').waitFor();
    await page.unroute(history);
    assert.ok(await page.locator('li.msg-assistant').count() >= 4, 'the history is shown before the form');
    const answer = await send('Take your time');
    await answer.locator('.answer', { hasText: 'Thinking' }).waitFor();
    const runId = await answer.getAttribute('data-run');
    await page.goto(`${base}/ui/`);
    await page.locator(`#in-flight a[href="/ui/runs?id=${runId}"]`).click();
    await page.waitForURL(`${base}/ui/runs?id=${runId}`);
    await page.locator('#cancel').click();
    await page.locator('#run-detail .badge.status-cancelled').waitFor();
    await page.locator('#timeline li[data-kind="run.cancelled"]').waitFor();
  });

  await step('the image is in the gallery; an uploaded audio asset plays', async () => {
    await page.goto(`${base}/ui/assets`);
    await page.waitForFunction((id) => {
      const i = document.querySelector(`#gallery img[data-asset="${id}"]`);
      return i && i.complete && i.naturalWidth > 0;
    }, imageId);
    await page.setInputFiles('#upload', wavFile);
    const audio = page.locator('#gallery audio[data-asset]').first();
    await audio.waitFor();
    const duration = await audio.evaluate(async (a) => {
      if (a.readyState < 1) await new Promise((ok, bad) => { a.addEventListener('loadedmetadata', ok, { once: true }); a.addEventListener('error', () => bad(new Error(`audio error ${a.error?.code}`)), { once: true }); a.load(); });
      await a.play();
      return a.duration;
    });
    assert.ok(duration > 0.4 && duration < 0.6, `audio duration ${duration}`);
    const href = await page.locator('#gallery li', { has: page.locator(`img[data-asset="${imageId}"]`) }).locator('a.download').getAttribute('href');
    assert.equal(href, `/v1/assets/${imageId}/raw`);
    await shot('assets');
    // Delete the audio asset.
    const count = await page.locator('#gallery audio').count();
    await page.locator('#gallery li', { has: page.locator('audio') }).first().locator('button.delete').click();
    await page.waitForFunction((n) => document.querySelectorAll('#gallery audio').length === n - 1, count);
  });

  await step('create a key: secret shown once, listed, revoked', async () => {
    await page.goto(`${base}/ui/keys`);
    // The key made by the Rust side spent $0.25 of its $1 budget: a quarter-full bar.
    const spender = page.locator('#keys tbody tr', { hasText: 'spender' });
    await spender.waitFor();
    assert.match(await spender.textContent(), /\$0\.25 of \$1\.00 per month/);
    assert.equal(await spender.locator('[role=meter]').getAttribute('aria-valuenow'), '0.25');
    assert.equal(await spender.locator('[role=meter] > span').evaluate((s) => s.style.width), '25%');
    await page.fill('#name', 'console-e2e');
    await page.fill('#budget', '5');
    await page.check('input[name=scope][value=sessions]');
    await page.click('#create button[type=submit]');
    await page.locator('#secret:not([hidden])').waitFor();
    const secret = await page.textContent('#secret-value');
    assert.match(secret, /^fk-[A-Za-z0-9_-]{40,}$/);
    const row = page.locator('#keys tbody tr', { hasText: 'console-e2e' });
    await row.waitFor();
    assert.match(await row.textContent(), /of \$5\.00 per month/);
    await row.locator('[role=meter]').waitFor();
    await shot('keys');
    await page.click('#dismiss-secret');
    assert.equal(await page.isHidden('#secret'), true);
    assert.ok(!(await page.content()).includes(secret), 'gone from the page once dismissed');
    await page.reload();
    await row.waitFor();
    assert.ok(!(await page.content()).includes(secret), 'never shown again');
    const listed = await page.evaluate(async () => (await fetch('/v1/keys')).text());
    assert.ok(!listed.includes(secret), 'the API never returns it again');
    await row.locator('button.revoke').click();
    await page.locator('#keys tbody tr', { hasText: 'console-e2e' }).locator('.key-state', { hasText: 'revoked' }).waitFor();
  });

  await step('the spend chart shows bars for the runs just made', async () => {
    await page.goto(`${base}/ui/spend`);
    const seg = page.locator('#chart svg rect.seg');
    await seg.first().waitFor();
    const series = await seg.evaluateAll((rs) => rs.map((r) => [r.dataset.series, Number(r.dataset.cost), Number(r.getAttribute('height'))]));
    assert.ok(series.some(([s, c, h]) => s.includes('gpt-5.4-mini') && c > 0 && h > 0), JSON.stringify(series));
    const days = await page.locator('#chart svg g.day').count();
    assert.equal(days, 1, 'all the runs were today');
    assert.ok((await page.locator('#spend-table tbody tr').count()) >= 1);
    await page.selectOption('#split', 'route');
    await page.locator('#chart svg rect.seg[data-series="openrouter"]').waitFor();
    await shot('spend');
  });

  await step('models: the catalog filters by modality', async () => {
    await page.goto(`${base}/ui/models`);
    await page.locator('#models tbody tr').first().waitFor();
    const all = await page.locator('#models tbody tr').count();
    await page.selectOption('#modality', 'image');
    await page.waitForFunction((n) => document.querySelectorAll('#models tbody tr').length < n, all);
    for (const out of await page.locator('#models tbody tr').evaluateAll((rs) => rs.map((r) => r.textContent))) {
      assert.match(out, /image/);
    }
    // Price and context length: at most $1 per million prompt tokens, at least 200k context.
    await page.selectOption('#modality', '');
    await page.fill('#max-price', '1');
    await page.fill('#min-context', '200000');
    await page.click('#filter button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#models tbody tr').length === 1);
    assert.equal(await page.locator('#models tbody tr').getAttribute('data-model'), 'openai/gpt-5.4-mini');
    await shot('models');
  });

  await step('keyboard: skip link and navigation reach the page', async () => {
    await page.goto(`${base}/ui/`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), '/ui/');
  });

  await step('sign out', async () => {
    await page.click('#sign-out');
    await page.waitForURL(/\/ui\/sign-in/);
    await page.goto(`${base}/ui/keys`);
    assert.equal(new URL(page.url()).pathname, '/ui/sign-in');
  });

  const csp = consoleErrors.filter((e) => /Content Security Policy|Refused to/.test(e));
  assert.deepEqual(csp, [], 'no CSP violations');
  console.log('all console steps passed');
} catch (err) {
  console.error(`FAILED step "${current}": ${err.stack ?? err}`);
  console.error(`browser console errors: ${JSON.stringify(consoleErrors)}`);
  try { await page.screenshot({ path: `${artifacts}/failure.png`, fullPage: true }); } catch {}
  process.exitCode = 1;
} finally {
  await browser.close();
}
