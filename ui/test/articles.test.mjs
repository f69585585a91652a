// Bringing an article in: empty state, native file drops, several files, paste, links, .gguf.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARTICLE,
  artifactPath,
  calls,
  nativeDrop,
  openApp,
  paste,
  respond,
  texts,
  useBrowser,
  waitForCall,
} from './helpers.mjs';

useBrowser();

test('empty state invites a drop, a paste or Ctrl+O', async (t) => {
  const page = await openApp(t);
  const target = page.locator('#drop-target');
  assert.equal(await target.isVisible(), true);
  assert.match(await target.textContent(), /Drop an article, paste text, or press Ctrl\+O/);
  assert.equal(await page.locator('main').count(), 1);
  assert.equal(await page.locator('.panes').isVisible(), false);
  assert.equal(await page.locator('#summarize').isDisabled(), true);
  // Loaded at start: settings and the model list.
  assert.equal((await calls(page, 'get_settings')).length, 1);
  assert.equal((await calls(page, 'list_models')).length, 1);
});

test('a native file drop opens the article, shows its metadata and starts a summary', async (t) => {
  const page = await openApp(t);
  await respond(page, 'open_article', ARTICLE);

  await page.evaluate(() => window.__precisMock.emit('tauri://drag-enter', { paths: ['/x.md'], position: { x: 1, y: 1 } }));
  await page.locator('#dropzone').waitFor({ state: 'visible' });
  await page.evaluate(() => window.__precisMock.emit('tauri://drag-leave', {}));
  await page.locator('#dropzone').waitFor({ state: 'hidden' });

  await nativeDrop(page, [ARTICLE.source]);
  assert.deepEqual(await waitForCall(page, 'open_article'), [{ path: ARTICLE.source }]);
  await page.locator('#article-title').waitFor();
  assert.equal(await page.locator('#article-title').textContent(), ARTICLE.title);
  assert.equal(await page.locator('#article-meta').textContent(), 'Coastal Times · Ana Lopes · 2024-05-02');
  assert.equal(await page.locator('#article-stats').textContent(), '1,234 words · 6 min read');
  assert.equal(await page.locator('#article-notes').isVisible(), false, 'an article read whole needs no note');
  assert.equal(await page.locator('#article-text p').count(), 3);
  assert.equal(await page.locator('#drop-target').isVisible(), false);
  assert.equal(await page.title(), `${ARTICLE.title} — Precis`);

  const [job] = await waitForCall(page, 'summarize');
  assert.equal(job.jobId, 1);
  assert.deepEqual(job.article, ARTICLE);
  assert.deepEqual(job.options, { type: 'key-points', length: 'medium', model: null });
  assert.equal(job.again, false, 'a new article may be answered from the history');
  assert.match(job.onEvent, /^__CHANNEL__:\d+$/);
});

test('what was left out of an article is said beside it, as text', async (t) => {
  const page = await openApp(t);
  const notes = ['1 of its 3 pages could not be read (it is damaged) and was left out.', 'A <b>second</b> note.'];
  await respond(page, 'open_article', { ...ARTICLE, kind: 'pdf', notes });
  await nativeDrop(page, [ARTICLE.source]);
  await page.locator('#article-title').waitFor();
  const shown = page.locator('#article-notes');
  await shown.waitFor();
  assert.equal(await shown.textContent(), notes.join(' '));
  assert.equal(await shown.getAttribute('role'), 'note');
  assert.equal(await shown.locator('b').count(), 0, 'a note is text, never markup');
  await page.screenshot({ path: artifactPath('article-notes.png') });
});

test('while the first article is read, the empty state says so and the window answers', async (t) => {
  const page = await openApp(t);
  await page.evaluate(() => {
    window.__precisMock.handlers.open_article = () => new Promise((resolve) => {
      window.__resolveOpening = resolve;
    });
  });
  await nativeDrop(page, [ARTICLE.source]);
  await page.locator('#drop-target', { hasText: 'Opening the article…' }).waitFor();
  assert.equal(await page.locator('#drop-target').getAttribute('aria-busy'), 'true');
  // The history sidebar opens and closes meanwhile.
  await page.locator('#history-toggle').click();
  assert.equal(await page.locator('#history-toggle').getAttribute('aria-expanded'), 'true');
  await page.locator('#history-toggle').click();
  await page.evaluate((a) => window.__resolveOpening(a), ARTICLE);
  await page.locator('#article-title').waitFor();
  assert.equal(await page.locator('#article-title').textContent(), ARTICLE.title);
});

test('several dropped files: the first opens, the rest wait in a Next list', async (t) => {
  const page = await openApp(t);
  await page.evaluate((article) => {
    window.__precisMock.handlers.open_article = ({ path }) => ({ ...article, source: path, title: `Title of ${path}` });
  }, ARTICLE);
  await nativeDrop(page, ['/a/one.md', '/a/two.txt', '/a/three.pdf']);
  await page.locator('#article-title').waitFor();
  assert.equal(await page.locator('#article-title').textContent(), 'Title of /a/one.md');
  assert.deepEqual(await texts(page, '.next-list button'), ['two.txt', 'three.pdf']);

  await page.getByRole('button', { name: 'three.pdf' }).click();
  await page.getByText('Title of /a/three.pdf').waitFor();
  assert.deepEqual(await texts(page, '.next-list button'), ['two.txt']);
  assert.deepEqual(
    (await calls(page, 'open_article')).map((a) => a.path),
    ['/a/one.md', '/a/three.pdf'],
  );
});

test('pasting text makes an article through article_from_text', async (t) => {
  const page = await openApp(t);
  const pasted = { ...ARTICLE, source: 'pasted text', kind: 'text', title: null, byline: null, site: null, published: null };
  await respond(page, 'article_from_text', { article: pasted });
  await paste(page, ARTICLE.text);
  assert.deepEqual(await waitForCall(page, 'article_from_text'), [{ text: ARTICLE.text }]);
  await page.locator('#article-title').waitFor();
  // No title: the source names the article; no site or byline: that line is hidden.
  assert.equal(await page.locator('#article-title').textContent(), 'pasted text');
  assert.equal(await page.locator('#article-meta').isVisible(), false);
});

test('a pasted link shows the link error inline, in plain words', async (t) => {
  const page = await openApp(t);
  const message = 'Precis cannot download web pages. Save the page in your browser and drop the file here.';
  await respond(page, 'article_from_text', { reject: { code: 'link', message } });
  await paste(page, 'https://example.com/story');
  await waitForCall(page, 'article_from_text');
  const alert = page.locator('#error');
  await alert.waitFor();
  assert.equal(await alert.getAttribute('role'), 'alert');
  assert.equal(await alert.locator('.notice-text').textContent(), message);
  // Still usable: the empty state is there and the error can be dismissed.
  assert.equal(await page.locator('#drop-target').isVisible(), true);
  await alert.getByRole('button', { name: 'Dismiss' }).click();
  await alert.waitFor({ state: 'hidden' });
});

test('an unreadable file shows its error message and nothing crashes', async (t) => {
  const page = await openApp(t);
  const message = 'The file “broken.pdf” could not be read: it has no text layer.';
  await respond(page, 'open_article', { reject: { code: 'input', message } });
  await nativeDrop(page, ['/a/broken.pdf']);
  await page.locator('#error').waitFor();
  assert.equal(await page.locator('#error .notice-text').textContent(), message);
  assert.equal(await page.locator('#drop-target').isVisible(), true);
});

test('a dropped list of file URIs opens the files it names', async (t) => {
  const page = await openApp(t);
  await respond(page, 'article_from_text', { files: ['/a/one.md', '/a/two.md'] });
  await respond(page, 'open_article', ARTICLE);
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.setData('text/uri-list', 'file:///a/one.md\nfile:///a/two.md');
    document.body.dispatchEvent(new DragEvent('dragenter', { dataTransfer: data, bubbles: true, cancelable: true }));
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  assert.deepEqual(await waitForCall(page, 'article_from_text'), [{ text: 'file:///a/one.md\nfile:///a/two.md' }]);
  assert.deepEqual(await waitForCall(page, 'open_article'), [{ path: '/a/one.md' }]);
  await page.locator('#article-title').waitFor();
  assert.deepEqual(await texts(page, '.next-list button'), ['two.md']);
  assert.equal(await page.locator('#dropzone').isVisible(), false);
});

test('Ctrl+O and the Open button choose an article file with the shell\'s dialog', async (t) => {
  const page = await openApp(t);
  await respond(page, 'pick_article', '/home/test/picked.md');
  await respond(page, 'open_article', ARTICLE);
  await page.keyboard.press('Control+o');
  await waitForCall(page, 'pick_article');
  assert.deepEqual(await waitForCall(page, 'open_article'), [{ path: '/home/test/picked.md' }]);

  await page.locator('#open').click();
  await waitForCall(page, 'pick_article', 2);
});

test('a dropped .gguf file asks, in the page, to add it as a model', async (t) => {
  const page = await openApp(t);
  await respond(page, 'add_model', {
    id: '/m/my-model.gguf',
    name: 'my-model',
    description: 'Custom model',
    role: 'generator',
    architecture: 'llama',
    size: 500_000_000,
    present: true,
    path: '/m/my-model.gguf',
    custom: true,
  });
  await nativeDrop(page, ['/m/my-model.gguf']);
  const dialog = page.getByRole('dialog', { name: 'Add this model?' });
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /my-model\.gguf/);
  assert.equal((await calls(page, 'open_article')).length, 0);

  // Escape says no.
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal((await calls(page, 'add_model')).length, 0);

  await nativeDrop(page, ['/m/my-model.gguf']);
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Add model' }).click();
  assert.deepEqual(await waitForCall(page, 'add_model'), [{ path: '/m/my-model.gguf' }]);
  await waitForCall(page, 'save_settings');
  // The model's id (its path), which the shell resolves a job's model by.
  assert.equal((await calls(page, 'save_settings')).at(-1).settings.model, '/m/my-model.gguf');
  await page.locator('#status').getByText('Added the model my-model.').waitFor();
});

test('a bad .gguf file shows model_invalid inline', async (t) => {
  const page = await openApp(t);
  const message = 'The file “junk.gguf” is not a GGUF model: it has no GGUF header.';
  await respond(page, 'add_model', { reject: { code: 'model_invalid', message } });
  await nativeDrop(page, ['/m/junk.gguf']);
  await page.getByRole('button', { name: 'Add model' }).click();
  await page.locator('#error').waitFor();
  assert.equal(await page.locator('#error .notice-text').textContent(), message);
});
