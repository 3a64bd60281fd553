#!/bin/sh
':' //; [ "$1" = edge ] && case "$NODE_OPTIONS" in *semi-space*) ;; *) exec node --max-semi-space-size=1 --v8-pool-size=1 "$0" "$@";; esac; exec node "$0" "$@"
// Line 2 is both shell and JavaScript (a string, then a comment). Run as a command (`stockgate`,
// the npm bin link), /bin/sh reads it and execs node, giving `stockgate edge` its own V8 limit:
// a 1 MB young-generation semi-space (V8 grows it to 16 MB, 32-48 MB of RSS an edge PC does not
// need; 1 MB instead of 2 took ~1.5 MB off the idle RSS and ~3 MB off the drain peak at the same
// edge CPU per movement, bench edgeBacklog) and one V8 worker thread (issue 14 §6), unless
// NODE_OPTIONS already sets a semi-space.
// `node bin/stockgate.js` skips it.
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm run build` (run by `npm install` via `prepare`).
import { main } from '../dist/cli/main.js';

// main() prints its own errors; this catches only a failure to load it. No stack trace unless
// STOCKGATE_DEBUG is set (issue 8, finding 12).
main(process.argv).catch((err) => {
  process.stderr.write(`stockgate: SG_ERR_RUNTIME: ${process.env.STOCKGATE_DEBUG ? err?.stack ?? err : err?.message ?? err}\n`);
  process.exit(1);
});
