import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, type DatabaseConnection, Kysely, SqliteDialect, type SqliteDialectConfig, SqliteDriver, sql, type Transaction } from 'kysely';
import { DbError, type DbModule, type SqliteDb, type TxOptions } from './db.js';
import { migrate, migrateAsync } from '../../protocols/migrations/versioned.js';
import { asDbError, DB_MIGRATIONS_DDL, schemaOf } from './migrations.js';

/** Counts Kysely work in flight on the one connection; synchronous writers wait for zero. */
class Gate {
  private held = 0;
  private waiters: Array<() => void> = [];
  enter(): void {
    this.held++;
  }
  leave(): void {
    if (--this.held > 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  idle(): Promise<void> | undefined {
    return this.held === 0 ? undefined : new Promise((r) => this.waiters.push(r));
  }
}

/**
 * Kysely's SQLite driver, with two changes: it holds the gate while it has the connection, and
 * its transactions are `BEGIN IMMEDIATE` (a deferred transaction that reads, then writes after
 * another process committed, fails at once with SQLITE_BUSY instead of waiting for the lock).
 */
class GatedSqliteDriver extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly gate: Gate,
  ) {
    super(config);
  }
  override async acquireConnection(): Promise<DatabaseConnection> {
    this.gate.enter();
    try {
      return await super.acquireConnection();
    } catch (err) {
      this.gate.leave();
      throw err;
    }
  }
  override async releaseConnection(): Promise<void> {
    await super.releaseConnection();
    this.gate.leave();
  }
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
  /** The handle is closed by `SqliteDatabase.close`, not by Kysely. */
  override async destroy(): Promise<void> {}
}

class GatedSqliteDialect extends SqliteDialect {
  constructor(
    private readonly cfg: SqliteDialectConfig,
    private readonly gate: Gate,
  ) {
    super(cfg);
  }
  override createDriver(): SqliteDriver {
    return new GatedSqliteDriver(this.cfg, this.gate);
  }
}

const SYNC_NORMAL = CompiledQuery.raw('PRAGMA synchronous = NORMAL');
const SYNC_FULL = CompiledQuery.raw('PRAGMA synchronous = FULL');

/** Most distinct SQL texts whose prepared statements are kept (Kysely builds a few hundred). */
const STATEMENT_CACHE = 1000;

/**
 * The handle as Kysely sees it, with its prepared statements kept by SQL text. Kysely's SQLite
 * driver prepares every query anew, and the ledger follower's consumers run several Kysely
 * queries per ledger row: `prepare` was the biggest single cost of the ingest process under load
 * (18% of its CPU, bench --cpu-prof, issue 14 §1). Safe to share: Kysely runs one query at a time
 * on its one connection and never changes a statement's mode (raw, pluck, expand); SQLite
 * re-prepares a kept statement itself after a schema change.
 */
function statementCache(handle: BetterSqlite3.Database): Pick<BetterSqlite3.Database, 'prepare' | 'close'> {
  const kept = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(sql: string) {
      let st = kept.get(sql);
      if (st) {
        // Most recently used last: the oldest entry is the one dropped.
        kept.delete(sql);
      } else {
        st = handle.prepare(sql);
        if (kept.size >= STATEMENT_CACHE) kept.delete(kept.keys().next().value!);
      }
      kept.set(sql, st);
      return st;
    },
    close: () => handle.close(),
  } as Pick<BetterSqlite3.Database, 'prepare' | 'close'>;
}

/**
 * Runs `fn` (a write transaction: it must begin inside `fn`, on a connection with no transaction
 * open) with its statement journals in memory.
 *
 * Why: a statement that writes many rows and may fail partway (a multi-row INSERT, an upsert: the
 * store's gathered commit, issue 14) runs inside the transaction as a statement transaction, and
 * SQLite first copies every page the statement changes to a sub-journal, so that it can undo just
 * that statement. The sub-journal stays in memory up to 64 KiB (SQLITE_STMTJRNL_SPILL), then spills
 * to a temporary file: a 4-byte page number and the 4 KiB page, two pwrite(2) calls per page,
 * paid by every 32-row chunk. A group commit of 2,000 rows from 200 edges made 7,800 pwrite(2)
 * calls (strace) for 720 pages it changed (tests/cloud/store/sqlite.test.ts holds the bytes a
 * commit writes to its WAL frames). The pager decides where a transaction's sub-journals live when
 * the transaction begins, from `temp_store` (sqlite3.c: sqlite3BtreeBeginTrans passes
 * sqlite3TempInMemory to sqlite3PagerBegin, openSubJournal spills never when it is set), so the
 * setting is MEMORY for the transaction only: a sub-journal holds at most the pages of one chunk
 * statement. It is not left on: with it, the ephemeral tables of other queries (DISTINCT, GROUP BY
 * without an index, IN lists) would be memory databases that never spill. The VDBE sorter is not
 * affected either way (it opens real temporary files). No temporary table exists on these
 * connections, so changing the setting drops nothing.
 */
export function inMemoryStatementJournals<T>(handle: BetterSqlite3.Database, fn: () => T): T {
  // exec, not pragma(): 1 us a pair against 7 (better-sqlite3's pragma() reads the result back).
  handle.exec('PRAGMA temp_store = MEMORY');
  try {
    return fn();
  } finally {
    handle.exec('PRAGMA temp_store = DEFAULT');
  }
}

/**
 * The cloud's database as one SQLite file: WAL with `synchronous=FULL` (what is acked or queued
 * survives a power cut; WAL's default NORMAL does not) and a busy timeout for a second process on
 * the same file (`stockgate admin init` beside a running cloud). One connection per process:
 * Kysely and the tuned statements of the ingest path share it (see `SqliteDb.idle`).
 */
export class SqliteDatabase implements SqliteDb {
  readonly dialect = 'sqlite' as const;
  readonly handle: BetterSqlite3.Database;
  readonly kysely: Kysely<any>;
  readonly describe: string;
  private readonly gate = new Gate();
  private closed = false;

  constructor(readonly path: string) {
    const handle = new BetterSqlite3(path);
    try {
      handle.pragma('journal_mode = WAL');
      handle.pragma('synchronous = FULL');
      handle.pragma('busy_timeout = 5000');
      handle.exec(DB_MIGRATIONS_DDL);
    } catch (err) {
      handle.close();
      throw new DbError('SG_ERR_DB_OPEN', `database ${path}: ${(err as Error).message}`);
    }
    this.handle = handle;
    this.describe = `sqlite:${path}`;
    this.kysely = new Kysely<any>({ dialect: new GatedSqliteDialect({ database: statementCache(handle) }, this.gate) });
  }

  idle(): Promise<void> | undefined {
    return this.gate.idle();
  }

  tx<T>(fn: (trx: Transaction<any>) => Promise<T>, opts: TxOptions = {}): Promise<T> {
    if (opts.durable !== false) return this.kysely.transaction().execute(fn);
    // `synchronous` cannot change inside a transaction ("Safety level may not be changed inside a
    // transaction"), so it is set around it while this call holds the one connection (Kysely's
    // `connection()`; the ingest path's statements on `handle` wait for the gate it holds): no
    // other transaction can begin or commit at NORMAL. Both PRAGMAs are compiled once (a `sql`
    // template is built and compiled on every call, and this runs for every follower batch).
    return this.kysely.connection().execute(async (conn) => {
      await conn.executeQuery(SYNC_NORMAL);
      try {
        return await conn.transaction().execute(fn);
      } finally {
        await conn.executeQuery(SYNC_FULL);
      }
    });
  }

  async versions(module: string): Promise<number[]> {
    return this.handle.prepare('SELECT version FROM db_migrations WHERE module = ? ORDER BY version').pluck().all(module) as number[];
  }

  /** `exec` and `all` of the runner on the one connection (positional `?` parameters). */
  private run(sql: string, params: readonly unknown[] = []): void {
    if (params.length) this.handle.prepare(sql).run(...params);
    else this.handle.exec(sql);
  }
  private rows(sql: string, params: readonly unknown[] = []): Array<Record<string, unknown>> {
    return this.handle.prepare(sql).all(...params) as Array<Record<string, unknown>>;
  }

  /**
   * Pending SQL migrations through the shared runner (protocols/migrations/versioned.ts), each in
   * an IMMEDIATE transaction: the write lock is taken before the record is read, so two processes
   * opening the file at once apply each migration once (the second waits, then finds it recorded).
   */
  migrateSync(module: DbModule): void {
    const db = this.handle;
    try {
      migrate(schemaOf(module, 'sqlite'), {
        exec: (sql, params) => this.run(sql, params),
        all: (sql, params) => this.rows(sql, params),
        transaction: (fn) => db.transaction(fn).immediate(),
        apply: (m) => {
          if (m.sql === undefined) throw new DbError('SG_ERR_DB_MIGRATION', `${module.name} v${m.version}: a Kysely migration needs the async migrate()`);
          db.exec(m.sql);
        },
      });
    } catch (err) {
      throw asDbError(err);
    }
  }

  async migrate(module: DbModule): Promise<void> {
    const schema = schemaOf(module, 'sqlite');
    if (schema.steps.every((m) => m.sql !== undefined)) {
      for (let w = this.idle(); w; w = this.idle()) await w;
      this.migrateSync(module);
      return;
    }
    // Kysely migrations: IMMEDIATE transactions on the connection Kysely holds.
    await this.kysely.connection().execute(async (conn) => {
      try {
        await migrateAsync(schema, {
          exec: (sql, params) => this.run(sql, params),
          all: (sql, params) => this.rows(sql, params),
          transaction: async (fn) => {
            await sql.raw('BEGIN IMMEDIATE').execute(conn);
            try {
              const r = await fn();
              await sql.raw('COMMIT').execute(conn);
              return r;
            } catch (err) {
              if (this.handle.inTransaction) this.handle.exec('ROLLBACK');
              throw err;
            }
          },
          apply: async (m) => {
            if (m.sql !== undefined) this.handle.exec(m.sql);
            else await m.up!(conn);
          },
        });
      } catch (err) {
        throw asDbError(err);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (let w = this.idle(); w; w = this.idle()) await w;
    await this.kysely.destroy();
    if (this.handle.open) this.handle.close();
  }
}
