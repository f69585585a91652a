// The top bar: the history toggle, app name, Open, the model / type / length pickers, Summarize
// and Cancel.

import type { Length, SummaryType } from '../api.ts';
import { h, replace, setText, show } from '../dom.ts';
import {
  type Actions,
  MODEL_KEYS,
  type State,
  type StateKey,
  modelReady,
  selectedModel,
  selectedModelName,
} from '../store.ts';

const TYPES: [SummaryType, string][] = [
  ['key-points', 'Key points'],
  ['tldr', 'TL;DR'],
  ['headline', 'Headline'],
];

const LENGTHS: [Length, string][] = [
  ['short', 'Short'],
  ['medium', 'Medium'],
  ['long', 'Long'],
];

const ADD_MODEL = '+add-gguf';

/** A labelled picker; `shown` false keeps the label for screen readers only (its options say
 * what it picks: "Key points", "Short"). */
function select(id: string, label: string, options: [string, string][], shown = true) {
  const el = h('select', { id });
  for (const [value, text] of options) el.append(h('option', { value }, text));
  const name = h('span', { class: shown ? 'field-label' : 'visually-hidden' }, label);
  const wrap = h('label', { class: 'field', for: id }, name, el);
  return { wrap, el };
}

export function createTopbar(actions: Actions) {
  const historyToggle = h(
    'button',
    {
      type: 'button',
      id: 'history-toggle',
      class: 'history-toggle',
      'aria-controls': 'history',
      'aria-expanded': 'false',
      'aria-keyshortcuts': 'Control+H',
      title: 'Show or hide the history (Ctrl+H)',
    },
    h('span', { class: 'toggle-icon', 'aria-hidden': 'true' }),
    'History',
  );
  const open = h('button', { type: 'button', id: 'open', 'aria-keyshortcuts': 'Control+O' }, 'Open…');
  const model = select('model', 'Model', []);
  const type = select('type', 'Type', TYPES, false);
  const length = select('length', 'Length', LENGTHS, false);
  const thorough = h('input', { type: 'checkbox', id: 'thorough' }) as HTMLInputElement;
  const thoroughWrap = h(
    'label',
    {
      class: 'field check',
      for: 'thorough',
      title: 'Slower: a long article is read section by section before the summary is written',
    },
    thorough,
    h('span', { class: 'field-label' }, 'Read every paragraph'),
  );
  const run = h('button', { type: 'button', id: 'summarize', class: 'primary' }, 'Summarize');
  const cancel = h(
    'button',
    { type: 'button', id: 'cancel', 'aria-keyshortcuts': 'Escape', hidden: true },
    'Cancel',
  );

  const root = h(
    'header',
    { class: 'topbar' },
    historyToggle,
    // The window's title bar names the app; the heading stays for screen readers, so that the
    // controls fit one row at the window's default width.
    h('h1', { class: 'visually-hidden' }, 'Precis'),
    h(
      'div',
      { class: 'controls', role: 'group', 'aria-label': 'Summary options' },
      open,
      model.wrap,
      type.wrap,
      length.wrap,
      thoroughWrap,
      h('div', { class: 'run' }, run, cancel),
    ),
  );

  historyToggle.addEventListener('click', () => actions.toggleHistory());
  open.addEventListener('click', () => actions.chooseFile());
  run.addEventListener('click', () => actions.summarize());
  cancel.addEventListener('click', () => actions.cancel());
  type.el.addEventListener('change', () => actions.setType(type.el.value as SummaryType));
  length.el.addEventListener('change', () => actions.setLength(length.el.value as Length));
  thorough.addEventListener('change', () => actions.setThorough(thorough.checked));
  let currentModel = '';
  model.el.addEventListener('change', () => {
    const value = model.el.value;
    if (value === ADD_MODEL) {
      model.el.value = currentModel;
      actions.chooseModelFile();
    } else {
      actions.setModel(value);
    }
  });

  let lastModels: State['models'] = null;
  let lastSelected: string | null = null;

  function render(state: State) {
    historyToggle.setAttribute('aria-expanded', String(state.history.open));
    type.el.value = state.settings.type;
    length.el.value = state.settings.length;
    thorough.checked = state.settings.thorough;

    const name = selectedModelName(state) ?? '';
    if (state.models !== lastModels || name !== lastSelected) {
      lastModels = state.models;
      lastSelected = name;
      const generators = state.models?.models.filter((m) => m.role === 'generator') ?? [];
      const options = generators.map((m) =>
        h('option', { value: m.id, title: m.description }, m.present ? m.name : `${m.name} — not downloaded`),
      );
      const selected = selectedModel(state)?.id ?? name;
      if (selected && !generators.some((m) => m.id === selected)) {
        options.unshift(h('option', { value: selected }, `${selected} (unknown)`));
      }
      options.push(h('option', { value: ADD_MODEL }, 'Add a GGUF file…'));
      replace(model.el, ...options);
      model.el.value = selected;
      currentModel = selected;
      // The picker is narrow: its whole name shows on hover.
      model.el.title = model.el.selectedOptions[0]?.textContent ?? '';
    }
    model.el.disabled = !state.models;

    const running = state.job !== null;
    const hadFocus = document.activeElement;
    run.disabled = !state.article || !modelReady(state) || state.opening;
    setText(run, state.outcome === 'none' ? 'Summarize' : 'Summarize again');
    show(run, !running);
    show(cancel, running);
    // Keep the keyboard where it was when one button takes the other's place.
    if (running && hadFocus === run) cancel.focus();
    if (!running && hadFocus === cancel) run.focus();
  }

  return {
    root,
    reads: ['history', 'article', 'opening', 'job', 'outcome', ...MODEL_KEYS] satisfies StateKey[],
    render,
    focusHistoryToggle() {
      historyToggle.focus();
    },
  };
}
