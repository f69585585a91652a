// Owns opening articles: the file dialog, dropped or pasted paths and text (a .gguf among them
// waits for the person to confirm adding it), files given on the command line (opened as if
// dropped together), the clipboard's text when asked, links (fetched once the person agrees, or
// always, as the preferences say), the queue of files dropped together, the drop overlay, and
// putting an article on screen. Only the newest read counts, whether of a file, of text or of a
// history entry (`open`).

import * as api from '../api.ts';
import type { ArticleView } from '../api.ts';
import type { Actions } from '../store.ts';
import { linkIn } from '../text.ts';
import type { Context } from './context.ts';
import { type Jobs, NO_RESULT } from './jobs.ts';
import { Lane } from './lane.ts';
import type { PreferencesModule } from './preferences.ts';

function isModelFile(path: string) {
  return /\.gguf$/i.test(path);
}

export type Articles = ReturnType<typeof createArticles>;

export function createArticles({ get, set, fail }: Context, jobs: Jobs, preferences: PreferencesModule) {
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
    set({ opening: true, error: null, pendingLink: null });
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
      (err) => {
        const url = linkIn(text);
        if (api.toAppError(err).code !== 'link' || !url) return openFailed(err);
        // A link: fetched only as the person says.
        const policy = get().preferences.links;
        if (policy === 'always') return fetchLink(url);
        openFailed(err);
        if (policy === 'ask') set({ pendingLink: url });
      },
    );
  }

  function fetchLink(url: string) {
    set({ opening: true, error: null, pendingLink: null, status: `Fetching ${url}…` });
    open(
      () => api.fetchArticle(url),
      (article) => {
        set({ status: '' });
        showArticle(article);
      },
      (err) => {
        set({ status: '' });
        openFailed(err);
      },
    );
  }

  const actions: Pick<
    Actions,
    | 'chooseFile'
    | 'openPath'
    | 'openText'
    | 'openNext'
    | 'droppedPaths'
    | 'openHandedOver'
    | 'answerLink'
    | 'summarizeClipboard'
    | 'setDragging'
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

    summarizeClipboard() {
      api.readClipboard().then(openText).catch(fail);
    },

    answerLink(answer) {
      const url = get().pendingLink;
      if (!url) return;
      set({ pendingLink: null, error: null });
      if (answer !== 'once') preferences.update({ links: answer });
      if (answer !== 'never') fetchLink(url);
    },

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
