// End to end on the real window: the desktop app under Xvfb, driven through WebDriver
// (tauri-driver in front of WebKitWebDriver). A real native drag from a GTK window drops an
// article on Precis; the test waits for the key points, clicks Copy, reads the clipboard back,
// and saves screenshots to tests/e2e/artifacts/.
//
// Needs: DISPLAY (scripts/test runs this under xvfb-run), tauri-driver, WebKitWebDriver,
// xdotool, xclip, python3-gi with GTK 3, the app built with the `custom-protocol` feature, and
// the smollm2 model fetched (scripts/test does all of this).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, startDriver, xdotool } from './desktop.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = join(here, 'artifacts');

let desktop;
let source;
let session;
let article;

function shot(name) {
  execFileSync('import', ['-window', 'root', join(artifacts, name)]);
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  // startDriver's settings pick the tiny real model and short output, so the run stays quick,
  // and its history is the run's own, so it always summarizes.
  desktop = await startDriver();
  article = join(desktop.work, 'library-article.md');
  copyFileSync(join(here, 'fixtures', 'library-article.md'), article);
  session = await desktop.open();
});

after(async () => {
  source?.kill();
  await desktop?.stop();
});

// When the WebDriver session is lost (WebKitWebDriver says "page crash or hang"), say which of
// the window's processes are still alive and keep a picture of the screen, so a CI log shows
// whether the web process died, the app died, or the page stopped answering.
function reportProcesses(error) {
  let ps = '';
  try {
    ps = execFileSync('ps', ['-eo', 'pid,stat,pcpu,rss,etime,args'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /PID|precis-app|WebKit|tauri-driver/.test(l))
      .join('\n');
    shot('window-failure.png');
  } catch (e) {
    ps += `\n(could not list processes: ${e.message})`;
  }
  console.error(`the end-to-end test failed: ${error.message}\nprocesses:\n${ps}`);
}

test('a file dragged from another window is summarized and its key points copied', async () => {
  try {
    await dragAndSummarize();
  } catch (error) {
    reportProcesses(error);
    throw error;
  }
});

test('the window answers while a huge file is read, and Escape stops a running summary', async () => {
  try {
    await answersWhileBusy();
  } catch (error) {
    reportProcesses(error);
    throw error;
  }
});

/** Drags `path` from a small GTK window onto the Precis window, as a person would. */
async function dragIn(path) {
  source?.kill();
  // The drag source sits to the right of the Precis window.
  source = spawn('/usr/bin/python3', [join(here, 'drag_source.py'), path, '1300', '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => source.stdout.once('data', resolve));
  const sourceWindow = xdotool('search', '--sync', '--name', '^precis-drag-source$').split('\n')[0];
  await sleep(500);
  const geo = Object.fromEntries(
    xdotool('getwindowgeometry', '--shell', sourceWindow)
      .split('\n')
      .map((l) => l.split('=')),
  );
  const fromX = Number(geo.X) + 60;
  const fromY = Number(geo.Y) + 40;
  const [toX, toY] = [500, 400];
  xdotool('mousemove', String(fromX), String(fromY));
  await sleep(200);
  xdotool('mousedown', '1');
  // Move in small steps, as a hand would, so GTK starts the drag and the target sees it.
  const steps = 30;
  for (let i = 1; i <= steps; i++) {
    const x = Math.round(fromX + ((toX - fromX) * i) / steps);
    const y = Math.round(fromY + ((toY - fromY) * i) / steps);
    xdotool('mousemove', String(x), String(y));
    await sleep(40);
  }
  await sleep(300);
  xdotool('mouseup', '1');
}

async function dragAndSummarize() {
  shot('window-empty.png');
  await dragIn(article);
  const dropped = Date.now();

  const title = await session.waitFor(
    "const t = document.getElementById('article-title'); return t && t.textContent",
    'the dropped article to open',
    30_000,
  );
  assert.equal(title, 'Village Library Opens a Tool-Lending Shelf');
  // The first article after start: the key points come while the model is still loading.
  await session.waitFor("return document.querySelector('#bullets li .bullet-text') && 'shown'", 'the first key point', 60_000);
  const pointsAfter = Date.now() - dropped;
  const stillWorking = await session.run("const a = document.querySelector('.summary-actions'); return !a || a.hidden");
  assert.ok(stillWorking, 'the key points are shown before the summary is finished');
  const progress = await session.run("return (document.getElementById('progress-line') || {}).textContent || ''");
  console.error(`first key point ${pointsAfter} ms after the drop (then: ${JSON.stringify(progress)})`);
  shot('window-writing.png');

  await session.waitFor(
    "const a = document.querySelector('.summary-actions'); return a && !a.hidden",
    'the finished summary',
    480_000,
  );
  const bullets = await session.run("return [...document.querySelectorAll('#bullets li .bullet-text')].map((b) => b.textContent)");
  const tldr = await session.run("return document.getElementById('tldr').textContent");
  assert.ok(tldr.trim().length > 0 || bullets.length > 0, 'the model wrote something');
  assert.ok(bullets.length <= 3, `short = at most 3 points: ${JSON.stringify(bullets)}`);
  writeFileSync(join(artifacts, 'window-summary.webview.png'), await session.screenshot());
  shot('window-summary.png');

  await session.click(await session.find('#copy-markdown'));
  await session.waitFor("return /Copied/i.test(document.body.textContent)", 'the copy confirmation', 10_000);
  const markdown = execFileSync('xclip', ['-o', '-selection', 'clipboard'], { encoding: 'utf8' });
  assert.match(markdown, /^# Village Library Opens a Tool-Lending Shelf/);
  assert.ok(markdown.includes(tldr.trim().split(/\s+/).slice(0, 6).join(' ')), `${tldr} in ${markdown}`);
  for (const b of bullets) assert.ok(markdown.includes(`- ${b.split(/\s+/).join(' ')}`), `${b} in ${markdown}`);
  const html = execFileSync('xclip', ['-o', '-selection', 'clipboard', '-t', 'text/html'], { encoding: 'utf8' });
  assert.match(html, /<ul><li>/);

  // The finished summary is in the history: the sidebar lists it and re-opens it.
  await session.click(await session.find('#history-toggle'));
  const entry = await session.waitFor(
    "const li = document.querySelector('#history-list .history-item'); return li && li.textContent",
    'the summary in the history sidebar',
    10_000,
  );
  assert.match(entry, /Village Library Opens a Tool-Lending Shelf/);
  const stats = await session.run("return document.getElementById('history-stats').textContent");
  assert.match(stats, /^1 summary/);
  await session.waitFor("return !document.getElementById('history').hidden", 'the sidebar to show', 10_000);
  // Let WebKit paint the sidebar before the X screenshot.
  await sleep(700);
  shot('window-history.png');
}

/**
 * A 30 MB article takes seconds to read. While it is read, the window still answers: the
 * history sidebar opens and closes, its list comes back from the shell. Then a summary of it
 * starts, and Escape stops it at once.
 */
async function answersWhileBusy() {
  const work = dirname(article);
  const huge = join(work, 'a-very-long-report.txt');
  const sentence = 'The council voted to keep the night buses running until two in the morning on weekdays. ';
  const paragraph = sentence.repeat(20).trim();
  writeFileSync(huge, `A Very Long Report\n\n${Array(17000).fill(paragraph).join('\n\n')}\n`);
  await dragIn(huge);
  await session.waitFor("return /Opening the article/.test(document.getElementById('main').textContent) && 'opening'", 'the huge article to start opening', 30_000);
  // The sidebar may be open from an earlier test: close it first, then open it while the file is read.
  if ((await session.run("return document.getElementById('history-toggle').getAttribute('aria-expanded')")) === 'true') {
    await session.click(await session.find('#history-toggle'));
  }
  const started = Date.now();
  await session.click(await session.find('#history-toggle'));
  const expanded = await session.waitFor(
    "return document.getElementById('history-toggle').getAttribute('aria-expanded') === 'true' && 'yes'",
    'the history toggle to answer',
    10_000,
  );
  assert.equal(expanded, 'yes');
  // The shell answered the sidebar's list while it was still reading the file.
  await session.waitFor(
    "const e = document.getElementById('history-empty'); return (document.querySelector('#history-list .history-item') || (e && !e.hidden && !/Loading/.test(e.textContent))) && 'listed'",
    'the history list',
    10_000,
  );
  const stillOpening = await session.run("return /Opening the article/.test(document.body.textContent)");
  console.error(`the window answered in ${Date.now() - started} ms; still reading the file: ${stillOpening}`);
  await session.click(await session.find('#history-toggle'));

  const title = await session.waitFor(
    "const t = document.getElementById('article-title'); return t && t.textContent === 'A Very Long Report' && t.textContent",
    'the huge article to open',
    240_000,
  );
  assert.equal(title, 'A Very Long Report');
  // Opening an article starts its summary; ranking five million words takes a while.
  await session.waitFor("const c = document.getElementById('cancel'); return c && !c.hidden && 'running'", 'the summary to start', 30_000);
  await session.click(await session.find('#article-title'));
  const stopAsked = Date.now();
  xdotool('key', 'Escape');
  await session.waitFor(
    "const s = document.getElementById('summarize'); return s && !s.hidden && 'stopped'",
    'Escape to stop the summary',
    20_000,
  );
  console.error(`Escape stopped the summary in ${Date.now() - stopAsked} ms`);
  assert.equal(await session.run("return document.getElementById('cancel').hidden"), true);
  await sleep(500);
  shot('window-stopped.png');
}

