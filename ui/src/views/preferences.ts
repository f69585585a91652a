// The preferences dialog: whether dropped or pasted links are fetched (ask each time, always,
// never) and the global shortcut that summarizes the clipboard (on or off, and which keys). Each
// change is saved at once; a shortcut the shell cannot set is shown here. Close or Escape closes
// it.

import type { LinkPolicy } from '../api.ts';
import { h, setText, show } from '../dom.ts';
import type { Actions, State, StateKey } from '../store.ts';

const LINK_POLICIES: [LinkPolicy, string][] = [
  ['ask', 'Ask each time'],
  ['always', 'Always fetch the page'],
  ['never', 'Never fetch pages'],
];

const DEFAULT_SHORTCUT = 'Ctrl+Alt+S';

export function createPreferences(actions: Actions) {
  const links = h('select', { id: 'link-policy' });
  for (const [value, text] of LINK_POLICIES) links.append(h('option', { value }, text));
  const useShortcut = h('input', { type: 'checkbox', id: 'shortcut-on' });
  const shortcut = h('input', { type: 'text', id: 'shortcut', spellcheck: 'false', autocomplete: 'off' });
  const error = h('p', { class: 'inline-error', id: 'preferences-error', role: 'alert', hidden: true });
  const close = h('button', { type: 'button', class: 'primary', id: 'preferences-close' }, 'Close');
  const root = h(
    'dialog',
    { class: 'confirm preferences', id: 'preferences', 'aria-labelledby': 'preferences-title' },
    h('h2', { id: 'preferences-title' }, 'Preferences'),
    h('label', { class: 'field', for: 'link-policy' }, h('span', { class: 'field-label' }, 'Dropped or pasted links'), links),
    h(
      'p',
      { class: 'hint' },
      'A page is downloaded once, only when you drop or paste its link; summarizing stays on this computer.',
    ),
    h('label', { class: 'check', for: 'shortcut-on' }, useShortcut, ' Summarize the clipboard from anywhere with'),
    h('label', { class: 'field', for: 'shortcut' }, h('span', { class: 'field-label' }, 'Shortcut'), shortcut),
    h('p', { class: 'hint' }, 'For example Ctrl+Alt+S or Shift+Super+F9. It also brings Precis forward.'),
    error,
    h('div', { class: 'buttons' }, close),
  );
  links.addEventListener('change', () => actions.setLinkPolicy(links.value as LinkPolicy));
  useShortcut.addEventListener('change', () =>
    actions.setShortcut(useShortcut.checked ? shortcut.value.trim() || DEFAULT_SHORTCUT : null),
  );
  shortcut.addEventListener('change', () => {
    if (useShortcut.checked && shortcut.value.trim()) actions.setShortcut(shortcut.value.trim());
  });
  close.addEventListener('click', () => actions.togglePreferences(false));
  root.addEventListener('cancel', () => actions.togglePreferences(false));
  root.addEventListener('close', () => {
    if (!root.open) actions.togglePreferences(false);
  });
  let lastShortcut: string | null | undefined;
  return {
    root,
    reads: ['preferences', 'preferencesOpen', 'preferencesError'] satisfies StateKey[],
    render(state: State) {
      links.value = state.preferences.links;
      const current = state.preferences.shortcut;
      useShortcut.checked = current !== null;
      shortcut.disabled = current === null;
      // Keep what the person is typing unless the saved shortcut changed.
      if (current !== lastShortcut) {
        lastShortcut = current;
        shortcut.value = current ?? shortcut.value ?? DEFAULT_SHORTCUT;
        if (!shortcut.value) shortcut.value = DEFAULT_SHORTCUT;
      }
      show(error, state.preferencesError !== null);
      setText(error, state.preferencesError?.message ?? '');
      if (state.preferencesOpen && !root.open) {
        root.showModal();
        links.focus();
      } else if (!state.preferencesOpen && root.open) {
        root.close();
      }
    },
  };
}
