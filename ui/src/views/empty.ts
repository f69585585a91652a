// The empty state: one large drop target that also opens the file dialog, and the ways in; while
// the first article is being read it says so.

import { h, setText } from '../dom.ts';
import type { Actions, State, StateKey } from '../store.ts';

export function createEmptyState(actions: Actions) {
  const target = h(
    'button',
    { type: 'button', class: 'drop-target', id: 'drop-target', 'aria-describedby': 'empty-help' },
    h('span', { class: 'drop-icon', 'aria-hidden': 'true' }, '⤓'),
    h('span', { class: 'drop-title' }),
  );
  const title = target.lastElementChild as HTMLElement;
  target.addEventListener('click', () => actions.chooseFile());
  const root = h(
    'section',
    { class: 'empty', id: 'empty', 'aria-label': 'No article open' },
    target,
    h(
      'p',
      { class: 'empty-help', id: 'empty-help' },
      'Plain text, Markdown, HTML, PDF and Word files work. You can also drag a text selection ' +
        'from another app. Nothing leaves this computer.',
    ),
  );
  function render(state: State) {
    setText(title, state.opening ? 'Opening the article…' : 'Drop an article, paste text, or press Ctrl+O');
    target.setAttribute('aria-busy', String(state.opening));
  }

  return { root, reads: ['opening'] satisfies StateKey[], render };
}
