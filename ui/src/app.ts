// The composition root: builds the action modules in `actions/` around one store and joins
// their actions into the window's `Actions`. What each action does lives in its module.

import { createArticles } from './actions/articles.ts';
import { createContext } from './actions/context.ts';
import { createHistory } from './actions/history.ts';
import { createJobs } from './actions/jobs.ts';
import { createModels } from './actions/models.ts';
import { createOutput } from './actions/output.ts';
import { createPreferences } from './actions/preferences.ts';
import type { Actions, Store } from './store.ts';

export interface App extends Actions {
  /** Loads the settings, the preferences and the model list as the window opens. */
  start(): Promise<void>;
}

export function createApp(store: Store): App {
  const ctx = createContext(store);
  // A job's news goes to the history and the model list, built just below.
  const jobs = createJobs(ctx, {
    finished: () => history.refresh(),
    modelMissing: () => void models.refresh(),
  });
  const models = createModels(ctx, jobs);
  const preferences = createPreferences(ctx);
  const articles = createArticles(ctx, jobs, preferences);
  const history = createHistory(ctx, jobs, articles, preferences);
  const output = createOutput(ctx);

  return {
    dismissError: () => ctx.set({ error: null, pendingLink: null }),
    togglePreferences: (open) => ctx.set({ preferencesOpen: open }),
    setLinkPolicy: (links) => preferences.update({ links }),
    setShortcut: (shortcut) => preferences.update({ shortcut }),
    async start() {
      const [, prefs] = await Promise.all([models.load(), preferences.load()]);
      // The sidebar as it was left.
      if (prefs.sidebarOpen) history.actions.toggleHistory(true);
    },
    ...articles.actions,
    ...jobs.actions,
    ...models.actions,
    ...output.actions,
    ...history.actions,
  };
}
