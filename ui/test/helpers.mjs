// Shared test helpers: a static server for the test build (with the app's CSP), one headless
// Chromium per test file, and a fresh page per test with the mocked IPC ready to script.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
export const artifacts = join(here, 'artifacts');

// The CSP Tauri serves the app with; connect-src is moot here since IPC is mocked in the page.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };

function startServer() {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = normalize(join(dist, decodeURIComponent(url.pathname)));
    if (!path.startsWith(dist)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(path);
      res.writeHead(200, {
        'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
        'content-security-policy': CSP,
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

let browser;
let server;
let baseUrl;

/** Starts the server and the browser for this test file. Call once at the top of the file. */
export function useBrowser() {
  before(async () => {
    assert.ok(existsSync(join(dist, 'test', 'harness.html')), 'run `npm run build:test` first (npm test does)');
    server = await startServer();
    baseUrl = `http://127.0.0.1:${server.address().port}`;
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });
}

/**
 * Opens the harness in a fresh context, runs `setup` in the page (to script handlers before
 * the app starts, e.g. `get_settings` or `list_models`), starts the app and waits until it is
 * ready. Closing checks that the page broke no CSP rule and threw nothing.
 */
export async function openApp(t, { setup, setupArg, context: contextOptions } = {}) {
  // Reduced motion: no smooth scrolling or bar transitions, so screenshots show settled states.
  const context = await browser.newContext({
    viewport: { width: 1200, height: 800 },
    reducedMotion: 'reduce',
    ...contextOptions,
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${baseUrl}/test/harness.html`);
  await page.waitForFunction(() => window.__precisMock !== undefined);
  if (setup) await page.evaluate(setup, setupArg);
  await page.evaluate(() => window.__precisMock.start());
  await page.waitForSelector('body[data-ready="true"]');
  t.after(async () => {
    const { violations, errors } = await page.evaluate(() => ({
      violations: window.__precisMock.violations,
      errors: window.__precisMock.errors,
    }));
    await context.close();
    assert.deepEqual(violations, [], 'no CSP violations');
    assert.deepEqual([...errors, ...pageErrors], [], 'no uncaught errors in the page');
  });
  return page;
}

/** The commands the app invoked so far, as [{ cmd, args }], optionally only one command's args. */
export async function calls(page, cmd) {
  return page.evaluate((c) => (c ? window.__precisMock.callsOf(c) : window.__precisMock.calls), cmd);
}

/** Waits until `cmd` has been invoked at least `count` times and returns its args list. */
export async function waitForCall(page, cmd, count = 1) {
  await page.waitForFunction(([c, n]) => window.__precisMock.callsOf(c).length >= n, [cmd, count]);
  return calls(page, cmd);
}

export async function emitJob(page, jobId, event) {
  await page.evaluate(([id, ev]) => window.__precisMock.emitJob(id, ev), [jobId, event]);
}

export async function emitFetch(page, event) {
  await page.evaluate((ev) => window.__precisMock.emitFetch(ev), event);
}

/** A native file drop, as Tauri emits it for the main webview. */
export async function nativeDrop(page, paths) {
  await page.evaluate(
    (p) => window.__precisMock.emit('tauri://drag-drop', { paths: p, position: { x: 10, y: 10 } }),
    paths,
  );
}

/** Sets the result of a command for the rest of the test (a value, or `{ reject: error }`). */
export async function respond(page, cmd, result) {
  await page.evaluate(
    ([c, r]) => {
      window.__precisMock.handlers[c] = () => {
        if (r && typeof r === 'object' && 'reject' in r) throw r.reject;
        return r;
      };
    },
    [cmd, result],
  );
}

/** Dispatches a paste event carrying `text`, as Ctrl+V over the window would. */
export async function paste(page, text) {
  await page.evaluate((t) => {
    const data = new DataTransfer();
    data.setData('text/plain', t);
    document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, text);
}

export async function texts(page, selector) {
  return page.locator(selector).allTextContents();
}

export function artifactPath(name) {
  mkdirSync(artifacts, { recursive: true });
  return join(artifacts, name);
}

// ---- Fixtures ----

/** Non-ASCII before the sentences the bullets point at, so byte and UTF-16 offsets differ. */
export const ARTICLE_TEXT = [
  'Zürich’s harbour — a café story 🚀. Straße, naïve, 日本語 all appear here.',
  'The town opened a tide-powered station in 2024. It cost 6.3 million euros. Turbines sit under the old pier.',
  'Neighbours welcomed the quiet machines. Fishermen were unsure at first.',
].join('\n\n');

export const ARTICLE = {
  source: '/home/test/harbour.md',
  kind: 'markdown',
  title: 'Harbour Town Turns Its Old Pier Into a Power Station',
  byline: 'Ana Lopes',
  site: 'Coastal Times',
  published: '2024-05-02',
  text: ARTICLE_TEXT,
  wordCount: 1234,
  readingMinutes: 6,
};

/** The UTF-8 byte span of `sentence` inside `text`. */
export function byteSpan(text, sentence) {
  const at = text.indexOf(sentence);
  assert.ok(at >= 0, `fixture has "${sentence}"`);
  const start = Buffer.byteLength(text.slice(0, at), 'utf8');
  return { start, end: start + Buffer.byteLength(sentence, 'utf8') };
}

export function summaryOf(bullets, extra = {}) {
  return {
    title: ARTICLE.title,
    summary: 'The harbour town now makes power from the tide.',
    bullets,
    model: 'qwen2.5-test',
    stop_reason: 'end_of_turn',
    timings: { load_ms: 500, prompt_tokens: 300, prefill_ms: 1000, generated_tokens: 80, decode_ms: 4000, total_ms: 5500 },
    ...extra,
  };
}

/** Opens ARTICLE with a native drop and waits for job `jobId` to start. */
export async function openArticle(page, { article = ARTICLE, jobId = 1 } = {}) {
  await respond(page, 'open_article', article);
  await nativeDrop(page, [article.source]);
  await waitForCall(page, 'summarize', jobId);
}
