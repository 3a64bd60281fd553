import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';
import { type BusinessHarness, HARNESSES } from './harness.js';

/**
 * The business modules' contract suite on SQLite and on the real PostgreSQL (issue 10, "Both
 * backends"): every `*.contract.ts` beside this file, once per backend. Add a module's contract
 * by adding its file here (default export `(h: BusinessHarness) => void`); nothing else to edit.
 * Run one: `npx vitest run tests/contracts/business -t costing`.
 */
const dir = dirname(fileURLToPath(import.meta.url));
const contracts = readdirSync(dir).filter((f) => f.endsWith('.contract.ts')).sort();
const loaded = await Promise.all(contracts.map(async (f) => ({ f, run: ((await import(join(dir, f))) as { default: (h: BusinessHarness) => void }).default })));

for (const h of HARNESSES) {
  describe(`business contracts on ${h.name}`, () => {
    for (const { f, run } of loaded) describe(f.replace(/\.contract\.ts$/, ''), () => run(h));
  });
}
