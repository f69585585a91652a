// Shared by the end-to-end tests of the window as a desktop app: tauri-driver in front of
// WebKitWebDriver, a WebDriver session on the app, X11 helpers (xdotool, xclip), and a private
// settings folder and history for each run.

import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from './webdriver.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');
export const app = process.env.PRECIS_APP_BINARY ?? join(root, 'target', 'debug', 'precis-app');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const BODY =
  'The council met on Tuesday evening and agreed the plan after a long debate. Residents spoke for ' +
  'and against it, and the vote was close. Work starts in the spring and should finish within a year, ' +
  'the mayor said, adding that the budget had been checked twice by the finance office.';

export function xdotool(...args) {
  return execFileSync('xdotool', args, { encoding: 'utf8' }).trim();
}

/** Puts `text` on an X selection (`clipboard` or `primary`); xclip keeps serving it. */
export function setSelection(selection, text) {
  spawnSync('xclip', ['-selection', selection], { input: text, stdio: ['pipe', 'ignore', 'ignore'] });
}

/** The visible top-level windows called Precis. */
export function precisWindows() {
  try {
    return xdotool('search', '--onlyvisible', '--name', '^Precis$').split('\n').filter(Boolean);
  } catch {
    return []; // xdotool exits 1 when nothing matches
  }
}

/**
 * The running Precis windows started with this settings folder (tauri-driver starts them; this
 * finds them by their PRECIS_CONFIG_DIR, so nothing else on the machine is touched).
 */
function appProcesses(config) {
  const mark = `PRECIS_CONFIG_DIR=${config}\0`;
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const comm = readFileSync(`/proc/${name}/comm`, 'utf8').trim();
      if (comm === 'precis-app' && readFileSync(`/proc/${name}/environ`, 'latin1').includes(mark)) pids.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** `promise`, or an error naming `what` after `ms`. */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The article title on screen, as a script for `Session.waitFor`: truthy once it is `title`. */
export function titleIs(title) {
  return `const t = document.getElementById('article-title'); return t && !t.hidden && t.textContent === ${JSON.stringify(title)}`;
}

/** A TCP port on 127.0.0.1 that nothing listens on now, as the system hands one out. */
async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What listens on `ports` and what the driver's process group runs, for a failed start. */
function driverState(driver, ports) {
  const run = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    } catch (e) {
      return `(${cmd} failed: ${e.message})`;
    }
  };
  const listeners = run('ss', ['-ltnpH'])
    .split('\n')
    .filter((l) => ports.some((p) => l.includes(`:${p} `)));
  const group = run('ps', ['-eo', 'pid,pgid,stat,wchan:24,etime,args'])
    .split('\n')
    .filter((l, i) => i === 0 || l.trim().split(/\s+/)[1] === String(driver.pid));
  return `listening on ${ports.join(', ')}:\n${listeners.join('\n') || '(nothing)'}\nthe driver's processes:\n${group.join('\n')}`;
}

/**
 * tauri-driver, and WebKitWebDriver behind it, on two free ports, once it answers: `{ child,
 * base }`, `base` the URL to start sessions at. They run in a process group of their own, so
 * `stopDriver` ends both. A driver that has not answered after 30 s, or that exited, is ended
 * and another started on new ports, three times at most; each failed start prints what
 * listened on its ports and what its processes were doing. (In CI a driver once never answered
 * in 60 s, after the tests before it had passed; its first start after the machine restarted
 * took over 10 s once; and a driver left running keeps the test's process alive.)
 */
async function spawnDriver(env) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    let native = await freePort();
    while (native === port) native = await freePort();
    const child = spawn('tauri-driver', ['--port', String(port), '--native-port', String(native), '--native-driver', '/usr/bin/WebKitWebDriver'], {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    let why;
    for (;;) {
      try {
        await fetch(`${base}/status`, { signal: AbortSignal.timeout(2_000) });
        return { child, base };
      } catch {
        const exited = child.exitCode !== null || child.signalCode !== null;
        if (exited || Date.now() > deadline) {
          why = exited ? `it exited (${child.exitCode ?? child.signalCode})` : 'no answer within 30 s';
          break;
        }
        await sleep(100);
      }
    }
    const message = `tauri-driver did not start on ports ${port} and ${native} (attempt ${attempt} of 3): ${why}`;
    console.error(`${message}\n${driverState(child, [port, native])}`);
    stopDriver({ child });
    if (attempt === 3) throw new Error(message);
  }
}

/** Ends a driver from `spawnDriver` and the WebKitWebDriver (and any window) it started. */
function stopDriver(driver) {
  try {
    process.kill(-driver.child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * A work folder with settings for the tiny real model and short output, a private history and
 * config folder, and tauri-driver on free ports. `stop()` ends the window and the driver.
 */
export async function startDriver() {
  assert.ok(process.env.DISPLAY, 'run under a display (xvfb-run)');
  const work = mkdtempSync(join(tmpdir(), 'precis-e2e-'));
  const config = join(work, 'config');
  mkdirSync(config);
  writeFileSync(
    join(config, 'settings.json'),
    JSON.stringify({ settings: { type: 'key-points', length: 'short', model: 'smollm2-135m-instruct-q4_1' } }),
  );
  const env = {
    ...process.env,
    PRECIS_CONFIG_DIR: config,
    PRECIS_HISTORY: join(work, 'history.sqlite3'),
    XDG_CONFIG_HOME: join(work, 'xdg-config'),
    TAURI_WEBVIEW_AUTOMATION: 'true',
  };
  const driver = await spawnDriver(env);
  const base = driver.base;
  let session;
  /** Kills the windows started with this settings folder that are still there. */
  const killApps = () => {
    for (const pid of appProcesses(config)) {
      console.error(`precis-app ${pid} outlived its session; killing it`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  return {
    work,
    config,
    env,
    get session() {
      return session;
    },
    /**
     * Starts the window (with `args` on its command line) and waits until it is ready. Now and
     * then WebKitWebDriver never answers the new session (seen about once in ten runs, with the
     * window started); then that window is killed and the start tried once more, so the run
     * neither hangs nor leaves a window that would answer the next start as the one instance.
     */
    async open(args = [], application = app) {
      const start = async () => {
        session = await Session.start(base, { browserName: 'wry', 'tauri:options': { application, args } });
        await session.waitFor("return document.body.dataset.ready === 'true'", 'the window to be ready');
      };
      for (let attempt = 1; ; attempt++) {
        try {
          await within(start(), 90_000, 'the window to start');
          break;
        } catch (e) {
          if (attempt === 2) throw e;
          console.error(`the window did not start (${e.message}); killing it and trying once more`);
          killApps();
          await session?.end().catch(() => {});
          session = undefined;
          await sleep(1000);
        }
      }
      assert.equal(appProcesses(config).length, 1, 'one precis-app with this settings folder');
      return session;
    },
    /**
     * Ends the window (tauri-driver kills the app) and waits until it is gone: its window, and its
     * process, which would otherwise answer the next start as the one instance. One still there
     * after 10 s is killed.
     */
    async close() {
      await session?.end().catch(() => {});
      session = undefined;
      for (let i = 0; i < 100 && precisWindows().length > 0; i++) await sleep(100);
      for (let i = 0; i < 100 && appProcesses(config).length > 0; i++) await sleep(100);
      killApps();
    },
    async stop() {
      await this.close();
      stopDriver(driver);
    },
  };
}
