/**
 * The PostgreSQL commit's wire forms (issue 14): the ledger rows and balance increments go as
 * array-of-composite literals (`ledger_insert_row[]`, `balance_increment[]`, migration 8), and a
 * movement id another writer commits first fails the insert with unique_violation, which replays.
 */
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Movement } from '../../../protocols/mqtt/index.js';
import { PostgresStore } from '../../../cloud/store/postgres.js';
import { mv } from '../../contracts/store.contract.js';

const URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: URL, max: 2 });
afterAll(() => admin.end());

let n = 0;
let schema = '';
let store: PostgresStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
});
async function open(): Promise<PostgresStore> {
  schema = `sg_test_commit_${process.pid}_${Date.now().toString(36)}_${n++}`;
  store = await PostgresStore.open({ url: URL, schema, maxConnections: 4 });
  return store;
}

/** What a record or an array literal treats specially, and what only quoting keeps apart ('' vs NULL). */
const NASTY = ['a"b', 'c\\d', '\\"', '""', 'e,f', '(g)', '{h}', ' lead and trail ', 'tab\there', 'new\nline', 'NULL', "'q'", 'Ü€😀', ''];

describe('PostgresStore commit literals', () => {
  it('keeps every text field of a row and of a balance key exact, and the chain verifies', async () => {
    const s = await open();
    const site = 'site-L';
    const ms: Movement[] = NASTY.map((x) =>
      mv({ site, location: `L${x}`, sku: `S${x}`, batch: x, project: x, raw: x, operator: x, stage: x, crew: x, po: x, req: x, order: x, device: { id: `d${x}`, type: x } }),
    );
    const r = await s.commit([{ movements: ms, deadLetters: [] }]);
    expect(r.batches[0]!.outcomes).toEqual(ms.map(() => 'applied'));
    for (const m of ms) {
      const row = await s.movement(m.id);
      expect(row).toMatchObject({ location: m.location, sku: m.sku, raw: m.raw, device: m.device });
      // An empty optional field is stored as '' (not NULL) and read back as the SQLite store does.
      for (const k of ['operator', 'stage', 'crew', 'po', 'req', 'order'] as const) expect([m[k], undefined]).toContain(row![k]);
      if (m.raw !== '') for (const k of ['operator', 'stage', 'crew', 'po', 'req', 'order', 'batch', 'project'] as const) expect(row![k]).toBe(m[k]);
    }
    const stock = await s.stock({ site });
    expect(stock.map((x) => [x.location, x.sku, x.batch, x.project, x.onHand]).sort()).toEqual(ms.map((m) => [m.location, m.sku, m.batch, m.project, 1]).sort());
    expect(await s.verifyChain(site)).toMatchObject({ ok: true, checked: ms.length });
    // A NULL stays NULL: the optional fields of a plain movement.
    const plain = mv({ site });
    await s.commit([{ movements: [plain], deadLetters: [] }]);
    const raw = (await admin.query(`SELECT to_location, gtin, epc, expiry, serial, stage, operator, crew, variance, po FROM "${schema}".ledger WHERE id = $1`, [plain.id])).rows[0];
    expect(Object.values(raw).every((v) => v === null)).toBe(true);
  });

  it('reports a movement another writer commits while this commit waits on its id as a duplicate, once', async () => {
    const s = await open();
    const site = 'site-W';
    const [m, m2] = [mv({ site, qty: 5 }), mv({ site, qty: 2 })];
    // The other writer: the same id inserted in a transaction left open, so our insert waits on
    // its unique index entry after our known-id check found nothing.
    const other = await admin.connect();
    try {
      await other.query(`SET search_path TO "${schema}"`);
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO ledger (id, edge, seq, ts, ts_ms, site, location, kind, sku, qty, uom, device_id, device_type, raw, applied_at, status, chain_n, hash)
         VALUES ($1, 'edge-x', 1, $2, 0, 'site-other', 'L', 'receive', 'SKU-1', 5000, 'ea', 'd', 't', 'r', $2, 'applied', 1, 'h')`,
        [m.id, m.ts],
      );
      const p = s.commit([{ movements: [m, m2], deadLetters: [] }]);
      for (let i = 0; i < 200; i++) {
        const w = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%ledger_insert_row%'`);
        if (w.rows[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await other.query('COMMIT');
      const r = await p;
      expect(r.batches[0]!.outcomes).toEqual(['duplicate', 'applied']);
    } finally {
      other.release();
    }
    expect((await admin.query(`SELECT count(*)::int AS n FROM "${schema}".ledger WHERE id = $1`, [m.id])).rows[0].n).toBe(1);
    expect((await s.totals({ site })).map((t) => t.onHand)).toEqual([2]);
    expect(await s.verifyChain(site)).toMatchObject({ ok: true, checked: 1 });
  });
});
