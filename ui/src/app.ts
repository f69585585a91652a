// What happens when a person does something: opening articles, running and cancelling summary
// jobs, settings, models, copying and exporting, and the history sidebar. Talks to the Rust side
// only through api.ts.
//
// Jobs: each run gets a fresh id and its own Channel. Only the current job's events are applied;
// cancelling or starting another job makes the old one not current at once, so nothing it sends
// later can reach the screen.
//
// History: the sidebar's list is reloaded when it opens, after a summary finishes and after a
// delete or clear; only the newest request's answer is shown. Its failures stay in the sidebar
// (`history.error`), so summarizing works whatever state the history file is in.

import * as api from './api.ts';
import type { ArticleView, Bullet, CopyFormat, FetchEvent, JobEvent, Settings, Summary } from './api.ts';
import {
  type Actions,
  type HistoryState,
  type State,
  type Store,
  modelReady,
  selectedModel,
  selectedModelName,
  shownBullets,
} from './store.ts';
import { baseName, exportFileName } from './text.ts';

const STATUS_MS = 4000;

/** The result part of the state with nothing in it, as a new job or a new article starts. */
const NO_RESULT = {
  extractive: [],
  tldr: '',
  bullets: [],
  summary: null,
  selected: null,
  error: null,
  fromHistory: null,
} satisfies Partial<State>;
const HISTORY_PAGE = 50;
const SEARCH_DEBOUNCE_MS = 150;

export interface App extends Actions {
  start(): Promise<void>;
}

export function createApp(store: Store): App {
  let jobCounter = 0;
  let openCounter = 0;
  let statusTimer: ReturnType<typeof setTimeout> | undefined;
  /** An article arrived while no model was ready: summarize once one is. */
  let runWhenReady = false;
  let historyCounter = 0;
  let searchTimer: ReturnType<typeof setTimeout> | undefined;

  const get = () => store.get();
  const set = (patch: Partial<State>) => store.set(patch);

  function say(status: string) {
    clearTimeout(statusTimer);
    set({ status });
    statusTimer = setTimeout(() => set({ status: '' }), STATUS_MS);
  }

  function fail(err: unknown) {
    const error = api.toAppError(err);
    if (error.code === 'cancelled') return;
    set({ error });
  }

  // ---- Jobs ----

  /** Stops the running job, if any. Its later events are ignored from here on. */
  function stopJob(): boolean {
    const job = get().job;
    if (!job) return false;
    set({ job: null });
    api.cancelJob(job.id).catch(() => {
      // Nothing to do: the job is no longer shown either way.
    });
    return true;
  }

  /** The state of a job that ended with `summary`, written now or remembered. */
  function finished(summary: Summary): Partial<State> {
    return { job: null, outcome: 'done', summary, tldr: summary.summary, bullets: summary.bullets };
  }

  /** When generated bullets take the place of extractive ones, the old selection means nothing. */
  function keepSelection(generated: Bullet[]): Partial<State> {
    const state = get();
    return shownBullets(state).extractive && generated.length > 0 ? { selected: null } : {};
  }

  function onJobEvent(id: number, event: JobEvent) {
    const job = get().job;
    if (!job || job.id !== id) return;
    switch (event.event) {
      case 'stage':
        set({ job: { id, stage: event.data.stage, progress: event.data.progress ?? null } });
        break;
      case 'extractive':
        set({ extractive: event.data.bullets });
        break;
      case 'partial':
        set({ tldr: event.data.summary, bullets: event.data.bullets, ...keepSelection(event.data.bullets) });
        break;
      case 'done': {
        const summary = event.data.summary;
        set({ ...finished(summary), ...keepSelection(summary.bullets) });
        say('Summary ready.');
        void refreshHistory();
        break;
      }
      case 'remembered': {
        const { summary, entry } = event.data;
        set({
          ...finished(summary),
          selected: null,
          fromHistory: { id: entry.id, createdAt: entry.createdAt },
        });
        say('Summary from the history.');
        void refreshHistory();
        break;
      }
      case 'cancelled': {
        const summary = event.data.summary;
        set({ job: null, outcome: 'stopped', ...(summary ? { summary, tldr: summary.summary, bullets: summary.bullets } : {}) });
        break;
      }
      case 'failed':
        set({ job: null, outcome: event.data.code === 'cancelled' ? 'stopped' : 'failed' });
        fail(event.data);
        if (event.data.code === 'model_missing') void refreshModels();
        break;
    }
  }

  /** Runs a summary of the open article; `again` asks for a new one even if the history has it. */
  function startJob(again: boolean) {
    const state = get();
    const article = state.article;
    if (!article || !modelReady(state)) return;
    stopJob();
    const id = ++jobCounter;
    runWhenReady = false;
    set({
      job: { id, stage: null, progress: null },
      outcome: 'running',
      ...NO_RESULT,
    });
    api.summarize(id, article, state.settings, again, (event) => onJobEvent(id, event)).catch((err) => {
      if (get().job?.id !== id) return;
      set({ job: null, outcome: 'failed' });
      fail(err);
    });
  }

  // ---- Articles ----

  function showArticle(article: ArticleView) {
    stopJob();
    set({
      article,
      opening: false,
      outcome: 'none',
      ...NO_RESULT,
    });
    if (modelReady(get())) startJob(false);
    else runWhenReady = true;
  }

  async function openPath(path: string) {
    const seq = ++openCounter;
    set({ opening: true, error: null });
    try {
      const article = await api.openArticle(path);
      if (seq === openCounter) showArticle(article);
    } catch (err) {
      if (seq !== openCounter) return;
      set({ opening: false });
      fail(err);
    }
  }

  function isModelFile(path: string) {
    return /\.gguf$/i.test(path);
  }

  function droppedPaths(paths: string[]) {
    const models = paths.filter(isModelFile);
    const articles = paths.filter((p) => !isModelFile(p));
    if (models.length > 0) set({ pendingModel: models[0] });
    if (articles.length > 0) {
      set({ next: articles.slice(1) });
      void openPath(articles[0]);
    }
  }

  async function openText(text: string) {
    if (!text.trim()) return;
    const seq = ++openCounter;
    set({ opening: true, error: null });
    try {
      const dropped = await api.articleFromText(text);
      if (seq !== openCounter) return;
      if ('files' in dropped) {
        set({ opening: false });
        droppedPaths(dropped.files);
      } else {
        showArticle(dropped.article);
      }
    } catch (err) {
      if (seq !== openCounter) return;
      set({ opening: false });
      fail(err);
    }
  }

  // ---- Models and settings ----

  async function refreshModels() {
    try {
      set({ models: await api.listModels() });
    } catch (err) {
      fail(err);
    }
  }

  function changeSettings(patch: Partial<Settings>) {
    const settings = { ...get().settings, ...patch };
    set({ settings });
    api.saveSettings(settings).catch(fail);
  }

  function modelBecameReady() {
    if (runWhenReady && get().article && !get().job && modelReady(get())) startJob(false);
  }

  async function addModelFile(path: string) {
    set({ error: null });
    try {
      const model = await api.addModel(path);
      await refreshModels();
      changeSettings({ model: model.name });
      say(`Added the model ${model.name}.`);
      modelBecameReady();
    } catch (err) {
      fail(err);
    }
  }

  function onFetchEvent(name: string, event: FetchEvent) {
    const current = get().fetch;
    if (!current || current.name !== name) return;
    const fetch = { ...current };
    switch (event.event) {
      case 'alreadyPresent':
        fetch.phase = 'Already downloaded';
        fetch.done = fetch.total;
        break;
      case 'started':
        fetch.total = event.data.total;
        fetch.done = 0;
        fetch.phase = 'Downloading';
        break;
      case 'downloading':
        fetch.phase =
          event.data.parts > 1 ? `Downloading part ${event.data.part} of ${event.data.parts}` : 'Downloading';
        break;
      case 'bytes':
        fetch.done = event.data.done;
        fetch.total = event.data.total;
        break;
      case 'verifying':
        fetch.phase = 'Verifying';
        fetch.done = fetch.total;
        break;
      case 'done':
        fetch.phase = 'Done';
        fetch.done = fetch.total;
        break;
    }
    set({ fetch });
  }

  // ---- History ----

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
  async function refreshHistory(keepError = false) {
    const history = get().history;
    if (!history.open) return;
    const seq = ++historyCounter;
    const query = history.query.trim();
    if (history.items.length === 0) setHistory({ loading: true });
    try {
      const [items, stats] = await Promise.all([
        query ? api.historySearch(query, HISTORY_PAGE) : api.historyList(null, HISTORY_PAGE),
        api.historyStats(),
      ]);
      if (seq !== historyCounter) return;
      const error = keepError ? get().history.error : null;
      setHistory({ items, stats, more: !query && items.length === HISTORY_PAGE, loading: false, error });
    } catch (err) {
      if (seq !== historyCounter) return;
      historyFail(err);
    }
  }

  async function moreHistory() {
    const history = get().history;
    const last = history.items[history.items.length - 1];
    if (!history.more || history.query.trim() || !last) return;
    const seq = ++historyCounter;
    try {
      const items = await api.historyList(last.id, HISTORY_PAGE);
      if (seq !== historyCounter) return;
      setHistory({ items: [...get().history.items, ...items], more: items.length === HISTORY_PAGE, error: null });
    } catch (err) {
      if (seq !== historyCounter) return;
      historyFail(err);
    }
  }

  /** Shows a stored entry as if its job had just finished; a running job stops, as for a new article. */
  async function openEntry(id: number) {
    const seq = ++openCounter;
    set({ opening: true });
    try {
      const entry = await api.historyOpen(id);
      if (seq !== openCounter) return;
      stopJob();
      runWhenReady = false;
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
    } catch (err) {
      if (seq !== openCounter) return;
      set({ opening: false });
      historyFail(err);
      // Gone since the list was read: show the list as it is now.
      if (api.toAppError(err).code === 'not_found') void refreshHistory(true);
    }
  }

  async function deleteEntry(id: number) {
    const item = get().history.items.find((i) => i.id === id);
    try {
      const stats = await api.historyDelete(id);
      setHistory({ stats, items: get().history.items.filter((i) => i.id !== id), error: null });
      say(item?.title ? `Deleted “${item.title}” from the history.` : 'Deleted from the history.');
      void refreshHistory();
    } catch (err) {
      historyFail(err);
      void refreshHistory(true);
    }
  }

  async function clearHistory() {
    try {
      const stats = await api.historyClear();
      setHistory({ stats, items: [], more: false, error: null });
      say('History cleared.');
      void refreshHistory();
    } catch (err) {
      historyFail(err);
      void refreshHistory(true);
    }
  }

  // ---- Copy and export ----

  /** The summary on screen, as the engine's `Summary`, for formatting. */
  function currentSummary(): Summary | null {
    const state = get();
    if (state.job) return null;
    if (state.summary) return state.summary;
    const { bullets } = shownBullets(state);
    if (!state.tldr && bullets.length === 0) return null;
    // Stopped before the end: format what is shown.
    return {
      title: state.article?.title ?? null,
      summary: state.tldr,
      bullets,
      model: selectedModelName(state) ?? '',
      stop_reason: 'cancelled',
      truncated: false,
      timings: { load_ms: 0, prompt_tokens: 0, prefill_ms: 0, generated_tokens: 0, decode_ms: 0, total_ms: 0 },
    };
  }

  async function copy(text: string, html: string) {
    await api.copyText(text);
    try {
      await api.copyHtml(html, text);
    } catch {
      // The text is on the clipboard already; rich text is a bonus.
    }
  }

  const actions: App = {
    async start() {
      const [settings, models] = await Promise.allSettled([api.getSettings(), api.listModels()]);
      const patch: Partial<State> = {};
      if (settings.status === 'fulfilled') patch.settings = settings.value;
      if (models.status === 'fulfilled') patch.models = models.value;
      set(patch);
      if (settings.status === 'rejected') fail(settings.reason);
      if (models.status === 'rejected') fail(models.reason);
    },

    chooseFile() {
      api
        .pickArticleFile()
        .then((path) => {
          if (path) actions.droppedPaths([path]);
        })
        .catch(fail);
    },

    openPath(path) {
      void openPath(path);
    },

    openText(text) {
      void openText(text);
    },

    openNext(index) {
      const next = [...get().next];
      const [path] = next.splice(index, 1);
      if (!path) return;
      set({ next });
      void openPath(path);
    },

    droppedPaths,

    summarize() {
      // Pressing it after a summary is on screen (or stopped, or failed) asks for a new one.
      startJob(get().outcome !== 'none');
    },

    summarizeAgain() {
      startJob(true);
    },

    cancel() {
      if (stopJob()) {
        set({ outcome: 'stopped' });
        say('Stopped.');
      }
    },

    setType(type) {
      changeSettings({ type });
    },

    setLength(length) {
      changeSettings({ length });
    },

    setModel(name) {
      set({ fetchError: null });
      changeSettings({ model: name });
      modelBecameReady();
    },

    chooseModelFile() {
      api
        .pickModelFile()
        .then((path) => (path ? addModelFile(path) : undefined))
        .catch(fail);
    },

    confirmModel(add) {
      const path = get().pendingModel;
      if (!path) return;
      set({ pendingModel: null });
      if (add) void addModelFile(path);
    },

    async fetchModel() {
      const state = get();
      const model = selectedModel(state);
      if (!model || state.fetch) return;
      const name = model.name;
      set({ fetch: { name, phase: 'Starting the download', done: 0, total: model.size }, fetchError: null, error: null });
      try {
        await api.fetchModel(name, (event) => onFetchEvent(name, event));
        await refreshModels();
        set({ fetch: null });
        say(`Downloaded ${name}.`);
        modelBecameReady();
      } catch (err) {
        const error = api.toAppError(err);
        if (error.code === 'cancelled') {
          set({ fetch: null });
          say(`Download of ${name} cancelled.`);
        } else {
          set({ fetch: null, fetchError: error });
        }
      }
    },

    cancelFetch() {
      const fetching = get().fetch;
      if (!fetching) return;
      set({ fetch: { ...fetching, phase: 'Cancelling' } });
      api.cancelFetch(fetching.name).catch(fail);
    },

    selectBullet(index, reveal) {
      const state = get();
      if (state.selected === index && !reveal) return;
      set({ selected: index, reveal: reveal ? state.reveal + 1 : state.reveal });
    },

    async copyAll(format) {
      const summary = currentSummary();
      if (!summary) {
        say(get().job ? 'Wait for the summary to finish, or cancel it, to copy it.' : 'Nothing to copy yet.');
        return;
      }
      try {
        const [text, html] = await Promise.all([
          api.formatSummary(summary, format),
          api.formatSummary(summary, 'html'),
        ]);
        await copy(text, html);
        say(format === 'markdown' ? 'Copied as Markdown.' : 'Copied as text.');
      } catch (err) {
        fail(err);
      }
    },

    async copyBullet(index) {
      const bullet: Bullet | undefined = shownBullets(get()).bullets[index];
      if (!bullet) return;
      try {
        const [text, html] = await Promise.all([
          api.formatBullet(bullet, 'plain'),
          api.formatBullet(bullet, 'html'),
        ]);
        await copy(text, html);
        say(`Copied point ${index + 1}.`);
      } catch (err) {
        fail(err);
      }
    },

    async exportMarkdown() {
      const summary = currentSummary();
      if (!summary) return;
      try {
        const path = await api.pickSavePath(exportFileName(summary.title ?? get().article?.title ?? null));
        if (!path) return;
        const contents = await api.formatSummary(summary, 'markdown' satisfies CopyFormat);
        await api.saveText(path, contents);
        say(`Saved ${baseName(path)}.`);
      } catch (err) {
        fail(err);
      }
    },

    dismissError() {
      set({ error: null });
    },

    setDragging(dragging) {
      if (get().dragging !== dragging) set({ dragging });
    },

    toggleHistory(open) {
      const next = open ?? !get().history.open;
      if (next === get().history.open) return;
      setHistory({ open: next });
      if (next) void refreshHistory();
    },

    searchHistory(query) {
      if (query === get().history.query) return;
      setHistory({ query });
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => void refreshHistory(), SEARCH_DEBOUNCE_MS);
    },

    moreHistory() {
      void moreHistory();
    },

    openEntry(id) {
      void openEntry(id);
    },

    deleteEntry(id) {
      void deleteEntry(id);
    },

    askClearHistory() {
      setHistory({ confirmClear: true });
    },

    confirmClear(clear) {
      if (!get().history.confirmClear) return;
      setHistory({ confirmClear: false });
      if (clear) void clearHistory();
    },

    dismissHistoryError() {
      setHistory({ error: null });
    },
  };

  return actions;
}

