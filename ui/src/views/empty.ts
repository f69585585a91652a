// The empty state: one large drop target that also opens the file dialog, and the ways in.

import { h } from '../dom.ts';
import type { Actions } from '../store.ts';

export function createEmptyState(actions: Actions) {
  const target = h(
    'button',
    { type: 'button', class: 'drop-target', id: 'drop-target', 'aria-describedby': 'empty-help' },
    h('span', { class: 'drop-icon', 'aria-hidden': 'true' }, '⤓'),
    h('span', { class: 'drop-title' }, 'Drop an article, paste text, or press Ctrl+O'),
  );
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
  return { root };
}
