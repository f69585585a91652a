// Copying and exporting the summary, and choosing and remembering the output options.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARTICLE,
  calls,
  emitJob,
  openApp,
  openArticle,
  respond,
  summaryOf,
  useBrowser,
  waitForCall,
} from './helpers.mjs';

useBrowser();

const SUMMARY = summaryOf([{ text: 'It cost 6.3 million euros.' }, { text: 'Turbines sit under the pier.', support: 0.95 }]);

/** Opens the article, finishes job 1, and scripts format_* to echo their format. */
async function withSummary(t) {
  const page = await openApp(t, {
    setup: () => {
      const m = window.__precisMock;
      m.handlers.format_summary = ({ format }) => (format === 'html' ? '<ul><li>HTML</li></ul>' : `ALL as ${format}`);
      m.handlers.format_bullet = ({ bullet, format }) =>
        format === 'html' ? `<ul><li>${bullet.text}</li></ul>` : `ONE ${bullet.text} as ${format}`;
    },
  });
  await openArticle(page);
  await emitJob(page, 1, { event: 'done', data: { summary: SUMMARY } });
  await page.locator('#copy-markdown').waitFor();
  return page;
}

test('Copy as Markdown formats the summary and puts text and HTML on the clipboard', async (t) => {
  const page = await withSummary(t);
  await page.locator('#copy-markdown').click();
  const html = await waitForCall(page, 'plugin:clipboard-manager|write_html');
  const formats = await calls(page, 'format_summary');
  assert.deepEqual(formats.map((a) => a.format).sort(), ['html', 'markdown']);
  assert.deepEqual(formats[0].summary, SUMMARY);
  assert.deepEqual(await calls(page, 'plugin:clipboard-manager|write_text'), [{ text: 'ALL as markdown' }]);
  assert.deepEqual(html, [{ html: '<ul><li>HTML</li></ul>', altText: 'ALL as markdown' }]);
  await page.locator('#status').getByText('Copied as Markdown.').waitFor();
  assert.equal(await page.locator('#status').getAttribute('role'), 'status');
});

test('Copy as text uses the plain format', async (t) => {
  const page = await withSummary(t);
  await page.locator('#copy-plain').click();
  await waitForCall(page, 'plugin:clipboard-manager|write_html');
  assert.deepEqual(await calls(page, 'plugin:clipboard-manager|write_text'), [{ text: 'ALL as plain' }]);
  assert.deepEqual(await calls(page, 'plugin:clipboard-manager|write_html'), [
    { html: '<ul><li>HTML</li></ul>', altText: 'ALL as plain' },
  ]);
  await page.locator('#status').getByText('Copied as text.').waitFor();
});

test('each bullet copies alone', async (t) => {
  const page = await withSummary(t);
  await page.getByRole('button', { name: 'Copy point 2' }).click();
  await waitForCall(page, 'plugin:clipboard-manager|write_html');
  const formats = await calls(page, 'format_bullet');
  assert.deepEqual(formats.map((a) => a.format).sort(), ['html', 'plain']);
  assert.deepEqual(formats[0].bullet, SUMMARY.bullets[1]);
  assert.deepEqual(await calls(page, 'plugin:clipboard-manager|write_text'), [
    { text: 'ONE Turbines sit under the pier. as plain' },
  ]);
  assert.deepEqual(await calls(page, 'plugin:clipboard-manager|write_html'), [
    { html: '<ul><li>Turbines sit under the pier.</li></ul>', altText: 'ONE Turbines sit under the pier. as plain' },
  ]);
  await page.locator('#status').getByText('Copied point 2.').waitFor();
  assert.equal((await calls(page, 'format_summary')).length, 0);
});

test('Ctrl+Shift+C copies all bullets as Markdown', async (t) => {
  const page = await withSummary(t);
  await page.keyboard.press('Control+Shift+C');
  await waitForCall(page, 'plugin:clipboard-manager|write_html');
  assert.deepEqual(await calls(page, 'plugin:clipboard-manager|write_text'), [{ text: 'ALL as markdown' }]);
});

test('Ctrl+Shift+C with nothing finished says so instead of copying', async (t) => {
  const page = await openApp(t);
  await page.keyboard.press('Control+Shift+C');
  await page.locator('#status').getByText('Nothing to copy yet.').waitFor();
  await openArticle(page);
  await page.keyboard.press('Control+Shift+C');
  await page.locator('#status').getByText(/Wait for the summary to finish/).waitFor();
  assert.equal((await calls(page, 'format_summary')).length, 0);
  assert.equal((await calls(page, 'plugin:clipboard-manager|write_text')).length, 0);
});

test('a clipboard failure shows its message', async (t) => {
  const page = await withSummary(t);
  await respond(page, 'plugin:clipboard-manager|write_text', { reject: 'Clipboard is not available.' });
  await page.locator('#copy-markdown').click();
  await page.locator('#error').waitFor();
  assert.equal(await page.locator('#error .notice-text').textContent(), 'Clipboard is not available.');
});

test('Export saves a Markdown file through the save dialog and save_text', async (t) => {
  const page = await withSummary(t);
  await respond(page, 'pick_save_path', '/home/test/Harbour.md');
  await page.locator('#export').click();
  await waitForCall(page, 'save_text');
  const [dialog] = await calls(page, 'pick_save_path');
  assert.deepEqual(dialog, { name: `${ARTICLE.title}.md` });
  assert.deepEqual(
    (await calls(page, 'format_summary')).map((a) => a.format),
    ['markdown'],
  );
  assert.deepEqual(await calls(page, 'save_text'), [{ path: '/home/test/Harbour.md', contents: 'ALL as markdown' }]);
  await page.locator('#status').getByText('Saved Harbour.md.').waitFor();
});

test('Export does nothing when the save dialog is dismissed', async (t) => {
  const page = await withSummary(t);
  await page.locator('#export').click();
  await waitForCall(page, 'pick_save_path');
  await page.waitForTimeout(100);
  assert.equal((await calls(page, 'save_text')).length, 0);
});

test('a stopped summary can still be copied, as far as it got', async (t) => {
  const page = await openApp(t);
  await openArticle(page);
  await emitJob(page, 1, { event: 'partial', data: { delta: '', summary: 'Half', bullets: [{ text: 'One point' }] } });
  await page.locator('#bullets').getByText('One point').waitFor();
  await page.locator('#cancel').click();
  await page.locator('#copy-markdown').click();
  await waitForCall(page, 'plugin:clipboard-manager|write_text');
  const [first] = await calls(page, 'format_summary');
  assert.equal(first.summary.summary, 'Half');
  assert.deepEqual(first.summary.bullets, [{ text: 'One point' }]);
  assert.equal(first.summary.stop_reason, 'cancelled');
});

test('settings load at start and every change is saved, without running again', async (t) => {
  const page = await openApp(t, {
    setup: () => {
      window.__precisMock.handlers.get_settings = () => ({ type: 'tldr', length: 'long', model: null });
    },
  });
  assert.equal(await page.locator('#type').inputValue(), 'tldr');
  assert.equal(await page.locator('#length').inputValue(), 'long');
  assert.equal(await page.locator('#model').inputValue(), 'qwen2.5-test');
  // Generators only: the embedder is not offered.
  const options = await page.locator('#model option').allTextContents();
  assert.deepEqual(options, ['qwen2.5-test', 'Add a GGUF file…']);

  await openArticle(page);
  const [job] = await calls(page, 'summarize');
  assert.deepEqual(job.options, { type: 'tldr', length: 'long', model: null });
  await emitJob(page, 1, { event: 'done', data: { summary: summaryOf([{ text: 'x' }]) } });
  await page.locator('#summarize').getByText('Summarize again').waitFor();

  await page.locator('#type').selectOption('headline');
  await page.locator('#length').selectOption('short');
  assert.deepEqual(await waitForCall(page, 'save_settings', 2), [
    { settings: { type: 'headline', length: 'long', model: null } },
    { settings: { type: 'headline', length: 'short', model: null } },
  ]);
  await page.waitForTimeout(100);
  assert.equal((await calls(page, 'summarize')).length, 1, 'changing an option does not run');

  await page.locator('#summarize').click();
  const jobs = await waitForCall(page, 'summarize', 2);
  assert.deepEqual(jobs[1].options, { type: 'headline', length: 'short', model: null });
  assert.equal(jobs[0].again, false);
  assert.equal(jobs[1].again, true, 'an explicit re-run bypasses the history');
});
