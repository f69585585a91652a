// Owns what a person does with the summary on screen: picking a point to see its sources,
// copying all of it or one point (as text, with HTML beside it), and exporting it as Markdown.

import * as api from '../api.ts';
import type { Bullet, CopyFormat, Summary } from '../api.ts';
import { type Actions, selectedModelName, shownBullets } from '../store.ts';
import { baseName, exportFileName } from '../text.ts';
import type { Context } from './context.ts';

async function copy(text: string, html: string) {
  await api.copyText(text);
  try {
    await api.copyHtml(html, text);
  } catch {
    // The text is on the clipboard already; rich text is a bonus.
  }
}

export function createOutput({ get, set, say, fail }: Context) {
  /** The summary on screen, as the engine's `Summary`, for formatting. */
  function currentSummary(): Summary | null {
    const state = get();
    if (state.job) return null;
    if (state.summary) return state.summary;
    const { bullets } = shownBullets(state);
    if (!state.tldr && bullets.length === 0) return null;
    // Stopped before the end: format what is shown.
    return {
      title: state.article?.title ?? null,
      summary: state.tldr,
      bullets,
      model: selectedModelName(state) ?? '',
      stop_reason: 'cancelled',
      timings: {
        load_ms: 0,
        first_bullet_ms: 0,
        prompt_tokens: 0,
        prefill_ms: 0,
        generated_tokens: 0,
        decode_ms: 0,
        total_ms: 0,
      },
      // Only the title, summary and bullets are formatted.
      text: state.article?.text ?? '',
      sections: 0,
      unsupported: 0,
      language: state.article?.language ?? 'unknown',
      language_confidence: state.article?.languageConfidence ?? 0,
      output_language: 'unknown',
      language_mismatch: false,
    };
  }

  const actions: Pick<Actions, 'selectBullet' | 'copyAll' | 'copyBullet' | 'exportMarkdown'> = {
    selectBullet(index, reveal) {
      const state = get();
      if (state.selected === index && !reveal) return;
      set({ selected: index, reveal: reveal ? state.reveal + 1 : state.reveal });
    },

    async copyAll(format) {
      const summary = currentSummary();
      if (!summary) {
        say(get().job ? 'Wait for the summary to finish, or cancel it, to copy it.' : 'Nothing to copy yet.');
        return;
      }
      try {
        const [text, html] = await Promise.all([
          api.formatSummary(summary, format),
          api.formatSummary(summary, 'html'),
        ]);
        await copy(text, html);
        say(format === 'markdown' ? 'Copied as Markdown.' : 'Copied as text.');
      } catch (err) {
        fail(err);
      }
    },

    async copyBullet(index) {
      const bullet: Bullet | undefined = shownBullets(get()).bullets[index];
      if (!bullet) return;
      try {
        const [text, html] = await Promise.all([
          api.formatBullet(bullet, 'plain'),
          api.formatBullet(bullet, 'html'),
        ]);
        await copy(text, html);
        say(`Copied point ${index + 1}.`);
      } catch (err) {
        fail(err);
      }
    },

    async exportMarkdown() {
      const summary = currentSummary();
      if (!summary) return;
      try {
        const path = await api.pickSavePath(exportFileName(summary.title ?? get().article?.title ?? null));
        if (!path) return;
        const contents = await api.formatSummary(summary, 'markdown' satisfies CopyFormat);
        await api.saveText(path, contents);
        say(`Saved ${baseName(path)}.`);
      } catch (err) {
        fail(err);
      }
    },
  };

  return { actions };
}
