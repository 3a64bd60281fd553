/**
 * Child process of `npm run bench -- --tsdb`: commits deterministic movements into the ledger at a
 * steady rate (bench/tsdb-data.ts movementAt), so the exporter in the parent follows a live ledger;
 * or, with rate `bulk`, seeds movements [0, to) with `bulkSeed` (tsdb-seed.ts). A child of its own
 * either way: the parent's RSS is the exporter's.
 * Args: <ledger.db> <from> <to> <movements/s | bulk> <baseMs>. Reports `{committed}` to the parent.
 */
import { SqliteStore } from '../cloud/store/sqlite.js';
import { movementAt } from './tsdb-data.js';
import { bulkSeed } from './tsdb-seed.js';

const [path, fromS, toS, rateS, baseS] = process.argv.slice(2);
const from = Number(fromS);
const to = Number(toS);
const rate = Number(rateS);
const baseMs = Number(baseS);
if (rateS === 'bulk') {
  if (from !== 0) throw new Error('tsdb-writer: a bulk seed starts at movement 0');
  const seconds = await bulkSeed(path!, to, { site: 'bench', edge: 'e1', baseMs });
  // The parent may read the message; exit once it is out (a bare exit could drop it).
  if (process.send) process.send({ committed: to, done: true, seconds }, () => process.exit(0));
  else process.exit(0);
  await new Promise(() => undefined);
}
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
