// Puts the window together: top bar, the history sidebar beside the main area (notices, the
// empty state or the two panes), the drop overlay, the status bar and the preferences dialog; and
// subscribes each part to the state keys it reads, so it re-renders only when one of them changes.

import { h, show } from '../dom.ts';
import type { Actions, Store } from '../store.ts';
import { createArticlePane } from './article.ts';
import { createEmptyState } from './empty.ts';
import { createHistorySidebar } from './history.ts';
import { createNotices } from './notices.ts';
import { createPreferences } from './preferences.ts';
import { createStatusbar } from './statusbar.ts';
import { createSummaryPane } from './summary.ts';
import { createTopbar } from './topbar.ts';

export interface Layout {
  /** Puts the keyboard in the history search box (the sidebar must be open). */
  focusHistorySearch(): void;
}

export function mountLayout(container: HTMLElement, store: Store, actions: Actions): Layout {
  const topbar = createTopbar(actions);
  const history = createHistorySidebar(actions);
  const notices = createNotices(actions);
  const preferences = createPreferences(actions);
  const empty = createEmptyState(actions);
  const summary = createSummaryPane(actions);
  const article = createArticlePane(actions);
  const panes = h('div', { class: 'panes', hidden: true }, summary.root, article.root);
  const main = h('main', { id: 'main', class: 'main' }, notices.root, empty.root, panes);
  const statusbar = createStatusbar(actions);
  const dropzone = h(
    'div',
    { class: 'dropzone', id: 'dropzone', 'aria-hidden': 'true', hidden: true },
    h('div', { class: 'dropzone-inner' }, 'Drop to open'),
  );
  const workspace = h('div', { class: 'workspace' }, history.root, main);
  container.append(topbar.root, workspace, statusbar.root, dropzone, preferences.root);

  // Each part re-renders only when a key it reads changes, in this order (see store.ts).
  store.subscribe(topbar.reads, (state) => topbar.render(state));
  store.subscribe(history.reads, (state) => {
    // Closing the sidebar with the keyboard in it: give the keyboard to its toggle.
    const focusWasInHistory = !state.history.open && !history.root.hidden && history.root.contains(document.activeElement);
    history.render(state);
    if (focusWasInHistory) topbar.focusHistoryToggle();
  });
  store.subscribe(notices.reads, (state) => notices.render(state));
  store.subscribe(empty.reads, (state) => empty.render(state));
  store.subscribe(preferences.reads, (state) => preferences.render(state));
  store.subscribe(['article'], (state) => {
    const hasArticle = state.article !== null;
    // The empty state's button goes away when an article opens: keep the keyboard in the page.
    const focusWasInEmpty = hasArticle && !empty.root.hidden && empty.root.contains(document.activeElement);
    show(empty.root, !hasArticle);
    show(panes, hasArticle);
    if (focusWasInEmpty) summary.root.focus({ preventScroll: true });
    const title = state.article ? state.article.title?.trim() || null : null;
    document.title = title ? `${title} — Precis` : 'Precis';
  });
  // The panes are drawn only while an article is open.
  store.subscribe([...summary.reads, 'article'], (state) => {
    if (state.article) summary.render(state);
  });
  store.subscribe([...article.reads, 'article'], (state) => {
    if (state.article) article.render(state);
  });
  store.subscribe(statusbar.reads, (state) => statusbar.render(state));
  store.subscribe(['dragging'], (state) => show(dropzone, state.dragging));
  store.subscribe(['job'], (state) => document.body.classList.toggle('busy', state.job !== null));
  store.subscribe(['ready'], (state) => {
    if (state.ready) document.body.dataset.ready = 'true';
  });

  return {
    focusHistorySearch() {
      history.focusSearch();
    },
  };
}
