// End to end on the real window, under Xvfb: files on the command line and one window. The
// window starts with a file (`precis-app FILE`, what "Open with Precis" runs); a second launch
// with two more files hands them to the running window, which opens the first and queues the
// other, and exits without opening a window of its own. Then the window's place and the sidebar
// are remembered: the window is moved, resized and the sidebar opened, the app is killed, and
// the next start restores all three.
//
// Needs what window.test.mjs needs (scripts/test provides it), and a D-Bus session bus
// (dbus-run-session), through which the second launch finds the first.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BODY, app, precisWindows, sleep, startDriver, titleIs, xdotool } from './desktop.mjs';

let desktop;

function article(name, title) {
  const path = join(desktop.work, name);
  writeFileSync(path, `# ${title}\n\n${BODY}\n`);
  return path;
}

before(async () => {
  assert.ok(process.env.DBUS_SESSION_BUS_ADDRESS, 'run under a D-Bus session (dbus-run-session)');
  desktop = await startDriver();
});

after(async () => {
  await desktop?.stop();
});

test('files on the command line open, and a second launch hands its files to the one window', async () => {
  const first = article('first.md', 'Council Approves the Harbour Plan');
  article('second.md', 'Second Launch Article');
  const third = article('third.md', 'Queued Third Article');
  const session = await desktop.open([first]);
  await session.waitFor(titleIs('Council Approves the Harbour Plan'), 'the file from the command line', 30_000);
  assert.equal(precisWindows().length, 1);

  // A second launch, as the file manager's "Open with Precis" runs it, with a path relative to
  // its own folder: it hands its files over and exits at once.
  const started = Date.now();
  const launch = spawn(app, ['second.md', third], { cwd: desktop.work, env: desktop.env, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise((resolve) => launch.once('exit', resolve));
  assert.equal(code, 0, 'the second launch exits successfully');
  assert.ok(Date.now() - started < 20_000, 'the second launch exits quickly');

  await session.waitFor(titleIs('Second Launch Article'), "the second launch's file in the first window", 30_000);
  // The other file waits in the queue, as with several dropped files.
  const queued = await session.waitFor(
    "const n = document.querySelector('.next'); return n && !n.hidden && n.textContent",
    'the queued file',
    10_000,
  );
  assert.match(queued, /third\.md/);
  assert.equal(precisWindows().length, 1, 'no second window');
  await desktop.close();
});

test('the window size, position and sidebar are restored on the next start', async () => {
  let session = await desktop.open();
  const [win] = precisWindows();
  assert.ok(win, 'the window is shown');
  xdotool('windowsize', win, '900', '640');
  xdotool('windowmove', win, '120', '90');
  await session.click(await session.find('#history-toggle'));
  await session.waitFor("return !document.getElementById('history').hidden", 'the sidebar to open', 10_000);
  // Written once the window settles; the app is then killed, not closed, so nothing waits for
  // a clean exit.
  const file = join(desktop.config, 'window-state.json');
  for (let i = 0; i < 50 && !(existsSync(file) && readFileSync(file, 'utf8').includes('"width": 900')); i++) await sleep(100);
  assert.match(readFileSync(file, 'utf8'), /"width": 900/);
  await sleep(300);
  await desktop.close();

  session = await desktop.open();
  const [again] = precisWindows();
  const geo = Object.fromEntries(
    xdotool('getwindowgeometry', '--shell', again)
      .split('\n')
      .map((l) => l.split('=')),
  );
  assert.equal(Number(geo.WIDTH), 900, JSON.stringify(geo));
  assert.equal(Number(geo.HEIGHT), 640, JSON.stringify(geo));
  assert.ok(Math.abs(Number(geo.X) - 120) <= 2 && Math.abs(Number(geo.Y) - 90) <= 2, JSON.stringify(geo));
  await session.waitFor("return !document.getElementById('history').hidden", 'the sidebar, open as it was left', 10_000);
  await desktop.close();
});
