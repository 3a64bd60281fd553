/**
 * Child process of `npm run bench -- --tsdb`: commits deterministic movements into the ledger at a
 * steady rate (bench/tsdb-data.ts movementAt), so the exporter in the parent follows a live ledger.
 * Args: <ledger.db> <from> <to> <movements/s> <baseMs>. Reports `{committed}` to the parent.
 */
import { SqliteStore } from '../cloud/store/sqlite.js';
import { movementAt } from './tsdb-data.js';

const [path, fromS, toS, rateS, baseS] = process.argv.slice(2);
const from = Number(fromS);
const to = Number(toS);
const rate = Number(rateS);
const baseMs = Number(baseS);
const store = new SqliteStore(path!);
const BATCH = rate >= 100_000 ? 5000 : 500;
const t0 = Date.now();
let i = from;
while (i < to) {
  // Paced: commit what is due since the start, in batches.
  const due = Math.min(to, from + Math.floor(((Date.now() - t0) / 1000) * rate));
  if (due - i < BATCH && due < to) {
    await new Promise((r) => setTimeout(r, 5));
    continue;
  }
  const end = Math.min(due, i + 20 * BATCH);
  if (end <= i) continue;
  while (i < end) {
    const n = Math.min(BATCH, end - i);
    // Event time = now (the reading just happened), one ms per 4 movements: same-ms collisions.
    const movements = Array.from({ length: n }, (_, k) => ({ ...movementAt(i + k, { site: 'bench', edge: 'e1', baseMs }), ts: new Date(Date.now() - 5 + ((i + k) % 4)).toISOString() }));
    await store.commit([{ movements, deadLetters: [] }]);
    i += n;
  }
  process.send?.({ committed: i - from });
}
await store.close();
process.send?.({ committed: i - from, done: true });
