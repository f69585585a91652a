// What the window needs to tell the person outside the two panes: an inline error (for a
// dropped or pasted link, with the question whether to fetch its page), the "no model yet" card
// with its download progress, and the confirm dialog for a dropped .gguf.

import { h, setText, show } from '../dom.ts';
import { type Actions, MODEL_KEYS, type State, type StateKey, modelReady, selectedModel, selectedModelName } from '../store.ts';
import { baseName, formatBytes } from '../text.ts';

function createError(actions: Actions) {
  const message = h('p', { class: 'notice-text' });
  const dismiss = h('button', { type: 'button', class: 'quiet' }, 'Dismiss');
  const once = h('button', { type: 'button', class: 'primary', id: 'fetch-link' }, 'Fetch page');
  const always = h('button', { type: 'button', id: 'fetch-link-always' }, 'Always fetch links');
  const never = h('button', { type: 'button', id: 'fetch-link-never' }, 'Never fetch links');
  const question = h(
    'div',
    { class: 'link-question', id: 'link-question', hidden: true },
    h('p', { class: 'question-text' }, 'Fetch this page? Precis will download it once; summarizing stays on this computer.'),
    h('div', { class: 'buttons' }, once, always, never),
  );
  const root = h('div', { class: 'notice error', id: 'error', role: 'alert', hidden: true }, message, question, dismiss);
  dismiss.addEventListener('click', () => actions.dismissError());
  once.addEventListener('click', () => actions.answerLink('once'));
  always.addEventListener('click', () => actions.answerLink('always'));
  never.addEventListener('click', () => actions.answerLink('never'));
  return {
    root,
    render(state: State) {
      show(root, state.error !== null);
      setText(message, state.error?.message ?? '');
      show(question, state.error !== null && state.pendingLink !== null);
    },
  };
}

function createModelCard(actions: Actions) {
  const heading = h('h2', { id: 'model-card-title' });
  const text = h('p', { class: 'notice-text' });
  const download = h('button', { type: 'button', class: 'primary', id: 'fetch-model' });
  const pick = h('button', { type: 'button', id: 'pick-model' }, 'Use a GGUF file…');
  const stop = h('button', { type: 'button', id: 'cancel-fetch' }, 'Cancel download');
  const phase = h('p', { class: 'fetch-phase' });
  const fill = h('div', { class: 'bar-fill' });
  const bar = h(
    'div',
    {
      class: 'bar',
      role: 'progressbar',
      id: 'fetch-progress',
      'aria-labelledby': 'model-card-title',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': 0,
    },
    fill,
  );
  const progress = h('div', { class: 'fetch', hidden: true }, phase, bar);
  const fetchError = h('p', { class: 'inline-error', role: 'alert', hidden: true });
  const root = h(
    'section',
    { class: 'notice model-card', id: 'model-card', 'aria-labelledby': 'model-card-title', hidden: true },
    heading,
    text,
    progress,
    fetchError,
    h('div', { class: 'buttons' }, download, stop, pick),
  );
  download.addEventListener('click', () => actions.fetchModel());
  pick.addEventListener('click', () => actions.chooseModelFile());
  stop.addEventListener('click', () => actions.cancelFetch());

  return {
    root,
    render(state: State) {
      const fetching = state.fetch;
      const visible = (state.models !== null && !modelReady(state)) || fetching !== null;
      show(root, visible);
      if (!visible) return;
      const model = selectedModel(state);
      const name = fetching?.name ?? selectedModelName(state) ?? '';
      if (fetching) {
        setText(heading, `Downloading ${name}`);
        setText(text, 'Precis will be ready to summarize when the download finishes.');
      } else if (model) {
        setText(heading, 'A model is needed');
        setText(
          text,
          `Precis writes summaries with a local model. “${name}” is not on this computer yet. ` +
            `Download it once (${formatBytes(model.size)}), or use a GGUF file you already have.`,
        );
      } else {
        setText(heading, 'Model not found');
        setText(text, `Precis does not know a model called “${name}”. Choose another model or use a GGUF file.`);
      }
      show(download, model !== null && !fetching);
      setText(download, model ? `Download (${formatBytes(model.size)})` : 'Download');
      pick.disabled = fetching !== null;
      show(stop, fetching !== null);
      stop.disabled = fetching?.phase === 'Cancelling';

      show(progress, fetching !== null);
      if (fetching) {
        const percent = fetching.total > 0 ? Math.min(100, Math.round((fetching.done / fetching.total) * 100)) : 0;
        const detail =
          fetching.total > 0 ? ` — ${formatBytes(fetching.done)} of ${formatBytes(fetching.total)}` : '';
        setText(phase, `${fetching.phase}${detail}`);
        bar.setAttribute('aria-valuenow', String(percent));
        bar.setAttribute('aria-valuetext', `${fetching.phase}, ${percent}%`);
        fill.style.width = `${percent}%`;
      }
      show(fetchError, state.fetchError !== null);
      setText(fetchError, state.fetchError?.message ?? '');
    },
  };
}

function createConfirm(actions: Actions) {
  const text = h('p', { id: 'confirm-text' });
  const add = h('button', { type: 'button', class: 'primary', value: 'add' }, 'Add model');
  const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
  const root = h(
    'dialog',
    { class: 'confirm', id: 'confirm-model', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
    h('h2', { id: 'confirm-title' }, 'Add this model?'),
    text,
    h('div', { class: 'buttons' }, add, cancel),
  );
  add.addEventListener('click', () => actions.confirmModel(true));
  cancel.addEventListener('click', () => actions.confirmModel(false));
  // Escape is "Cancel": answered at once on `cancel`, before the dialog closes. A `close` event
  // arrives later, as a task; if the dialog was opened again meanwhile (a new question), it is
  // an old one and is ignored.
  root.addEventListener('cancel', () => actions.confirmModel(false));
  root.addEventListener('close', () => {
    if (!root.open) actions.confirmModel(false);
  });
  return {
    root,
    render(state: State) {
      const pending = state.pendingModel;
      if (pending) {
        setText(text, `“${baseName(pending)}” is a model file. Add it to Precis so it can write summaries with it?`);
        if (!root.open) {
          root.showModal();
          add.focus();
        }
      } else if (root.open) {
        root.close();
      }
    },
  };
}

export function createNotices(actions: Actions) {
  const error = createError(actions);
  const card = createModelCard(actions);
  const confirm = createConfirm(actions);
  const root = h('div', { class: 'notices' }, error.root, card.root, confirm.root);
  return {
    root,
    reads: ['error', 'pendingLink', 'fetch', 'fetchError', 'pendingModel', ...MODEL_KEYS] satisfies StateKey[],
    render(state: State) {
      error.render(state);
      card.render(state);
      confirm.render(state);
    },
  };
}
