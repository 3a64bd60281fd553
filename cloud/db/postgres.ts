import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { DbError, type DbModule, type PostgresDb, type TxOptions } from './db.js';
import { migrateAsync, numbered } from '../../protocols/migrations/versioned.js';
import { asDbError, DB_MIGRATIONS_DDL, schemaOf } from './migrations.js';

export interface PostgresDbOptions {
  /** `postgres://` or `postgresql://` URL (libpq style; `?options=-csearch_path%3DX` works too). */
  url: string;
  /** Schema holding the tables, created if missing; default: the connection's search_path. */
  schema?: string;
  /** Pool size. Default 10 (the ingest commits use one connection each; reads and modules share the rest). */
  maxConnections?: number;
}

/**
 * Advisory lock namespace ('SG'), key 1: migrations of a schema. The same key stockgate 0.1's
 * ledger store took, so an old and a new process never migrate one schema at once.
 */
const LOCK_NS_MIGRATE = 0x5347_0001;
const SCHEMA_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const RETRY_CODES = new Set(['40001', '40P01']);

/** int8 and numeric come back as JS numbers (seqs, positions and ids are safe integers; quantities are rounded). */
export const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

/**
 * The cloud's database as one PostgreSQL schema: one pool shared by the ledger's tuned statements,
 * the other stores and Kysely. Several processes (competing ingesters) open it at once.
 */
export class PostgresDatabase implements PostgresDb {
  readonly dialect = 'postgres' as const;
  readonly kysely: Kysely<any>;
  readonly describe: string;
  private closed = false;

  private constructor(
    readonly pool: pg.Pool,
    readonly schema: string | undefined,
    url: string,
  ) {
    this.kysely = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    const u = new URL(url);
    this.describe = `postgres://${u.host}${u.pathname}${schema ? ` schema ${schema}` : ''}`;
  }

  /** Connect, create the schema if one is named (else check the search_path has one), create `db_migrations`. */
  static async open(o: PostgresDbOptions): Promise<PostgresDatabase> {
    if (!/^postgres(ql)?:\/\//.test(o.url)) throw new TypeError('store: expected a postgres:// or postgresql:// URL');
    if (o.schema !== undefined && !SCHEMA_RE.test(o.schema)) throw new TypeError(`store schema: '${o.schema}' is not a plain identifier`);
    const pool = new pg.Pool({ connectionString: o.url, max: o.maxConnections ?? 10, types: pgTypes });
    // Idle clients can fail (server restart): nothing to do here, the next query reconnects.
    pool.on('error', () => undefined);
    // A CHECKED-OUT client has no pool listener (pg-pool removes it on acquire): if the server
    // goes away between two statements of a transaction, the client emits 'error' with nobody
    // listening and the whole cloud died (issue 14 §4, chaos: PostgreSQL restarted mid-batch).
    // The statement in flight or the next one fails and rolls back; the ingester settles false.
    pool.on('connect', (c) => void c.on('error', () => undefined));
    if (o.schema !== undefined) {
      // Queued before any query of the new connection, so every statement sees the schema.
      const set = `SET search_path TO "${o.schema}"`;
      pool.on('connect', (c) => void c.query(set).catch(() => undefined));
    }
    const db = new PostgresDatabase(pool, o.schema, o.url);
    try {
      await db.locked(async (c) => {
        if (o.schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS "${o.schema}"`);
        else if ((await c.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]!.s === null) {
          throw new DbError('SG_ERR_DB_OPEN', 'store: no schema of the search_path exists: create it (CREATE SCHEMA ...) or fix search_path in the URL');
        }
        await c.query(DB_MIGRATIONS_DDL);
      });
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return db;
  }

  /**
   * `fn` on one connection holding the schema's migration lock (a session advisory lock keyed on
   * the schema): processes starting at once migrate one after the other.
   */
  private async locked<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    let broken = false;
    const key = [LOCK_NS_MIGRATE, this.schema ?? null];
    try {
      await c.query("SELECT pg_advisory_lock($1, hashtext(coalesce($2, current_schema(), '')))", key);
      try {
        return await fn(c);
      } finally {
        await c.query("SELECT pg_advisory_unlock($1, hashtext(coalesce($2, current_schema(), '')))", key).catch(() => {
          broken = true;
        });
      }
    } finally {
      c.release(broken);
    }
  }

  async tx<T>(fn: (trx: Transaction<any>) => Promise<T>, opts: TxOptions = {}): Promise<T> {
    // Asynchronous commit (PostgreSQL docs, "Asynchronous Commit"): this transaction's COMMIT
    // returns before its WAL is flushed; a crash of the server may lose it, never corrupt.
    const run =
      opts.durable === false
        ? async (trx: Transaction<any>) => {
            await sql`SET LOCAL synchronous_commit = off`.execute(trx);
            return fn(trx);
          }
        : fn;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.kysely.transaction().execute(run);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === undefined || !RETRY_CODES.has(code) || attempt >= 5) throw err;
        // Another process won a lock race; back off a little and replay.
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
      }
    }
  }

  async versions(module: string): Promise<number[]> {
    const r = await this.pool.query<{ version: number }>('SELECT version FROM db_migrations WHERE module = $1 ORDER BY version', [module]);
    return r.rows.map((x) => x.version);
  }

  /**
   * Pending migrations through the shared runner (protocols/migrations/versioned.ts), each in its
   * own transaction with its `db_migrations` row, on the one connection that holds the schema's
   * lock. A Kysely migration (`up`) gets a Kysely on that same connection, so it commits or rolls
   * back with its row.
   */
  async migrate(module: DbModule): Promise<void> {
    const schema = schemaOf(module, 'postgres');
    await this.locked(async (c) => {
      // Kysely on the locked connection only: never released to the pool, never ended.
      const onC = new Kysely<any>({ dialect: new PostgresDialect({ pool: { connect: async () => ({ query: c.query.bind(c), release: () => undefined }) as never, end: async () => undefined } }) });
      try {
        await migrateAsync(schema, {
          exec: async (sql, params) => void (await c.query(numbered(sql), params ? [...params] : undefined)),
          all: async (sql, params) => (await c.query(numbered(sql), params ? [...params] : undefined)).rows as Array<Record<string, unknown>>,
          transaction: async (fn) => {
            await c.query('BEGIN');
            try {
              const r = await fn();
              await c.query('COMMIT');
              return r;
            } catch (err) {
              await c.query('ROLLBACK').catch(() => undefined);
              throw err;
            }
          },
          apply: async (m) => {
            if (m.sql !== undefined) await c.query(m.sql);
            else await m.up!(onC);
          },
        });
      } catch (err) {
        throw asDbError(err);
      } finally {
        await onC.destroy();
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Kysely's driver ends the pool only if Kysely itself connected through it (its `init` took
    // the pool); a database used only through `pool` (a store opened on its own) kept every
    // connection it had opened until pg-pool's idle timeout (10 s): on a fast machine the store
    // tests opened 100 in that time and met max_connections.
    await this.kysely.destroy();
    if (!this.pool.ending) await this.pool.end();
  }
}
