// Entry point: build the window, load settings and models, and listen for drops and keys.

import { createApp } from './app.ts';
import { installInput } from './input.ts';
import { Store, initialState } from './store.ts';
import { mountLayout } from './views/layout.ts';

async function main() {
  const store = new Store(initialState);
  const app = createApp(store);
  const root = document.getElementById('app');
  if (!root) throw new Error('index.html has no #app element');
  const layout = mountLayout(root, store, app);
  const [input] = await Promise.allSettled([installInput(store, app, layout), app.start()]);
  if (input.status === 'rejected') console.error('Precis: native file drops are not available.', input.reason);
  store.set({ ready: true });
}

void main();
