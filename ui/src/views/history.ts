// The history sidebar: the search box, the stored summaries newest first (search hits with their
// matched words marked), open and delete per entry, "Show more", the count and size on disk,
// "Clear all" with its confirm dialog, and history errors in plain words.
//
// Titles, previews and snippets come from articles and model output: text nodes only. Keyboard:
// Tab or the arrow keys move through the entries, Enter opens one, Delete removes it.

import type { AppError, ListItem, SearchHit } from '../api.ts';
import { h, replace, setText, show } from '../dom.ts';
import type { Actions, HistoryState, State, StateKey } from '../store.ts';
import { baseName, formatBytes, formatCount, formatDate, formatDay, languageName, splitByteRanges } from '../text.ts';

const KINDS: Record<ListItem['kind'], string> = {
  'key-points': 'Key points',
  tldr: 'TL;DR',
  headline: 'Headline',
};

/** What went wrong, in words a person can act on; the engine's own message follows it. */
function historyErrorText(error: AppError): string {
  switch (error.code) {
    case 'history_corrupt':
      return 'The history file is damaged, so past summaries cannot be shown. Summarizing still works.';
    case 'history_too_new':
      return 'The history was written by a newer version of Precis. Update Precis to see it; summarizing still works.';
    case 'not_found':
      return 'That summary is no longer in the history.';
    default:
      return 'The history could not be read or changed. Summarizing still works.';
  }
}

function itemTitle(item: ListItem): string {
  return item.title?.trim() || baseName(item.source);
}

function statsText(history: HistoryState): string {
  const stats = history.stats;
  if (!stats) return '';
  const count = stats.count === 1 ? '1 summary' : `${formatCount(stats.count)} summaries`;
  return `${count} · ${formatBytes(stats.bytes)} on disk`;
}

function isHit(item: ListItem | SearchHit): item is SearchHit {
  return 'snippet' in item && typeof item.snippet === 'string';
}

function snippetNodes(hit: SearchHit): (Node | string)[] {
  return splitByteRanges(hit.snippet, hit.highlights).map((piece) =>
    piece.match ? h('mark', { class: 'hit' }, piece.text) : piece.text,
  );
}

function createClearDialog(actions: Actions) {
  const text = h('p', { id: 'confirm-clear-text' });
  const clear = h('button', { type: 'button', class: 'danger', id: 'confirm-clear-yes' }, 'Clear all');
  const cancel = h('button', { type: 'button', id: 'confirm-clear-no' }, 'Cancel');
  const root = h(
    'dialog',
    {
      class: 'confirm',
      id: 'confirm-clear',
      'aria-labelledby': 'confirm-clear-title',
      'aria-describedby': 'confirm-clear-text',
    },
    h('h2', { id: 'confirm-clear-title' }, 'Clear the history?'),
    text,
    h('div', { class: 'buttons' }, clear, cancel),
  );
  clear.addEventListener('click', () => actions.confirmClear(true));
  cancel.addEventListener('click', () => actions.confirmClear(false));
  // Escape is "Cancel": answered at once on `cancel`, before the dialog closes. A `close` event
  // arrives later, as a task; if the dialog was opened again meanwhile (a new question), it is
  // an old one and is ignored.
  root.addEventListener('cancel', () => actions.confirmClear(false));
  root.addEventListener('close', () => {
    if (!root.open) actions.confirmClear(false);
  });
  return {
    root,
    render(history: HistoryState) {
      if (history.confirmClear) {
        const count = history.stats?.count ?? history.items.length;
        const what = count === 1 ? 'the 1 summary' : `all ${formatCount(count)} summaries`;
        setText(text, `This deletes ${what} kept on this computer. The articles themselves are not touched.`);
        if (!root.open) {
          root.showModal();
          // The safe choice has the keyboard.
          cancel.focus();
        }
      } else if (root.open) {
        root.close();
      }
    },
  };
}

export function createHistorySidebar(actions: Actions) {
  const stats = h('p', { class: 'history-stats', id: 'history-stats' });
  const search = h('input', {
    type: 'search',
    id: 'history-search',
    class: 'history-search',
    placeholder: 'Search summaries',
    'aria-label': 'Search the history',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const errorText = h('p', { class: 'history-error-text' });
  const errorDetail = h('p', { class: 'history-error-detail' });
  const dismiss = h('button', { type: 'button', class: 'quiet' }, 'Dismiss');
  const error = h(
    'div',
    { class: 'history-error', id: 'history-error', role: 'alert', hidden: true },
    errorText,
    errorDetail,
    dismiss,
  );
  const list = h('ul', { class: 'history-list', id: 'history-list', 'aria-label': 'Past summaries' });
  const empty = h('p', { class: 'history-empty', id: 'history-empty', hidden: true });
  const more = h('button', { type: 'button', id: 'history-more', class: 'history-more', hidden: true }, 'Show more');
  const clear = h('button', { type: 'button', id: 'history-clear', class: 'quiet' }, 'Clear all…');
  const dialog = createClearDialog(actions);
  const root = h(
    'aside',
    { class: 'history', id: 'history', 'aria-labelledby': 'history-heading', hidden: true },
    h(
      'div',
      { class: 'history-head' },
      h('h2', { class: 'pane-heading', id: 'history-heading' }, 'History'),
      stats,
    ),
    search,
    error,
    list,
    empty,
    more,
    h('div', { class: 'history-foot' }, clear),
    dialog.root,
  );

  search.addEventListener('input', () => actions.searchHistory(search.value));
  dismiss.addEventListener('click', () => actions.dismissHistoryError());
  more.addEventListener('click', () => actions.moreHistory());
  clear.addEventListener('click', () => actions.askClearHistory());

  const openButtons = () => Array.from(list.querySelectorAll<HTMLButtonElement>('.history-open'));

  list.addEventListener('keydown', (e) => {
    const target = e.target;
    if (!(target instanceof HTMLElement)) return;
    const li = target.closest<HTMLElement>('.history-item');
    if (!li) return;
    const buttons = openButtons();
    const at = buttons.findIndex((b) => li.contains(b));
    let to = -1;
    if (e.key === 'ArrowDown') to = Math.min(buttons.length - 1, at + 1);
    else if (e.key === 'ArrowUp') to = Math.max(0, at - 1);
    else if (e.key === 'Home') to = 0;
    else if (e.key === 'End') to = buttons.length - 1;
    else if (e.key === 'Delete' && !e.repeat) {
      e.preventDefault();
      actions.deleteEntry(Number(li.dataset.id));
      return;
    } else return;
    e.preventDefault();
    buttons[to]?.focus();
  });

  function item(entry: ListItem | SearchHit): HTMLLIElement {
    const title = itemTitle(entry);
    const points = entry.bulletCount === 1 ? '1 point' : `${formatCount(entry.bulletCount)} points`;
    const language = languageName(entry.language);
    const meta = [formatDay(entry.createdAt), KINDS[entry.kind] ?? entry.kind, points, ...(language ? [language] : [])].join(' · ');
    const text = isHit(entry)
      ? h('span', { class: 'history-snippet', dir: 'auto' }, ...snippetNodes(entry))
      : h('span', { class: 'history-preview', dir: 'auto' }, entry.preview);
    const open = h(
      'button',
      { type: 'button', class: 'history-open', 'aria-keyshortcuts': 'Delete', title: entry.source },
      h('span', { class: 'history-title', dir: 'auto' }, title),
      h('span', { class: 'history-meta', title: formatDate(entry.createdAt) }, meta),
      text,
    );
    const remove = h(
      'button',
      { type: 'button', class: 'history-delete quiet', 'aria-label': `Delete “${title}”`, title: 'Delete' },
      h('span', { 'aria-hidden': 'true' }, '✕'),
    );
    open.addEventListener('click', () => actions.openEntry(entry.id));
    remove.addEventListener('click', () => actions.deleteEntry(entry.id));
    return h('li', { class: 'history-item', 'data-id': entry.id }, open, remove);
  }

  /** Rebuilds the list and keeps the keyboard on the same entry, or the one that took its place. */
  function renderList(items: (ListItem | SearchHit)[]) {
    const active = document.activeElement;
    let focusId: string | undefined;
    let focusIndex = -1;
    let focusDelete = false;
    if (active instanceof HTMLElement && list.contains(active)) {
      const li = active.closest<HTMLElement>('.history-item');
      focusId = li?.dataset.id;
      focusIndex = li ? Array.prototype.indexOf.call(list.children, li) : -1;
      focusDelete = active.classList.contains('history-delete');
    }
    replace(list, ...items.map(item));
    if (focusIndex < 0) return;
    const lis = Array.from(list.children) as HTMLElement[];
    const same = lis.find((li) => li.dataset.id === focusId);
    const li = same ?? lis[Math.min(focusIndex, lis.length - 1)];
    const target = li?.querySelector<HTMLElement>(same && focusDelete ? '.history-delete' : '.history-open');
    (target ?? search).focus({ preventScroll: false });
  }

  let lastItems: (ListItem | SearchHit)[] | null = null;

  return {
    root,
    reads: ['history', 'fromHistory'] satisfies StateKey[],
    /** Focuses the search box, for the keyboard shortcut. */
    focusSearch() {
      search.focus();
    },
    render(state: State) {
      const history = state.history;
      show(root, history.open);
      dialog.render(history);
      if (!history.open) return;

      if (search.value !== history.query && document.activeElement !== search) search.value = history.query;
      setText(stats, statsText(history));
      stats.title = history.stats?.path ?? '';
      show(stats, history.stats !== null);

      show(error, history.error !== null);
      if (history.error) {
        setText(errorText, historyErrorText(history.error));
        setText(errorDetail, history.error.message);
      }

      if (history.items !== lastItems) {
        lastItems = history.items;
        renderList(history.items);
      }
      const current = state.fromHistory?.id;
      for (const li of Array.from(list.children) as HTMLElement[]) {
        const on = current !== undefined && li.dataset.id === String(current);
        li.classList.toggle('current', on);
        const open = li.querySelector('.history-open');
        if (on) open?.setAttribute('aria-current', 'true');
        else open?.removeAttribute('aria-current');
      }

      const query = history.query.trim();
      let emptyText = '';
      if (history.items.length === 0) {
        if (history.loading) emptyText = 'Loading…';
        else if (history.error) emptyText = '';
        else if (query) emptyText = `No summaries match “${query}”.`;
        else emptyText = 'No summaries yet. Each finished summary is kept here, on this computer.';
      }
      setText(empty, emptyText);
      show(empty, emptyText !== '');
      show(list, history.items.length > 0);
      show(more, history.more && !query);
      const nothing = (history.stats?.count ?? history.items.length) === 0;
      // A disabled button drops the keyboard: hand it to the search box instead.
      if (nothing && document.activeElement === clear) search.focus();
      clear.disabled = nothing;
    },
  };
}
