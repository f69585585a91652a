// First run without a model: the offer to download it with a real progress bar, or to use a
// GGUF file on disk; and switching models.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARTICLE,
  calls,
  emitFetch,
  emitJob,
  nativeDrop,
  openApp,
  openArticle,
  respond,
  useBrowser,
  waitForCall,
} from './helpers.mjs';

useBrowser();

/** A model list whose default generator is not downloaded; `present()` flips it. */
function missingModel() {
  const m = window.__precisMock;
  m.modelPresent = false;
  m.handlers.list_models = () => ({
    modelsDir: '/models',
    defaultModel: 'qwen2.5-test',
    models: [
      {
        id: 'qwen2.5-test',
        name: 'qwen2.5-test',
        description: 'Default generator',
        role: 'generator',
        architecture: 'qwen2',
        size: 1_100_000_000,
        present: m.modelPresent,
        path: m.modelPresent ? '/models/qwen2.5-test.gguf' : null,
        custom: false,
      },
      {
        id: 'smollm-test',
        name: 'smollm-test',
        description: 'Small generator',
        role: 'generator',
        architecture: 'llama',
        size: 90_000_000,
        present: true,
        path: '/models/smollm.gguf',
        custom: false,
      },
    ],
  });
  m.handlers.fetch_model = () =>
    new Promise((resolve, reject) => {
      m.finishFetch = () => {
        m.modelPresent = true;
        resolve(null);
      };
      m.failFetch = (error) => reject(error);
    });
}

test('first run: the window offers the missing model with its size, and downloads it with progress', async (t) => {
  const page = await openApp(t, { setup: missingModel });
  const card = page.locator('#model-card');
  await card.waitFor();
  assert.match(await card.textContent(), /qwen2\.5-test/);
  const download = page.locator('#fetch-model');
  assert.equal(await download.textContent(), 'Download (1.1 GB)');
  assert.match(await page.locator('#model option').first().textContent(), /qwen2\.5-test — not downloaded/);

  // An article dropped now waits for the model instead of failing.
  await respond(page, 'open_article', ARTICLE);
  await nativeDrop(page, [ARTICLE.source]);
  await page.locator('#article-title').waitFor();
  assert.equal((await calls(page, 'summarize')).length, 0);
  assert.equal(await page.locator('#summarize').isDisabled(), true);

  await download.click();
  const [fetch] = await waitForCall(page, 'fetch_model');
  assert.equal(fetch.name, 'qwen2.5-test');
  assert.match(fetch.onProgress, /^__CHANNEL__:\d+$/);
  const bar = page.getByRole('progressbar');
  await bar.waitFor();
  assert.equal(await bar.getAttribute('aria-valuemin'), '0');
  assert.equal(await bar.getAttribute('aria-valuemax'), '100');
  assert.equal(await bar.getAttribute('aria-valuenow'), '0');

  await emitFetch(page, { event: 'started', data: { total: 1_000_000_000 } });
  await emitFetch(page, { event: 'downloading', data: { package: 'precis-model-qwen-1', part: 1, parts: 2 } });
  await emitFetch(page, { event: 'bytes', data: { done: 250_000_000, total: 1_000_000_000 } });
  await page.waitForFunction(() => document.querySelector('[role=progressbar]').getAttribute('aria-valuenow') === '25');
  assert.equal(await page.locator('.fetch-phase').textContent(), 'Downloading part 1 of 2 — 250 MB of 1.0 GB');
  const width = await page.locator('.bar-fill').evaluate((el) => el.style.width);
  assert.equal(width, '25%');

  await emitFetch(page, { event: 'downloading', data: { package: 'precis-model-qwen-2', part: 2, parts: 2 } });
  await emitFetch(page, { event: 'bytes', data: { done: 750_000_000, total: 1_000_000_000 } });
  await page.waitForFunction(() => document.querySelector('[role=progressbar]').getAttribute('aria-valuenow') === '75');
  assert.match(await page.locator('.fetch-phase').textContent(), /^Downloading part 2 of 2/);

  await emitFetch(page, { event: 'verifying' });
  await page.locator('.fetch-phase').getByText(/^Verifying/).waitFor();
  assert.equal(await bar.getAttribute('aria-valuenow'), '100');
  await emitFetch(page, { event: 'done', data: { path: '/models/qwen2.5-test.gguf' } });

  await page.evaluate(() => window.__precisMock.finishFetch());
  await card.waitFor({ state: 'hidden' });
  assert.equal((await calls(page, 'list_models')).length, 2, 'the list is read again');
  await page.locator('#status').getByText('Downloaded qwen2.5-test.').waitFor();
  // The waiting article is summarized now.
  const [job] = await waitForCall(page, 'summarize');
  assert.equal(job.jobId, 1);
});

test('a failed download says why, and can be tried again', async (t) => {
  const page = await openApp(t, { setup: missingModel });
  await page.locator('#fetch-model').click();
  await waitForCall(page, 'fetch_model');
  await emitFetch(page, { event: 'started', data: { total: 100 } });
  const message = 'The download of qwen2.5-test failed: the checksum did not match. Try again.';
  await page.evaluate((msg) => window.__precisMock.failFetch({ code: 'fetch', message: msg }), message);
  const error = page.locator('#model-card .inline-error');
  await error.waitFor();
  assert.equal(await error.textContent(), message);
  assert.equal(await page.getByRole('progressbar').isVisible(), false);
  await page.locator('#fetch-model').click();
  await waitForCall(page, 'fetch_model', 2);
  assert.equal(await error.isVisible(), false);
});

test('a download can be cancelled: Rust is asked to stop it, and the card offers it again', async (t) => {
  const page = await openApp(t, { setup: missingModel });
  await page.evaluate(() => {
    const m = window.__precisMock;
    m.handlers.cancel_fetch = () => {
      m.failFetch({ code: 'cancelled', message: 'cancelled' });
      return null;
    };
  });
  const stop = page.locator('#cancel-fetch');
  assert.equal(await stop.isVisible(), false, 'nothing to cancel before a download');
  await page.locator('#fetch-model').click();
  await waitForCall(page, 'fetch_model');
  await emitFetch(page, { event: 'started', data: { total: 1_000_000_000 } });
  await emitFetch(page, { event: 'bytes', data: { done: 100_000_000, total: 1_000_000_000 } });
  await stop.waitFor();
  await stop.focus();
  await page.keyboard.press('Enter');
  const [cancel] = await waitForCall(page, 'cancel_fetch');
  assert.equal(cancel.name, 'qwen2.5-test');
  await page.locator('#status').getByText('Download of qwen2.5-test cancelled.').waitFor();
  assert.equal(await page.getByRole('progressbar').isVisible(), false);
  assert.equal(await page.locator('#model-card .inline-error').isVisible(), false, 'a cancel is not an error');
  assert.equal(await stop.isVisible(), false);
  assert.equal(await page.locator('#fetch-model').isVisible(), true);
  assert.deepEqual(await page.evaluate(() => window.__precisMock.errors), []);
});

test('first run: a GGUF file on disk can be used instead, and jobs name it by its id', async (t) => {
  const page = await openApp(t, { setup: missingModel });
  await respond(page, 'pick_model', '/home/test/own.gguf');
  await page.evaluate(() => {
    const m = window.__precisMock;
    const own = (path) => ({
      id: path, name: 'own', description: path, role: 'generator', architecture: 'llama', size: 1, present: true, path, custom: true,
    });
    const list = m.handlers.list_models;
    m.handlers.list_models = () => {
      const listed = list();
      return m.added ? { ...listed, models: [...listed.models, m.added] } : listed;
    };
    m.handlers.add_model = ({ path }) => {
      m.added = own(path);
      return m.added;
    };
  });
  await page.locator('#pick-model').click();
  await waitForCall(page, 'pick_model');
  assert.deepEqual(await waitForCall(page, 'add_model'), [{ path: '/home/test/own.gguf' }]);
  const saved = await waitForCall(page, 'save_settings');
  // What the shell resolves a job's model by: the id add_model returned, not the display name.
  assert.equal(saved.at(-1).settings.model, '/home/test/own.gguf');
  await openArticle(page);
  const [job] = await calls(page, 'summarize');
  assert.equal(job.options.model, '/home/test/own.gguf');
});

test('switching to a present model hides the offer; the choice is saved', async (t) => {
  const page = await openApp(t, { setup: missingModel });
  await page.locator('#model-card').waitFor();
  await page.locator('#model').selectOption('smollm-test');
  await page.locator('#model-card').waitFor({ state: 'hidden' });
  assert.deepEqual(await waitForCall(page, 'save_settings'), [
    { settings: { type: 'key-points', length: 'medium', model: 'smollm-test' } },
  ]);
  await openArticle(page);
  const [job] = await calls(page, 'summarize');
  assert.equal(job.options.model, 'smollm-test');
});

test('"Add a GGUF file…" in the model picker opens the file dialog', async (t) => {
  const page = await openApp(t);
  await page.locator('#model').selectOption({ label: 'Add a GGUF file…' });
  await waitForCall(page, 'pick_model');
  assert.equal(await page.locator('#model').inputValue(), 'qwen2.5-test', 'the picker keeps the current model');
});

test('a job failing with model_missing brings the offer back', async (t) => {
  const page = await openApp(t);
  await openArticle(page);
  await page.evaluate(missingModel);
  const message = 'The model qwen2.5-test is not downloaded yet.';
  await emitJob(page, 1, { event: 'failed', data: { code: 'model_missing', message } });
  await page.locator('#model-card').waitFor();
  assert.equal(await page.locator('#error .notice-text').textContent(), message);
});

test('if the model list cannot be read, the error shows and summaries still run', async (t) => {
  const message = 'The model catalog could not be read: models/catalog.toml is missing.';
  const page = await openApp(t, {
    setupArg: message,
    setup: (msg) => {
      window.__precisMock.handlers.list_models = () => {
        throw { code: 'catalog', message: msg };
      };
    },
  });
  await page.locator('#error').waitFor();
  assert.equal(await page.locator('#error .notice-text').textContent(), message);
  assert.equal(await page.locator('#model-card').isVisible(), false);
  await openArticle(page);
  assert.equal((await calls(page, 'summarize'))[0].options.model, null);
});
