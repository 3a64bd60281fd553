#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm run build` (run by `npm install` via `prepare`).
import { main } from '../dist/cli/main.js';

// main() prints its own errors; this catches only a failure to load it. No stack trace unless
// STOCKGATE_DEBUG is set (issue 8, finding 12).
main(process.argv).catch((err) => {
  process.stderr.write(`stockgate: SG_ERR_RUNTIME: ${process.env.STOCKGATE_DEBUG ? err?.stack ?? err : err?.message ?? err}\n`);
  process.exit(1);
});
