// The bar at the bottom: the status line, and the buttons that are not about the summary on
// screen: Clipboard (summarize the text or link on the clipboard; its global shortcut works from
// anywhere) and Preferences.

import { h, setText } from '../dom.ts';
import type { Actions, State, StateKey } from '../store.ts';

export function createStatusbar(actions: Actions) {
  const status = h('p', { id: 'status', class: 'status', role: 'status' });
  const clipboard = h('button', { type: 'button', id: 'summarize-clipboard', class: 'quiet' }, 'Summarize clipboard');
  const preferences = h(
    'button',
    { type: 'button', id: 'preferences-open', class: 'quiet', title: 'Links and the clipboard shortcut' },
    'Preferences…',
  );
  const root = h('footer', { class: 'statusbar' }, status, h('div', { class: 'statusbar-buttons' }, clipboard, preferences));
  clipboard.addEventListener('click', () => actions.summarizeClipboard());
  preferences.addEventListener('click', () => actions.togglePreferences(true));
  return {
    root,
    reads: ['status', 'preferences'] satisfies StateKey[],
    render(state: State) {
      setText(status, state.status);
      const shortcut = state.preferences.shortcut;
      clipboard.title = shortcut
        ? `Summarize the text or link on the clipboard (${shortcut} from anywhere)`
        : 'Summarize the text or link on the clipboard';
      if (shortcut) clipboard.setAttribute('aria-keyshortcuts', shortcut.replace(/Ctrl/g, 'Control'));
      else clipboard.removeAttribute('aria-keyshortcuts');
    },
  };
}
