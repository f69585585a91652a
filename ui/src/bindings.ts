// Generated from the Rust types by src-tauri/src/bindings.rs; do not edit.
// `PRECIS_WRITE_BINDINGS=1 cargo test -p precis-app bindings` writes it again.

export type AppError = { code: ErrorCode, message: string, };

export type Article = { kind: Kind, title: string | null, byline: string | null, site: string | null, published: string | null, text: string, notes: Array<string>, };

export type ArticleView = { source: string, wordCount: number, readingMinutes: number, language: string, languageConfidence: number, kind: Kind, title: string | null, byline: string | null, site: string | null, published: string | null, text: string, notes: Array<string>, };

export type Bullet = { text: string, sources: Array<Span>, support: number, translation?: Translation, };

export type DroppedView = { "article": ArticleView } | { "files": Array<string> };

export type Event = { "event": "stage", "data": { stage: Stage, progress?: Progress, } } | { "event": "plan", "data": { sections: number, seconds: number, } } | { "event": "extractive", "data": { bullets: Array<Bullet>, } } | { "event": "partial", "data": { delta: string, summary: string, bullets: Array<Bullet>, } } | { "event": "done", "data": { summary: Summary, } } | { "event": "translated", "data": { bullets: Array<Bullet>, } } | { "event": "remembered", "data": { summary: Summary, entry: ListItem, } } | { "event": "cancelled", "data": { summary: Summary | null, } } | { "event": "failed", "data": { code: ErrorCode, message: string, } };

export type FetchProgress = { "event": "alreadyPresent" } | { "event": "waiting" } | { "event": "started", "data": { total: number, } } | { "event": "downloading", "data": { package: string, part: number, parts: number, } } | { "event": "bytes", "data": { done: number, total: number, } } | { "event": "verifying" } | { "event": "done", "data": { path: string, } };

export type Format = "markdown" | "plain" | "html";

export type HistoryEntry = { id: number, createdAt: string, article: ArticleView, summary: Summary, settings: Settings, };

export type Kind = "text" | "markdown" | "html" | "docx" | "pdf";

export type Length = "short" | "medium" | "long";

export type LinkPolicy = "ask" | "always" | "never";

export type ListItem = { id: number, createdAt: string, source: string, title: string | null, model: string, kind: SummaryType, length: Length, preview: string, bulletCount: number, words: number, totalMs: number, language: string, };

export type ModelView = { id: string, name: string, description: string, role: Role, architecture: string, size: number, present: boolean, path: string | null, custom: boolean, };

export type ModelsView = { modelsDir: string, defaultModel: string, models: Array<ModelView>, };

export type Preferences = { sidebarOpen: boolean, links: LinkPolicy, shortcut: string | null, };

export type Progress = { done: number, total: number, };

export type Role = "generator";

export type SearchHit = { snippet: string, highlights: Array<[number, number]>, id: number, createdAt: string, source: string, title: string | null, model: string, kind: SummaryType, length: Length, preview: string, bulletCount: number, words: number, totalMs: number, language: string, };

export type Settings = { type: SummaryType, length: Length, model: string | null, thorough: boolean, language?: string, };

export type Span = { start: number, end: number, };

export type Stage = "loadingModel" | "reading" | "ranking" | "writing";

export type Stats = { path: string, count: number, bytes: number, };

export type StopReason = "end_of_turn" | "stop_string" | "max_tokens" | "cancelled";

export type Summary = { title: string | null, summary: string, bullets: Array<Bullet>, model: string, stop_reason: StopReason, timings: Timings, text: string, sections: number, unsupported: number, language: string, language_confidence: number, output_language: string, language_mismatch: boolean, };

export type SummaryType = "key-points" | "tldr" | "headline";

export type Timings = { load_ms: number, first_bullet_ms: number, prompt_tokens: number, prefill_ms: number, generated_tokens: number, decode_ms: number, total_ms: number, };

export type Translation = { text: string, language: string, };

/** Every error code a command or a job can report. */
export const ERROR_CODES = ['busy', 'cancelled', 'catalog', 'clipboard', 'context_too_small', 'empty_prompt', 'fetch', 'history', 'history_corrupt', 'history_too_new', 'inference', 'input', 'internal', 'io', 'kernels', 'link', 'model_invalid', 'model_missing', 'not_chosen', 'not_found', 'offline', 'page_failed', 'page_not_article', 'page_not_found', 'page_too_large', 'prompt_too_long', 'shortcut', 'timed_out', 'unknown_model'] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** A generated point is supported by the article from this support on. */
export const SUPPORT_THRESHOLD = 0.6;
