// Ways in that are not buttons: native file drops, HTML5 drops of text or links, paste, files
// given on the command line (at start or by a later launch), the global clipboard shortcut
// (pressed anywhere; the shell reads the clipboard), and the keyboard shortcuts (Ctrl+O open,
// Ctrl+Shift+C copy all, Ctrl+H history, Escape cancel).

import { onClipboardShortcut, onFilesOpened, onNativeDrag } from './api.ts';
import type { Actions, Store } from './store.ts';
import type { Layout } from './views/layout.ts';

/** Text carried by a paste or an HTML5 drop: a URI list first, else plain text. */
function droppedText(data: DataTransfer | null): string {
  if (!data) return '';
  return data.getData('text/uri-list') || data.getData('text/plain') || '';
}

function carriesText(data: DataTransfer | null): boolean {
  if (!data) return false;
  const types = Array.from(data.types);
  // Files come through the native drop event, with real paths.
  if (types.includes('Files')) return false;
  return types.includes('text/uri-list') || types.includes('text/plain');
}

function isEditable(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement)
  );
}

export async function installInput(store: Store, actions: Actions, layout: Layout): Promise<void> {
  // A text selection or a link dragged from another app.
  let depth = 0;
  document.addEventListener('dragenter', (e) => {
    if (!carriesText(e.dataTransfer)) return;
    e.preventDefault();
    depth += 1;
    actions.setDragging(true);
  });
  document.addEventListener('dragover', (e) => {
    if (!carriesText(e.dataTransfer)) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('dragleave', (e) => {
    if (!carriesText(e.dataTransfer)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) actions.setDragging(false);
  });
  document.addEventListener('drop', (e) => {
    depth = 0;
    // Never let the webview navigate to a dropped file or link.
    e.preventDefault();
    actions.setDragging(false);
    if (!carriesText(e.dataTransfer)) return;
    const text = droppedText(e.dataTransfer);
    if (text) actions.openText(text);
  });

  document.addEventListener('paste', (e) => {
    if (isEditable(e.target)) return;
    const text = droppedText(e.clipboardData);
    if (!text.trim()) return;
    e.preventDefault();
    actions.openText(text);
  });

  document.addEventListener('keydown', (e) => {
    const mod = e.ctrlKey || e.metaKey;
    const key = e.key.toLowerCase();
    if (mod && !e.shiftKey && !e.altKey && key === 'o') {
      e.preventDefault();
      actions.chooseFile();
    } else if (mod && e.shiftKey && !e.altKey && key === 'c') {
      e.preventDefault();
      actions.copyAll('markdown');
    } else if (mod && !e.shiftKey && !e.altKey && key === 'h') {
      if (document.querySelector('dialog[open]')) return;
      e.preventDefault();
      actions.toggleHistory();
      // Opened from the keyboard: straight to the search box.
      if (store.get().history.open) layout.focusHistorySearch();
    } else if (e.key === 'Escape' && !e.defaultPrevented) {
      // An open <dialog> handles Escape itself.
      if (document.querySelector('dialog[open]')) return;
      if (store.get().job) {
        e.preventDefault();
        actions.cancel();
      }
    }
  });

  // Files from a later `precis-app FILE…` (the shell brings the window forward).
  await onFilesOpened(() => actions.openHandedOver());
  // The global shortcut: the clipboard's text, read by the shell, opened as if pasted.
  await onClipboardShortcut(
    (text) => actions.openText(text),
    (error) => store.set({ error }),
  );

  // Files dragged from the desktop. Installed last, so the rest works even if this fails.
  await onNativeDrag((drag) => {
    switch (drag.type) {
      case 'enter':
      case 'over':
        actions.setDragging(true);
        break;
      case 'leave':
        actions.setDragging(false);
        break;
      case 'drop':
        actions.setDragging(false);
        if (drag.paths.length > 0) actions.droppedPaths(drag.paths);
        break;
    }
  });
}
