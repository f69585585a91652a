// Puts the window together: top bar, notices, the empty state or the two panes, the drop
// overlay and the status line; and re-renders each part when the state changes.

import { h, setText, show } from '../dom.ts';
import type { Actions, State, Store } from '../store.ts';
import { createArticlePane } from './article.ts';
import { createEmptyState } from './empty.ts';
import { createNotices } from './notices.ts';
import { createSummaryPane } from './summary.ts';
import { createTopbar } from './topbar.ts';

export function mountLayout(container: HTMLElement, store: Store, actions: Actions): void {
  const topbar = createTopbar(actions);
  const notices = createNotices(actions);
  const empty = createEmptyState(actions);
  const summary = createSummaryPane(actions);
  const article = createArticlePane(actions);
  const panes = h('div', { class: 'panes', hidden: true }, summary.root, article.root);
  const main = h('main', { id: 'main', class: 'main' }, notices.root, empty.root, panes);
  const status = h('p', { id: 'status', class: 'status', role: 'status' });
  const dropzone = h(
    'div',
    { class: 'dropzone', id: 'dropzone', 'aria-hidden': 'true', hidden: true },
    h('div', { class: 'dropzone-inner' }, 'Drop to open'),
  );
  container.append(topbar.root, main, h('footer', { class: 'statusbar' }, status), dropzone);

  store.subscribe((state: State) => {
    topbar.render(state);
    notices.render(state);
    const hasArticle = state.article !== null;
    // The empty state's button goes away when an article opens: keep the keyboard in the page.
    const focusWasInEmpty = hasArticle && !empty.root.hidden && empty.root.contains(document.activeElement);
    show(empty.root, !hasArticle);
    show(panes, hasArticle);
    if (hasArticle) {
      summary.render(state);
      article.render(state);
    }
    if (focusWasInEmpty) summary.root.focus({ preventScroll: true });
    setText(status, state.status);
    show(dropzone, state.dragging);
    document.body.classList.toggle('busy', state.job !== null);
    const title = state.article ? state.article.title?.trim() || null : null;
    document.title = title ? `${title} — Precis` : 'Precis';
    if (state.ready) document.body.dataset.ready = 'true';
  });
}
