// The history sidebar: the list with its count and size, search with marked snippets (UTF-8 byte
// ranges), opening entries (with what was left out of their articles), deleting and clearing
// them, a summary answered from the history and "Summarize again", history errors kept inline,
// entry text shown as text; and screenshots.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARTICLE,
  ARTICLE_TEXT,
  artifactPath,
  byteSpan,
  calls,
  emitJob,
  openApp,
  openArticle,
  respond,
  summaryOf,
  texts,
  useBrowser,
  waitForCall,
} from './helpers.mjs';

useBrowser();

const STATS = { path: '/home/test/.local/share/precis/history.sqlite', count: 3, bytes: 1_480_000 };

function item(id, extra = {}) {
  return {
    id,
    createdAt: `2026-11-${String(20 + id).padStart(2, '0')}T09:30:00.000Z`,
    source: `/home/test/article-${id}.md`,
    title: `Article number ${id}`,
    model: 'qwen2.5-test',
    kind: 'key-points',
    length: 'medium',
    preview: `Preview of article ${id}.`,
    bulletCount: 4,
    words: 900 + id,
    totalMs: 5000,
    ...extra,
  };
}

/** Newest first, as history_list answers. */
const ITEMS = [
  item(3, { title: 'Zürich’s harbour café opens a tide station' }),
  item(2, { title: null, source: '/home/test/notes/pasted-piece.md', kind: 'tldr', bulletCount: 1 }),
  item(1),
];

const ONE = 'It cost 6.3 million euros.';
const TWO = 'Fishermen were unsure at first.';
const ENTRY_SUMMARY = summaryOf(
  [
    { text: 'The station cost 6.3 million euros.', sources: [byteSpan(ARTICLE_TEXT, ONE)], support: 0.9 },
    { text: 'Fishermen had doubts.', sources: [byteSpan(ARTICLE_TEXT, TWO)], support: 0.8 },
  ],
  { summary: 'A harbour town makes power from the tide.' },
);

function entry(id) {
  return {
    id,
    createdAt: ITEMS.find((i) => i.id === id)?.createdAt ?? '2026-11-23T09:30:00.000Z',
    article: { ...ARTICLE, title: `Stored article ${id}` },
    summary: ENTRY_SUMMARY,
    settings: { type: 'key-points', length: 'medium', model: 'qwen2.5-test' },
  };
}

/** Scripts the history commands before the app starts: a list, stats and open by id. */
function withHistory(arg) {
  const m = window.__precisMock;
  m.handlers.history_list = () => arg.items;
  m.handlers.history_stats = () => arg.stats;
  m.handlers.history_open = ({ id }) => arg.entries[id];
}

function setupArg(items = ITEMS, stats = STATS) {
  return { items, stats, entries: Object.fromEntries(items.map((i) => [i.id, entry(i.id)])) };
}

async function openSidebar(page) {
  await page.locator('#history-toggle').click();
  await page.locator('#history').waitFor();
}

const titles = (page) => texts(page, '#history-list .history-title');

/** The UTF-8 byte range of the `nth` (0-based) `word` in `text`, as the Rust side reports it. */
function byteRange(text, word, nth = 0) {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = text.indexOf(word, at + 1);
  assert.ok(at >= 0, `"${word}" in "${text}"`);
  const start = Buffer.byteLength(text.slice(0, at), 'utf8');
  return [start, start + Buffer.byteLength(word, 'utf8')];
}

test('the sidebar lists entries newest first with the count and size on disk; the toggle and Ctrl+H show and hide it', async (t) => {
  const page = await openApp(t, { setup: withHistory, setupArg: setupArg() });
  assert.equal(await page.locator('#history').isVisible(), false);
  assert.equal((await calls(page, 'history_list')).length, 0, 'nothing is read while the sidebar is closed');

  await openSidebar(page);
  await page.locator('#history-list li').first().waitFor();
  assert.deepEqual(await calls(page, 'history_list'), [{ before: null, limit: 50 }]);
  assert.deepEqual(await titles(page), ['Zürich’s harbour café opens a tide station', 'pasted-piece.md', 'Article number 1']);
  assert.equal(await page.locator('#history-stats').textContent(), '3 summaries · 1.5 MB on disk');
  assert.equal(await page.locator('#history-stats').getAttribute('title'), STATS.path);
  assert.equal(await page.locator('#history-toggle').getAttribute('aria-expanded'), 'true');
  const second = page.locator('#history-list li').nth(1);
  assert.match(await second.locator('.history-meta').textContent(), /^Nov 22, 2026 · TL;DR · 1 point$/);
  assert.equal(await second.locator('.history-preview').textContent(), 'Preview of article 2.');
  assert.equal(await page.getByRole('complementary', { name: 'History' }).count(), 1);
  assert.equal(await page.getByRole('button', { name: 'Delete “Article number 1”' }).count(), 1);

  // Ctrl+H hides it, with the keyboard on the toggle, and shows it again with the keyboard in search.
  await page.locator('.history-open').first().focus();
  await page.keyboard.press('Control+h');
  await page.locator('#history').waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'history-toggle');
  assert.equal(await page.locator('#history-toggle').getAttribute('aria-expanded'), 'false');
  await page.keyboard.press('Control+h');
  await page.locator('#history').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'history-search');
  await waitForCall(page, 'history_list', 2);
});

test('Show more asks for the page before the last entry shown', async (t) => {
  const page50 = Array.from({ length: 50 }, (_, i) => item(200 - i));
  const page = await openApp(t, { setup: withHistory, setupArg: setupArg(page50, { ...STATS, count: 52 }) });
  await respond(page, 'history_list', page50);
  await openSidebar(page);
  const more = page.locator('#history-more');
  await more.waitFor();
  await respond(page, 'history_list', [item(150), item(149)]);
  await more.click();
  assert.deepEqual((await waitForCall(page, 'history_list', 2))[1], { before: 151, limit: 50 });
  await page.locator('#history-list li').nth(51).waitFor();
  assert.equal(await more.isVisible(), false, 'a short page is the last one');
});

test('search waits for typing to pause, sends the query and marks matches by UTF-8 byte ranges', async (t) => {
  const page = await openApp(t, { setup: withHistory, setupArg: setupArg() });
  await openSidebar(page);
  await page.locator('#history-list li').first().waitFor();

  // Accents and an emoji before the matches, so byte offsets and string indices differ.
  const snippet = '… Zürich’s 🚀 harbour café — naïve visitors order a café crème …';
  const hits = [
    {
      ...ITEMS[0],
      snippet,
      highlights: [byteRange(snippet, 'café', 0), byteRange(snippet, 'café', 1), byteRange(snippet, 'naïve')],
    },
  ];
  await respond(page, 'history_search', hits);
  await page.locator('#history-search').pressSequentially('café', { delay: 20 });
  const [search] = await waitForCall(page, 'history_search');
  assert.deepEqual(search, { query: 'café', limit: 50 });
  await page.waitForTimeout(300);
  assert.equal((await calls(page, 'history_search')).length, 1, 'one search for one burst of typing');

  const item0 = page.locator('#history-list li').first();
  await item0.locator('mark').first().waitFor();
  assert.deepEqual(await item0.locator('.history-snippet mark').allTextContents(), ['café', 'naïve', 'café']);
  assert.equal(await item0.locator('.history-snippet').textContent(), snippet, 'nothing lost or doubled around the marks');
  // The text right before the first mark ends exactly where the word starts.
  const before = await item0
    .locator('.history-snippet')
    .evaluate((el) => el.firstChild.nodeType === Node.TEXT_NODE && el.firstChild.textContent);
  assert.equal(before, '… Zürich’s 🚀 harbour ');

  // No hits: said in words.
  await respond(page, 'history_search', []);
  await page.locator('#history-search').fill('zzz');
  await page.locator('#history-empty').getByText('No summaries match “zzz”.').waitFor();

  // A blank query lists everything again, with history_list.
  await page.locator('#history-search').fill('');
  await waitForCall(page, 'history_list', 2);
  await page.locator('#history-list .history-preview').first().waitFor();
  assert.deepEqual(await titles(page), ['Zürich’s harbour café opens a tide station', 'pasted-piece.md', 'Article number 1']);
});

test('clicking or pressing Enter on an entry opens it with its article, summary and clickable bullets, without a job', async (t) => {
  const page = await openApp(t, { setup: withHistory, setupArg: setupArg() });
  await openSidebar(page);
  await page.locator('#history-list .history-open').first().click();
  assert.deepEqual(await waitForCall(page, 'history_open'), [{ id: 3 }]);
  await page.locator('#article-title').getByText('Stored article 3').waitFor();
  assert.equal(await page.locator('#tldr').textContent(), ENTRY_SUMMARY.summary);
  assert.deepEqual(await texts(page, '#bullets .bullet-text'), ['The station cost 6.3 million euros.', 'Fishermen had doubts.']);
  assert.match(await page.locator('#from-history-text').textContent(), /^From history · Nov 23, 2026/);
  assert.equal(await page.locator('#history-list li').first().getAttribute('class'), 'history-item current');
  assert.equal(await page.locator('.history-open').first().getAttribute('aria-current'), 'true');
  assert.equal((await calls(page, 'summarize')).length, 0, 'opening an entry runs no job');

  // Bullets point at their sources exactly as after a fresh summary.
  await page.locator('.bullet-text').nth(1).click();
  await page.locator('#article-text mark').waitFor();
  assert.deepEqual(await texts(page, '#article-text mark'), [TWO]);

  // Keyboard: arrows move between entries, Enter opens.
  await page.locator('.history-open').first().focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowUp');
  assert.equal(await page.evaluate(() => document.activeElement.closest('li').dataset.id), '2');
  await page.keyboard.press('Enter');
  assert.deepEqual((await waitForCall(page, 'history_open', 2))[1], { id: 2 });
  await page.locator('#article-title').getByText('Stored article 2').waitFor();
  assert.equal(await page.locator('#article-text mark').count(), 0, 'a new entry starts with nothing highlighted');
});

test('an entry opened from the history says what was left out of its article; one without says nothing', async (t) => {
  const arg = setupArg();
  const notes = ['2 of its 9 pages could not be read (they are damaged) and were left out.'];
  arg.entries[3] = { ...arg.entries[3], article: { ...arg.entries[3].article, kind: 'pdf', notes } };
  const page = await openApp(t, { setup: withHistory, setupArg: arg });
  await openSidebar(page);
  await page.locator('#history-list .history-open').first().click();
  await page.locator('#article-title').getByText('Stored article 3').waitFor();
  const shown = page.locator('#article-notes');
  assert.equal(await shown.isVisible(), true);
  assert.equal(await shown.textContent(), notes[0]);
  await page.screenshot({ path: artifactPath('history-entry-notes.png') });
  await page.locator('#history-list .history-open').nth(1).click();
  await page.locator('#article-title').getByText('Stored article 2').waitFor();
  assert.equal(await shown.isVisible(), false, 'the next entry read whole shows no note');
});

test('opening an entry while a summary runs cancels that job', async (t) => {
  const page = await openApp(t, { setup: withHistory, setupArg: setupArg() });
  await openArticle(page);
  await openSidebar(page);
  await page.locator('.history-open').first().click();
  await page.locator('#article-title').getByText('Stored article 3').waitFor();
  assert.deepEqual(await calls(page, 'cancel_job'), [{ jobId: 1 }]);
  assert.equal(await page.locator('#cancel').isVisible(), false);
  await emitJob(page, 1, { event: 'done', data: { summary: summaryOf([{ text: 'LATE from job one' }]) } });
  await page.waitForTimeout(100);
  assert.deepEqual(await texts(page, '#bullets .bullet-text'), ['The station cost 6.3 million euros.', 'Fishermen had doubts.']);
});

test('deleting an entry, by its button or the Delete key, refreshes the list and the stats', async (t) => {
  const page = await openApp(t, { setup: withHistory, setupArg: setupArg() });
  await openSidebar(page);
  await page.locator('#history-list li').nth(2).waitFor();

  await page.evaluate(() => {
    const m = window.__precisMock;
    let items = m.handlers.history_list();
    m.handlers.history_delete = ({ id }) => {
      items = items.filter((i) => i.id !== id);
      return { path: '/h.sqlite', count: items.length, bytes: items.length * 400_000 };
    };
    m.handlers.history_list = () => items;
    m.handlers.history_stats = () => ({ path: '/h.sqlite', count: items.length, bytes: items.length * 400_000 });
  });
  await page.getByRole('button', { name: 'Delete “pasted-piece.md”' }).click();
  assert.deepEqual(await waitForCall(page, 'history_delete'), [{ id: 2 }]);
  await page.locator('#history-stats').getByText('2 summaries · 800 KB on disk').waitFor();
  assert.deepEqual(await titles(page), ['Zürich’s harbour café opens a tide station', 'Article number 1']);
  await waitForCall(page, 'history_list', 2);
  await page.locator('#status').getByText('Deleted from the history.').waitFor();

  // The Delete key on a focused entry; the keyboard moves on to the entry that took its place.
  await page.locator('.history-open').first().focus();
  await page.keyboard.press('Delete');
  assert.deepEqual((await waitForCall(page, 'history_delete', 2))[1], { id: 3 });
  await page.locator('#history-stats').getByText('1 summary · 400 KB on disk').waitFor();
  assert.deepEqual(await titles(page), ['Article number 1']);
  assert.equal(await page.evaluate(() => document.activeElement.closest('li')?.dataset.id), '1');
});

test('Clear all asks first: Cancel or Escape keep everything, confirming calls history_clear', async (t) => {
  const page = await openApp(t, { setup: withHistory, setupArg: setupArg() });
  await openSidebar(page);
  await page.locator('#history-list li').first().waitFor();
  const dialog = page.getByRole('dialog', { name: 'Clear the history?' });

  await page.locator('#history-clear').click();
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /all 3 summaries/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-clear-no', 'Cancel has the keyboard');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });

  await page.locator('#history-clear').click();
  await dialog.waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  await page.waitForTimeout(100);
  assert.equal((await calls(page, 'history_clear')).length, 0);
  assert.equal(await page.locator('#history-list li').count(), 3);

  await page.evaluate(() => {
    const m = window.__precisMock;
    const empty = { path: '/h.sqlite', count: 0, bytes: 4096 };
    m.handlers.history_clear = () => empty;
    m.handlers.history_list = () => [];
    m.handlers.history_stats = () => empty;
  });
  await page.locator('#history-clear').click();
  await dialog.getByRole('button', { name: 'Clear all' }).click();
  assert.deepEqual(await waitForCall(page, 'history_clear'), [{}]);
  await page.locator('#history-empty').getByText(/No summaries yet/).waitFor();
  assert.equal(await page.locator('#history-stats').textContent(), '0 summaries · 4.1 KB on disk');
  assert.equal(await page.locator('#history-clear').isDisabled(), true);
  await page.locator('#status').getByText('History cleared.').waitFor();
});

test('a summary answered from the history says so, with its date, and Summarize again bypasses it', async (t) => {
  const page = await openApp(t, { setup: withHistory, setupArg: setupArg() });
  await openSidebar(page);
  await page.locator('#history-list li').first().waitFor();
  await openArticle(page);
  const [first] = await calls(page, 'summarize');
  assert.equal(first.again, false);

  await emitJob(page, 1, { event: 'remembered', data: { summary: ENTRY_SUMMARY, entry: ITEMS[0] } });
  await page.locator('#from-history').waitFor();
  assert.match(await page.locator('#from-history-text').textContent(), /^From history · Nov 23, 2026, \d+:\d\d [AP]M$/);
  assert.deepEqual(await texts(page, '#bullets .bullet-text'), ['The station cost 6.3 million euros.', 'Fishermen had doubts.']);
  assert.equal(await page.locator('#progress-line').isVisible(), false);
  assert.equal(await page.locator('#cancel').isVisible(), false);
  await page.locator('#status').getByText('Summary from the history.').waitFor();
  await waitForCall(page, 'history_list', 2);
  // Its bullets highlight their sources like any other.
  await page.locator('.bullet-text').first().click();
  assert.deepEqual(await texts(page, '#article-text mark'), [ONE]);

  await page.locator('#summarize-again').click();
  const jobs = await waitForCall(page, 'summarize', 2);
  assert.equal(jobs[1].again, true);
  assert.equal(jobs[1].jobId, 2);
  assert.deepEqual(jobs[1].article, ARTICLE);
  assert.equal(await page.locator('#from-history').isVisible(), false);
  assert.equal(await page.locator('#progress-line').isVisible(), true);

  // A finished job refreshes the list.
  await emitJob(page, 2, { event: 'done', data: { summary: summaryOf([{ text: 'Fresh point' }]) } });
  await waitForCall(page, 'history_list', 3);
  assert.equal(await page.locator('#from-history').isVisible(), false);
});

test('history errors show inline in plain words and summarizing still works', async (t) => {
  const page = await openApp(t);
  const message = 'The history file /home/test/.local/share/precis/history.sqlite is damaged (file is not a database).';
  await respond(page, 'history_list', { reject: { code: 'history_corrupt', message } });
  await respond(page, 'history_stats', { reject: { code: 'history_corrupt', message } });
  await openSidebar(page);
  const error = page.locator('#history-error');
  await error.waitFor();
  assert.match(await error.locator('.history-error-text').textContent(), /history file is damaged.*Summarizing still works/);
  assert.equal(await error.locator('.history-error-detail').textContent(), message);
  assert.equal(await page.locator('#error').isVisible(), false, 'the window-wide error stays free');

  await openArticle(page);
  await emitJob(page, 1, { event: 'done', data: { summary: summaryOf([{ text: 'Still summarized' }]) } });
  await page.locator('#bullets').getByText('Still summarized').waitFor();
  await page.locator('#summarize').getByText('Summarize again').waitFor();
  assert.equal(await page.locator('#error').isVisible(), false);
  await error.getByRole('button', { name: 'Dismiss' }).click();
  await error.waitFor({ state: 'hidden' });

  // A newer file, and an entry that is gone by the time it is opened.
  await respond(page, 'history_list', { reject: { code: 'history_too_new', message: 'Written by Precis 0.9.' } });
  await page.locator('#history-search').fill('x');
  await page.locator('#history-search').fill('');
  await error.getByText(/newer version of Precis/).waitFor();
  await respond(page, 'history_list', [item(9)]);
  await respond(page, 'history_stats', STATS);
  await respond(page, 'history_open', { reject: { code: 'not_found', message: 'No history entry 9.' } });
  await page.locator('#history-search').fill('y');
  await page.locator('#history-search').fill('');
  await page.locator('.history-open').first().waitFor();
  await page.locator('.history-open').first().click();
  await error.getByText('That summary is no longer in the history.').waitFor();
  assert.deepEqual(await texts(page, '#bullets .bullet-text'), ['Still summarized'], 'what was shown stays');
});

test('entry text is shown as text, never as markup', async (t) => {
  const evil = '<img src=x onerror="window.__pwned=1">';
  const items = [item(5, { title: evil, preview: `<b>bold</b><script>window.__pwned=2</script>` })];
  const page = await openApp(t, { setup: withHistory, setupArg: setupArg(items, { ...STATS, count: 1 }) });
  await openSidebar(page);
  await page.locator('#history-list li').first().waitFor();
  assert.equal(await page.locator('.history-title').textContent(), evil);
  assert.equal(await page.locator('.history-preview').textContent(), '<b>bold</b><script>window.__pwned=2</script>');

  const snippet = `<img src=y onerror="window.__pwned=3"> café <i>x</i>`;
  await respond(page, 'history_search', [{ ...items[0], snippet, highlights: [byteRange(snippet, 'café')] }]);
  await page.locator('#history-search').fill('café');
  await page.locator('.history-snippet mark').waitFor();
  assert.equal(await page.locator('.history-snippet').textContent(), snippet);
  assert.equal(await page.locator('#history img, #history script, #history b, #history i').count(), 0);
  assert.equal(await page.getByRole('button', { name: `Delete “${evil}”` }).count(), 1);

  await respond(page, 'history_open', { ...entry(5), article: { ...ARTICLE, title: evil } });
  await page.locator('.history-open').first().click();
  await page.locator('#article-title').getByText(evil).waitFor();
  assert.equal(await page.locator('#app img, #app script, #app b, #app i').count(), 0);
  await page.waitForTimeout(100);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
});

test('screenshots: the sidebar with an open entry and with search hits, light, dark and 200 %', async (t) => {
  const cases = [
    ['light', {}],
    ['dark', {}],
    ['zoom200', { viewport: { width: 600, height: 400 }, deviceScaleFactor: 2 }],
  ];
  for (const [name, extra] of cases) {
    const colorScheme = name === 'dark' ? 'dark' : 'light';
    const page = await openApp(t, { setup: withHistory, setupArg: setupArg(), context: { colorScheme, ...extra } });
    await openSidebar(page);
    await page.locator('.history-open').first().click();
    await page.locator('#article-title').getByText('Stored article 3').waitFor();
    await page.locator('.bullet-text').first().click();
    await page.locator('#article-text mark').waitFor();
    await page.locator('.history-open').nth(1).focus();
    const { scroll, client } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
    }));
    assert.ok(scroll <= client, `no sideways overflow (${scroll} > ${client})`);
    await page.screenshot({ path: artifactPath(`history-${name}.png`) });
    if (name === 'zoom200') await page.screenshot({ path: artifactPath('history-zoom200-full.png'), fullPage: true });

    const snippet = '… the harbour café — naïve visitors order a café crème by the pier …';
    await respond(page, 'history_search', [
      { ...ITEMS[0], snippet, highlights: [byteRange(snippet, 'café', 0), byteRange(snippet, 'café', 1)] },
      { ...ITEMS[2], snippet: 'Locals say the café never closed.', highlights: [byteRange('Locals say the café never closed.', 'café')] },
    ]);
    await page.locator('#history-search').fill('café');
    await page.locator('.history-snippet mark').first().waitFor();
    if (name !== 'zoom200') await page.screenshot({ path: artifactPath(`history-search-${name}.png`) });
  }
});

test('screenshots: the clear-all dialog and a history error, light and dark', async (t) => {
  for (const colorScheme of ['light', 'dark']) {
    const page = await openApp(t, { setup: withHistory, setupArg: setupArg(), context: { colorScheme } });
    await openSidebar(page);
    await page.locator('#history-list li').first().waitFor();
    await page.locator('#history-clear').click();
    await page.getByRole('dialog', { name: 'Clear the history?' }).waitFor();
    await page.screenshot({ path: artifactPath(`history-clear-${colorScheme}.png`) });
    await page.keyboard.press('Escape');

    await respond(page, 'history_list', {
      reject: { code: 'history_too_new', message: 'The history file was written by Precis 0.9 (schema 4); this is Precis 0.4 (schema 2).' },
    });
    await page.locator('#history-search').fill('x');
    await page.locator('#history-search').fill('');
    await page.locator('#history-error').waitFor();
    await page.screenshot({ path: artifactPath(`history-error-${colorScheme}.png`) });
  }
});
