// The summary panel: what the job is doing, the tl;dr, the bullets (each one a button that
// shows its source in the article, with its own copy button, and under it the model's
// translation when one was asked for, marked as such), the summary's language when it is not
// the article's (with "Translate key points") or not the one asked for, where the summary came
// from when the history answered (with "Summarize again"), copy / export, and the language
// summaries are written in (the article's own, or a chosen one).
//
// Model output is untrusted: it only ever reaches the page as text nodes (see dom.ts).

import type { Bullet, JobEvent } from '../api.ts';
import { h, replace, setText, show } from '../dom.ts';
import {
  type Actions,
  BULLET_KEYS,
  type JobState,
  MODEL_KEYS,
  type State,
  type StateKey,
  canTranslate,
  modelReady,
  shownBullets,
} from '../store.ts';
import { OUTPUT_LANGUAGES, formatCount, formatDate, formatSeconds, languageName } from '../text.ts';
import { SUPPORT_THRESHOLD } from '../bindings.ts';

/** A bullet the engine could not match to the article. */
function unverified(bullet: Bullet): boolean {
  return typeof bullet.support === 'number' && bullet.support < SUPPORT_THRESHOLD;
}

type Stage = Extract<JobEvent, { event: 'stage' }>['data']['stage'];

const STAGES: Record<Stage, string> = {
  loadingModel: 'Loading the model',
  reading: 'Reading the article',
  ranking: 'Ranking sentences',
  writing: 'Writing the summary',
};

export function progressText(job: JobState): string {
  if (!job.stage) return 'Starting…';
  const base = `${STAGES[job.stage]}…`;
  const p = job.progress;
  const plan = job.plan && job.stage === 'reading' ? `, about ${formatDuration(job.plan.seconds)} in all` : '';
  return p && p.total > 0 ? `${base} (${formatCount(p.done)} of ${formatCount(p.total)}${plan})` : base;
}

/** A duration in words: "40 seconds", "3 minutes". */
function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} seconds`;
  if (seconds < 120) return 'a minute';
  return `${Math.ceil(seconds / 60)} minutes`;
}

function idleText(state: State): string {
  if (state.opening) return 'Opening the article…';
  if (!modelReady(state)) return 'A model is needed before Precis can summarize.';
  return 'Press Summarize to write a summary.';
}

/** What to say about the summary's language: written in another than the article's, or not in the one asked for. */
function languageNotes(state: State): string[] {
  const s = state.summary;
  if (!s) return [];
  const asked = languageName(s.output_language);
  const article = languageName(s.language);
  if (s.language_mismatch) {
    return [`This summary is not in ${asked ?? 'the language asked for'}: the model wrote in another language even when asked twice.`];
  }
  if (asked && article && asked !== article) return [`Written in ${asked}; the article is in ${article}.`];
  return [];
}

function notes(state: State): string[] {
  const out: string[] = [];
  const s = state.summary;
  if (state.outcome === 'stopped') out.push('Stopped before the end; what is shown may be incomplete.');
  if (state.outcome === 'failed') out.push('No summary this time.');
  if (s && state.outcome === 'done') {
    out.push(`Written by ${s.model} in ${formatSeconds(s.timings.total_ms)}.`);
    if (s.stop_reason === 'max_tokens') out.push('The model ran out of room; the last point may be cut short.');
  }
  if (s && state.outcome !== 'failed') out.push(...languageNotes(state));
  return out;
}

export function createSummaryPane(actions: Actions) {
  const progress = h('p', { class: 'progress-line', id: 'progress-line' });
  const barFill = h('div', { class: 'bar-fill' });
  const bar = h(
    'div',
    {
      class: 'bar',
      role: 'progressbar',
      id: 'job-progress',
      'aria-labelledby': 'progress-line',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': 0,
    },
    barFill,
  );
  const idle = h('p', { class: 'idle' });
  const tldrBox = h('div', { class: 'tldr-box', hidden: true });
  const tldr = h('p', { class: 'tldr', id: 'tldr', dir: 'auto' });
  tldrBox.append(h('h3', { class: 'small-heading' }, 'In short'), tldr);
  const listHeading = h('h3', { class: 'small-heading', id: 'bullets-heading' });
  const list = h('ul', { class: 'bullets', id: 'bullets', 'aria-labelledby': 'bullets-heading' });
  const listBox = h('div', { class: 'bullets-box', hidden: true }, listHeading, list);
  const meta = h('div', { class: 'meta', id: 'summary-meta' });
  const fromDate = h('span', {});
  const fromText = h('p', { class: 'from-history-text', id: 'from-history-text' }, h('strong', {}, 'From history'), fromDate);
  const again = h('button', { type: 'button', id: 'summarize-again' }, 'Summarize again');
  const fromHistory = h('div', { class: 'from-history', id: 'from-history', hidden: true }, fromText, again);
  const copyMd = h('button', { type: 'button', id: 'copy-markdown', 'aria-keyshortcuts': 'Control+Shift+C' }, 'Copy as Markdown');
  const copyPlain = h('button', { type: 'button', id: 'copy-plain' }, 'Copy as text');
  const exportBtn = h('button', { type: 'button', id: 'export' }, 'Export…');
  const translate = h('button', { type: 'button', id: 'translate-points', hidden: true }, 'Translate key points');
  const actionsRow = h('div', { class: 'summary-actions', hidden: true }, copyMd, copyPlain, exportBtn, translate);
  // `auto` writes in the article's own language.
  const language = h('select', { id: 'language', title: 'The language summaries are written in' });
  for (const [value, text] of [['auto', 'As the article'], ...OUTPUT_LANGUAGES]) language.append(h('option', { value }, text));
  const languageRow = h(
    'div',
    { class: 'summary-options' },
    h('label', { class: 'field', for: 'language' }, h('span', { class: 'field-label' }, 'Summary language'), language),
  );

  const root = h(
    'section',
    { class: 'pane summary-pane', 'aria-labelledby': 'summary-heading', tabindex: -1 },
    h('h2', { id: 'summary-heading', class: 'pane-heading' }, 'Summary'),
    fromHistory,
    progress,
    idle,
    tldrBox,
    listBox,
    meta,
    actionsRow,
    languageRow,
  );

  copyMd.addEventListener('click', () => actions.copyAll('markdown'));
  copyPlain.addEventListener('click', () => actions.copyAll('plain'));
  exportBtn.addEventListener('click', () => actions.exportMarkdown());
  again.addEventListener('click', () => actions.summarizeAgain());
  translate.addEventListener('click', () => actions.translatePoints());
  language.addEventListener('change', () => actions.setLanguage(language.value));

  let lastBullets: Bullet[] | null = null;
  let lastRunning: boolean | null = null;

  function bulletItem(bullet: Bullet, index: number, running: boolean): HTMLLIElement {
    const flagged = unverified(bullet);
    const flagId = `bullet-flag-${index}`;
    const text = h(
      'button',
      {
        type: 'button',
        class: 'bullet-text',
        dir: 'auto',
        'data-index': index,
        'aria-pressed': 'false',
        'aria-describedby': flagged ? flagId : null,
      },
      bullet.text,
    );
    text.addEventListener('click', () => actions.selectBullet(index, true));
    text.addEventListener('focus', () => actions.selectBullet(index, false));
    const item = h('li', { class: flagged ? 'bullet unverified' : 'bullet' }, text);
    if (bullet.translation) {
      // The model's words, not the article's: marked, in their own language, and pointing at the
      // same place in the article as the sentence they translate.
      const t = bullet.translation;
      const label = `Translation (${languageName(t.language) ?? t.language})`;
      const translated = h(
        'button',
        { type: 'button', class: 'bullet-translation', lang: t.language, 'data-index': index },
        h('span', { class: 'translation-mark', lang: 'en' }, label),
        ' ',
        h('span', { dir: 'auto' }, t.text),
      );
      translated.addEventListener('click', () => actions.selectBullet(index, true));
      item.append(translated);
    }
    if (flagged) {
      item.append(h('span', { class: 'flag', id: flagId }, 'Not found in the article — check before using'));
    }
    if (!running) {
      const copy = h('button', { type: 'button', class: 'copy-one quiet', 'aria-label': `Copy point ${index + 1}` }, 'Copy');
      copy.addEventListener('click', () => actions.copyBullet(index));
      item.append(copy);
    }
    return item;
  }

  function renderList(bullets: Bullet[], running: boolean) {
    // Rebuild only when the bullets change, and give focus back to the same place.
    const active = document.activeElement;
    let focusIndex = -1;
    let focusCopy = false;
    if (active instanceof HTMLElement && list.contains(active)) {
      const li = active.closest('li');
      focusIndex = li ? Array.prototype.indexOf.call(list.children, li) : -1;
      focusCopy = active.classList.contains('copy-one');
    }
    replace(list, ...bullets.map((b, i) => bulletItem(b, i, running)));
    if (focusIndex >= 0) {
      const li = list.children[Math.min(focusIndex, list.children.length - 1)];
      const target = li?.querySelector<HTMLElement>(focusCopy ? '.copy-one' : '.bullet-text') ?? li?.querySelector<HTMLElement>('.bullet-text');
      target?.focus({ preventScroll: true });
    }
  }

  function render(state: State) {
    const running = state.job !== null;
    const { bullets, extractive } = shownBullets(state);
    const hasContent = state.tldr !== '' || bullets.length > 0;

    const from = running ? null : state.fromHistory;
    const focusWasOnAgain = document.activeElement === again;
    show(fromHistory, from !== null);
    // The button goes away while the new summary is written: keep the keyboard in this pane.
    if (focusWasOnAgain && !from) root.focus({ preventScroll: true });
    if (from) setText(fromDate, ` · ${formatDate(from.createdAt)}`);

    show(progress, running);
    if (state.job) setText(progress, state.translating ? 'Translating the key points…' : progressText(state.job));
    const parts = state.job?.progress;
    // In the page only while there are parts to count, so it is the only bar a job shows.
    if (parts && parts.total > 0) {
      if (!bar.isConnected) progress.after(bar);
      const percent = Math.round((Math.min(parts.done, parts.total) / parts.total) * 100);
      bar.setAttribute('aria-valuenow', String(percent));
      barFill.style.width = `${percent}%`;
    } else {
      bar.remove();
    }
    show(idle, !running && !hasContent && state.outcome === 'none');
    setText(idle, idleText(state));

    show(tldrBox, state.tldr !== '');
    setText(tldr, state.tldr);

    show(listBox, bullets.length > 0);
    setText(listHeading, extractive ? 'Key sentences from the article' : 'Key points');
    list.classList.toggle('extractive', extractive);
    if (bullets !== lastBullets || running !== lastRunning) {
      lastBullets = bullets;
      lastRunning = running;
      renderList(bullets, running);
    }
    list.querySelectorAll<HTMLElement>('.bullet-text').forEach((el, i) => {
      const on = i === state.selected;
      el.setAttribute('aria-pressed', String(on));
      el.closest('li')?.classList.toggle('selected', on);
    });

    const lines = running ? [] : notes(state);
    replace(meta, ...lines.map((line) => h('p', {}, line)));

    show(actionsRow, !running && hasContent);
    language.value = state.settings.language ?? 'auto';
    const offer = canTranslate(state);
    show(translate, offer);
    if (offer) {
      const name = languageName(state.summary?.output_language);
      setText(translate, name ? `Translate key points into ${name}` : 'Translate key points');
    }
  }

  return {
    root,
    reads: [
      'job',
      'tldr',
      'summary',
      'selected',
      'outcome',
      'opening',
      'fromHistory',
      'translating',
      ...BULLET_KEYS,
      ...MODEL_KEYS,
    ] satisfies StateKey[],
    render,
  };
}
