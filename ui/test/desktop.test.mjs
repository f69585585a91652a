// The window as a desktop app: files handed over on the command line (at start and by a later
// launch), the sidebar as it was left, links fetched only as the person says, the clipboard
// (button and global shortcut) and the preferences dialog.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARTICLE, calls, openApp, paste, respond, useBrowser, waitForCall } from './helpers.mjs';

useBrowser();

const URL = 'https://news.example/story';
const LINK_ERROR = { code: 'link', message: `${URL} is a link to a web page.` };
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
      window.__precisMock.handlers.get_preferences = () => ({ sidebarOpen: true, links: 'ask', shortcut: 'Ctrl+Alt+S' });
    },
  });
  await page.locator('#history').waitFor();
  assert.equal(await page.locator('#history-toggle').getAttribute('aria-expanded'), 'true');
  await page.locator('#history-toggle').click();
  const saved = await waitForCall(page, 'save_preferences');
  assert.deepEqual(saved.at(-1), { preferences: { sidebarOpen: false, links: 'ask', shortcut: 'Ctrl+Alt+S' } });
});

test('a pasted link asks first, and the page is fetched only when the person says so', async (t) => {
  const page = await openApp(t);
  await respond(page, 'article_from_text', { reject: LINK_ERROR });
  await respond(page, 'fetch_article', { ...ARTICLE, source: URL });
  await paste(page, URL);
  const question = page.locator('#link-question');
  await question.waitFor();
  assert.match(await question.textContent(), /Fetch this page\? Precis will download it once; summarizing stays on this computer\./);
  assert.equal((await calls(page, 'fetch_article')).length, 0, 'nothing fetched before the answer');
  await page.locator('#fetch-link').click();
  assert.deepEqual(await waitForCall(page, 'fetch_article'), [{ url: URL }]);
  await page.locator('#article-title').waitFor();
  assert.equal(await page.locator('#error').isVisible(), false);
  // Once is once: the preference stays "ask".
  assert.equal((await calls(page, 'save_preferences')).length, 0);

  // Dismissed, the link is not fetched.
  await paste(page, URL);
  await question.waitFor();
  await page.locator('#error').getByRole('button', { name: 'Dismiss' }).click();
  await question.waitFor({ state: 'hidden' });
  assert.equal((await calls(page, 'fetch_article')).length, 1);
});

test('"Always" fetches this and later links without asking; "Never" stops asking', async (t) => {
  const page = await openApp(t);
  await respond(page, 'article_from_text', { reject: LINK_ERROR });
  await respond(page, 'fetch_article', { ...ARTICLE, source: URL });
  await paste(page, URL);
  await page.locator('#fetch-link-always').click();
  assert.equal((await waitForCall(page, 'save_preferences')).at(-1).preferences.links, 'always');
  await waitForCall(page, 'fetch_article');
  await paste(page, URL);
  await waitForCall(page, 'fetch_article', 2);
  assert.equal(await page.locator('#link-question').isVisible(), false);

  await page.locator('#preferences-open').click();
  await page.locator('#link-policy').selectOption('never');
  assert.equal((await waitForCall(page, 'save_preferences', 2)).at(-1).preferences.links, 'never');
  await page.locator('#preferences-close').click();
  await paste(page, URL);
  await page.locator('#error').waitFor();
  assert.equal(await page.locator('#link-question').isVisible(), false);
  assert.equal((await calls(page, 'fetch_article')).length, 2);
});

test('the clipboard opens from the button and from the global shortcut', async (t) => {
  const page = await openApp(t);
  await respond(page, 'read_clipboard', ARTICLE.text);
  await respond(page, 'article_from_text', { article: { ...ARTICLE, source: 'pasted text' } });
  await page.locator('#summarize-clipboard').click();
  assert.deepEqual(await waitForCall(page, 'article_from_text'), [{ text: ARTICLE.text }]);
  assert.match(await page.locator('#summarize-clipboard').getAttribute('title'), /Ctrl\+Alt\+S from anywhere/);

  // The shortcut pressed elsewhere: the shell read the clipboard and hands over its text.
  await emit(page, 'clipboard-text', 'Text from the shortcut');
  assert.deepEqual((await waitForCall(page, 'article_from_text', 2)).at(-1), { text: 'Text from the shortcut' });
  await emit(page, 'clipboard-failed', { code: 'clipboard', message: 'the clipboard holds no text' });
  await page.locator('#error').waitFor();
  assert.equal(await page.locator('#error .notice-text').textContent(), 'the clipboard holds no text');
});

test('the shortcut is changed or turned off in Preferences; one that cannot be set is undone', async (t) => {
  const page = await openApp(t);
  await page.locator('#preferences-open').click();
  const input = page.locator('#shortcut');
  assert.equal(await input.inputValue(), 'Ctrl+Alt+S');
  await input.fill('Ctrl+Shift+K');
  await input.press('Enter');
  assert.equal((await waitForCall(page, 'save_preferences')).at(-1).preferences.shortcut, 'Ctrl+Shift+K');
  await page.locator('#shortcut-on').uncheck();
  assert.equal((await waitForCall(page, 'save_preferences', 2)).at(-1).preferences.shortcut, null);
  assert.equal(await input.isDisabled(), true);

  await respond(page, 'save_preferences', { reject: { code: 'shortcut', message: '`Ctrl+Nope` is not a shortcut Precis can use' } });
  // Clicked, not `check()`ed: the box is meant to spring back.
  await page.locator('#shortcut-on').click();
  await page.locator('#preferences-error').waitFor();
  assert.match(await page.locator('#preferences-error').textContent(), /not a shortcut/);
  assert.equal(await page.locator('#shortcut-on').isChecked(), false, 'the refused change is undone');
});
