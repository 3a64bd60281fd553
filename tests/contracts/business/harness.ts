import { join } from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';
import { type Db, openDatabase } from '../../../cloud/db/index.js';
import { cloudModules } from '../../../cloud/modules.js';
import { invariantBreaks } from '../../../cloud/sales/index.js';
import { PostgresStore } from '../../../cloud/store/postgres.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import type { Store } from '../../../cloud/store/store.js';
import type { PostgresDb, SqliteDb } from '../../../cloud/db/index.js';
import { tempDir } from '../../helpers/procs.js';

/**
 * The business modules' one contract suite runs on both backends (issue 10, "Both backends"):
 * `business.test.ts` runs every `*.contract.ts` of this folder once per backend. A contract is a
 * module whose default export takes a `BusinessHarness` and declares its `describe`/`it` blocks;
 * each test opens its own database with every registered module migrated (`cloud/modules.ts`).
 */
export interface BusinessDb {
  db: Db;
  /** Closing checks the stock invariants first (issue 11 §1: reserved = Σ active reservations, on hand = Σ balances) and throws if one breaks: every contract test is checked. */
  /** The ledger store on the same database (commit movements through the real ingest path). */
  store: Store;
  close(): Promise<void>;
}

export interface BusinessHarness {
  name: 'sqlite' | 'postgres';
  /** A fresh database: a new SQLite file, or a new PostgreSQL schema dropped on close. */
  open(): Promise<BusinessDb>;
}

/** The PostgreSQL on 127.0.0.1:5432 (trust auth), database `test`; each database is its own schema. */
export const PG_URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
let admin: pg.Pool | undefined;
afterAll(async () => {
  await admin?.end();
  admin = undefined;
});
let n = 0;

export const sqliteHarness: BusinessHarness = {
  name: 'sqlite',
  async open() {
    const dataDir = tempDir('sg-biz-');
    const db = await openDatabase({ dataDir, modules: cloudModules });
    const store = new SqliteStore(db as SqliteDb);
    return {
      db,
      store,
      async close() {
        const breaks = await invariantBreaks(db.kysely).catch((err: Error) => [`invariants not readable: ${err.message}`]);
        await store.close().catch(() => undefined);
        await db.close();
        if (breaks.length) throw new Error(`stock invariants broken: ${breaks.join('; ')}`);
      },
    };
  },
};

export const postgresHarness: BusinessHarness = {
  name: 'postgres',
  async open() {
    const schema = `sg_biz_${process.pid}_${Date.now().toString(36)}_${n++}`;
    const db = await openDatabase({ dataDir: join(tempDir('sg-biz-pg-')), store: PG_URL, schema, maxConnections: 4, modules: cloudModules });
    const store = await PostgresStore.on(db as PostgresDb);
    return {
      db,
      store,
      async close() {
        const breaks = await invariantBreaks(db.kysely).catch((err: Error) => [`invariants not readable: ${err.message}`]);
        await store.close().catch(() => undefined);
        await db.close();
        admin ??= new pg.Pool({ connectionString: PG_URL, max: 1 });
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        if (breaks.length) throw new Error(`stock invariants broken: ${breaks.join('; ')}`);
      },
    };
  },
};

export const HARNESSES: readonly BusinessHarness[] = [sqliteHarness, postgresHarness];
