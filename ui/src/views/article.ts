// The article pane: title, where it comes from, its length and language, what the reader should
// know about how it was read (pages left out), the clean text in paragraphs, and the "next" files
// waiting to be opened. Highlights the selected bullet's source spans.
//
// Article text is untrusted: it only ever reaches the page as text nodes.

import type { ArticleView, Span } from '../api.ts';
import { h, replace, setText, show } from '../dom.ts';
import { type Actions, BULLET_KEYS, type State, type StateKey, shownBullets } from '../store.ts';
import {
  type Paragraph,
  type ParagraphRange,
  baseName,
  formatReadingTime,
  formatWords,
  languageName,
  layoutParagraphs,
  spanToRanges,
} from '../text.ts';

function metaLine(article: ArticleView): string {
  return [article.site, article.byline, article.published].filter((x) => x && x.trim()).join(' · ');
}

/** Builds a paragraph's content with the given ranges wrapped in <mark>. */
function markedParagraph(text: string, ranges: ParagraphRange[]): (Node | string)[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  const out: (Node | string)[] = [];
  let at = 0;
  for (const r of sorted) {
    const from = Math.max(r.from, at);
    if (r.to <= from) continue;
    if (from > at) out.push(text.slice(at, from));
    out.push(h('mark', { class: 'source' }, text.slice(from, r.to)));
    at = r.to;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

const reducedMotion = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches;

/**
 * Paragraphs put on the page in one go. A longer article (a 50 MB report has tens of thousands
 * of paragraphs) is put on the page a batch at a time as the reader scrolls towards its end, so
 * the page never holds more than the reader has come near and the window answers at once.
 */
const PARAGRAPHS_AT_ONCE = 200;

/** How close (in pixels) the end of the text on the page may come to the view before more is put on. */
const RENDER_AHEAD = 2000;

export function createArticlePane(actions: Actions) {
  const nextList = h('ul', { class: 'next-list' });
  const next = h(
    'nav',
    { class: 'next', 'aria-label': 'Next articles', hidden: true },
    h('span', { class: 'next-label' }, 'Next:'),
    nextList,
  );
  const title = h('h2', { id: 'article-title', class: 'article-title', dir: 'auto' });
  const meta = h('p', { class: 'article-meta', id: 'article-meta' });
  const stats = h('p', { class: 'article-stats', id: 'article-stats' });
  const notes = h('p', { class: 'article-notes', id: 'article-notes', role: 'note', hidden: true });
  const body = h('div', { class: 'article-text', id: 'article-text' });
  const root = h(
    'section',
    { class: 'pane article-pane', 'aria-labelledby': 'article-title', tabindex: 0 },
    next,
    h('header', { class: 'article-header' }, title, meta, stats, notes),
    body,
  );

  let article: ArticleView | null = null;
  let paragraphs: Paragraph[] = [];
  /** The paragraphs on the page so far, in order; the rest follow a batch at a time. */
  let nodes: HTMLParagraphElement[] = [];
  let more: number | null = null;
  let marked = new Set<number>();
  let lastSpansKey = '';
  let lastNext: string[] | null = null;
  let lastSelected: number | null = null;
  let lastReveal = 0;

  /** Puts paragraphs on the page up to (not including) `end`. */
  function renderUpTo(end: number) {
    const batch: HTMLParagraphElement[] = [];
    for (let n = nodes.length; n < Math.min(end, paragraphs.length); n++) batch.push(h('p', { dir: 'auto' }, paragraphs[n].text));
    nodes.push(...batch);
    body.append(...batch);
  }

  /** The next batch of paragraphs while the end of the text on the page is within reach of the view. */
  function renderMore() {
    more = null;
    renderUpTo(nodes.length + PARAGRAPHS_AT_ONCE);
    if (nodes.length < paragraphs.length && nearTheEnd()) more = window.setTimeout(renderMore, 0);
  }

  function nearTheEnd() {
    return root.scrollHeight - root.scrollTop - root.clientHeight < RENDER_AHEAD;
  }

  root.addEventListener(
    'scroll',
    () => {
      if (more === null && nodes.length < paragraphs.length && nearTheEnd()) renderMore();
    },
    { passive: true },
  );

  function renderArticle(a: ArticleView) {
    article = a;
    if (more !== null) window.clearTimeout(more);
    paragraphs = layoutParagraphs(a.text);
    nodes = [];
    replace(body);
    renderMore();
    marked = new Set();
    lastSpansKey = '';
    setText(title, a.title?.trim() || baseName(a.source));
    const m = metaLine(a);
    setText(meta, m);
    show(meta, m !== '');
    const lang = languageName(a.language);
    const parts = [formatWords(a.wordCount), formatReadingTime(a.readingMinutes)];
    // A shell that detects no language sends none; `unknown` is a text too short or mixed to tell.
    if (typeof a.language === 'string') parts.push(lang ?? 'language unknown');
    setText(stats, parts.join(' · '));
    // An article from an older shell has no notes (an entry from the history has its own).
    const said = (a.notes ?? []).join(' ');
    setText(notes, said);
    show(notes, said !== '');
    // Screen readers and fonts read the text as its language.
    if (lang && a.language) body.setAttribute('lang', a.language);
    else body.removeAttribute('lang');
    root.scrollTop = 0;
  }

  function highlight(spans: Span[]) {
    for (const n of marked) replace(nodes[n], paragraphs[n].text);
    marked = new Set();
    const byParagraph = new Map<number, ParagraphRange[]>();
    for (const span of spans) {
      for (const range of spanToRanges(paragraphs, span.start, span.end)) {
        const list = byParagraph.get(range.paragraph) ?? [];
        list.push(range);
        byParagraph.set(range.paragraph, list);
      }
    }
    for (const [n, ranges] of byParagraph) {
      // A source further on than the page has got to is put on the page now.
      renderUpTo(n + 1);
      replace(nodes[n], ...markedParagraph(paragraphs[n].text, ranges));
      marked.add(n);
    }
  }

  /** Brings the first highlight into view: the whole page if asked, else only this pane. */
  function scrollToMark(reveal: boolean) {
    const mark = body.querySelector('mark');
    if (!mark) return;
    const behavior: ScrollBehavior = reducedMotion() ? 'auto' : 'smooth';
    if (reveal) {
      mark.scrollIntoView({ block: 'center', behavior });
      return;
    }
    if (root.scrollHeight <= root.clientHeight) return;
    const pane = root.getBoundingClientRect();
    const box = mark.getBoundingClientRect();
    if (box.top >= pane.top && box.bottom <= pane.bottom) return;
    root.scrollBy({ top: box.top - pane.top - pane.height / 2 + box.height / 2, behavior });
  }

  function render(state: State) {
    if (!state.article) {
      article = null;
      return;
    }
    if (state.article !== article) renderArticle(state.article);

    if (state.next !== lastNext) {
      lastNext = state.next;
      replace(
        nextList,
        ...state.next.map((path, i) => {
          const button = h('button', { type: 'button', class: 'quiet', title: path }, baseName(path));
          button.addEventListener('click', () => actions.openNext(i));
          return h('li', {}, button);
        }),
      );
      show(next, state.next.length > 0);
    }

    const { bullets } = shownBullets(state);
    const spans = state.selected !== null ? (bullets[state.selected]?.sources ?? []) : [];
    const key = JSON.stringify(spans);
    if (key !== lastSpansKey) {
      lastSpansKey = key;
      highlight(spans);
    }
    const selectedChanged = state.selected !== lastSelected;
    const revealAsked = state.reveal !== lastReveal;
    lastSelected = state.selected;
    lastReveal = state.reveal;
    if (selectedChanged || revealAsked) scrollToMark(revealAsked);
  }

  return { root, reads: ['article', 'next', 'selected', 'reveal', ...BULLET_KEYS] satisfies StateKey[], render };
}
