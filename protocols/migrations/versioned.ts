/**
 * Versioned schema migrations, the one runner of the edge's SQLite files (`outbox.db`,
 * `state.db`) and of the cloud's database (SQLite or PostgreSQL) (issue 15 §5). Dialect-free and
 * without I/O: the caller hands it an executor (`exec`, `all`, `transaction`) on its own
 * connection; this file decides what runs, in which order, and what is recorded.
 *
 * - Steps are ordered by version (positive integers, strictly ascending) and append-only: a
 *   released step never changes, `db_migrations` records `(schema, version)` once it ran.
 * - Each step runs in its own transaction with the row that records it: a step that fails leaves
 *   nothing behind and names the schema, version and step.
 * - Inside each step's transaction the record is read again, so processes opening one database at
 *   once apply each step once (SQLite: the executor's transaction takes the write lock first;
 *   PostgreSQL: the cloud holds an advisory lock around the run).
 * - A database holding a version this release does not know was written by a newer release: the
 *   run stops before changing anything (`SG_ERR_MIGRATION_NEWER`), never runs on a schema it
 *   does not know.
 * - A database made before its schema was versioned is recognised once by a `baseline` (the
 *   tables of the release that made it, or the record table that release kept) and its versions
 *   recorded without running them.
 *
 * The algorithm is one generator (`plan`) yielding executor calls; `migrate` drives it on a
 * synchronous executor (better-sqlite3: the edge, the cloud's SQL-only modules), `migrateAsync` on
 * an asynchronous one (pg, Kysely). So there is one runner, not a sync and an async copy.
 */

/** Records which steps ran: one row per (schema, version). The same DDL on SQLite and PostgreSQL. */
export const VERSION_TABLE_DDL = `CREATE TABLE IF NOT EXISTS db_migrations (
  module TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY (module, version)
)`;

/** One versioned change. Exactly one of `sql` (several statements allowed) or `up` (code, run by the executor's `apply`). */
export interface MigrationStep {
  version: number;
  name: string;
  sql?: string;
  up?: (ctx: never) => unknown;
}

/**
 * How to recognise a database made before this schema had rows in `db_migrations`. `probe` is a
 * query returning a row when that older layout is there; then `versions` are recorded as done:
 * a list (each with the step's name and now), or a query returning `(version, name, applied_at)`
 * rows (a record table the older release kept).
 */
export interface Baseline {
  probe: string;
  versions: readonly number[] | string;
}

export interface VersionedSchema<S extends MigrationStep = MigrationStep> {
  /** The key in `db_migrations`: `[a-z][a-z0-9_-]*` (`outbox`, `state`, `ledger`, `auth`...). */
  name: string;
  steps: readonly S[];
  baseline?: Baseline;
}

export type Row = Record<string, unknown>;

/**
 * What the runner needs of a connection. SQL uses `?` placeholders (`numbered` turns them into
 * `$1, $2...` for PostgreSQL). `transaction(fn)` runs `fn` in one transaction, committed when it
 * returns, rolled back when it throws; `apply(step)` runs a step's change (default: `exec(step.sql)`).
 */
export interface MigrationExecutor<S extends MigrationStep = MigrationStep> {
  exec(sql: string, params?: readonly unknown[]): void;
  all(sql: string, params?: readonly unknown[]): Row[];
  transaction<T>(fn: () => T): T;
  apply?(step: S): void;
}

export interface AsyncMigrationExecutor<S extends MigrationStep = MigrationStep> {
  exec(sql: string, params?: readonly unknown[]): Promise<void> | void;
  all(sql: string, params?: readonly unknown[]): Promise<Row[]> | Row[];
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  apply?(step: S): Promise<void> | void;
}

export type MigrationErrorCode = 'SG_ERR_MIGRATION' | 'SG_ERR_MIGRATION_NEWER';

/** A bad step list, a step that failed (rolled back, nothing recorded), or a database newer than this release. */
export class MigrationError extends Error {
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

/** What a run did: the versions recorded by a baseline, and the steps applied. */
export interface MigrationReport {
  adopted: number[];
  applied: number[];
}

export interface MigrateOptions {
  /** `applied_at` of the rows written (default: the ISO time now). */
  now?: () => string;
}

const NAME_RE = /^[a-z][a-z0-9_-]{0,63}$/;

/**
 * The schema's steps, checked: a plain name, versions positive integers strictly ascending, each
 * with exactly one of `sql` and `up`. A bad list is a programming error: thrown with the schema
 * and version named, before anything runs.
 */
export function checkSchema<S extends MigrationStep>(schema: VersionedSchema<S>): readonly S[] {
  if (!NAME_RE.test(schema.name)) throw new MigrationError('SG_ERR_MIGRATION', `module name '${schema.name}': expected [a-z][a-z0-9_-]*`);
  let last = 0;
  for (const s of schema.steps) {
    if (!Number.isInteger(s.version) || s.version <= last) {
      throw new MigrationError('SG_ERR_MIGRATION', `${schema.name}: version ${s.version} after ${last}: versions must be integers, strictly ascending`);
    }
    if ((s.sql === undefined) === (s.up === undefined)) throw new MigrationError('SG_ERR_MIGRATION', `${schema.name} v${s.version}: give exactly one of sql and up`);
    last = s.version;
  }
  return schema.steps;
}

/** `?` placeholders as `$1, $2, ...` (PostgreSQL). The runner's SQL has no `?` inside literals. */
export function numbered(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

type Op<S> =
  | { kind: 'exec'; sql: string; params?: readonly unknown[] }
  | { kind: 'all'; sql: string; params?: readonly unknown[] }
  | { kind: 'tx'; body: () => Plan<S, unknown> }
  | { kind: 'apply'; step: S };
type Plan<S, T> = Generator<Op<S>, T, unknown>;

function* all<S>(sql: string, params?: readonly unknown[]): Plan<S, Row[]> {
  return (yield { kind: 'all', sql, ...(params ? { params } : {}) }) as Row[];
}

function* exec<S>(sql: string, params?: readonly unknown[]): Plan<S, void> {
  yield { kind: 'exec', sql, ...(params ? { params } : {}) };
}

function* tx<S, T>(body: () => Plan<S, T>): Plan<S, T> {
  return (yield { kind: 'tx', body }) as T;
}

const RECORD = 'INSERT INTO db_migrations (module, version, name, applied_at) VALUES (?, ?, ?, ?)';

/** The one algorithm; see the file's comment. */
function* plan<S extends MigrationStep>(schema: VersionedSchema<S>, o: MigrateOptions): Plan<S, MigrationReport> {
  const steps = checkSchema(schema);
  const now = o.now ?? (() => new Date().toISOString());
  const report: MigrationReport = { adopted: [], applied: [] };
  yield* exec(VERSION_TABLE_DDL);
  // Versions recorded (a baseline adopted once), and the newer-release check, before any step.
  const done = yield* tx(function* () {
    const versions = (yield* all<S>('SELECT version FROM db_migrations WHERE module = ?', [schema.name])).map((r) => Number(r.version));
    const b = schema.baseline;
    if (versions.length > 0 || !b || (yield* all<S>(b.probe)).length === 0) return versions;
    const rows =
      typeof b.versions === 'string'
        ? (yield* all<S>(b.versions)).map((r) => ({ version: Number(r.version), name: String(r.name), at: String(r.applied_at) }))
        : b.versions.map((v) => ({ version: v, name: steps.find((s) => s.version === v)?.name ?? `version ${v}`, at: now() }));
    for (const r of rows) yield* exec<S>(RECORD, [schema.name, r.version, r.name, r.at]);
    report.adopted = rows.map((r) => r.version);
    return rows.map((r) => r.version);
  });
  const known = steps.length ? steps[steps.length - 1]!.version : 0;
  const newest = Math.max(0, ...done);
  if (newest > known) {
    throw new MigrationError(
      'SG_ERR_MIGRATION_NEWER',
      `${schema.name}: the database is at version ${newest}, this release knows versions up to ${known}: it was written by a newer stockgate; run that release (or a newer one), or restore a backup made before the upgrade`,
    );
  }
  const have = new Set(done);
  for (const step of steps) {
    if (have.has(step.version)) continue;
    const ran = yield* tx(function* () {
      // Another process may have applied it since the read above (it waited for our lock, or we for its).
      if ((yield* all<S>('SELECT 1 AS x FROM db_migrations WHERE module = ? AND version = ?', [schema.name, step.version])).length > 0) return false;
      try {
        yield { kind: 'apply', step } as Op<S>;
      } catch (err) {
        throw new MigrationError('SG_ERR_MIGRATION', `${schema.name} v${step.version} (${step.name}): ${(err as Error).message}`);
      }
      yield* exec<S>(RECORD, [schema.name, step.version, step.name, now()]);
      return true;
    });
    if (ran) report.applied.push(step.version);
  }
  return report;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as { then?: unknown } | null)?.then === 'function';

/** Run the schema's pending steps on a synchronous executor (better-sqlite3). */
export function migrate<S extends MigrationStep>(schema: VersionedSchema<S>, x: MigrationExecutor<S>, o: MigrateOptions = {}): MigrationReport {
  const perform = (op: Op<S>): unknown => {
    switch (op.kind) {
      case 'exec':
        return x.exec(op.sql, op.params);
      case 'all':
        return x.all(op.sql, op.params);
      case 'tx':
        return x.transaction(() => drive(op.body()));
      case 'apply': {
        if (x.apply) {
          const r: unknown = x.apply(op.step);
          if (isThenable(r)) throw new Error('an asynchronous step needs the asynchronous runner (migrateAsync)');
          return r;
        }
        if (op.step.sql === undefined) throw new Error('a code step (up) needs an executor with apply()');
        return x.exec(op.step.sql);
      }
    }
  };
  const drive = <T>(gen: Plan<S, T>): T => {
    let next = gen.next();
    for (;;) {
      if (next.done) return next.value;
      let value: unknown;
      try {
        value = perform(next.value);
      } catch (err) {
        next = gen.throw(err);
        continue;
      }
      next = gen.next(value);
    }
  };
  return drive(plan(schema, o));
}

/** Run the schema's pending steps on an asynchronous executor (pg, Kysely). */
export async function migrateAsync<S extends MigrationStep>(schema: VersionedSchema<S>, x: AsyncMigrationExecutor<S>, o: MigrateOptions = {}): Promise<MigrationReport> {
  const perform = async (op: Op<S>): Promise<unknown> => {
    switch (op.kind) {
      case 'exec':
        return x.exec(op.sql, op.params);
      case 'all':
        return x.all(op.sql, op.params);
      case 'tx':
        return x.transaction(() => drive(op.body()));
      case 'apply':
        if (x.apply) return x.apply(op.step);
        if (op.step.sql === undefined) throw new Error('a code step (up) needs an executor with apply()');
        return x.exec(op.step.sql);
    }
  };
  const drive = async <T>(gen: Plan<S, T>): Promise<T> => {
    let next = gen.next();
    for (;;) {
      if (next.done) return next.value;
      let value: unknown;
      try {
        value = await perform(next.value);
      } catch (err) {
        next = gen.throw(err);
        continue;
      }
      next = gen.next(value);
    }
  };
  return drive(plan(schema, o));
}
