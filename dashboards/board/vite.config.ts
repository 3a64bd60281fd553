import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

/** The board's JavaScript budget, gzipped (issue 12): the build fails above it. */
const BUDGET_BYTES = 60 * 1024;

/** States the gzipped size of all JavaScript the board loads, and fails the build over budget. */
function budget(): Plugin {
  return {
    name: 'stockgate-js-budget',
    apply: 'build',
    generateBundle(_opts, bundle) {
      let total = 0;
      const parts: string[] = [];
      for (const f of Object.values(bundle)) {
        if (f.type !== 'chunk') continue;
        const gz = gzipSync(f.code, { level: 9 }).length;
        total += gz;
        parts.push(`${f.fileName} ${(gz / 1024).toFixed(1)} KB`);
      }
      const line = `board JS: ${(total / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_BYTES / 1024} KB): ${parts.join(', ')}`;
      if (total > BUDGET_BYTES) this.error(`${line} - over budget`);
      this.info(line);
      console.log(line);
    },
  };
}

// Preact's JSX without @preact/preset-vite: esbuild's automatic runtime is enough.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/board/',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../../dist/board-ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
  },
  plugins: [budget()],
});
