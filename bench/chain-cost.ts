/**
 * Section `chain` of `npm run bench` (issue 9: "hash chaining is measured and reported"): what the
 * per-site hash chain costs per ledger row, beside the whole store commit it is part of.
 *
 * `--chain-rows` (50,000) movements shaped like the ingest section's are committed through the
 * real `SqliteStore` (WAL, synchronous=FULL) in batches of `--batch` (500), single-threaded in
 * this process: µs of store commit per row. Then the committed rows are read back and
 * `chainHash` is timed over them (the same bytes the store hashed): µs per row, and its share of
 * the commit. CPU time (user + system) of this process, not wall time, so other load on the
 * shared machine weighs less.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { chainHash, GENESIS } from '../cloud/ledger/chain.js';
import { SqliteStore } from '../cloud/store/sqlite.js';
import type { Movement } from '../protocols/mqtt/index.js';
import type { BenchSection } from './section.js';

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const round2 = (x: number) => Math.round(x * 100) / 100;

function movement(i: number): Movement {
  const sku = `SKU-${i % 1000}`;
  return {
    v: 1,
    id: `01BENCH${String(i).padStart(19, '0')}`,
    edge: 'edge-0',
    seq: i + 1,
    ts: new Date().toISOString(),
    site: 'bench',
    location: 'DOCK-0',
    kind: 'receive',
    sku,
    qty: 1,
    uom: 'ea',
    operator: 'W-1024',
    device: { id: 'dock1', type: 'scanner' },
    raw: `]C0${sku}`,
  };
}

export const chainSection: BenchSection = {
  name: 'chain',
  about: 'hash chain cost: chainHash µs per ledger row vs SqliteStore commit µs per row (same rows, CPU time)',
  byDefault: true,
  options: { 'chain-rows': { type: 'string', default: '50000' }, batch: { type: 'string', default: '500' } },
  async run(ctx) {
    const rows = Number(ctx.flags['chain-rows']);
    const batch = Number(ctx.flags.batch);
    const dir = mkdtempSync(join(tmpdir(), 'sg-bench-chain-'));
    try {
      const file = join(dir, 'ledger.db');
      const store = new SqliteStore(file);
      const batches: Movement[][] = [];
      for (let i = 0; i < rows; i += batch) batches.push(Array.from({ length: Math.min(batch, rows - i) }, (_, k) => movement(i + k)));
      const c0 = cpuUs();
      for (const b of batches) await store.commit([{ movements: b, deadLetters: [] }]);
      const commitUs = (cpuUs() - c0) / rows;
      await store.close();
      const db = new Database(file, { readonly: true });
      const ledger = db.prepare('SELECT * FROM ledger ORDER BY chain_n').all() as Array<Record<string, unknown>>;
      db.close();
      const h0 = cpuUs();
      let h = GENESIS;
      for (const r of ledger) h = chainHash(h, r);
      const chainUs = (cpuUs() - h0) / ledger.length;
      const same = h === ledger.at(-1)?.hash;
      const figures = {
        rows,
        batch,
        storeCommitUsPerRow: round2(commitUs),
        chainHashUsPerRow: round2(chainUs),
        chainShareOfCommit: round2(chainUs / commitUs),
        recomputedHeadMatches: same,
      };
      return {
        figures,
        table: [
          ['chain: store commit µs per row (SQLite FULL, CPU)', String(figures.storeCommitUsPerRow)],
          ['chain: chainHash µs per row (CPU)', `${figures.chainHashUsPerRow} (${Math.round(figures.chainShareOfCommit * 100)}% of the commit)`],
        ],
        ok: same,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
