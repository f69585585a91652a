// Unit tests, run in node, of the two small mechanisms the window is built on: the store's
// selective re-render (src/store.ts) and the lanes that drop a stale task's answers
// (src/actions/lane.ts). Neither module imports anything at run time, so each is compiled with
// Vite's esbuild and imported as-is.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { transformWithEsbuild } from 'vite';

let store;
let lane;

async function load(file) {
  const path = new URL(file, import.meta.url);
  const { code } = await transformWithEsbuild(await readFile(path, 'utf8'), path.pathname, { loader: 'ts', format: 'esm' });
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

before(async () => {
  store = await load('../src/store.ts');
  lane = await load('../src/actions/lane.ts');
});

/** A store with two views, recording which one rendered. */
function twoViews(options) {
  const s = new store.Store(store.initialState, options);
  const log = [];
  s.subscribe(['tldr', 'bullets'], (state) => log.push(`summary:${state.tldr}`));
  s.subscribe(['history'], (state) => log.push(`history:${state.history.open}`));
  log.length = 0;
  return { s, log };
}

test('a view renders when it subscribes, then only when a key it reads changes', () => {
  const s = new store.Store(store.initialState);
  const log = [];
  s.subscribe(['status'], (state) => log.push(state.status));
  assert.deepEqual(log, ['']);
  s.set({ tldr: 'A token' });
  s.set({ status: '' });
  assert.deepEqual(log, [''], 'an unread key, or the same value, renders nothing');
  s.set({ status: 'Ready.', tldr: 'More' });
  assert.deepEqual(log, ['', 'Ready.']);
});

test('a streamed token renders the summary, not the history', () => {
  const { s, log } = twoViews();
  s.set({ tldr: 'The' });
  s.set({ tldr: 'The harbour' });
  assert.deepEqual(log, ['summary:The', 'summary:The harbour']);
  s.set({ history: { ...s.get().history, open: true } });
  assert.deepEqual(log, ['summary:The', 'summary:The harbour', 'history:true']);
});

test('a change made while rendering renders the views that read it afterwards, in order', () => {
  const s = new store.Store(store.initialState);
  const log = [];
  s.subscribe(['status'], (state) => log.push(`status:${state.status}`));
  s.subscribe(['dragging'], (state) => {
    log.push(`dragging:${state.dragging}`);
    if (state.dragging) s.set({ status: 'Drop to open' });
  });
  log.length = 0;
  s.set({ dragging: true });
  assert.deepEqual(log, ['dragging:true', 'status:Drop to open']);
  assert.equal(s.get().status, 'Drop to open');
});

test('with checkReads, a view that reads a key it did not subscribe to throws', () => {
  const s = new store.Store(store.initialState, { checkReads: true });
  s.subscribe(['status', ...store.MODEL_KEYS], (state) => store.modelReady(state) || state.status);
  assert.throws(() => s.subscribe(['status'], (state) => state.tldr), /read state\.tldr but did not subscribe/);
});

test('only the newest task of a lane is current; ending or stopping it drops its callbacks', () => {
  const jobs = new lane.Lane();
  const seen = [];
  const one = jobs.start();
  const fromOne = one.guard((x) => seen.push(`one:${x}`));
  fromOne('a');
  const two = jobs.start();
  const fromTwo = two.guard((x) => seen.push(`two:${x}`));
  fromOne('late');
  fromTwo('b');
  assert.deepEqual([one.id, two.id], [1, 2]);
  one.end();
  assert.equal(jobs.current, two, 'ending a stale task leaves the current one alone');
  two.end();
  fromTwo('after end');
  assert.equal(jobs.current, null);
  const three = jobs.start();
  assert.equal(jobs.stop(), three);
  three.guard((x) => seen.push(`three:${x}`))('after stop');
  assert.deepEqual(seen, ['one:a', 'two:b']);
});

test('lane.run hands on only the newest answer, and errors, including a sync throw', async () => {
  const reads = new lane.Lane();
  const seen = [];
  let release;
  const slow = new Promise((resolve) => (release = resolve));
  reads.run(() => slow, (v) => seen.push(`value:${v}`), (e) => seen.push(`error:${e}`));
  reads.run(() => Promise.resolve('new'), (v) => seen.push(`value:${v}`), (e) => seen.push(`error:${e}`));
  release('old');
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(seen, ['value:new']);

  reads.run(() => Promise.reject('gone'), (v) => seen.push(`value:${v}`), (e) => seen.push(`error:${e}`));
  reads.run(
    () => {
      throw 'sync';
    },
    (v) => seen.push(`value:${v}`),
    (e) => seen.push(`error:${e}`),
  );
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(seen, ['value:new', 'error:sync']);
});
