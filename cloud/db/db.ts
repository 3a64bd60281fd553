import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely, Transaction } from 'kysely';
import type pg from 'pg';

/** A transaction handed to repos and ledger consumers (`Db.tx`): tables are untyped, each module types its rows. */
export type Tx = Transaction<any>;

/** The two dialects of the cloud's one database. */
export type Dialect = 'sqlite' | 'postgres';

/**
 * One versioned schema change of a module. Append only: a released migration never changes
 * (`db_migrations` records `(module, version)` once it ran). Either `sql` (several statements
 * allowed) or `up` (code through Kysely, e.g. its schema builder, to share one list between
 * dialects). Each runs in a transaction with the row that records it.
 */
export interface Migration {
  version: number;
  name: string;
  sql?: string;
  up?: (db: Kysely<any>) => Promise<void>;
}

/**
 * A module's part of the database: its name (the key in `db_migrations`) and its migrations per
 * dialect (pass the same list twice when it is written with Kysely's schema builder).
 */
export interface DbModule {
  /** `[a-z][a-z0-9_-]*`: ledger, auth, alerts, catalog, ... */
  name: string;
  migrations: { sqlite: readonly Migration[]; postgres: readonly Migration[] };
  /**
   * Where this module recorded its versions before `db_migrations` existed (stockgate 0.1):
   * `schema_migrations` (ledger, both dialects), `alert_migrations` (alerts on PostgreSQL). Read
   * once, when the module has no row in `db_migrations` yet.
   */
  legacyTable?: { sqlite?: string; postgres?: string };
}

/** How `Db.tx` commits. */
export interface TxOptions {
  /**
   * false: the COMMIT does not wait for the disk (SQLite: `synchronous = NORMAL` for this
   * transaction, no WAL fsync; PostgreSQL: `SET LOCAL synchronous_commit = off`). It is still
   * atomic, survives the process being killed, and becomes durable with the next durable commit
   * on the same database (SQLite: one WAL file, synced in order; PostgreSQL: one WAL, flushed in
   * order); a power cut or OS crash before that may roll it back. Only for work that is derived
   * from durable rows and redone from them when lost: the ledger follower's batches (their input
   * rows and cursors are in the same transaction, so a lost batch is simply taken again). Never
   * for anything acknowledged to a client. Default true.
   */
  durable?: boolean;
}

/**
 * The cloud's one database: a SQLite file (default) or one PostgreSQL schema. Every module's
 * tables live in it; `cloud/db/open.ts` opens it and runs every registered module's migrations.
 *
 * New code queries through `kysely` and writes through `tx()`. The ingest hot path keeps its tuned
 * statements on the same connection (SQLite: `handle`; PostgreSQL: `pool`).
 */
export interface Db {
  readonly dialect: Dialect;
  /** For logs: the file, or the server and schema. */
  readonly describe: string;
  /** Query builder on the database (untyped tables: each module types its own rows). */
  readonly kysely: Kysely<any>;
  /**
   * Run `fn` in one transaction: committed when it resolves, rolled back when it throws. On
   * PostgreSQL a serialization failure or deadlock (40001/40P01) replays `fn` (up to 5 times), so
   * `fn` must not have effects outside the transaction. Repos receive the `trx`; only a module's
   * service opens one.
   */
  tx<T>(fn: (trx: Transaction<any>) => Promise<T>, opts?: TxOptions): Promise<T>;
  /** Pending migrations of a module (also when several processes open the database at once). */
  migrate(module: DbModule): Promise<void>;
  /** The versions of a module that ran, ascending. */
  versions(module: string): Promise<number[]>;
  close(): Promise<void>;
}

export interface SqliteDb extends Db {
  readonly dialect: 'sqlite';
  readonly path: string;
  /** The one better-sqlite3 connection (Kysely runs on it too). */
  readonly handle: BetterSqlite3.Database;
  /**
   * Resolves when no Kysely work is in flight on the connection; undefined when none is. A
   * synchronous writer on `handle` (the ingest commit, the alert and credential stores) waits for
   * it first: on one connection, a statement issued while a `tx()` is open would join that
   * transaction and be rolled back with it. Call in a loop right before the write, with no other
   * await between the last check and the write: `for (let w = db.idle(); w; w = db.idle()) await w;`
   */
  idle(): Promise<void> | undefined;
  /** `migrate` without awaiting, for SQL-only modules (store constructors are synchronous). */
  migrateSync(module: DbModule): void;
}

export interface PostgresDb extends Db {
  readonly dialect: 'postgres';
  /** Every connection's search_path is the schema. int8 and numeric come back as JS numbers. */
  readonly pool: pg.Pool;
  /** The schema, when given explicitly (else the URL's search_path). */
  readonly schema: string | undefined;
}

export class DbError extends Error {
  constructor(
    readonly code: 'SG_ERR_DB_MIGRATION' | 'SG_ERR_DB_OPEN' | 'SG_ERR_DB_UPGRADE' | 'SG_ERR_DB_REUSABLE',
    message: string,
  ) {
    super(message);
  }
}
