// Owns settings and models: loading both at start, the model list, the type / length / model
// pickers, adding a GGUF file (from the dialog or a confirmed drop), and downloading the selected
// model with its progress. A download is a task in a lane, so its progress stops counting once
// it has ended.

import * as api from '../api.ts';
import type { FetchEvent, Settings } from '../api.ts';
import { type Actions, type FetchState, type State, selectedModel } from '../store.ts';
import type { Context } from './context.ts';
import type { Jobs } from './jobs.ts';
import { Lane } from './lane.ts';

/** The download card after `event`. */
function progressed(current: FetchState, event: FetchEvent): FetchState {
  const fetch = { ...current };
  switch (event.event) {
    case 'waiting':
      fetch.phase = 'Waiting for another download to finish';
      break;
    case 'alreadyPresent':
      fetch.phase = 'Already downloaded';
      fetch.done = fetch.total;
      break;
    case 'started':
      fetch.total = event.data.total;
      fetch.done = 0;
      fetch.phase = 'Downloading';
      break;
    case 'downloading':
      fetch.phase = event.data.parts > 1 ? `Downloading part ${event.data.part} of ${event.data.parts}` : 'Downloading';
      break;
    case 'bytes':
      fetch.done = event.data.done;
      fetch.total = event.data.total;
      break;
    case 'verifying':
      fetch.phase = 'Verifying';
      fetch.done = fetch.total;
      break;
    case 'done':
      fetch.phase = 'Done';
      fetch.done = fetch.total;
      break;
  }
  return fetch;
}

export type Models = ReturnType<typeof createModels>;

export function createModels({ get, set, say, fail }: Context, jobs: Jobs) {
  const downloads = new Lane();

  async function refresh() {
    try {
      set({ models: await api.listModels() });
    } catch (err) {
      fail(err);
    }
  }

  function changeSettings(patch: Partial<Settings>) {
    const settings = { ...get().settings, ...patch };
    set({ settings });
    api.saveSettings(settings).catch(fail);
  }

  async function addModelFile(path: string) {
    set({ error: null });
    try {
      const model = await api.addModel(path);
      await refresh();
      // The id is what a job's model setting names (an added file's path).
      changeSettings({ model: model.id });
      say(`Added the model ${model.name}.`);
      jobs.modelBecameReady();
    } catch (err) {
      fail(err);
    }
  }

  const actions: Pick<
    Actions,
    'setType' | 'setLength' | 'setModel' | 'chooseModelFile' | 'confirmModel' | 'fetchModel' | 'cancelFetch'
  > = {
    setType(type) {
      changeSettings({ type });
    },

    setLength(length) {
      changeSettings({ length });
    },

    setModel(name) {
      set({ fetchError: null });
      changeSettings({ model: name });
      jobs.modelBecameReady();
    },

    chooseModelFile() {
      api
        .pickModelFile()
        .then((path) => (path ? addModelFile(path) : undefined))
        .catch(fail);
    },

    confirmModel(add) {
      const path = get().pendingModel;
      if (!path) return;
      set({ pendingModel: null });
      if (add) void addModelFile(path);
    },

    async fetchModel() {
      const state = get();
      const model = selectedModel(state);
      if (!model || state.fetch) return;
      const name = model.name;
      const download = downloads.start();
      set({ fetch: { name, phase: 'Starting the download', done: 0, total: model.size }, fetchError: null, error: null });
      /** The card goes, and with it the download's claim on it. */
      const ended = (patch: Partial<State> = {}) => {
        download.end();
        set({ fetch: null, ...patch });
      };
      const onProgress = download.guard((event: FetchEvent) => {
        // While the download is current its card is on screen; this only narrows the type.
        const current = get().fetch;
        if (current) set({ fetch: progressed(current, event) });
      });
      try {
        await api.fetchModel(name, onProgress);
        await refresh();
        ended();
        say(`Downloaded ${name}.`);
        jobs.modelBecameReady();
      } catch (err) {
        const error = api.toAppError(err);
        if (error.code === 'cancelled') {
          ended();
          say(`Download of ${name} cancelled.`);
        } else {
          ended({ fetchError: error });
        }
      }
    },

    cancelFetch() {
      const fetching = get().fetch;
      if (!fetching) return;
      set({ fetch: { ...fetching, phase: 'Cancelling' } });
      api.cancelFetch(fetching.name).catch(fail);
    },
  };

  return {
    actions,
    refresh,
    /** Reads the settings and the model list as the window opens; either may fail alone. */
    async load() {
      const [settings, models] = await Promise.allSettled([api.getSettings(), api.listModels()]);
      const patch: Partial<State> = {};
      if (settings.status === 'fulfilled') patch.settings = settings.value;
      if (models.status === 'fulfilled') patch.models = models.value;
      set(patch);
      if (settings.status === 'rejected') fail(settings.reason);
      if (models.status === 'rejected') fail(models.reason);
    },
  };
}
