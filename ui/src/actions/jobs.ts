// Owns summary jobs: starting one for the open article (at once, or as soon as a model is
// ready), applying its events, cancelling it, and the Summarize / Summarize again / Cancel
// actions; and the job that translates the key points of the summary on screen.
//
// Each job is a task in one lane (lane.ts) with its own id and Channel. Cancelling it, starting
// another or reaching its last event makes it stale at once, so nothing it sends later can reach
// the screen. `state.job` is set and cleared only here, together with the lane.

import * as api from '../api.ts';
import type { Bullet, JobEvent, Summary } from '../api.ts';
import { type Actions, type State, canTranslate, modelReady, shownBullets } from '../store.ts';
import type { Context } from './context.ts';
import { Lane, type Task } from './lane.ts';

/** The result part of the state with nothing in it, as a new job or a new article starts. */
export const NO_RESULT = {
  extractive: [],
  tldr: '',
  bullets: [],
  summary: null,
  selected: null,
  error: null,
  fromHistory: null,
  translating: false,
} satisfies Partial<State>;

/** What a job tells the rest of the window when it learns something. */
export interface JobHooks {
  /** A job ended with a summary, written now or remembered: the history has changed. */
  finished(): void;
  /** The engine says the selected model is not on disk: the model list is out of date. */
  modelMissing(): void;
}

export type Jobs = ReturnType<typeof createJobs>;

export function createJobs({ get, set, say, fail }: Context, hooks: JobHooks) {
  const lane = new Lane();
  /** An article arrived while no model was ready: summarize once one is. */
  let pending = false;

  /** Stops the running job, if any. Its later events are dropped from here on. */
  function stop(): boolean {
    const job = lane.stop();
    if (!job) return false;
    set({ job: null });
    api.cancelJob(job.id).catch(() => {
      // Nothing to do: the job is no longer shown either way.
    });
    return true;
  }

  /** The job has said its last word: `patch` is how it ended. */
  function end(job: Task, patch: Partial<State>) {
    job.end();
    set({ job: null, ...patch });
  }

  /** The state of a job that ended with `summary`, written now or remembered. */
  function finished(summary: Summary): Partial<State> {
    return { outcome: 'done', summary, tldr: summary.summary, bullets: summary.bullets };
  }

  /** When generated bullets take the place of extractive ones, the old selection means nothing. */
  function keepSelection(generated: Bullet[]): Partial<State> {
    return shownBullets(get()).extractive && generated.length > 0 ? { selected: null } : {};
  }

  /** Applies an event of `job`; only ever called while `job` is current (see `start`). */
  function onEvent(job: Task, event: JobEvent) {
    switch (event.event) {
      case 'stage':
        set({
          job: { id: job.id, stage: event.data.stage, progress: event.data.progress ?? null, plan: get().job?.plan ?? null },
        });
        break;
      case 'plan': {
        const current = get().job;
        if (current) set({ job: { ...current, plan: event.data } });
        break;
      }
      case 'extractive':
        set({ extractive: event.data.bullets });
        break;
      case 'partial':
        set({ tldr: event.data.summary, bullets: event.data.bullets, ...keepSelection(event.data.bullets) });
        break;
      case 'done': {
        const summary = event.data.summary;
        end(job, { ...finished(summary), ...keepSelection(summary.bullets) });
        say('Summary ready.');
        hooks.finished();
        break;
      }
      case 'remembered': {
        const { summary, entry } = event.data;
        end(job, { ...finished(summary), selected: null, fromHistory: { id: entry.id, createdAt: entry.createdAt } });
        say('Summary from the history.');
        hooks.finished();
        break;
      }
      case 'cancelled': {
        const summary = event.data.summary;
        end(job, { outcome: 'stopped', ...(summary ? { summary, tldr: summary.summary, bullets: summary.bullets } : {}) });
        break;
      }
      case 'failed':
        end(job, { outcome: event.data.code === 'cancelled' ? 'stopped' : 'failed' });
        fail(event.data);
        if (event.data.code === 'model_missing') hooks.modelMissing();
        break;
    }
  }

  /** Applies an event of the translation job `job` (see `translate`). */
  function onTranslateEvent(job: Task, event: JobEvent) {
    switch (event.event) {
      case 'stage':
        set({ job: { id: job.id, stage: event.data.stage, progress: event.data.progress ?? null, plan: null } });
        break;
      case 'translated': {
        const bullets = event.data.bullets;
        const summary = get().summary;
        end(job, { translating: false, bullets, ...(summary ? { summary: { ...summary, bullets } } : {}) });
        say(bullets.some((b) => b.translation) ? 'Key points translated.' : 'The model gave no translation.');
        break;
      }
      case 'cancelled':
        end(job, { translating: false });
        break;
      case 'failed':
        end(job, { translating: false });
        fail(event.data);
        if (event.data.code === 'model_missing') hooks.modelMissing();
        break;
      default:
        break;
    }
  }

  /** Asks the model to translate the key points on screen into the summary's language. */
  function translate() {
    const state = get();
    const summary = state.summary;
    if (!summary || !canTranslate(state)) return;
    const job = lane.start();
    set({ job: { id: job.id, stage: null, progress: null, plan: null }, translating: true });
    api
      .translatePoints(
        job.id,
        state.bullets,
        summary.language,
        summary.output_language,
        state.settings.model,
        job.guard((event) => onTranslateEvent(job, event)),
      )
      .catch(
        job.guard((err) => {
          end(job, { translating: false });
          fail(err);
        }),
      );
  }

  /** Runs a summary of the open article; `again` asks for a new one even if the history has it. */
  function start(again: boolean) {
    const state = get();
    const article = state.article;
    if (!article || !modelReady(state)) return;
    stop();
    const job = lane.start();
    pending = false;
    set({ job: { id: job.id, stage: null, progress: null, plan: null }, outcome: 'running', ...NO_RESULT });
    api
      .summarize(job.id, article, state.settings, again, job.guard((event) => onEvent(job, event)))
      .catch(
        job.guard((err) => {
          end(job, { outcome: 'failed' });
          fail(err);
        }),
      );
  }

  const actions: Pick<Actions, 'summarize' | 'summarizeAgain' | 'cancel' | 'translatePoints'> = {
    summarize() {
      // Pressing it after a summary is on screen (or stopped, or failed) asks for a new one.
      start(get().outcome !== 'none');
    },
    summarizeAgain() {
      start(true);
    },
    cancel() {
      const translating = get().translating;
      if (stop()) {
        // A stopped translation leaves the summary as it was.
        set(translating ? { translating: false } : { outcome: 'stopped' });
        say('Stopped.');
      }
    },
    translatePoints() {
      translate();
    },
  };

  return {
    actions,
    stop,
    /** A new article is on screen: summarize it now if a model is ready, else once one is. */
    startWhenReady() {
      if (modelReady(get())) start(false);
      else pending = true;
    },
    /** A stored summary takes the screen: stop the running job and forget any waiting one. */
    clear() {
      stop();
      pending = false;
    },
    /** A model was chosen, added or downloaded: run the summary that was waiting for one. */
    modelBecameReady() {
      const state = get();
      if (pending && state.article && !state.job && modelReady(state)) start(false);
    },
  };
}
