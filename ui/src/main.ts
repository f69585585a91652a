// Entry point: build the window, load settings and models, and listen for drops and keys.

import { createApp } from './app.ts';
import { installInput } from './input.ts';
import { Store, initialState } from './store.ts';
import { mountLayout } from './views/layout.ts';

async function main() {
  // The test build checks that every view subscribes to all the state it reads.
  const store = new Store(initialState, { checkReads: import.meta.env.MODE === 'test' });
  const app = createApp(store);
  const root = document.getElementById('app');
  if (!root) throw new Error('index.html has no #app element');
  const layout = mountLayout(root, store, app);
  const [input] = await Promise.allSettled([installInput(store, app, layout), app.start()]);
  if (input.status === 'rejected') console.error('Precis: native file drops are not available.', input.reason);
  store.set({ ready: true });
  // Files this launch was given on the command line ("Open with Precis").
  app.openHandedOver();
}

void main();
