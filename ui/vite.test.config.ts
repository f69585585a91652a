// The test build: the app behind test/harness.html, with the Tauri IPC mocked (see harness.ts).
import { defineConfig, mergeConfig } from 'vite';
import base from './vite.config.ts';

export default mergeConfig(
  base,
  defineConfig({
    // `import.meta.env.MODE` is 'test': the store checks what each view reads (see main.ts).
    mode: 'test',
    build: {
      outDir: 'test/dist',
      emptyOutDir: true,
      rollupOptions: { input: 'test/harness.html' },
    },
  }),
);
