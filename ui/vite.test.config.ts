// The test build: the app behind test/harness.html, with the Tauri IPC mocked (see harness.ts).
import { defineConfig, mergeConfig } from 'vite';
import base from './vite.config.ts';

export default mergeConfig(
  base,
  defineConfig({
    build: {
      outDir: 'test/dist',
      emptyOutDir: true,
      rollupOptions: { input: 'test/harness.html' },
    },
  }),
);
