// The one call layer between the window and the Rust side.
//
// This is the only module that imports `invoke`, `Channel`, the Tauri plugins or the webview
// API. Every command of the contract has one typed function here; every rejection is turned
// into an `AppError` ({ code, message }) so the rest of the UI never sees a raw IPC error.

import { Channel, invoke } from '@tauri-apps/api/core';
import { getCurrentWebview } from '@tauri-apps/api/webview';
import { writeHtml, writeText } from '@tauri-apps/plugin-clipboard-manager';

// ---- Types shared with the Rust side ----
//
// Written from the Rust types (`src-tauri/src/bindings.rs` writes `bindings.ts`; a Rust test
// fails when they differ), so the two sides cannot drift. The names the UI uses are kept here.

import type {
  AppError,
  ArticleView,
  Bullet,
  DroppedView,
  ErrorCode,
  Event,
  FetchProgress,
  Format,
  HistoryEntry,
  Length,
  ListItem,
  ModelsView,
  ModelView,
  Progress,
  SearchHit,
  Settings,
  Span,
  Stage,
  Stats,
  StopReason,
  Summary,
  SummaryType,
  Timings,
} from './bindings.ts';
import { ERROR_CODES } from './bindings.ts';

export type {
  AppError,
  ArticleView,
  Bullet,
  ErrorCode,
  HistoryEntry,
  Length,
  ListItem,
  ModelsView,
  ModelView,
  Progress,
  SearchHit,
  Settings,
  Span,
  Stage,
  StopReason,
  Summary,
  SummaryType,
  Timings,
};
export { ERROR_CODES, SUPPORT_THRESHOLD } from './bindings.ts';

/** One event of a summary job, as its Channel delivers it. */
export type JobEvent = Event;
/** One event of a model download. */
export type FetchEvent = FetchProgress;
export type HistoryStats = Stats;
export type CopyFormat = Format;
export type Dropped = DroppedView;

// ---- Errors ----

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}

/** Turns anything a command rejected with into an `AppError` the UI can show as it is. */
export function toAppError(err: unknown): AppError {
  if (err && typeof err === 'object' && 'message' in err) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    const text = typeof message === 'string' && message ? message : 'Something went wrong.';
    return { code: isErrorCode(code) ? code : 'internal', message: text };
  }
  if (typeof err === 'string' && err) return { code: 'internal', message: err };
  return { code: 'internal', message: 'Something went wrong.' };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (err) {
    throw toAppError(err);
  }
}

// ---- Commands ----

export function openArticle(path: string): Promise<ArticleView> {
  return call('open_article', { path });
}

export function articleFromText(text: string): Promise<Dropped> {
  return call('article_from_text', { text });
}

/**
 * Starts a summary job. Returns once the Rust side has accepted it; events arrive on a Channel
 * of their own, so a later job can never receive this job's events. With `again` false a summary
 * the history already holds comes back as one `remembered` event; `again` true writes a new one.
 */
export function summarize(
  jobId: number,
  article: ArticleView,
  options: Settings,
  again: boolean,
  onEvent: (event: JobEvent) => void,
): Promise<void> {
  const channel = new Channel<JobEvent>(onEvent);
  return call('summarize', { jobId, article, options, again, onEvent: channel });
}

export function cancelJob(jobId: number): Promise<void> {
  return call('cancel_job', { jobId });
}

export function listModels(): Promise<ModelsView> {
  return call('list_models', {});
}

export function fetchModel(name: string, onProgress: (event: FetchEvent) => void): Promise<void> {
  const channel = new Channel<FetchEvent>(onProgress);
  return call('fetch_model', { name, onProgress: channel });
}

/** Stops a running download of `name`; the partial file is removed. */
export function cancelFetch(name: string): Promise<void> {
  return call('cancel_fetch', { name });
}

export function addModel(path: string): Promise<ModelView> {
  return call('add_model', { path });
}

export function getSettings(): Promise<Settings> {
  return call('get_settings', {});
}

export function saveSettings(settings: Settings): Promise<void> {
  return call('save_settings', { settings });
}

export function formatSummary(summary: Summary, format: CopyFormat): Promise<string> {
  return call('format_summary', { summary, format });
}

export function formatBullet(bullet: Bullet, format: CopyFormat): Promise<string> {
  return call('format_bullet', { bullet, format });
}

export function saveText(path: string, contents: string): Promise<void> {
  return call('save_text', { path, contents });
}

/** The newest entries first; `before` is the id of the last entry already shown, for the next page. */
export function historyList(before: number | null, limit: number): Promise<ListItem[]> {
  return call('history_list', { before, limit });
}

export function historySearch(query: string, limit: number): Promise<SearchHit[]> {
  return call('history_search', { query, limit });
}

export function historyOpen(id: number): Promise<HistoryEntry> {
  return call('history_open', { id });
}

export function historyDelete(id: number): Promise<HistoryStats> {
  return call('history_delete', { id });
}

export function historyClear(): Promise<HistoryStats> {
  return call('history_clear', {});
}

export function historyStats(): Promise<HistoryStats> {
  return call('history_stats', {});
}

// ---- Clipboard ----

export async function copyText(text: string): Promise<void> {
  try {
    await writeText(text);
  } catch (err) {
    throw toAppError(err);
  }
}

/** Puts HTML on the clipboard, with `altText` for apps that only take plain text. */
export async function copyHtml(html: string, altText: string): Promise<void> {
  try {
    await writeHtml(html, altText);
  } catch (err) {
    throw toAppError(err);
  }
}

// ---- Dialogs ----
//
// The open and save dialogs run in the shell, which then opens, adds or writes only the files the
// person picked (or dropped): the page never names a file on its own.

/** The open dialog for an article; `null` when the person cancels. */
export function pickArticleFile(): Promise<string | null> {
  return call('pick_article', {});
}

/** The open dialog for a GGUF model; `null` when the person cancels. */
export function pickModelFile(): Promise<string | null> {
  return call('pick_model', {});
}

/** The save dialog for a Markdown export, suggesting `name`; `null` when the person cancels. */
export function pickSavePath(name: string): Promise<string | null> {
  return call('pick_save_path', { name });
}

// ---- Native file drops ----

export type NativeDrag =
  | { type: 'enter' | 'over' | 'leave' }
  | { type: 'drop'; paths: string[] };

/** Listens for files dragged onto the window from the desktop. Resolves to an unlisten function. */
export async function onNativeDrag(handler: (drag: NativeDrag) => void): Promise<() => void> {
  const unlisten = await getCurrentWebview().onDragDropEvent((event) => {
    const payload = event.payload;
    if (payload.type === 'drop') handler({ type: 'drop', paths: payload.paths });
    else handler({ type: payload.type });
  });
  return () => void unlisten();
}
