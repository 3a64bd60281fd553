import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { digest, prepareBusiness } from '../../../bench/business.js';
import { type Db, openDatabase, type PostgresDb, type SqliteDb } from '../../../cloud/db/index.js';
import { cloudModules } from '../../../cloud/modules.js';
import { PostgresStore } from '../../../cloud/store/postgres.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import type { Store } from '../../../cloud/store/store.js';
import { followLedger } from '../../helpers/follow.js';
import { tempDir } from '../../helpers/procs.js';

/**
 * The business layer means the same on both stores: the same ledger (the bench's business
 * sequence, committed through each dialect's real store), followed by every registered consumer,
 * leaves the same averages, cost entries and receipts, PO matches and lines, stage issues,
 * exceptions, ERP events and reservations on SQLite and on the real PostgreSQL (the digest of
 * bench/business.ts, numbers compared as numbers). The consumers are one Kysely code base; what
 * differs is each dialect's SQL, types and rounding, which the per-dialect API tests meet only on
 * the cases they name.
 */
const URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: URL, max: 2 });
afterAll(() => admin.end());
const opened: Array<{ db: Db; store: Store }> = [];
const schemas: string[] = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) (await o.store.close(), await o.db.close());
  for (const s of schemas.splice(0)) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
});

async function open(dialect: 'sqlite' | 'postgres'): Promise<{ db: Db; store: Store }> {
  if (dialect === 'sqlite') {
    const db = await openDatabase({ dataDir: tempDir('sg-dialects-'), modules: cloudModules });
    const o = { db, store: new SqliteStore(db as SqliteDb) };
    opened.push(o);
    return o;
  }
  const schema = `sg_dialects_${process.pid}_${Date.now().toString(36)}_${schemas.length}`;
  schemas.push(schema);
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const db = await openDatabase({ dataDir: tempDir('sg-dialects-'), store: URL, schema, modules: cloudModules });
  const o = { db, store: await PostgresStore.on(db as PostgresDb) };
  opened.push(o);
  return o;
}

async function followed(dialect: 'sqlite' | 'postgres', seed: number, batchRows: number) {
  const { db, store } = await open(dialect);
  // Small plans (over-issues), 12 SKUs (3 on order, 10 reserved): every consumer has work.
  await prepareBusiness(db, store, { rows: 1500, skus: 12, first: seed * 1_000_003, planScale: 0.05, reserveAfter: 150 });
  expect((await followLedger(db, { batchRows })).rows).toBe(1500);
  return digest(db, { numeric: true });
}

describe('business consumers: SQLite and PostgreSQL leave the same business tables for the same ledger', () => {
  for (const batchRows of [500, 37]) {
    it(`a random sequence, batches of ${batchRows}`, async () => {
      const seed = Math.floor(Math.random() * 1000);
      const lite = await followed('sqlite', seed, batchRows);
      const pgd = await followed('postgres', seed, batchRows);
      // The sequence reaches every consumer.
      for (const t of ['exceptions.OVER_ISSUE', 'receipt_matches', 'stage_issues', 'erp_outbox', 'cost_entries', 'stock_reservation_totals']) {
        expect(lite.rows[t] ?? 0, `${t}, seed ${seed}`).toBeGreaterThan(0);
      }
      expect(pgd.rows, `seed ${seed}`).toEqual(lite.rows);
      expect(pgd.sha256, `seed ${seed}`).toBe(lite.sha256);
    }, 180_000);
  }
});
