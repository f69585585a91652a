// The window as a desktop app: files handed over on the command line (at start and by a later
// launch) and the sidebar as it was left.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARTICLE, openApp, respond, useBrowser, waitForCall } from './helpers.mjs';

useBrowser();

const emit = (page, event, payload) => page.evaluate(([e, p]) => window.__precisMock.emit(e, p), [event, payload]);

test('files given on the command line open as a drop of several files, at start and later', async (t) => {
  const page = await openApp(t, {
    setup: (article) => {
      window.__precisMock.handlers.take_opened_files = () => ['/home/test/one.md', '/home/test/two.md'];
      window.__precisMock.handlers.open_article = () => article;
    },
    setupArg: ARTICLE,
  });
  assert.deepEqual(await waitForCall(page, 'open_article'), [{ path: '/home/test/one.md' }]);
  await page.locator('#article-title').waitFor();
  assert.match(await page.locator('.next').textContent(), /two\.md/);

  // A later launch: the shell says files arrived, the window takes them.
  await respond(page, 'take_opened_files', ['/home/test/three.pdf']);
  await emit(page, 'files-opened', null);
  assert.deepEqual((await waitForCall(page, 'open_article', 2)).at(-1), { path: '/home/test/three.pdf' });
});

test('the sidebar opens as it was left, and toggling it is remembered', async (t) => {
  const page = await openApp(t, {
    setup: () => {
      window.__precisMock.handlers.get_preferences = () => ({ sidebarOpen: true });
    },
  });
  await page.locator('#history').waitFor();
  assert.equal(await page.locator('#history-toggle').getAttribute('aria-expanded'), 'true');
  await page.locator('#history-toggle').click();
  const saved = await waitForCall(page, 'save_preferences');
  assert.deepEqual(saved.at(-1), { preferences: { sidebarOpen: false } });
});
