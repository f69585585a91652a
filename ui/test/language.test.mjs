// Languages: the article's language beside its word count, the language picker, a summary in
// another language than its article with "Translate key points" and the translations marked as
// such, a summary that is not in the language asked for, and the language in the history list.

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

const GERMAN = { ...ARTICLE, language: 'de', languageConfidence: 0.98 };

const SENTENCES = ['It cost 6.3 million euros.', 'Turbines sit under the old pier.'];
const bullets = () => SENTENCES.map((s) => ({ text: s, sources: [byteSpan(ARTICLE_TEXT, s)], support: 1 }));

test('the article pane shows the language beside the word count, and marks the text with it', async (t) => {
  const page = await openApp(t);
  await openArticle(page, { article: GERMAN });
  assert.equal(await page.locator('#article-stats').textContent(), '1,234 words · 6 min read · German');
  assert.equal(await page.locator('#article-text').getAttribute('lang'), 'de');
  await respond(page, 'open_article', { ...ARTICLE, source: '/home/test/b.md', language: 'unknown' });
  await page.evaluate(() => window.__precisMock.emit('tauri://drag-drop', { paths: ['/home/test/b.md'], position: { x: 1, y: 1 } }));
  await page.locator('#article-stats').getByText('language unknown').waitFor();
  assert.equal(await page.locator('#article-text').getAttribute('lang'), null);
});

test('the language picker starts at the article’s own language and is saved and sent with a job', async (t) => {
  const page = await openApp(t);
  await openArticle(page, { article: GERMAN });
  assert.equal(await page.locator('#language').inputValue(), 'auto');
  await emitJob(page, 1, { event: 'done', data: { summary: summaryOf(bullets()) } });
  await page.getByRole('combobox', { name: 'Summary language' }).selectOption('en');
  const saved = await waitForCall(page, 'save_settings');
  assert.equal(saved.at(-1).settings.language, 'en');
  await page.locator('#summarize').click();
  await waitForCall(page, 'summarize', 2);
  assert.equal((await calls(page, 'summarize')).at(-1).options.language, 'en');
});

test('a summary in another language than the article offers translated key points, marked as such', async (t) => {
  const page = await openApp(t);
  await openArticle(page, { article: GERMAN });
  const summary = summaryOf(bullets(), { language: 'de', language_confidence: 0.98, output_language: 'en', language_mismatch: false });
  await emitJob(page, 1, { event: 'done', data: { summary } });
  await page.locator('#summary-meta').getByText('Written in English; the article is in German.').waitFor();
  const translate = page.locator('#translate-points');
  assert.equal(await translate.textContent(), 'Translate key points into English');
  await translate.click();
  const asked = await waitForCall(page, 'translate_points');
  assert.equal(asked[0].from, 'de');
  assert.equal(asked[0].to, 'en');
  assert.deepEqual(asked[0].bullets.map((b) => b.text), SENTENCES);
  await page.locator('#progress-line').getByText('Translating the key points…').waitFor();
  const translated = bullets().map((b, i) => ({ ...b, translation: { text: `<b>English ${i}</b>`, language: 'en' } }));
  await emitJob(page, 2, { event: 'stage', data: { stage: 'writing' } });
  await emitJob(page, 2, { event: 'translated', data: { bullets: translated } });
  await page.locator('.bullet-translation').first().waitFor();
  // The article's sentences stay the points; each translation is under its point, marked, as text.
  assert.deepEqual(await texts(page, '#bullets .bullet-text'), SENTENCES);
  assert.deepEqual(await texts(page, '.bullet-translation'), [
    'Translation (English) <b>English 0</b>',
    'Translation (English) <b>English 1</b>',
  ]);
  assert.equal(await page.locator('.bullet-translation b').count(), 0, 'model output is text, never markup');
  assert.equal(await page.locator('.bullet-translation').first().getAttribute('lang'), 'en');
  assert.equal(await translate.isVisible(), false, 'no second offer once translated');
  assert.equal(await page.locator('#status').textContent(), 'Key points translated.');
  // A translation points at the same place in the article as its sentence.
  await page.locator('.bullet-translation').nth(1).click();
  assert.equal(await page.locator('#bullets .bullet-text').nth(1).getAttribute('aria-pressed'), 'true');
  await page.locator('#article-text mark').first().waitFor();
  assert.equal((await texts(page, '#article-text mark')).join(''), SENTENCES[1]);
});

test('cancelling a translation keeps the summary', async (t) => {
  const page = await openApp(t);
  await openArticle(page, { article: GERMAN });
  const summary = summaryOf(bullets(), { language: 'de', output_language: 'en', language_mismatch: false });
  await emitJob(page, 1, { event: 'done', data: { summary } });
  await page.locator('#translate-points').click();
  await waitForCall(page, 'translate_points');
  await page.locator('#cancel').click();
  await waitForCall(page, 'cancel_job');
  assert.equal((await calls(page, 'cancel_job')).at(-1).jobId, 2);
  assert.equal(await page.locator('#translate-points').isVisible(), true);
  assert.equal(await page.locator('#tldr').textContent(), summary.summary);
  assert.match(await page.locator('#summary-meta').textContent(), /Written by/);
});

test('a summary not in the language asked for says so', async (t) => {
  const page = await openApp(t);
  await openArticle(page, { article: GERMAN });
  const summary = summaryOf(bullets(), { language: 'de', output_language: 'de', language_mismatch: true });
  await emitJob(page, 1, { event: 'done', data: { summary } });
  await page
    .locator('#summary-meta')
    .getByText('This summary is not in German: the model wrote in another language even when asked twice.')
    .waitFor();
  assert.equal(await page.locator('#translate-points').isVisible(), false);
});

test('the history list names each entry’s language', async (t) => {
  const page = await openApp(t, {
    setup: () => {
      window.__precisMock.handlers.history_list = () => [
        {
          id: 1,
          createdAt: '2026-11-21T09:30:00.000Z',
          source: '/home/test/zh.txt',
          title: '河滨市图书馆',
          model: 'qwen2.5-test',
          kind: 'key-points',
          length: 'medium',
          preview: '河滨市议会周二决定',
          bulletCount: 3,
          words: 225,
          totalMs: 1000,
          language: 'zh',
        },
      ];
    },
  });
  await page.locator('#history-toggle').click();
  await page.locator('.history-meta').first().waitFor();
  assert.match(await page.locator('.history-meta').first().textContent(), / · Chinese$/);
});

test('an Arabic article, its summary and its points read right to left; English beside them stays left to right', async (t) => {
  const text = [
    'افتتحت البلدة محطة لتوليد الكهرباء من المد والجزر عند الرصيف القديم.',
    'بلغت تكلفة المحطة ستة ملايين يورو. تقع التوربينات تحت الرصيف.',
    'The station was built by a Danish company.',
  ].join('\n\n');
  const article = { ...ARTICLE, source: '/home/test/harbour-ar.md', title: 'محطة المد والجزر في البلدة', text, language: 'ar' };
  const page = await openApp(t);
  await openArticle(page, { article });
  const points = ['بلغت تكلفة المحطة ستة ملايين يورو.', 'The station was built by a Danish company.'];
  const bullets = points.map((p) => ({ text: p, sources: [byteSpan(text, p)], support: 1 }));
  const summary = summaryOf(bullets, { summary: 'محطة جديدة تولد الكهرباء من المد والجزر.', language: 'ar', output_language: 'ar' });
  await emitJob(page, 1, { event: 'done', data: { summary } });
  await page.locator('#bullets .bullet-text').first().waitFor();
  const direction = (selector) =>
    page.locator(selector).evaluateAll((els) => els.map((el) => getComputedStyle(el).direction));
  assert.deepEqual(await direction('#article-text p'), ['rtl', 'rtl', 'ltr']);
  assert.deepEqual(await direction('#article-title'), ['rtl']);
  assert.deepEqual(await direction('#tldr'), ['rtl']);
  assert.deepEqual(await direction('#bullets .bullet-text'), ['rtl', 'ltr']);
  // A right-to-left point starts at the right: its text ends nearer the right edge than the left.
  const [rtl, ltr] = await page.locator('#bullets .bullet-text').evaluateAll((els) =>
    els.map((el) => {
      const box = el.getBoundingClientRect();
      const range = document.createRange();
      range.selectNodeContents(el);
      const text = range.getBoundingClientRect();
      return { left: text.left - box.left, right: box.right - text.right };
    }),
  );
  assert.ok(rtl.right < rtl.left, `right-to-left point: ${JSON.stringify(rtl)}`);
  assert.ok(ltr.left < ltr.right, `left-to-right point: ${JSON.stringify(ltr)}`);
  await page.locator('.bullet-text').first().click();
  await page.locator('#article-text mark').waitFor();
  assert.deepEqual(await texts(page, '#article-text mark'), [points[0]]);
  await page.screenshot({ path: artifactPath('right-to-left.png') });
});
