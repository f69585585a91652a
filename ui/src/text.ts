// Article text layout and small formatting helpers.
//
// The engine reports source spans as UTF-8 byte offsets into `ArticleView.text`; the DOM works
// in UTF-16 code units. `layoutParagraphs` splits the text on blank lines and records, for each
// paragraph, where it starts in both units, so a byte span can be turned into positions inside
// the paragraphs the article pane renders.

export interface Paragraph {
  /** The paragraph's text, exactly as it appears in the article text (trimmed of outer blanks). */
  text: string;
  /** UTF-16 index of the paragraph's first character in the article text. */
  start: number;
  /** UTF-8 byte offset of the paragraph's first character in the article text. */
  startByte: number;
  /** UTF-8 byte length of the paragraph. */
  byteLength: number;
}

/** A piece of a span inside one paragraph, in UTF-16 indices relative to the paragraph. */
export interface ParagraphRange {
  paragraph: number;
  from: number;
  to: number;
}

/** UTF-8 length of the code point starting at `s[i]` and the number of UTF-16 units it uses. */
function codePointAt(s: string, i: number): { bytes: number; units: number } {
  const c = s.codePointAt(i) ?? 0;
  if (c < 0x80) return { bytes: 1, units: 1 };
  if (c < 0x800) return { bytes: 2, units: 1 };
  if (c < 0x10000) return { bytes: 3, units: 1 };
  return { bytes: 4, units: 2 };
}

export function utf8Length(s: string, from = 0, to = s.length): number {
  let bytes = 0;
  for (let i = from; i < to; ) {
    const cp = codePointAt(s, i);
    bytes += cp.bytes;
    i += cp.units;
  }
  return bytes;
}

/**
 * UTF-16 index inside `s` of the UTF-8 byte offset `byte` (relative to the start of `s`).
 * An offset inside a multi-byte character goes back to that character's start.
 */
export function byteToIndex(s: string, byte: number): number {
  let bytes = 0;
  let i = 0;
  while (i < s.length) {
    const cp = codePointAt(s, i);
    if (bytes + cp.bytes > byte) break;
    bytes += cp.bytes;
    i += cp.units;
  }
  return i;
}

/** Splits article text into paragraphs on blank lines, remembering where each one starts. */
export function layoutParagraphs(text: string): Paragraph[] {
  const paragraphs: Paragraph[] = [];
  const blank = /\n[ \t\r\f\v]*\n\s*/g;
  let index = 0;
  let byte = 0;
  const push = (from: number, to: number) => {
    // Trim the piece, tracking how far the start moved.
    const raw = text.slice(from, to);
    const lead = raw.length - raw.trimStart().length;
    const body = raw.trim();
    if (!body) return;
    const start = from + lead;
    const startByte = byte + utf8Length(text, index, start);
    const byteLength = utf8Length(body);
    paragraphs.push({ text: body, start, startByte, byteLength });
    byte = startByte + byteLength;
    index = start + body.length;
  };
  let from = 0;
  for (const match of text.matchAll(blank)) {
    push(from, match.index);
    from = match.index + match[0].length;
  }
  push(from, text.length);
  return paragraphs;
}

/** The pieces of the byte span [start, end) that fall inside rendered paragraphs. */
export function spanToRanges(paragraphs: Paragraph[], start: number, end: number): ParagraphRange[] {
  const ranges: ParagraphRange[] = [];
  if (!(end > start)) return ranges;
  paragraphs.forEach((p, n) => {
    const pEnd = p.startByte + p.byteLength;
    if (end <= p.startByte || start >= pEnd) return;
    const from = byteToIndex(p.text, Math.max(0, start - p.startByte));
    const to = byteToIndex(p.text, Math.min(p.byteLength, end - p.startByte));
    if (to > from) ranges.push({ paragraph: n, from, to });
  });
  return ranges;
}

/** A piece of a search snippet: plain, or one of the matched words. */
export interface SnippetPiece {
  text: string;
  match: boolean;
}

/**
 * Cuts `snippet` at the UTF-8 byte ranges `[start, end)` into plain and matched pieces, in order.
 * Ranges are sorted, clipped to the text and merged when they overlap; a boundary that falls inside
 * a multi-byte character moves back to that character's first byte, so no character is split.
 */
export function splitByteRanges(snippet: string, ranges: readonly (readonly [number, number])[]): SnippetPiece[] {
  const bytes = new TextEncoder().encode(snippet);
  const decoder = new TextDecoder();
  const charStart = (at: number) => {
    let b = Math.max(0, Math.min(bytes.length, Math.floor(at)));
    while (b > 0 && b < bytes.length && (bytes[b] & 0xc0) === 0x80) b -= 1;
    return b;
  };
  const sorted = ranges
    .map(([start, end]) => [charStart(start), charStart(end)] as const)
    .filter(([start, end]) => end > start)
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [start, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  const pieces: SnippetPiece[] = [];
  const push = (from: number, to: number, match: boolean) => {
    if (to > from) pieces.push({ text: decoder.decode(bytes.subarray(from, to)), match });
  };
  let at = 0;
  for (const [start, end] of merged) {
    push(at, start, false);
    push(start, end, true);
    at = end;
  }
  push(at, bytes.length, false);
  return pieces;
}

// ---- Formatting ----

const numberFormat = new Intl.NumberFormat('en-US');

export function formatCount(n: number): string {
  return numberFormat.format(n);
}

/** Languages a summary can be written in, with their names, as the language picker lists them. */
export const OUTPUT_LANGUAGES: [string, string][] = [
  ['en', 'English'],
  ['de', 'German'],
  ['fr', 'French'],
  ['es', 'Spanish'],
  ['pt', 'Portuguese'],
  ['it', 'Italian'],
  ['nl', 'Dutch'],
  ['pl', 'Polish'],
  ['ru', 'Russian'],
  ['uk', 'Ukrainian'],
  ['tr', 'Turkish'],
  ['ar', 'Arabic'],
  ['zh', 'Chinese'],
  ['ja', 'Japanese'],
  ['ko', 'Korean'],
  ['vi', 'Vietnamese'],
  ['th', 'Thai'],
  ['id', 'Indonesian'],
];

/** The English name of a language code ("German" for "de"); `null` when it is not known. */
export function languageName(code: string | null | undefined): string | null {
  if (!code || code === 'unknown' || code === 'auto') return null;
  const listed = OUTPUT_LANGUAGES.find(([c]) => c === code);
  if (listed) return listed[1];
  try {
    const name = new Intl.DisplayNames(['en'], { type: 'language' }).of(code);
    if (name && name !== code) return name;
  } catch {
    // Not a code the browser knows: show it as it is.
  }
  return code;
}

export function formatWords(n: number): string {
  return n === 1 ? '1 word' : `${formatCount(n)} words`;
}

export function formatReadingTime(minutes: number): string {
  if (!(minutes >= 1)) return 'under a minute to read';
  const m = Math.round(minutes);
  if (m < 90) return `${m} min read`;
  // A report of millions of words: hours say more than a five-digit number of minutes.
  return `${formatCount(Math.round(minutes / 60))} hours to read`;
}

export function formatBytes(bytes: number): string {
  if (!(bytes > 0)) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

const dateTimeFormat = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' });
const dayFormat = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium' });

/** An RFC 3339 time as the person's local date and time ("Nov 27, 2026, 5:40 AM"). */
export function formatDate(rfc3339: string): string {
  const date = new Date(rfc3339);
  return Number.isNaN(date.getTime()) ? rfc3339 : dateTimeFormat.format(date);
}

/** An RFC 3339 time as the person's local day only ("Nov 27, 2026"), for lists. */
export function formatDay(rfc3339: string): string {
  const date = new Date(rfc3339);
  return Number.isNaN(date.getTime()) ? rfc3339 : dayFormat.format(date);
}

/** The last component of a file path, for either separator. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** A file name for an export, from the article's title: no path separators or control characters. */
export function exportFileName(title: string | null): string {
  const cleaned = (title ?? '')
    .replace(/[\\/:*?"<>|\u0000-\u001f]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 100)
    .trim();
  return `${cleaned || 'Summary'}.md`;
}

/** The link in `text` when it is one http(s) address alone (as the shell decides it). */
export function linkIn(text: string): string | null {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (lines.length !== 1 || /\s/.test(lines[0])) return null;
  return /^https?:\/\//i.test(lines[0]) ? lines[0] : null;
}
