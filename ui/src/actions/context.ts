// Owns what every action module shares: reading and changing the state, the status line and
// the window-wide error.

import * as api from '../api.ts';
import type { State, Store } from '../store.ts';

const STATUS_MS = 4000;

export interface Context {
  get(): State;
  set(patch: Partial<State>): void;
  /** Shows `status` in the status line for a few seconds. */
  say(status: string): void;
  /** Shows what went wrong as the window's error; a cancellation is not an error. */
  fail(err: unknown): void;
}

export function createContext(store: Store): Context {
  let statusTimer: ReturnType<typeof setTimeout> | undefined;
  const set = (patch: Partial<State>) => store.set(patch);
  return {
    get: () => store.get(),
    set,
    say(status) {
      clearTimeout(statusTimer);
      set({ status });
      statusTimer = setTimeout(() => set({ status: '' }), STATUS_MS);
    },
    fail(err) {
      const error = api.toAppError(err);
      if (error.code === 'cancelled') return;
      set({ error });
    },
  };
}
