// End to end on the real window, under Xvfb: the clipboard from anywhere, and links. The global
// shortcut (pressed with xdotool, as from another program) summarizes the text on the clipboard
// (set with xclip), or the primary selection when the clipboard is empty; a link on it asks
// first and then fetches the page from a web server on 127.0.0.1 that this test runs, once; and
// the shortcut can be changed in Preferences.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { BODY, setSelection, sleep, startDriver, titleIs, xdotool } from './desktop.mjs';

let desktop;
let session;
let server;
const requests = [];

const PAGE = `<!doctype html><html><head><title>Harbour Plan Gets the Green Light</title></head><body>
<nav><a href="/">Home</a></nav><article><h1>Harbour Plan Gets the Green Light</h1><img src="/tracker.png">
<p>${BODY}</p><p>${BODY}</p></article><footer>Gazette</footer></body></html>`;

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url);
    if (req.url === '/story.html') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    else res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  desktop = await startDriver();
  session = await desktop.open();
});

after(async () => {
  await desktop?.stop();
  server?.close();
});

test('the global shortcut summarizes the clipboard, or the primary selection when it is empty', async () => {
  setSelection('clipboard', `Clipboard Article About Buses\n\n${BODY}`);
  await sleep(300);
  xdotool('key', 'ctrl+alt+s');
  await session.waitFor(titleIs('Clipboard Article About Buses'), 'the clipboard text in the window', 30_000);

  // An empty clipboard: the primary selection (selected text) is taken instead.
  setSelection('clipboard', '');
  setSelection('primary', `Selected Text About Trams\n\n${BODY}`);
  await sleep(300);
  xdotool('key', 'ctrl+alt+s');
  await session.waitFor(titleIs('Selected Text About Trams'), 'the primary selection in the window', 30_000);

  // The window's own button does the same.
  setSelection('clipboard', `Button Article About Ferries\n\n${BODY}`);
  await sleep(300);
  await session.click(await session.find('#summarize-clipboard'));
  await session.waitFor(titleIs('Button Article About Ferries'), 'the clipboard text from the button', 30_000);
});

test('a link asks first, then its page is fetched once from the server the person named', async () => {
  const url = `http://127.0.0.1:${server.address().port}/story.html`;
  setSelection('clipboard', url);
  await sleep(300);
  xdotool('key', 'ctrl+alt+s');
  await session.waitFor(
    "const q = document.getElementById('link-question'); return q && !q.hidden",
    'the question whether to fetch the page',
    30_000,
  );
  const question = await session.run("return document.getElementById('link-question').textContent");
  assert.match(question, /Fetch this page\? Precis will download it once; summarizing stays on this computer\./);
  assert.deepEqual(requests, [], 'nothing fetched before the person answers');
  await session.click(await session.find('#fetch-link'));
  await session.waitFor(titleIs('Harbour Plan Gets the Green Light'), 'the fetched page', 30_000);
  // The page alone, not its picture.
  assert.deepEqual(requests, ['/story.html']);
});

test('the shortcut is changed in Preferences, and the old one no longer answers', async () => {
  await session.click(await session.find('#preferences-open'));
  await session.run(
    "const i = document.getElementById('shortcut'); i.value = 'Ctrl+Alt+K'; i.dispatchEvent(new Event('change'));",
  );
  await sleep(500);
  assert.equal(await session.run("return document.getElementById('preferences-error').hidden"), true);
  await session.click(await session.find('#preferences-close'));

  setSelection('clipboard', `New Shortcut Article\n\n${BODY}`);
  await sleep(300);
  xdotool('key', 'ctrl+alt+s');
  await sleep(2000);
  assert.equal(await session.run("return document.getElementById('article-title').textContent"), 'Harbour Plan Gets the Green Light');
  xdotool('key', 'ctrl+alt+k');
  await session.waitFor(titleIs('New Shortcut Article'), 'the clipboard text by the new shortcut', 30_000);
});
