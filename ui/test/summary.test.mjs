// Watching a summary arrive: stages, extractive then generated bullets, cancel, a second
// article while running, failures, bullet highlights and unverified bullets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARTICLE,
  ARTICLE_TEXT,
  byteSpan,
  calls,
  emitJob,
  nativeDrop,
  openApp,
  openArticle,
  respond,
  summaryOf,
  texts,
  useBrowser,
  waitForCall,
} from './helpers.mjs';

useBrowser();

const bulletTexts = (page) => texts(page, '#bullets .bullet-text');

test('the progress line names each stage, with done/total when given', async (t) => {
  const page = await openApp(t);
  await openArticle(page);
  const line = page.locator('#progress-line');
  await line.getByText('Starting…').waitFor();
  await emitJob(page, 1, { event: 'stage', data: { stage: 'loadingModel' } });
  await line.getByText('Loading the model…').waitFor();
  await emitJob(page, 1, { event: 'stage', data: { stage: 'reading', progress: { done: 2, total: 5 } } });
  await line.getByText('Reading the article… (2 of 5)').waitFor();
  await emitJob(page, 1, { event: 'stage', data: { stage: 'ranking' } });
  await line.getByText('Ranking sentences…').waitFor();
  await emitJob(page, 1, { event: 'stage', data: { stage: 'writing' } });
  await line.getByText('Writing the summary…').waitFor();
  assert.equal(await page.locator('#cancel').isVisible(), true);
  assert.equal(await page.locator('#summarize').isVisible(), false);
});

test('a thorough run states its plan, and shows its sections on a progress bar', async (t) => {
  const page = await openApp(t);
  await page.locator('#thorough').check();
  const saved = await waitForCall(page, 'save_settings');
  assert.equal(saved.at(-1).settings.thorough, true);
  await openArticle(page);
  const [job] = await calls(page, 'summarize');
  assert.equal(job.options.thorough, true);
  const line = page.locator('#progress-line');
  const bar = page.getByRole('progressbar');
  await emitJob(page, 1, { event: 'stage', data: { stage: 'reading' } });
  assert.equal(await bar.isVisible(), false, 'no bar before there are parts to count');
  await emitJob(page, 1, { event: 'plan', data: { sections: 4, seconds: 150 } });
  await emitJob(page, 1, { event: 'stage', data: { stage: 'reading', progress: { done: 1, total: 4 } } });
  await line.getByText('Reading the article… (1 of 4, about 3 minutes in all)').waitFor();
  await bar.waitFor();
  assert.equal(await bar.getAttribute('aria-valuenow'), '25');
  await emitJob(page, 1, { event: 'stage', data: { stage: 'reading', progress: { done: 4, total: 4 } } });
  await page.waitForFunction(() => document.getElementById('job-progress')?.getAttribute('aria-valuenow') === '100');
  await emitJob(page, 1, { event: 'stage', data: { stage: 'writing' } });
  await line.getByText('Writing the summary…').waitFor();
  assert.equal(await bar.isVisible(), false);
});

test('partial events replace the view progressively, then done settles it', async (t) => {
  const page = await openApp(t);
  await openArticle(page);
  await emitJob(page, 1, { event: 'partial', data: { delta: 'The', summary: 'The harbour', bullets: [] } });
  await page.locator('#tldr').getByText('The harbour').waitFor();
  assert.equal(await page.locator('#bullets').isVisible(), false);

  await emitJob(page, 1, {
    event: 'partial',
    data: { delta: ' town', summary: 'The harbour town', bullets: [{ text: 'It cost' }] },
  });
  await page.locator('#tldr').getByText('The harbour town').waitFor();
  assert.deepEqual(await bulletTexts(page), ['It cost']);

  await emitJob(page, 1, {
    event: 'partial',
    data: {
      delta: '.',
      summary: 'The harbour town makes power.',
      bullets: [{ text: 'It cost 6.3 million euros.' }, { text: 'Turbines' }],
    },
  });
  await page.locator('#bullets').getByText('Turbines').waitFor();
  // Replaced, not appended.
  assert.deepEqual(await bulletTexts(page), ['It cost 6.3 million euros.', 'Turbines']);
  assert.equal(await page.locator('#tldr').textContent(), 'The harbour town makes power.');
  assert.equal(await page.locator('.copy-one').count(), 0, 'no per-bullet copy while writing');

  const final = summaryOf([{ text: 'It cost 6.3 million euros.' }, { text: 'Turbines sit under the pier.' }]);
  await emitJob(page, 1, { event: 'done', data: { summary: final } });
  await page.locator('#summarize').getByText('Summarize again').waitFor();
  assert.deepEqual(await bulletTexts(page), ['It cost 6.3 million euros.', 'Turbines sit under the pier.']);
  assert.equal(await page.locator('#tldr').textContent(), final.summary);
  assert.equal(await page.locator('#progress-line').isVisible(), false);
  assert.match(await page.locator('#summary-meta').textContent(), /Written by qwen2\.5-test in 5\.5 s\./);
  assert.equal(await page.locator('.copy-one').count(), 2);
  assert.equal(await page.locator('#status').textContent(), 'Summary ready.');
});

test('extractive key points show first, then give way to the generated ones', async (t) => {
  const page = await openApp(t);
  await openArticle(page);
  await emitJob(page, 1, {
    event: 'extractive',
    data: { bullets: [{ text: 'It cost 6.3 million euros.', sources: [byteSpan(ARTICLE_TEXT, 'It cost 6.3 million euros.')], support: 1 }] },
  });
  await page.locator('#bullets-heading').getByText('Key sentences from the article').waitFor();
  assert.deepEqual(await bulletTexts(page), ['It cost 6.3 million euros.']);

  // A partial with only the tl;dr so far keeps the extractive points on screen.
  await emitJob(page, 1, { event: 'partial', data: { delta: 'A', summary: 'A town', bullets: [] } });
  await page.locator('#tldr').getByText('A town').waitFor();
  assert.deepEqual(await bulletTexts(page), ['It cost 6.3 million euros.']);

  // Checking an extractive point highlights it; the generated list that replaces it starts clear.
  await page.locator('.bullet-text').first().click();
  await page.locator('#article-text mark').waitFor();
  await page.locator('.bullet-text').first().blur();
  await emitJob(page, 1, { event: 'partial', data: { delta: '', summary: 'A town', bullets: [{ text: 'Generated point' }] } });
  await page.locator('#bullets-heading').getByText('Key points').waitFor();
  assert.deepEqual(await bulletTexts(page), ['Generated point']);
  assert.equal(await page.locator('#article-text mark').count(), 0);
  assert.equal(await page.locator('.bullet-text').first().getAttribute('aria-pressed'), 'false');
});

test('Cancel calls cancel_job at once and later events of that job are ignored', async (t) => {
  const page = await openApp(t);
  await openArticle(page);
  await emitJob(page, 1, { event: 'partial', data: { delta: '', summary: 'Half a', bullets: [{ text: 'First point' }] } });
  await page.locator('#bullets').getByText('First point').waitFor();

  await page.locator('#cancel').click();
  assert.deepEqual(await waitForCall(page, 'cancel_job'), [{ jobId: 1 }]);
  await page.locator('#summarize').waitFor();
  assert.equal(await page.locator('#cancel').isVisible(), false);

  await emitJob(page, 1, { event: 'partial', data: { delta: '', summary: 'LATE', bullets: [{ text: 'LATE point' }] } });
  await emitJob(page, 1, { event: 'cancelled', data: { summary: summaryOf([{ text: 'LATE cancelled' }]) } });
  await page.waitForTimeout(100);
  assert.deepEqual(await bulletTexts(page), ['First point']);
  assert.equal(await page.locator('#tldr').textContent(), 'Half a');
  assert.match(await page.locator('#summary-meta').textContent(), /Stopped before the end/);
  assert.equal(await page.locator('#status').textContent(), 'Stopped.');
});

test('Escape cancels a running job', async (t) => {
  const page = await openApp(t);
  await openArticle(page);
  await page.keyboard.press('Escape');
  assert.deepEqual(await waitForCall(page, 'cancel_job'), [{ jobId: 1 }]);
});

test('a second drop while running cancels job 1 and nothing of it appears afterwards', async (t) => {
  const page = await openApp(t);
  await openArticle(page);
  await emitJob(page, 1, { event: 'partial', data: { delta: '', summary: 'Job one', bullets: [{ text: 'From job one' }] } });
  await page.locator('#bullets').getByText('From job one').waitFor();

  const second = { ...ARTICLE, source: '/a/second.md', title: 'Second Article' };
  await respond(page, 'open_article', second);
  await nativeDrop(page, [second.source]);
  const jobs = await waitForCall(page, 'summarize', 2);
  assert.equal(jobs[1].jobId, 2);
  assert.notEqual(jobs[1].onEvent, jobs[0].onEvent, 'each job has its own channel');
  assert.deepEqual(await calls(page, 'cancel_job'), [{ jobId: 1 }]);
  await page.locator('#article-title').getByText('Second Article').waitFor();
  assert.equal(await page.locator('#bullets').isVisible(), false, 'job 1 bullets are gone');

  await emitJob(page, 1, { event: 'partial', data: { delta: '', summary: 'Job one late', bullets: [{ text: 'LATE from one' }] } });
  await emitJob(page, 1, { event: 'done', data: { summary: summaryOf([{ text: 'DONE from one' }]) } });
  await emitJob(page, 2, { event: 'partial', data: { delta: '', summary: 'Job two', bullets: [{ text: 'From job two' }] } });
  await page.locator('#bullets').getByText('From job two').waitFor();
  await emitJob(page, 1, { event: 'failed', data: { code: 'inference', message: 'LATE failure' } });
  await page.waitForTimeout(100);
  assert.deepEqual(await bulletTexts(page), ['From job two']);
  assert.equal(await page.locator('#tldr').textContent(), 'Job two');
  assert.equal(await page.locator('#error').isVisible(), false);
  assert.equal(await page.locator('#cancel').isVisible(), true, 'job 2 still running');
});

test('a failed job shows its message inline and the window stays usable', async (t) => {
  const page = await openApp(t);
  await openArticle(page);
  const message = 'The article is too long for this model’s context window; choose a shorter length or another model.';
  await emitJob(page, 1, { event: 'failed', data: { code: 'context_too_small', message } });
  await page.locator('#error').waitFor();
  assert.equal(await page.locator('#error .notice-text').textContent(), message);
  assert.equal(await page.locator('#summarize').isEnabled(), true);
  await page.locator('#summarize').click();
  const jobs = await waitForCall(page, 'summarize', 2);
  assert.equal(jobs[1].jobId, 2);
  assert.equal(await page.locator('#error').isVisible(), false);
});

test('a rejected summarize call (busy) shows its message', async (t) => {
  const page = await openApp(t);
  const message = 'Precis is still loading a model; try again in a moment.';
  await respond(page, 'summarize', { reject: { code: 'busy', message } });
  await respond(page, 'open_article', ARTICLE);
  await nativeDrop(page, [ARTICLE.source]);
  await page.locator('#error').waitFor();
  assert.equal(await page.locator('#error .notice-text').textContent(), message);
  assert.equal(await page.locator('#cancel').isVisible(), false);
});

test('clicking a bullet highlights its source sentence, past non-ASCII text', async (t) => {
  const page = await openApp(t);
  await openArticle(page);
  const one = 'It cost 6.3 million euros.';
  const two = 'Fishermen were unsure at first.';
  const three = 'naïve, 日本語';
  await emitJob(page, 1, {
    event: 'done',
    data: {
      summary: summaryOf([
        { text: 'The station cost 6.3 million euros.', sources: [byteSpan(ARTICLE_TEXT, one)], support: 0.9 },
        { text: 'Two places', sources: [byteSpan(ARTICLE_TEXT, three), byteSpan(ARTICLE_TEXT, two)], support: 0.8 },
        { text: 'No sources yet' },
      ]),
    },
  });
  await page.locator('.bullet-text').first().click();
  const marks = page.locator('#article-text mark');
  await marks.first().waitFor();
  assert.deepEqual(await marks.allTextContents(), [one]);
  assert.equal(await page.locator('.bullet-text').first().getAttribute('aria-pressed'), 'true');
  // The rest of the paragraph is still there, untouched.
  assert.equal(
    await page.locator('#article-text p').nth(1).textContent(),
    'The town opened a tide-powered station in 2024. It cost 6.3 million euros. Turbines sit under the old pier.',
  );

  await page.locator('.bullet-text').nth(1).click();
  await page.locator('#article-text mark', { hasText: two }).waitFor();
  assert.deepEqual(await marks.allTextContents(), [three, two]);
  assert.equal(await page.locator('.bullet-text').first().getAttribute('aria-pressed'), 'false');

  // A bullet without sources clears the highlight.
  await page.locator('.bullet-text').nth(2).click();
  await marks.first().waitFor({ state: 'detached' });
  assert.equal(await page.locator('#article-text').textContent(), ARTICLE_TEXT.replace(/\n\n/g, ''));
});

test('a highlight far down a long article is scrolled into view', async (t) => {
  const page = await openApp(t);
  const filler = Array.from({ length: 40 }, (_, i) => `Paragraph ${i} with ünïcödé filler text to make the article long enough to scroll.`);
  const target = 'The last sentence is the one we want.';
  const text = [...filler, target].join('\n\n');
  await openArticle(page, { article: { ...ARTICLE, text } });
  await emitJob(page, 1, {
    event: 'done',
    data: { summary: summaryOf([{ text: 'Last', sources: [byteSpan(text, target)], support: 1 }]) },
  });
  await page.locator('.bullet-text').first().click();
  const mark = page.locator('#article-text mark');
  await mark.waitFor();
  assert.equal(await mark.textContent(), target);
  await page.waitForFunction(() => {
    const m = document.querySelector('#article-text mark').getBoundingClientRect();
    const pane = document.querySelector('.article-pane').getBoundingClientRect();
    return m.top >= pane.top && m.bottom <= pane.bottom;
  });
});

test('a very long article is put on the page as the reader nears its end, and a highlight beyond it is shown', async (t) => {
  const page = await openApp(t);
  const filler = Array.from({ length: 5000 }, (_, i) => `Paragraph ${i} of a very long report, long enough to fill a line or two of the pane.`);
  const target = 'The very last sentence is the one we want.';
  const text = [...filler, target].join('\n\n');
  await openArticle(page, { article: { ...ARTICLE, text } });
  await page.locator('#article-text p').first().waitFor();
  const shown = () => page.locator('#article-text p').count();
  const first = await shown();
  assert.ok(first >= 200 && first < 5001, `a part of the article is on the page, not all of it (${first})`);
  // Scrolling to the end of what is there brings the next part.
  await page.evaluate(() => {
    const pane = document.querySelector('.article-pane');
    pane.scrollTop = pane.scrollHeight;
  });
  await page.waitForFunction((n) => document.querySelectorAll('#article-text p').length > n, first);
  assert.ok((await shown()) < 5001, 'still not all of it');
  // A key point whose source lies beyond what is on the page shows it.
  await emitJob(page, 1, {
    event: 'done',
    data: { summary: summaryOf([{ text: 'Last', sources: [byteSpan(text, target)], support: 1 }]) },
  });
  await page.locator('.bullet-text').first().click();
  const mark = page.locator('#article-text mark');
  await mark.waitFor();
  assert.equal(await mark.textContent(), target);
});

test('a bullet with support below the engine\'s threshold (0.6) is marked unverified, in words too', async (t) => {
  const page = await openApp(t);
  await openArticle(page);
  await emitJob(page, 1, {
    event: 'done',
    data: {
      summary: summaryOf([
        { text: 'Backed by the article', sources: [byteSpan(ARTICLE_TEXT, 'It cost 6.3 million euros.')], support: 0.9 },
        { text: 'The mayor resigned.', sources: [], support: 0.2 },
        { text: 'Older engine: no support field' },
        { text: 'Just under the threshold', sources: [], support: 0.55 },
      ]),
    },
  });
  const items = page.locator('#bullets li');
  await items.nth(3).waitFor();
  assert.deepEqual(
    await items.evaluateAll((els) => els.map((el) => el.classList.contains('unverified'))),
    [false, true, false, true],
  );
  assert.match(await items.nth(1).textContent(), /Not found in the article/);
  const flagged = items.nth(1).locator('.bullet-text');
  const describedBy = await flagged.getAttribute('aria-describedby');
  assert.match(await page.locator(`#${describedBy}`).textContent(), /Not found in the article/);
  assert.equal(await items.nth(0).locator('.flag').count(), 0);
  assert.equal(await items.nth(2).locator('.flag').count(), 0);
});

test('article text and model output are shown as text, never as markup', async (t) => {
  const page = await openApp(t);
  const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
  const text = `Before ${evil} after.\n\nSecond <b>bold</b> paragraph.`;
  const article = { ...ARTICLE, title: `<img src=x onerror="window.__pwned=3">Title`, byline: '<script>x</script>', text };
  await openArticle(page, { article });
  await emitJob(page, 1, {
    event: 'extractive',
    data: { bullets: [{ text: `<img src=y onerror="window.__pwned=4">`, sources: [byteSpan(text, evil)], support: 1 }] },
  });
  await emitJob(page, 1, {
    event: 'done',
    data: {
      summary: summaryOf([{ text: `Point ${evil}`, sources: [byteSpan(text, evil)], support: 0.1 }], {
        summary: `<script>window.__pwned=5</script>tl;dr`,
      }),
    },
  });
  await page.locator('.bullet-text').first().click();
  await page.locator('#article-text mark').waitFor();

  assert.equal(await page.locator('#app img, #app script, #app b').count(), 0, 'no element made from data');
  assert.equal(await page.locator('#article-text p').first().textContent(), `Before ${evil} after.`);
  assert.equal(await page.locator('#article-text mark').textContent(), evil);
  assert.equal(await page.locator('#article-title').textContent(), article.title);
  assert.equal(await page.locator('.bullet-text').first().textContent(), `Point ${evil}`);
  assert.equal(await page.locator('#tldr').textContent(), '<script>window.__pwned=5</script>tl;dr');
  await page.waitForTimeout(100);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
});
