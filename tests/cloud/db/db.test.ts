import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Db, type DbModule, inMemoryStatementJournals, PostgresDatabase, SqliteDatabase } from '../../../cloud/db/index.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import { mv } from '../../contracts/store.contract.js';
import { commitLevel } from '../../helpers/commit-level.js';
import { requireBuild, ROOT, tempDir } from '../../helpers/procs.js';

/** The PostgreSQL on 127.0.0.1:5432 (trust auth), database `test`; each test gets its own schema. */
const URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: URL, max: 2 });
afterAll(() => admin.end());
requireBuild();

/**
 * A module as a business module would write one: a SQL migration per dialect (which fails if run
 * twice: no IF NOT EXISTS), then a Kysely migration shared by both dialects that seeds a row (a
 * second run would add a second row).
 */
const widgets: DbModule = {
  name: 'widgets',
  migrations: {
    sqlite: [
      { version: 1, name: 'widgets', sql: 'CREATE TABLE widgets (id TEXT PRIMARY KEY, qty INTEGER NOT NULL)' },
      { version: 2, name: 'seed', up: async (db) => void (await db.insertInto('widgets').values({ id: 'seed', qty: 1 }).execute()) },
    ],
    postgres: [
      { version: 1, name: 'widgets', sql: 'CREATE TABLE widgets (id TEXT PRIMARY KEY, qty BIGINT NOT NULL)' },
      { version: 2, name: 'seed', up: async (db) => void (await db.insertInto('widgets').values({ id: 'seed', qty: 1 }).execute()) },
    ],
  },
};

/** `widgets` migrated by another node process on the same SQLite file (the module is rebuilt there, same definition). */
function migrateInChild(path: string): Promise<void> {
  const script = `
    const { SqliteDatabase } = await import(${JSON.stringify(join(ROOT, 'dist', 'cloud', 'db', 'index.js'))});
    const db = new SqliteDatabase(${JSON.stringify(path)});
    await db.migrate({ name: 'widgets', migrations: { sqlite: [
      { version: 1, name: 'widgets', sql: 'CREATE TABLE widgets (id TEXT PRIMARY KEY, qty INTEGER NOT NULL)' },
      { version: 2, name: 'seed', up: async (k) => { await new Promise((r) => setTimeout(r, 30)); await k.insertInto('widgets').values({ id: 'seed', qty: 1 }).execute(); } },
    ], postgres: [] } });
    await db.close();`;
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

interface Backend {
  name: string;
  /** Another process's connection to this test's database. */
  open(): Promise<Db>;
  destroy(): Promise<void>;
}

let n = 0;
function sqliteBackend(): Backend {
  const path = join(tempDir('sg-db-'), 'stockgate.db');
  const opened: Db[] = [];
  return {
    name: 'sqlite',
    async open() {
      const d = new SqliteDatabase(path);
      opened.push(d);
      return d;
    },
    async destroy() {
      for (const d of opened) await d.close();
    },
  };
}
function pgBackend(): Backend {
  const schema = `sg_db_${process.pid}_${Date.now().toString(36)}_${n++}`;
  const opened: Db[] = [];
  return {
    name: 'postgres',
    async open() {
      const d = await PostgresDatabase.open({ url: URL, schema, maxConnections: 3 });
      opened.push(d);
      return d;
    },
    async destroy() {
      for (const d of opened) await d.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

for (const make of [sqliteBackend, pgBackend]) {
  describe(`cloud/db on ${make().name}`, () => {
    let b: Backend | undefined;
    afterEach(async () => {
      await b?.destroy();
      b = undefined;
    });

    it('several processes opening at once apply each migration once, recorded by (module, version)', async () => {
      b = make();
      const dbs = await Promise.all(Array.from({ length: 4 }, () => b!.open()));
      if (b.name === 'sqlite') {
        // Real processes: in one process, a second connection's lock wait would block the event
        // loop the first one needs to finish its (async, Kysely) migration.
        await Promise.all(Array.from({ length: 4 }, () => migrateInChild((dbs[0] as SqliteDatabase).path)));
      } else {
        await Promise.all(dbs.map((d) => d.migrate(widgets)));
      }
      await dbs[0]!.migrate(widgets); // and again later: nothing to do
      expect(await dbs[3]!.versions('widgets')).toEqual([1, 2]);
      expect(await dbs[1]!.versions('other')).toEqual([]);
      const rows = await dbs[2]!.kysely.selectFrom('widgets').selectAll().execute();
      expect(rows.map((r) => ({ id: r.id, qty: Number(r.qty) }))).toEqual([{ id: 'seed', qty: 1 }]);
    });

    it('tx(fn, { durable: false }) commits without waiting for the disk, for that transaction only (issue 14)', async () => {
      b = make();
      const db = await b.open();
      await db.migrate(widgets);
      // What the COMMIT will do, read inside the transaction: SQLite's synchronous level (FULL 2,
      // NORMAL 1: no WAL fsync at commit), PostgreSQL's synchronous_commit.
      const level = (q: Kysely<any>) => commitLevel(q, db.dialect);
      const [full, normal] = b.name === 'sqlite' ? ['2', '1'] : ['on', 'off'];
      let later: Promise<string> | undefined;
      expect(
        await db.tx(
          async (trx) => {
            await trx.insertInto('widgets').values({ id: 'nd', qty: 1 }).execute();
            // Started inside, run after: a transaction of its own, durable as by default.
            later = new Promise((r) => setTimeout(() => r(db.tx((t) => level(t))), 5));
            return level(trx);
          },
          { durable: false },
        ),
      ).toBe(normal);
      expect(await later).toBe(full);
      expect(await db.tx((trx) => level(trx))).toBe(full);
      expect(await db.tx((trx) => level(trx), { durable: true })).toBe(full);
      // Rolled back: the level is back too, and nothing of it was written.
      await expect(
        db.tx(
          async (trx) => {
            await trx.insertInto('widgets').values({ id: 'nd-rolled-back', qty: 1 }).execute();
            throw new Error('roll back');
          },
          { durable: false },
        ),
      ).rejects.toThrow('roll back');
      // Queued behind a non-durable one on the one SQLite connection: still durable; and a
      // non-durable one queued behind durable ones does not lend them its level.
      const [a, c] = await Promise.all([db.tx((trx) => level(trx), { durable: false }), db.tx((trx) => level(trx))]);
      expect([a, c]).toEqual([normal, full]);
      const slow = (trx: Kysely<any>) => new Promise<void>((r) => setTimeout(r, 20)).then(() => level(trx));
      expect(await Promise.all([db.tx(slow), db.tx((trx) => level(trx)), db.tx((trx) => level(trx), { durable: false }), db.tx((trx) => level(trx))])).toEqual([full, full, normal, full]);
      expect(await level(db.kysely)).toBe(full);
      if (db instanceof SqliteDatabase) expect(db.handle.pragma('synchronous', { simple: true })).toBe(2);
      const ids = await db.kysely.selectFrom('widgets').select('id').orderBy('id').execute();
      expect(ids.map((r) => r.id)).toEqual(['nd', 'seed']);
    });

    it('tx() commits when fn resolves and rolls back everything when it throws', async () => {
      b = make();
      const db = await b.open();
      await db.migrate(widgets);
      await db.tx(async (trx) => {
        await trx.insertInto('widgets').values({ id: 'a', qty: 2 }).execute();
        await trx.updateTable('widgets').set({ qty: 5 }).where('id', '=', 'seed').execute();
      });
      await expect(
        db.tx(async (trx) => {
          await trx.insertInto('widgets').values({ id: 'b', qty: 3 }).execute();
          await trx.deleteFrom('widgets').where('id', '=', 'a').execute();
          throw new Error('no');
        }),
      ).rejects.toThrow('no');
      const other = await b.open();
      const rows = await other.kysely.selectFrom('widgets').selectAll().orderBy('id').execute();
      expect(rows.map((r) => ({ id: r.id, qty: Number(r.qty) }))).toEqual([
        { id: 'a', qty: 2 },
        { id: 'seed', qty: 5 },
      ]);
    });

    it('a failing migration leaves nothing behind and names module and version', async () => {
      b = make();
      const db = await b.open();
      const broken: DbModule = {
        name: 'broken',
        migrations: {
          sqlite: [{ version: 1, name: 'half', sql: 'CREATE TABLE half (x INTEGER); INSERT INTO nowhere VALUES (1);' }],
          postgres: [{ version: 1, name: 'half', sql: 'CREATE TABLE half (x INTEGER); INSERT INTO nowhere VALUES (1);' }],
        },
      };
      await expect(db.migrate(broken)).rejects.toThrow(/nowhere/);
      expect(await db.versions('broken')).toEqual([]);
      await expect(db.kysely.selectFrom('half').selectAll().execute()).rejects.toThrow(/half/);
    });

    it('refuses a bad module: versions not ascending, both or neither of sql/up, a bad name', async () => {
      b = make();
      const db = await b.open();
      const mod = (name: string, list: DbModule['migrations']['sqlite']): DbModule => ({ name, migrations: { sqlite: list, postgres: list } });
      await expect(db.migrate(mod('m', [{ version: 2, name: 'a', sql: 'SELECT 1' }, { version: 1, name: 'b', sql: 'SELECT 1' }]))).rejects.toMatchObject({
        code: 'SG_ERR_DB_MIGRATION',
        message: expect.stringMatching(/version 1 after 2/),
      });
      await expect(db.migrate(mod('m', [{ version: 1, name: 'a' }]))).rejects.toThrow(/exactly one of sql and up/);
      await expect(db.migrate(mod('Bad Name', []))).rejects.toThrow(/module name/);
    });

    it('refuses a module at a version newer than the release knows, running none of its pending migrations (issue 15 §5)', async () => {
      b = make();
      const db = await b.open();
      const first: DbModule = { name: 'widgets', migrations: { sqlite: widgets.migrations.sqlite.slice(0, 1), postgres: widgets.migrations.postgres.slice(0, 1) } };
      await db.migrate(first);
      await db.kysely.insertInto('db_migrations').values({ module: 'widgets', version: 3, name: 'from a newer release', applied_at: '2030-01-01T00:00:00.000Z' }).execute();
      await expect(db.migrate(widgets)).rejects.toMatchObject({ code: 'SG_ERR_DB_MIGRATION', message: expect.stringMatching(/^widgets: the database is at version 3, this release knows versions up to 2: it was written by a newer stockgate/) });
      expect(await db.versions('widgets')).toEqual([1, 3]);
      expect(await db.kysely.selectFrom('widgets').selectAll().execute()).toEqual([]);
    });

    it('adopts the versions a module recorded in its 0.1 table, once', async () => {
      b = make();
      const db = await b.open();
      const legacy: DbModule = { ...widgets, name: 'old', legacyTable: { sqlite: 'old_migrations', postgres: 'old_migrations' } };
      // As 0.1 left it: version 1 applied and recorded in its own table.
      await db.migrate({ name: 'setup', migrations: { sqlite: [{ version: 1, name: 's', sql: "CREATE TABLE widgets (id TEXT PRIMARY KEY, qty INTEGER NOT NULL); CREATE TABLE old_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL); INSERT INTO old_migrations VALUES (1, 'widgets', '2026-01-01T00:00:00.000Z');" }], postgres: [{ version: 1, name: 's', sql: "CREATE TABLE widgets (id TEXT PRIMARY KEY, qty BIGINT NOT NULL); CREATE TABLE old_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL); INSERT INTO old_migrations VALUES (1, 'widgets', '2026-01-01T00:00:00.000Z');" }] } });
      await db.migrate(legacy); // v1 would fail (table exists) unless adopted; v2 runs
      expect(await db.versions('old')).toEqual([1, 2]);
      const rec = await db.kysely.selectFrom('db_migrations').select(['version', 'applied_at']).where('module', '=', 'old').orderBy('version').execute();
      expect(rec[0]!.applied_at).toBe('2026-01-01T00:00:00.000Z');
    });
  });
}

describe('cloud/db on postgres: close()', () => {
  it("ends the pool's connections also when only the pool was used, not Kysely (a store opened on its own)", async () => {
    const backends = async (app: string) => (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0]!.n;
    const schema = `sg_db_close_${process.pid}_${Date.now().toString(36)}`;
    for (const via of ['pool', 'kysely'] as const) {
      const app = `sg-close-${via}-${process.pid}`;
      const db = await PostgresDatabase.open({ url: `${URL}${URL.includes('?') ? '&' : '?'}application_name=${app}`, schema, maxConnections: 3 });
      if (via === 'pool') await Promise.all([1, 2, 3].map(() => db.pool.query('SELECT pg_sleep(0.05)')));
      else await Promise.all([1, 2, 3].map(() => sql`SELECT pg_sleep(0.05)`.execute(db.kysely)));
      expect(await backends(app)).toBe(3);
      await db.close();
      await db.close(); // twice: nothing more to end, no error
      // A backend exits when its socket closes; pg-pool's idle timeout (10 s) is not waited for.
      await expect.poll(() => backends(app), { timeout: 3000 }).toBe(0);
    }
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
});

describe('cloud/db on sqlite: one connection shared with the ingest hot path', () => {
  it("the ledger's group commit waits for an open tx() instead of joining it (and being rolled back with it)", async () => {
    const db = new SqliteDatabase(join(tempDir('sg-db-'), 'stockgate.db'));
    try {
      await db.migrate(widgets);
      const store = new SqliteStore(db);
      let commit: Promise<unknown> | undefined;
      await expect(
        db.tx(async (trx) => {
          await trx.insertInto('widgets').values({ id: 'in-tx', qty: 1 }).execute();
          commit = store.commit([{ movements: [mv({ id: 'MV-GATE-1' })], deadLetters: [] }]);
          await new Promise((r) => setTimeout(r, 20));
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      await commit;
      expect(await store.movement('MV-GATE-1')).toMatchObject({ id: 'MV-GATE-1' });
      expect(await db.kysely.selectFrom('widgets').select('id').where('id', '=', 'in-tx').execute()).toEqual([]);
      await store.close(); // does not close the shared database
      expect(db.handle.open).toBe(true);
    } finally {
      await db.close();
    }
  });

  it('the group commit keeps its statement journals in memory for its own transaction only (issue 14 §1)', async () => {
    const db = new SqliteDatabase(join(tempDir('sg-db-'), 'stockgate.db'));
    try {
      const tempStore = () => db.handle.pragma('temp_store', { simple: true });
      expect(tempStore()).toBe(0);
      // The helper: MEMORY (2) inside, the default (0) after, also when fn throws.
      expect(inMemoryStatementJournals(db.handle, tempStore)).toBe(2);
      expect(() => inMemoryStatementJournals(db.handle, () => { throw new Error('boom'); })).toThrow('boom');
      expect(tempStore()).toBe(0);
      const store = new SqliteStore(db);
      const exec = db.handle.exec.bind(db.handle);
      const set: string[] = [];
      db.handle.exec = ((source: string) => {
        if (source.startsWith('PRAGMA temp_store =')) set.push(source.slice('PRAGMA '.length));
        return exec(source);
      }) as typeof db.handle.exec;
      const batch = (id: string) => [{ movements: [mv({ id })], deadLetters: [] }];
      await store.commit(batch('MV-JRNL-1'));
      expect(set).toEqual(['temp_store = MEMORY', 'temp_store = DEFAULT']);
      // A resent id fails the first try (its INSERT OR ROLLBACK ends the transaction), then the
      // commit is done again looking ids up: both tries set and reset, and the ledger is right.
      set.length = 0;
      const r = await store.commit([...batch('MV-JRNL-2'), ...batch('MV-JRNL-1')]);
      expect(r.batches.map((b) => b.outcomes)).toEqual([['applied'], ['duplicate']]);
      expect(set).toEqual(['temp_store = MEMORY', 'temp_store = DEFAULT', 'temp_store = MEMORY', 'temp_store = DEFAULT']);
      expect(tempStore()).toBe(0);
      expect(db.handle.inTransaction).toBe(false);
      expect(await store.movement('MV-JRNL-2')).toMatchObject({ id: 'MV-JRNL-2' });
    } finally {
      await db.close();
    }
  });

  it('Kysely statements are prepared once per SQL text and still see a schema change (issue 14 §1)', async () => {
    const db = new SqliteDatabase(join(tempDir('sg-db-'), 'stockgate.db'));
    try {
      await db.migrate(widgets);
      const prepare = db.handle.prepare.bind(db.handle);
      const texts: string[] = [];
      db.handle.prepare = ((sql: string) => (texts.push(sql), prepare(sql))) as typeof db.handle.prepare;
      const read = (id: string) => db.kysely.selectFrom('widgets').selectAll().where('id', '=', id).execute();
      for (let i = 0; i < 20; i++) await db.kysely.insertInto('widgets').values({ id: `w${i}`, qty: i }).execute();
      expect(await read('w7')).toEqual([{ id: 'w7', qty: 7 }]);
      expect(await read('w8')).toEqual([{ id: 'w8', qty: 8 }]);
      // The seed migration already prepared this insert: 20 inserts, 0 or 1 prepare; 2 reads, 1.
      expect(texts.filter((t) => t.startsWith('insert')).length).toBeLessThanOrEqual(1);
      expect(texts.filter((t) => t.startsWith('select'))).toHaveLength(1);
      db.handle.exec("ALTER TABLE widgets ADD COLUMN note TEXT NOT NULL DEFAULT 'n'");
      expect(await read('w9')).toEqual([{ id: 'w9', qty: 9, note: 'n' }]);
    } finally {
      await db.close();
    }
  });
});
