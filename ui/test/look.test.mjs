// Keyboard-only use, accessible names and roles, light/dark themes and 200 % zoom, with
// screenshots into test/artifacts/ for a person to look at.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ARTICLE,
  artifactPath,
  byteSpan,
  calls,
  emitFetch,
  emitJob,
  openApp,
  openArticle,
  summaryOf,
  useBrowser,
  waitForCall,
} from './helpers.mjs';

useBrowser();

const LONG_TEXT = [
  'Harbor Point has turned its old ferry pier into a small tidal power station. Eight turbines now sit under the deck where ferries used to tie up, and they turn twice a day with the tide.',
  'The project cost 6.3 million euros, most of it from a regional climate fund. The town council voted for it in 2021 after a long debate about the pier’s future.',
  'Engineers say the station makes about 1.2 gigawatt-hours a year, enough for roughly 400 homes. The output is steady and easy to predict, unlike wind or sun.',
  'Fishermen were worried at first that the turbines would scare fish away. A two-year study found no change in the catch, and the turbines turn slowly enough for fish to pass.',
  'The mayor, Inês Duarte, said the town wanted “to keep the pier alive without pretending it was still 1960.” A café now sits where the ticket office once stood.',
  'Other harbour towns along the coast have asked for the plans. The council has published them, along with the two-year study, on its website.',
].join('\n\n');

const LONG_ARTICLE = {
  ...ARTICLE,
  title: 'Harbour Town Turns Its Old Ferry Pier Into a Tide-Powered Power Station',
  text: LONG_TEXT,
  wordCount: 214,
  readingMinutes: 1,
};

const BULLETS = [
  { text: 'Eight turbines under the old ferry pier turn with the tide twice a day.', sources: [byteSpan(LONG_TEXT, 'Eight turbines now sit under the deck where ferries used to tie up, and they turn twice a day with the tide.')], support: 0.92 },
  { text: 'The project cost 6.3 million euros, mostly from a regional climate fund.', sources: [byteSpan(LONG_TEXT, 'The project cost 6.3 million euros, most of it from a regional climate fund.')], support: 0.97 },
  { text: 'It makes about 1.2 GWh a year, enough for roughly 400 homes.', sources: [byteSpan(LONG_TEXT, 'Engineers say the station makes about 1.2 gigawatt-hours a year, enough for roughly 400 homes.')], support: 0.9 },
  { text: 'A study found no change in the fish catch.', sources: [byteSpan(LONG_TEXT, 'A two-year study found no change in the catch, and the turbines turn slowly enough for fish to pass.')], support: 0.85 },
  { text: 'The station will pay for itself within five years.', sources: [], support: 0.2 },
];

const SUMMARY = summaryOf(BULLETS, {
  title: LONG_ARTICLE.title,
  summary: 'Harbor Point now makes steady, predictable power from the tide under its old ferry pier, at a cost of 6.3 million euros.',
});

async function summarized(t, context) {
  const page = await openApp(t, { context });
  await openArticle(page, { article: LONG_ARTICLE });
  await emitJob(page, 1, { event: 'done', data: { summary: SUMMARY } });
  await page.locator('#copy-markdown').waitFor();
  return page;
}

async function noHorizontalOverflow(page) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client, `page is ${scroll}px wide in a ${client}px viewport`);
}

test('keyboard only: Tab reaches the bullets in order, focus and Enter highlight the source', async (t) => {
  const page = await summarized(t);
  await page.locator('body').focus();
  const order = [];
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => {
      const el = document.activeElement;
      return el.id || el.className;
    });
    order.push(id);
    if (id === 'bullet-text') break;
  }
  assert.deepEqual(order, ['history-toggle', 'open', 'model', 'type', 'length', 'thorough', 'summarize', 'bullet-text']);

  // Focus alone highlights, with a visible focus ring.
  const first = page.locator('.bullet-text').first();
  assert.equal(await first.getAttribute('aria-pressed'), 'true');
  assert.equal(await page.locator('#article-text mark').textContent(), 'Eight turbines now sit under the deck where ferries used to tie up, and they turn twice a day with the tide.');
  assert.equal(await first.evaluate((el) => getComputedStyle(el).outlineStyle), 'solid');

  // Tab past the copy button to the second bullet, then Enter and Space.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Copy point 1');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  const second = page.locator('.bullet-text').nth(1);
  assert.equal(await second.getAttribute('aria-pressed'), 'true');
  assert.equal(await first.getAttribute('aria-pressed'), 'false');
  assert.equal(
    await page.locator('#article-text mark').textContent(),
    'The project cost 6.3 million euros, most of it from a regional climate fund.',
  );
  await page.keyboard.press('Space');
  assert.equal(await second.getAttribute('aria-pressed'), 'true');

  // Copy that point with the keyboard.
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await waitForCall(page, 'plugin:clipboard-manager|write_text');
  assert.equal((await calls(page, 'format_bullet'))[0].bullet.text, BULLETS[1].text);
});

test('keyboard only: Enter on the drop target opens a file, then focus moves to the summary', async (t) => {
  const page = await openApp(t);
  await page.evaluate((article) => {
    window.__precisMock.handlers.pick_article = () => '/home/test/picked.md';
    window.__precisMock.handlers.open_article = () => article;
  }, LONG_ARTICLE);
  await page.locator('#drop-target').focus();
  await page.keyboard.press('Enter');
  await waitForCall(page, 'open_article');
  await page.locator('#article-title').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains('summary-pane')), true);
  await emitJob(page, 1, { event: 'done', data: { summary: SUMMARY } });
  await page.locator('.bullet-text').first().waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'bullet-text');
});

test('landmarks, lists, named buttons and a status region', async (t) => {
  const page = await summarized(t);
  assert.equal(await page.getByRole('banner').count(), 1);
  assert.equal(await page.getByRole('main').count(), 1);
  assert.equal(await page.getByRole('status').count(), 1);
  assert.equal(await page.getByRole('list', { name: 'Key points' }).getByRole('listitem').count(), 5);
  for (const name of ['Open…', 'Summarize again', 'Copy as Markdown', 'Copy as text', 'Export…', 'Copy point 5']) {
    assert.equal(await page.getByRole('button', { name, exact: true }).count(), 1, name);
  }
  assert.equal(await page.getByRole('combobox', { name: 'Model' }).count(), 1);
  assert.equal(await page.getByRole('combobox', { name: 'Type' }).count(), 1);
  assert.equal(await page.getByRole('combobox', { name: 'Length' }).count(), 1);
  assert.equal(await page.getByRole('region', { name: LONG_ARTICLE.title }).count(), 1);
  assert.equal(await page.getByRole('region', { name: 'Summary' }).count(), 1);
});

test('at the window\'s default size the top bar is one row, Summarize again included', async (t) => {
  const page = await summarized(t);
  const conf = JSON.parse(readFileSync(new URL('../../src-tauri/tauri.conf.json', import.meta.url), 'utf8'));
  const { width, height } = conf.app.windows[0];
  await page.setViewportSize({ width, height });
  assert.equal(await page.locator('#summarize').textContent(), 'Summarize again');
  const middles = [];
  for (const id of ['history-toggle', 'open', 'model', 'type', 'length', 'thorough', 'summarize']) {
    const box = await page.locator(`#${id}`).boundingBox();
    middles.push([id, box.y + box.height / 2]);
  }
  for (const [id, middle] of middles) assert.ok(Math.abs(middle - middles[0][1]) < 6, `${id} on the first row: ${middles}`);
  await page.screenshot({ path: artifactPath('topbar-default-size.png'), clip: { x: 0, y: 0, width, height: 120 } });
});

test('screenshots: empty state, light and dark', async (t) => {
  for (const colorScheme of ['light', 'dark']) {
    const page = await openApp(t, { context: { colorScheme } });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, colorScheme === 'dark' ? 'rgb(26, 27, 29)' : 'rgb(247, 246, 243)');
    await page.screenshot({ path: artifactPath(`empty-${colorScheme}.png`) });
  }
});

test('screenshots: summary with a highlight and an unverified point, light and dark', async (t) => {
  for (const colorScheme of ['light', 'dark']) {
    const page = await summarized(t, { colorScheme });
    await page.locator('.bullet-text').nth(1).click();
    await page.locator('#article-text mark').waitFor();
    await page.locator('.bullet-text').nth(1).blur();
    await noHorizontalOverflow(page);
    await page.screenshot({ path: artifactPath(`summary-${colorScheme}.png`) });
  }
});

test('screenshots: streaming with extractive points and the progress line', async (t) => {
  const page = await openApp(t);
  await openArticle(page, { article: LONG_ARTICLE });
  await emitJob(page, 1, { event: 'stage', data: { stage: 'writing' } });
  await emitJob(page, 1, { event: 'extractive', data: { bullets: BULLETS.slice(0, 3) } });
  await emitJob(page, 1, { event: 'partial', data: { delta: '', summary: 'Harbor Point now makes steady', bullets: [] } });
  await page.locator('#tldr').getByText('Harbor Point now makes steady').waitFor();
  await page.screenshot({ path: artifactPath('streaming-light.png') });
});

test('at 200 % zoom the panes stack and nothing overflows sideways', async (t) => {
  for (const colorScheme of ['light', 'dark']) {
    // A 1200×800 window at 200 %: 600×400 CSS pixels at two device pixels each.
    const page = await summarized(t, { colorScheme, viewport: { width: 600, height: 400 }, deviceScaleFactor: 2 });
    await noHorizontalOverflow(page);
    const [summaryBox, articleBox] = await Promise.all([
      page.locator('.summary-pane').boundingBox(),
      page.locator('.article-pane').boundingBox(),
    ]);
    assert.ok(summaryBox.y + summaryBox.height <= articleBox.y + 1, 'summary above the article');
    assert.ok(summaryBox.width > 500 && articleBox.width > 500, 'each pane uses the full width');
    // Clicking a bullet takes the reader to its source further down the page.
    await page.locator('.bullet-text').nth(2).click();
    await page.waitForFunction(() => {
      const r = document.querySelector('#article-text mark')?.getBoundingClientRect();
      return r && r.top >= 0 && r.bottom <= window.innerHeight;
    });
    await page.screenshot({ path: artifactPath(`zoom200-${colorScheme}.png`) });
    await page.screenshot({ path: artifactPath(`zoom200-${colorScheme}-full.png`), fullPage: true });
  }
});

test('screenshots: first-run download card, light and dark, and at 200 %', async (t) => {
  const cases = [
    ['firstrun-light.png', { colorScheme: 'light' }],
    ['firstrun-dark.png', { colorScheme: 'dark' }],
    ['firstrun-zoom200.png', { colorScheme: 'light', viewport: { width: 600, height: 400 }, deviceScaleFactor: 2 }],
  ];
  for (const [name, context] of cases) {
    const page = await openApp(t, {
      context,
      setup: () => {
        const m = window.__precisMock;
        m.handlers.list_models = () => ({
          modelsDir: '/models',
          defaultModel: 'qwen2.5-coder-1.5b-instruct-q4_k_m',
          models: [
            { id: 'qwen2.5-coder-1.5b-instruct-q4_k_m', name: 'qwen2.5-coder-1.5b-instruct-q4_k_m', description: '', role: 'generator', architecture: 'qwen2', size: 1_117_320_736, present: false, path: null, custom: false },
          ],
        });
        m.handlers.fetch_model = () => new Promise(() => {});
      },
    });
    if (name === 'firstrun-light.png') {
      await page.locator('#fetch-model').waitFor();
      await page.screenshot({ path: artifactPath('firstrun-offer-light.png') });
    }
    await page.locator('#fetch-model').click();
    await waitForCall(page, 'fetch_model');
    await emitFetch(page, { event: 'downloading', data: { package: 'p', part: 1, parts: 2 } });
    await emitFetch(page, { event: 'bytes', data: { done: 420_000_000, total: 1_117_320_736 } });
    await page.waitForFunction(() => document.querySelector('[role=progressbar]').getAttribute('aria-valuenow') === '38');
    await noHorizontalOverflow(page);
    await page.screenshot({ path: artifactPath(name) });
  }
});

test('screenshots: an inline error over an article, and the .gguf confirm dialog', async (t) => {
  for (const colorScheme of ['light', 'dark']) {
    const page = await summarized(t, { colorScheme });
    await respondError(page);
    await page.evaluate(() => window.__precisMock.emit('tauri://drag-drop', { paths: ['/a/scan.pdf'], position: { x: 1, y: 1 } }));
    await page.locator('#error').waitFor();
    await page.screenshot({ path: artifactPath(`error-${colorScheme}.png`) });
    await page.evaluate(() => window.__precisMock.emit('tauri://drag-drop', { paths: ['/m/tiny-llama.Q4_K_M.gguf'], position: { x: 1, y: 1 } }));
    await page.getByRole('dialog').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Add model');
    await page.screenshot({ path: artifactPath(`confirm-${colorScheme}.png`) });
  }
});

async function respondError(page) {
  await page.evaluate(() => {
    window.__precisMock.handlers.open_article = () => {
      throw { code: 'input', message: 'The file “scan.pdf” has no text layer; Precis cannot read scanned pages.' };
    };
  });
}
