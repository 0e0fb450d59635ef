import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The bundle is committed under dist/ and embedded in the Go binary, so builds must be
// reproducible: fixed file names (no content hashes that differ by path) are avoided by
// keeping Vite's default hashing, which depends only on file contents.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: {
      // Every API the UI calls, so that `npm run dev` works against a running server.
      ...Object.fromEntries(
        ['/api', '/loki', '/prometheus', '/alertmanager'].map((p) => [p, process.env.LOUPE_URL ?? 'http://127.0.0.1:7070']),
      ),
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
  },
} as any);
