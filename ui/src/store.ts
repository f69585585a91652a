// The window's state, in one plain object, and the list of things a person can do to it.
//
// Each view subscribes with the state keys it reads. `store.set` merges a patch and renders,
// synchronously, only the views that read a key whose value changed (by identity: a change is a
// new value, never a mutation), so a streamed token re-renders the summary and the article, not
// the top bar or the history. Views compare what they drew last time so focus and scroll
// positions survive re-renders.

import type {
  AppError,
  ArticleView,
  Bullet,
  CopyFormat,
  HistoryStats,
  Length,
  ListItem,
  ModelsView,
  Progress,
  Settings,
  Stage,
  Summary,
  SearchHit,
  SummaryType,
} from './api.ts';

export interface JobState {
  id: number;
  stage: Stage | null;
  progress: Progress | null;
}

export interface FetchState {
  name: string;
  /** What is happening, in words ("Downloading part 1 of 2", "Verifying"). */
  phase: string;
  done: number;
  total: number;
}

/** The history sidebar: what it lists, what it is searching for, and how the history is doing. */
export interface HistoryState {
  /** The sidebar is shown. */
  open: boolean;
  /** What the search box holds; the list shows search hits when it is not blank. */
  query: string;
  /** The entries shown, newest first (search hits carry a snippet). */
  items: (ListItem | SearchHit)[];
  /** The last page was full, so older entries may follow. */
  more: boolean;
  /** A list or search is on its way and nothing has been shown yet. */
  loading: boolean;
  stats: HistoryStats | null;
  /** The last history command failed; shown inside the sidebar only. */
  error: AppError | null;
  /** "Clear all" was pressed and waits for the person to confirm. */
  confirmClear: boolean;
}

/** Where the summary on screen came from, when it was not written just now. */
export interface FromHistory {
  id: number;
  createdAt: string;
}

/** How the last summary job ended, if one ran for the current article. */
export type Outcome = 'none' | 'running' | 'done' | 'stopped' | 'failed';

export interface State {
  ready: boolean;
  settings: Settings;
  models: ModelsView | null;
  article: ArticleView | null;
  /** Files dropped together with the open one, waiting to be opened. */
  next: string[];
  /** A file or text is being read. */
  opening: boolean;
  job: JobState | null;
  outcome: Outcome;
  extractive: Bullet[];
  tldr: string;
  bullets: Bullet[];
  /** The finished summary, as the engine returned it. */
  summary: Summary | null;
  /** The bullet whose sources are highlighted in the article, by index into the shown list. */
  selected: number | null;
  /** Bumped when the person asks to be taken to the selected bullet's sources. */
  reveal: number;
  error: AppError | null;
  status: string;
  dragging: boolean;
  fetch: FetchState | null;
  fetchError: AppError | null;
  /** A .gguf file dropped on the window, waiting for the person to confirm adding it. */
  pendingModel: string | null;
  history: HistoryState;
  /** The summary on screen was read from the history, not written by this job. */
  fromHistory: FromHistory | null;
}

export const initialState: State = {
  ready: false,
  settings: { type: 'key-points', length: 'medium', model: null },
  models: null,
  article: null,
  next: [],
  opening: false,
  job: null,
  outcome: 'none',
  extractive: [],
  tldr: '',
  bullets: [],
  summary: null,
  selected: null,
  reveal: 0,
  error: null,
  status: '',
  dragging: false,
  fetch: null,
  fetchError: null,
  pendingModel: null,
  history: {
    open: false,
    query: '',
    items: [],
    more: false,
    loading: false,
    stats: null,
    error: null,
    confirmClear: false,
  },
  fromHistory: null,
};

export interface Actions {
  chooseFile(): void;
  openPath(path: string): void;
  openText(text: string): void;
  openNext(index: number): void;
  droppedPaths(paths: string[]): void;
  summarize(): void;
  /** Writes a new summary even if the history holds one for this article and these options. */
  summarizeAgain(): void;
  cancel(): void;
  setType(type: SummaryType): void;
  setLength(length: Length): void;
  setModel(name: string): void;
  chooseModelFile(): void;
  confirmModel(add: boolean): void;
  fetchModel(): void;
  cancelFetch(): void;
  /** Highlights a bullet's sources; `reveal` scrolls the page to them if needed. */
  selectBullet(index: number, reveal: boolean): void;
  copyAll(format: Exclude<CopyFormat, 'html'>): void;
  copyBullet(index: number): void;
  exportMarkdown(): void;
  dismissError(): void;
  setDragging(dragging: boolean): void;
  /** Shows or hides the history sidebar (`open` forces one way). */
  toggleHistory(open?: boolean): void;
  /** Searches the history as the person types (debounced); a blank query lists everything. */
  searchHistory(query: string): void;
  /** Loads the next page of older entries. */
  moreHistory(): void;
  /** Shows a stored summary with its article, without running a job. */
  openEntry(id: number): void;
  deleteEntry(id: number): void;
  /** Asks to clear the whole history; nothing is removed until `confirmClear(true)`. */
  askClearHistory(): void;
  confirmClear(clear: boolean): void;
  dismissHistoryError(): void;
}

export type StateKey = keyof State;

type Render = (state: State) => void;

interface View {
  reads: ReadonlySet<StateKey>;
  render: Render;
}

export interface StoreOptions {
  /** Fail loudly when a view reads a key it did not subscribe to (the test build sets this). */
  checkReads?: boolean;
}

export class Store {
  private state: State;
  private views: View[] = [];
  /** Keys whose value changed since the views last saw them. */
  private changed = new Set<StateKey>();
  private rendering = false;

  constructor(
    state: State,
    private readonly options: StoreOptions = {},
  ) {
    this.state = state;
  }

  get(): State {
    return this.state;
  }

  /** Merges `patch` and renders the views that read one of the keys it changed. */
  set(patch: Partial<State>): void {
    const next = { ...this.state, ...patch };
    for (const key of Object.keys(patch) as StateKey[]) {
      if (!Object.is(this.state[key], next[key])) this.changed.add(key);
    }
    this.state = next;
    // A view may cause a change while rendering (focus moves, for one): render again after.
    if (this.rendering) return;
    this.rendering = true;
    try {
      while (this.changed.size > 0) {
        const changed = this.changed;
        this.changed = new Set();
        for (const view of this.views) {
          if (readsAny(view.reads, changed)) view.render(this.state);
        }
      }
    } finally {
      this.rendering = false;
    }
  }

  /** Renders `render` now, and again (in subscription order) whenever one of `reads` changes. */
  subscribe(reads: readonly StateKey[], render: Render): void {
    const keys = new Set(reads);
    const view = { reads: keys, render: this.options.checkReads ? checkedRender(keys, render) : render };
    this.views.push(view);
    view.render(this.state);
  }
}

function readsAny(reads: ReadonlySet<StateKey>, changed: ReadonlySet<StateKey>): boolean {
  for (const key of changed) if (reads.has(key)) return true;
  return false;
}

/** `render`, handed a state that throws when read outside `reads`: a missing key would leave the view stale. */
function checkedRender(reads: ReadonlySet<StateKey>, render: Render): Render {
  return (state) =>
    render(
      new Proxy(state, {
        get(target, key, receiver) {
          if (typeof key === 'string' && !reads.has(key as StateKey)) {
            throw new Error(`A view read state.${key} but did not subscribe to it.`);
          }
          return Reflect.get(target, key, receiver);
        },
      }),
    );
}

// ---- Derived values ----
//
// A view that calls one of these reads the keys it lists, and subscribes to them.

/** The keys `selectedModel`, `selectedModelName` and `modelReady` read. */
export const MODEL_KEYS = ['ready', 'settings', 'models'] as const satisfies readonly StateKey[];

/** The keys `shownBullets` reads. */
export const BULLET_KEYS = ['bullets', 'extractive'] as const satisfies readonly StateKey[];

/**
 * The generator the settings point at (or the catalog default), if the list is loaded: by its id,
 * or by its name as settings from earlier versions hold it.
 */
export function selectedModel(state: State) {
  const models = state.models;
  if (!models) return null;
  const chosen = state.settings.model ?? models.defaultModel;
  const generators = models.models.filter((m) => m.role === 'generator');
  return generators.find((m) => m.id === chosen) ?? generators.find((m) => m.name === chosen) ?? null;
}

export function selectedModelName(state: State): string | null {
  return state.settings.model ?? state.models?.defaultModel ?? null;
}

/**
 * The model is known and on disk, so a summary can run. If the model list could not be read,
 * let the engine decide: it answers `model_missing` when it has to.
 */
export function modelReady(state: State): boolean {
  if (!state.models) return state.ready;
  return selectedModel(state)?.present === true;
}

/** The bullets on screen: generated ones once there are any, else the extractive ones. */
export function shownBullets(state: State): { bullets: Bullet[]; extractive: boolean } {
  if (state.bullets.length > 0 || state.extractive.length === 0) {
    return { bullets: state.bullets, extractive: false };
  }
  return { bullets: state.extractive, extractive: true };
}
