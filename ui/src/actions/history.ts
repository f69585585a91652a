// Owns the history sidebar: opening and closing it (remembered in the preferences), the list and
// the search (only the newest answer is shown), older pages, opening a stored entry, deleting one
// and clearing all. The list is reloaded when the sidebar opens, after a summary finishes and
// after a delete or clear. Its failures stay in the sidebar (`history.error`), so summarizing
// works whatever state the history file is in.

import * as api from '../api.ts';
import type { HistoryEntry } from '../api.ts';
import type { Actions, HistoryState } from '../store.ts';
import type { Articles } from './articles.ts';
import type { Context } from './context.ts';
import type { Jobs } from './jobs.ts';
import { Lane } from './lane.ts';
import type { PreferencesModule } from './preferences.ts';

const HISTORY_PAGE = 50;
const SEARCH_DEBOUNCE_MS = 150;

export type History = ReturnType<typeof createHistory>;

export function createHistory(
  { get, set, say }: Context,
  jobs: Jobs,
  articles: Articles,
  preferences: PreferencesModule,
) {
  /** Loads of the list, its search hits and its older pages: only the newest answer is shown. */
  const lists = new Lane();
  let searchTimer: ReturnType<typeof setTimeout> | undefined;

  function setHistory(patch: Partial<HistoryState>) {
    set({ history: { ...get().history, ...patch } });
  }

  function historyFail(err: unknown) {
    setHistory({ error: api.toAppError(err), loading: false });
  }

  /**
   * Reloads the list (or the search hits) from the newest entry, and the count and size. A
   * success clears the last history error unless `keepError` (the error is what led here).
   */
  function refresh(keepError = false) {
    const history = get().history;
    if (!history.open) return;
    const query = history.query.trim();
    if (history.items.length === 0) setHistory({ loading: true });
    lists.run(
      () =>
        Promise.all([
          query ? api.historySearch(query, HISTORY_PAGE) : api.historyList(null, HISTORY_PAGE),
          api.historyStats(),
        ]),
      ([items, stats]) => {
        const error = keepError ? get().history.error : null;
        setHistory({ items, stats, more: !query && items.length === HISTORY_PAGE, loading: false, error });
      },
      historyFail,
    );
  }

  function more() {
    const history = get().history;
    const last = history.items[history.items.length - 1];
    if (!history.more || history.query.trim() || !last) return;
    lists.run(
      () => api.historyList(last.id, HISTORY_PAGE),
      (items) => {
        setHistory({ items: [...get().history.items, ...items], more: items.length === HISTORY_PAGE, error: null });
      },
      historyFail,
    );
  }

  /** Shows a stored entry as if its job had just finished; a running job stops, as for a new article. */
  function showEntry(entry: HistoryEntry) {
    jobs.clear();
    const summary = entry.summary;
    set({
      article: entry.article,
      opening: false,
      outcome: 'done',
      extractive: [],
      tldr: summary.summary,
      bullets: summary.bullets,
      summary,
      selected: null,
      error: null,
      fromHistory: { id: entry.id, createdAt: entry.createdAt },
    });
    setHistory({ error: null });
  }

  function openEntry(id: number) {
    set({ opening: true });
    articles.open(() => api.historyOpen(id), showEntry, (err) => {
      set({ opening: false });
      historyFail(err);
      // Gone since the list was read: show the list as it is now.
      if (api.toAppError(err).code === 'not_found') refresh(true);
    });
  }

  async function deleteEntry(id: number) {
    const item = get().history.items.find((i) => i.id === id);
    try {
      const stats = await api.historyDelete(id);
      setHistory({ stats, items: get().history.items.filter((i) => i.id !== id), error: null });
      say(item?.title ? `Deleted “${item.title}” from the history.` : 'Deleted from the history.');
      refresh();
    } catch (err) {
      historyFail(err);
      refresh(true);
    }
  }

  async function clearAll() {
    try {
      const stats = await api.historyClear();
      setHistory({ stats, items: [], more: false, error: null });
      say('History cleared.');
      refresh();
    } catch (err) {
      historyFail(err);
      refresh(true);
    }
  }

  const actions: Pick<
    Actions,
    | 'toggleHistory'
    | 'searchHistory'
    | 'moreHistory'
    | 'openEntry'
    | 'deleteEntry'
    | 'askClearHistory'
    | 'confirmClear'
    | 'dismissHistoryError'
  > = {
    toggleHistory(open) {
      const next = open ?? !get().history.open;
      if (next === get().history.open) return;
      setHistory({ open: next });
      preferences.update({ sidebarOpen: next });
      if (next) refresh();
    },

    searchHistory(query) {
      if (query === get().history.query) return;
      setHistory({ query });
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => refresh(), SEARCH_DEBOUNCE_MS);
    },

    moreHistory: more,

    openEntry,

    deleteEntry(id) {
      void deleteEntry(id);
    },

    askClearHistory() {
      setHistory({ confirmClear: true });
    },

    confirmClear(clear) {
      if (!get().history.confirmClear) return;
      setHistory({ confirmClear: false });
      if (clear) void clearAll();
    },

    dismissHistoryError() {
      setHistory({ error: null });
    },
  };

  return { actions, refresh };
}
