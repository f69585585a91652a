// Owns the preferences: how the window was left and behaves (the history sidebar open or not,
// whether links are fetched, the global shortcut that summarizes the clipboard), loaded as the
// window opens and saved on every change. Separate from the summary's settings. A change the
// shell refuses (a shortcut it cannot set) is undone and its error shown in the dialog.

import * as api from '../api.ts';
import type { Preferences } from '../api.ts';
import type { Context } from './context.ts';

export type PreferencesModule = ReturnType<typeof createPreferences>;

export function createPreferences({ get, set }: Context) {
  return {
    /** Reads the preferences as the window opens; without them the defaults stay. */
    async load(): Promise<Preferences> {
      try {
        set({ preferences: await api.getPreferences() });
      } catch (err) {
        console.error('Precis: could not read the window preferences.', err);
      }
      return get().preferences;
    },
    /** Changes the preferences and saves them. */
    update(patch: Partial<Preferences>) {
      const before = get().preferences;
      if (Object.entries(patch).every(([k, v]) => before[k as keyof Preferences] === v)) return;
      const preferences = { ...before, ...patch };
      set({ preferences, preferencesError: null });
      api.savePreferences(preferences).catch((err) => {
        // Only what failed is undone; other changes since stay.
        const undo = Object.fromEntries(Object.keys(patch).map((k) => [k, before[k as keyof Preferences]]));
        set({ preferences: { ...get().preferences, ...undo }, preferencesError: api.toAppError(err) });
      });
    },
  };
}
