// Owns opening articles: the file dialog, dropped or pasted paths and text (a .gguf among them
// waits for the person to confirm adding it), files given on the command line (opened as if
// dropped together), the queue of files dropped together, the drop overlay, and putting an
// article on screen. Only the newest read counts, whether of a file, of text or of a history
// entry (`open`).

import * as api from '../api.ts';
import type { ArticleView } from '../api.ts';
import type { Actions } from '../store.ts';
import type { Context } from './context.ts';
import { type Jobs, NO_RESULT } from './jobs.ts';
import { Lane } from './lane.ts';

function isModelFile(path: string) {
  return /\.gguf$/i.test(path);
}

export type Articles = ReturnType<typeof createArticles>;

export function createArticles({ get, set, fail }: Context, jobs: Jobs) {
  const reads = new Lane();

  /** Reads something to put on screen; an older read still on its way is dropped. */
  function open<T>(work: () => Promise<T>, onValue: (value: T) => void, onError: (err: unknown) => void) {
    reads.run(work, onValue, onError);
  }

  function openFailed(err: unknown) {
    set({ opening: false });
    fail(err);
  }

  function showArticle(article: ArticleView) {
    jobs.stop();
    set({ article, opening: false, outcome: 'none', ...NO_RESULT });
    jobs.startWhenReady();
  }

  function openPath(path: string) {
    set({ opening: true, error: null });
    open(() => api.openArticle(path), showArticle, openFailed);
  }

  function droppedPaths(paths: string[]) {
    const models = paths.filter(isModelFile);
    const articles = paths.filter((p) => !isModelFile(p));
    if (models.length > 0) set({ pendingModel: models[0] });
    if (articles.length > 0) {
      set({ next: articles.slice(1) });
      openPath(articles[0]);
    }
  }

  function openText(text: string) {
    if (!text.trim()) return;
    set({ opening: true, error: null });
    open(
      () => api.articleFromText(text),
      (dropped) => {
        if ('files' in dropped) {
          set({ opening: false });
          droppedPaths(dropped.files);
        } else {
          showArticle(dropped.article);
        }
      },
      openFailed,
    );
  }

  const actions: Pick<
    Actions,
    'chooseFile' | 'openPath' | 'openText' | 'openNext' | 'droppedPaths' | 'openHandedOver' | 'setDragging'
  > = {
    chooseFile() {
      api
        .pickArticleFile()
        .then((path) => {
          if (path) droppedPaths([path]);
        })
        .catch(fail);
    },

    openPath,

    openText,

    openNext(index) {
      const next = [...get().next];
      const [path] = next.splice(index, 1);
      if (!path) return;
      set({ next });
      openPath(path);
    },

    droppedPaths,

    openHandedOver() {
      api
        .takeOpenedFiles()
        .then((paths) => {
          if (paths.length > 0) droppedPaths(paths);
        })
        .catch(fail);
    },

    setDragging(dragging) {
      if (get().dragging !== dragging) set({ dragging });
    },
  };

  return { actions, open };
}
