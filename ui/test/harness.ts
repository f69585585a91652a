// Test harness: the real app with the Tauri IPC mocked.
//
// Installs `mockWindows('main')` and `mockIPC(..., { shouldMockEvents: true })` before the app
// module loads, records every command with its arguments, lets each test script responses, and
// pushes events into the app the way the Rust side would: Channel messages through
// `__TAURI_INTERNALS__.runCallback(channel.id, { index, message })`, window events through the
// mocked event plugin (`plugin:event|emit`). The app loads when a test calls `start()`.

import { mockIPC, mockWindows } from '@tauri-apps/api/mocks';

type Args = Record<string, unknown>;
type Handler = (args: Args) => unknown;

interface ChannelLike {
  id: number;
}

interface Internals {
  invoke(cmd: string, args?: Args): Promise<unknown>;
  runCallback(id: number, data: unknown): void;
}

/** A Channel as the mocked IPC sees it, with the next message index the Rust side would use. */
class FakeSender {
  private index = 0;
  constructor(private channel: ChannelLike) {}
  send(message: unknown) {
    internals().runCallback(this.channel.id, { index: this.index++, message });
  }
}

function internals(): Internals {
  return (window as unknown as { __TAURI_INTERNALS__: Internals }).__TAURI_INTERNALS__;
}

const defaults: Record<string, Handler> = {
  get_settings: () => ({ type: 'key-points', length: 'medium', model: null }),
  save_settings: () => null,
  list_models: () => ({
    modelsDir: '/home/test/.local/share/precis/models',
    defaultModel: 'qwen2.5-test',
    models: [
      {
        id: 'qwen2.5-test',
        name: 'qwen2.5-test',
        description: 'Test generator',
        role: 'generator',
        architecture: 'qwen2',
        size: 1_100_000_000,
        present: true,
        path: '/models/qwen2.5-test.gguf',
        custom: false,
      },
      {
        id: 'minilm-test',
        name: 'minilm-test',
        description: 'Test embedder',
        role: 'embedder',
        architecture: 'bert',
        size: 20_000_000,
        present: true,
        path: '/models/minilm.gguf',
        custom: false,
      },
    ],
  }),
  summarize: () => null,
  cancel_job: () => null,
  format_summary: (a) => `formatted summary as ${a.format}`,
  format_bullet: (a) => `formatted bullet as ${a.format}`,
  save_text: () => null,
  'plugin:clipboard-manager|write_text': () => null,
  'plugin:clipboard-manager|write_html': () => null,
  pick_article: () => null,
  pick_model: () => null,
  pick_save_path: () => null,
  history_list: () => [],
  history_search: () => [],
  history_stats: () => ({ path: '/home/test/.local/share/precis/history.sqlite', count: 0, bytes: 0 }),
};

const mock = {
  /** Every command the app invoked, with its arguments as JSON (a Channel shows as "__CHANNEL__:id"). */
  calls: [] as { cmd: string; args: unknown }[],
  /** Per-test responses; a handler may return a value or a promise, or throw `{ code, message }`. */
  handlers: {} as Record<string, Handler>,
  /** Summary jobs by id, and the last model download, as Rust would hold their Channels. */
  jobs: new Map<number, FakeSender>(),
  fetch: null as FakeSender | null,
  violations: [] as string[],
  errors: [] as string[],

  async handle(cmd: string, args: Args = {}): Promise<unknown> {
    mock.calls.push({ cmd, args: JSON.parse(JSON.stringify(args ?? {})) });
    if (cmd === 'summarize') mock.jobs.set(args.jobId as number, new FakeSender(args.onEvent as ChannelLike));
    if (cmd === 'fetch_model') mock.fetch = new FakeSender(args.onProgress as ChannelLike);
    const handler = mock.handlers[cmd] ?? defaults[cmd];
    if (!handler) throw { code: 'internal', message: `The test did not mock ${cmd}.` };
    return handler(args);
  },

  callsOf(cmd: string) {
    return mock.calls.filter((c) => c.cmd === cmd).map((c) => c.args);
  },

  emitJob(jobId: number, event: unknown) {
    const sender = mock.jobs.get(jobId);
    if (!sender) throw new Error(`no job ${jobId}`);
    sender.send(event);
  },

  emitFetch(event: unknown) {
    if (!mock.fetch) throw new Error('no fetch_model call yet');
    mock.fetch.send(event);
  },

  /** A window event, as Tauri emits it (e.g. `tauri://drag-drop`). */
  emit(event: string, payload: unknown) {
    return internals().invoke('plugin:event|emit', { event, payload });
  },

  async start() {
    await import('../src/main.ts');
  },
};

declare global {
  interface Window {
    __precisMock: typeof mock;
  }
}

window.__precisMock = mock;
document.addEventListener('securitypolicyviolation', (e) => {
  mock.violations.push(`${e.violatedDirective}: ${e.blockedURI} ${e.sample}`);
});
window.addEventListener('error', (e) => mock.errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => mock.errors.push(String((e.reason as Error)?.message ?? e.reason)));

mockWindows('main');
mockIPC((cmd, args) => mock.handle(cmd, args as Args), { shouldMockEvents: true });
