/**
 * Bulk seeding of the ledger the time-series bench exports (issue 13 acceptance: about 2.5M
 * points). Committing 1.25M movements through `SqliteStore.commit` takes 40-50 s on the shared
 * machine (the ingest path: a balance upsert and its RETURNING per movement); the export bench
 * only needs the rows that path would write. So this writes them directly, in one transaction,
 * with the real schema (the store's migrations) and the real rules:
 * - every movement goes through `plan` (cloud/ledger/rules.ts) over an in-memory `LedgerReader`
 *   (balances, provisional units), and `ledgerInsertRow` + `chainHash` (the same row, the same
 *   per-site hash chain as a commit);
 * - balances, unknown items, exceptions (UNKNOWN_ITEM, NEGATIVE_STOCK), chain heads and the edge's
 *   seq high-water mark are written as a commit leaves them.
 * The movements' event times are non-decreasing (`movementAt`), so the "rows stamped after a
 * count" a count looks up are always none (laterEffect = 0, asserted). Equality with a commit
 * through the store is tested in tests/cloud/timeseries/bench-seed.test.ts.
 */
import { chainHash, GENESIS } from '../cloud/ledger/chain.js';
import { type Key, type LedgerReader, negative, plan } from '../cloud/ledger/rules.js';
import { INSERT_COLS, ledgerInsertRow } from '../cloud/store/ledger-row.js';
import { SqliteStore } from '../cloud/store/sqlite.js';
import { SqliteDatabase } from '../cloud/db/index.js';
import { movementAt } from './tsdb-data.js';

export interface SeedOptions {
  site: string;
  edge: string;
  baseMs: number;
  skus?: number;
}

const keyOf = (k: Key) => `${k.site}\u0000${k.location}\u0000${k.sku}\u0000${k.batch}\u0000${k.project}`;

/**
 * Write movements [0, n) of `movementAt` into a fresh SQLite ledger at `path` (the store's
 * schema). Returns the seconds it took.
 */
export async function bulkSeed(path: string, n: number, o: SeedOptions): Promise<number> {
  const t0 = Date.now();
  // The store's migrations, then its file is closed: this writes through the driver directly.
  await new SqliteStore(path).close();
  const database = new SqliteDatabase(path);
  const db = database.handle;
  // A fresh file written once: no journal and no fsync while seeding (a crash means re-seeding),
  // a page cache that holds the ledger's indexes; the file goes back to WAL before it is used.
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  // The ledger's secondary indexes are dropped while seeding and created again from their own SQL
  // (sorted index builds are several times cheaper than 1M+ random inserts into each).
  const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger' AND sql IS NOT NULL").all() as Array<{ name: string; sql: string }>;
  for (const ix of indexes) db.exec(`DROP INDEX ${ix.name}`);
  const now = new Date().toISOString();
  const balances = new Map<string, { key: Key; onHand: number; uom: string }>();
  /** The balances of a (site, location, sku, project), every batch: what a count reads. */
  const byLocation = new Map<string, Array<{ key: Key; onHand: number; uom: string }>>();
  const locOf = (site: string, location: string, sku: string, project: string) => `${site}\u0000${location}\u0000${sku}\u0000${project}`;
  const unknown = new Map<string, string>();
  const unknownFirst: Array<{ sku: string; uom: string; site: string; id: string }> = [];
  let lastTs = -Infinity;
  const reader: LedgerReader = {
    item: () => undefined,
    itemByGtin: () => undefined,
    itemByEpc: () => undefined,
    provisionalUom: (sku) => unknown.get(sku),
    identity: () => undefined,
    balance: (k) => balances.get(keyOf(k))?.onHand,
    locationBatches: (site, location, sku, project) => {
      const out = (byLocation.get(locOf(site, location, sku, project)) ?? []).map((b) => ({ batch: b.key.batch, onHand: b.onHand }));
      return out.sort((a, b) => (a.batch < b.batch ? -1 : a.batch > b.batch ? 1 : 0));
    },
    // Rows are written in event-time order: none applied so far is stamped after this one.
    laterEffect: () => ({ effect: 0, rows: 0 }),
  };
  const insert = db.prepare(`INSERT INTO ledger (${INSERT_COLS.join(', ')}) VALUES (${INSERT_COLS.map(() => '?').join(', ')})`);
  const insertException = db.prepare(`INSERT INTO exceptions (type, site, movement_id, sku, location, batch, project, identity, on_hand, message, raised_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const heads = new Map<string, { n: number; hash: string; pos: number; id: string }>();
  let pos = 0;
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const m = movementAt(i, o);
      const p = plan(m, reader);
      if (p.tsMs < lastTs) throw new Error(`bulkSeed: movement ${i} is stamped before the previous one (laterEffect would not be 0)`);
      lastTs = p.tsMs;
      const row = ledgerInsertRow(m, p, now, undefined);
      const h = heads.get(m.site) ?? { n: 0, hash: GENESIS, pos: 0, id: '' };
      row.chain_n = h.n + 1;
      row.hash = chainHash(h.hash, row);
      insert.run(
        row.id, row.edge, row.seq, row.ts, row.ts_ms, row.site, row.location, row.to_location, row.kind, row.sku, row.gtin, row.epc,
        row.batch, row.expiry, row.serial, row.qty, row.uom, row.base_qty, row.base_uom, row.rounding, row.project, row.stage,
        row.operator, row.crew, row.device_id, row.device_type, row.raw, row.status, row.variance, row.posted_token, row.posted_user,
        row.applied_at, row.chain_n, row.hash, row.po, row.req, row.sales_order,
      );
      pos++;
      heads.set(m.site, { n: row.chain_n, hash: row.hash, pos, id: m.id });
      if (p.newUnknown) {
        unknown.set(p.newUnknown.sku, p.newUnknown.uom);
        unknownFirst.push({ ...p.newUnknown, site: m.site, id: m.id });
      }
      const raised = p.raised.slice();
      for (const op of p.ops) {
        const k = keyOf(op.key);
        let b = balances.get(k);
        if (!b) {
          balances.set(k, (b = { key: op.key, onHand: 0, uom: op.uom }));
          const l = locOf(op.key.site, op.key.location, op.key.sku, op.key.project);
          byLocation.set(l, [...(byLocation.get(l) ?? []), b]);
        }
        b.onHand += op.delta;
        const neg = negative(m, op, b.onHand);
        if (neg) raised.push(neg);
      }
      for (const e of raised) insertException.run(e.type, e.key.site, m.id, e.key.sku, e.key.location, e.key.batch, e.key.project, e.identity ?? null, e.onHand ?? null, e.message, now);
    }
    const putBalance = db.prepare('INSERT INTO balances (site, location, sku, batch, project, on_hand, uom, expiry, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)');
    for (const b of balances.values()) putBalance.run(b.key.site, b.key.location, b.key.sku, b.key.batch, b.key.project, b.onHand, b.uom, now);
    const putUnknown = db.prepare('INSERT INTO unknown_items (sku, uom, site, movement_id, first_seen) VALUES (?, ?, ?, ?, ?)');
    for (const u of unknownFirst) putUnknown.run(u.sku, u.uom, u.site, u.id, now);
    const putHead = db.prepare('INSERT INTO chain_heads (site, n, hash, pos, id) VALUES (?, ?, ?, ?, ?)');
    for (const [site, h] of heads) putHead.run(site, h.n, h.hash, h.pos, h.id);
    if (n > 0) db.prepare('INSERT INTO edge_seqs (site, edge, hwm, max_seq, updated_at) VALUES (?, ?, ?, ?, ?)').run(o.site, o.edge, n, n, now);
  })();
  for (const ix of indexes) db.exec(ix.sql);
  db.pragma('journal_mode = WAL');
  await database.close();
  return (Date.now() - t0) / 1000;
}
