// The gallery page in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core).
// Run through scripts/e2e, which starts sdgate on the embedded tiny model and sets:
//   SDGATE_URL   base URL of the server (e.g. http://127.0.0.1:40123)
//   SDGATE_AUTH  user:password when the server runs with --api-auth (optional)
//   E2E_OUT      folder for screenshots (optional)
//   CHROMIUM     the browser binary (default /usr/bin/chromium)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = (process.env.SDGATE_URL || 'http://127.0.0.1:7860').replace(/\/$/, '');
const AUTH = process.env.SDGATE_AUTH || '';
const OUT = process.env.E2E_OUT || '';
const RUN = Date.now().toString(36);
const FOX = `e2e red fox ${RUN}`;
const WHALE = `e2e blue whale ${RUN}`;

const authHeader = AUTH ? { authorization: `Basic ${Buffer.from(AUTH).toString('base64')}` } : {};
async function apiJson(p, opts = {}) {
  const res = await fetch(BASE + p, { ...opts, headers: { ...authHeader, ...(opts.headers || {}) } });
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? await res.json() : null };
}

let context;
let page;
let userDataDir;
const consoleErrors = [];

async function shot(name) {
  if (!OUT) return;
  fs.mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: false });
}

before(async () => {
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdgate-e2e-chromium-'));
  const [user, ...pass] = AUTH.split(':');
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
    locale: 'en-US',
    acceptDownloads: true,
    httpCredentials: AUTH ? { username: user, password: pass.join(':') } : undefined,
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  // A live preview at every step, so that even a fast machine shows one while the job runs.
  const opts = await apiJson('/sdapi/v1/options', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ show_progress_every_n_steps: 1 }),
  });
  assert.equal(opts.status, 200);
  page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20_000);
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('dialog', (d) => d.accept());
});

after(async () => {
  if (context) await context.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

test('the page loads in English with the generate form filled from the server', async () => {
  const res = await page.goto(`${BASE}/`);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-security-policy'] || '', /default-src 'self'/);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.waitForFunction(() => document.querySelectorAll('select[name=sampler_name] option').length > 3);
  const samplers = await page.$$eval('select[name=sampler_name] option', (o) => o.map((x) => x.value));
  assert.ok(samplers.includes('Euler a'), samplers.join(','));
  assert.equal((await page.textContent('#gen-submit')).trim(), 'Generate');
  assert.match(await page.textContent('#model-name'), /tiny/);
});

test('generate from the form: the queue shows progress and a preview, then the images appear', async () => {
  // Record what the queue shows while the job runs (states, progress values, previews).
  await page.evaluate(() => {
    window.__seen = { states: new Set(), progress: new Set(), preview: false };
    const look = () => {
      for (const li of document.querySelectorAll('#queue-list li[data-testid=job]')) {
        window.__seen.states.add(li.dataset.state);
        const bar = li.querySelector('[role=progressbar]');
        if (bar) window.__seen.progress.add(Number(bar.getAttribute('aria-valuenow')));
        const img = li.querySelector('img.preview');
        if (img && img.src.startsWith('data:image/png')) window.__seen.preview = true;
      }
    };
    new MutationObserver(look).observe(document.getElementById('queue-list'), { childList: true, subtree: true, attributes: true });
  });
  const form = page.locator('#gen-form');
  await form.locator('textarea[name=prompt]').fill(FOX);
  await form.locator('textarea[name=negative_prompt]').fill('blurry');
  await form.locator('select[name=sampler_name]').selectOption('Euler a');
  await form.locator('input[name=steps]').fill('30');
  await form.locator('input[name=width]').fill('64');
  await form.locator('input[name=height]').fill('64');
  await form.locator('input[name=seed]').fill('1234');
  await form.locator('input[name=batch_size]').fill('2');
  await form.locator('button[type=submit]').click();
  await page.locator('#queue-list li[data-testid=job]').first().waitFor();
  // A picture of the job while it runs, when the preview comes in time (not an assertion).
  await page.locator('#queue-list li[data-state=running] img.preview').first().waitFor({ timeout: 10_000 })
    .then(() => shot('00-progress'), () => {});
  await page.locator('#queue-list li[data-state=succeeded]').first().waitFor({ timeout: 60_000 });
  const seen = await page.evaluate(() => ({
    states: [...window.__seen.states],
    progress: [...window.__seen.progress],
    preview: window.__seen.preview,
  }));
  assert.ok(seen.states.includes('running'), JSON.stringify(seen));
  assert.ok(seen.progress.some((p) => p > 0 && p < 100), `intermediate progress: ${JSON.stringify(seen)}`);
  assert.ok(seen.preview, `a live preview: ${JSON.stringify(seen)}`);
  const cards = page.locator('#grid figure[data-testid=card]', { has: page.locator(`img[alt="${FOX}"]`) });
  await cards.nth(1).waitFor();
  assert.equal(await cards.count(), 2);
  // The thumbnails load (from /thumb).
  await page.waitForFunction((alt) => [...document.querySelectorAll('#grid img')].filter((i) => i.alt === alt && i.complete && i.naturalWidth > 0).length === 2, FOX);

  // A second job with another prompt and sampler.
  await form.locator('textarea[name=prompt]').fill(WHALE);
  await form.locator('select[name=sampler_name]').selectOption('DPM++ 2M');
  await form.locator('input[name=steps]').fill('6');
  await form.locator('input[name=seed]').fill('99');
  await form.locator('input[name=batch_size]').fill('1');
  await form.locator('button[type=submit]').click();
  await page.locator(`#grid img[alt="${WHALE}"]`).waitFor({ timeout: 60_000 });
  assert.match(await page.textContent('#count'), /3 of 3 images|of \d+ images/);
  await shot('01-gallery-en');
});

test('search and filter find the image', async () => {
  await page.fill('#search', 'whale');
  await page.waitForFunction(() => document.querySelectorAll('#grid figure').length === 1);
  assert.equal(await page.getAttribute('#grid figure img', 'alt'), WHALE);
  await page.fill('#search', 'no-such-words-anywhere');
  await page.locator('#empty').waitFor();
  assert.match(await page.textContent('#empty'), /No image matches/);
  await page.fill('#search', '');
  await page.selectOption('#filter-sampler', 'Euler a');
  await page.waitForFunction(() => document.querySelectorAll('#grid figure').length === 2);
  await page.click('#filter-clear');
  await page.waitForFunction(() => document.querySelectorAll('#grid figure').length === 3);
});

test('the detail view shows the whole infotext; copy and download work', async () => {
  await page.click(`#grid img[alt="${FOX}"] >> nth=0`);
  const dialog = page.locator('#detail');
  await dialog.waitFor({ state: 'visible' });
  const info = await page.textContent('#detail-infotext');
  assert.ok(info.startsWith(`${FOX}\nNegative prompt: blurry\nSteps: 30, Sampler: Euler a`), info);
  assert.match(info, /Seed: 123[45], Size: 64x64, Model hash: [0-9a-f]{10}, Model: tiny/);
  assert.match(await page.textContent('#detail-meta'), /Euler a/);
  await page.waitForFunction(() => {
    const i = document.getElementById('detail-img');
    return i.complete && i.naturalWidth === 64;
  });
  await page.click('#detail-copy');
  await page.locator('#toast', { hasText: 'copied' }).waitFor();
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(clip, info);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#detail-download')]);
  assert.match(download.suggestedFilename(), /^\d{5}-123[45]\.png$/);
  const file = await download.path();
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.subarray(1, 4).toString(), 'PNG');
  assert.ok(bytes.includes(Buffer.from('parameters')), 'the PNG keeps its infotext');
  await shot('02-detail');
  await page.click('#detail-close');
  await dialog.waitFor({ state: 'hidden' });
});

test('two images side by side with their differences', async () => {
  const boxes = page.locator('#grid figure .pick input');
  await boxes.nth(0).check();
  assert.equal(await page.isDisabled('#compare-btn'), true);
  await boxes.nth(1).check();
  assert.equal((await page.textContent('#compare-btn')).trim(), 'Compare (2)');
  await page.click('#compare-btn');
  await page.locator('#compare').waitFor({ state: 'visible' });
  assert.equal(await page.locator('[data-testid=compare-item]').count(), 2);
  const diffKeys = await page.$$eval('#compare-table tr.diff th', (t) => t.map((x) => x.textContent));
  assert.ok(diffKeys.includes('Seed'), diffKeys.join(','));
  assert.ok(diffKeys.includes('Prompt'), diffKeys.join(','));
  const same = await page.$$eval('#compare-table tbody tr:not(.diff) th', (t) => t.map((x) => x.textContent));
  assert.ok(same.includes('Model'), same.join(','));
  await page.check('#compare-only-diff');
  assert.equal(await page.locator('#compare-table tbody tr:not(.diff)').count(), 0);
  await shot('03-compare');
  await page.click('#compare-close');
  await page.click('#select-clear');
});

test('switching to Chinese translates the page and is remembered', async () => {
  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction(() => document.getElementById('gen-submit').textContent.trim() === '生成');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal(await page.getAttribute('#search', 'placeholder'), '搜索提示词…');
  assert.match(await page.textContent('#count'), /显示 \d+ \/ 共 \d+ 张图像/);
  assert.match(await page.textContent('#queue-list'), /完成/);
  await page.reload();
  await page.waitForFunction(() => document.getElementById('gen-submit').textContent.trim() === '生成');
  await page.waitForFunction(() => document.querySelectorAll('#grid figure').length >= 3);
  await shot('04-gallery-zh');
  await page.click(`#grid img[alt="${WHALE}"]`);
  await page.locator('#detail').waitFor({ state: 'visible' });
  assert.equal((await page.textContent('#detail-copy')).trim(), '复制参数');
  await shot('05-detail-zh');
  await page.click('#detail-close');
  // Back to English for the rest.
  await page.selectOption('#lang', 'en');
  await page.waitForFunction(() => document.getElementById('gen-submit').textContent.trim() === 'Generate');
});

test('delete removes the image from the page, the API and the disk', async () => {
  const list = await apiJson(`/v1/gallery/images?q=${encodeURIComponent('whale ' + RUN)}`);
  assert.equal(list.status, 200);
  assert.equal(list.body.total, 1);
  const id = list.body.images[0].id;
  await page.click(`#grid img[alt="${WHALE}"]`);
  await page.locator('#detail').waitFor({ state: 'visible' });
  await page.click('#detail-delete'); // the confirm() is accepted by the dialog handler
  await page.locator('#toast', { hasText: 'deleted' }).waitFor();
  await page.locator(`#grid img[alt="${WHALE}"]`).waitFor({ state: 'detached' });
  if (await page.locator('#detail').isVisible()) await page.click('#detail-close');
  assert.equal((await apiJson(`/v1/gallery/images/${id}`)).status, 404);
  assert.equal((await apiJson(`/v1/gallery/images/${id}/file`)).status, 404);
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('#grid figure').length >= 2);
  assert.equal(await page.locator(`#grid img[alt="${WHALE}"]`).count(), 0);
});

test('the page needs the credentials when the server has --api-auth', async (t) => {
  if (!AUTH) return t.skip('server started without --api-auth');
  for (const p of ['/', '/gallery', '/gallery/assets/app.js', '/v1/gallery/images', '/v1/gallery/images/1/thumb']) {
    const res = await fetch(BASE + p);
    assert.equal(res.status, 401, p);
  }
});

test('no script errors on the page', () => {
  const real = consoleErrors.filter((e) => !/favicon/.test(e));
  assert.deepEqual(real, []);
});
