import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkSchema,
  migrate,
  migrateAsync,
  numbered,
  type AsyncMigrationExecutor,
  type MigrationExecutor,
  type MigrationStep,
  type VersionedSchema,
} from '../../../protocols/migrations/versioned.js';
import { tempDir } from '../../helpers/procs.js';

/** The runner on a real SQLite connection (better-sqlite3), as the edge uses it. */
function executor(db: Database.Database): MigrationExecutor {
  return {
    exec: (sql, params) => void (params?.length ? db.prepare(sql).run(...params) : db.exec(sql)),
    all: (sql, params) => db.prepare(sql).all(...(params ?? [])) as Array<Record<string, unknown>>,
    transaction: (fn) => db.transaction(fn).immediate(),
  };
}

/** The same connection behind promises, as pg or Kysely answer: the asynchronous driver. */
function asyncExecutor(db: Database.Database, apply?: (s: MigrationStep) => Promise<void>): AsyncMigrationExecutor {
  const x = executor(db);
  return {
    exec: async (sql, params) => x.exec(sql, params),
    all: async (sql, params) => x.all(sql, params),
    transaction: async (fn) => {
      db.exec('BEGIN IMMEDIATE');
      try {
        const r = await fn();
        db.exec('COMMIT');
        return r;
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    },
    ...(apply ? { apply } : {}),
  };
}

/** Steps written as a release would: no IF NOT EXISTS, so running one twice fails. */
const widgets: VersionedSchema = {
  name: 'widgets',
  steps: [
    { version: 1, name: 'widgets', sql: 'CREATE TABLE widgets (id TEXT PRIMARY KEY, qty INTEGER NOT NULL)' },
    { version: 2, name: 'seed', sql: "INSERT INTO widgets VALUES ('seed', 1)" },
    { version: 3, name: 'colour', sql: 'ALTER TABLE widgets ADD COLUMN colour TEXT' },
  ],
};

const recorded = (db: Database.Database, module = 'widgets') => db.prepare('SELECT version, name FROM db_migrations WHERE module = ? ORDER BY version').all(module);
const tables = (db: Database.Database) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();

describe('versioned migrations: the runner (issue 15 §5)', () => {
  it('runs the steps in order, records each, and does nothing the second time', () => {
    const db = new Database(':memory:');
    expect(migrate(widgets, executor(db), { now: () => 'T' })).toEqual({ adopted: [], applied: [1, 2, 3] });
    expect(recorded(db)).toEqual([
      { version: 1, name: 'widgets' },
      { version: 2, name: 'seed' },
      { version: 3, name: 'colour' },
    ]);
    expect(db.prepare("SELECT applied_at FROM db_migrations WHERE version = 3").pluck().get()).toBe('T');
    expect(migrate(widgets, executor(db))).toEqual({ adopted: [], applied: [] });
    expect(db.prepare('SELECT id, qty, colour FROM widgets').all()).toEqual([{ id: 'seed', qty: 1, colour: null }]);
  });

  it('a failing step is rolled back and names the schema, version and step; the steps before it stay', () => {
    const db = new Database(':memory:');
    const broken: VersionedSchema = { name: 'widgets', steps: [widgets.steps[0]!, { version: 2, name: 'half', sql: 'CREATE TABLE half (x INTEGER); INSERT INTO nowhere VALUES (1);' }] };
    expect(() => migrate(broken, executor(db))).toThrow(expect.objectContaining({ code: 'SG_ERR_MIGRATION', message: expect.stringMatching(/^widgets v2 \(half\): no such table: nowhere$/) }));
    expect(recorded(db)).toEqual([{ version: 1, name: 'widgets' }]);
    expect(tables(db)).not.toContain('half');
  });

  it('refuses a database at a version it does not know, before running any step', () => {
    const db = new Database(':memory:');
    migrate({ name: 'widgets', steps: widgets.steps.slice(0, 1) }, executor(db));
    db.prepare("INSERT INTO db_migrations VALUES ('widgets', 4, 'from a newer release', 'T')").run();
    expect(() => migrate(widgets, executor(db))).toThrow(
      expect.objectContaining({ code: 'SG_ERR_MIGRATION_NEWER', message: expect.stringMatching(/^widgets: the database is at version 4, this release knows versions up to 3: it was written by a newer stockgate/) }),
    );
    // v2 and v3 were pending and did not run.
    expect(recorded(db).map((r) => (r as { version: number }).version)).toEqual([1, 4]);
    expect(db.prepare('SELECT COUNT(*) FROM widgets').pluck().get()).toBe(0);
    // Another schema in the same table is not concerned.
    expect(migrate({ name: 'other', steps: [] }, executor(db))).toEqual({ adopted: [], applied: [] });
  });

  it('recognises a database made before its schema was versioned (a baseline) once, without running those steps', () => {
    const db = new Database(':memory:');
    db.exec("CREATE TABLE widgets (id TEXT PRIMARY KEY, qty INTEGER NOT NULL); INSERT INTO widgets VALUES ('old', 7)");
    const schema: VersionedSchema = { ...widgets, baseline: { probe: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'widgets'", versions: [1, 2] } };
    // v1 and v2 would fail or add a row if run: they are recorded instead, v3 runs.
    expect(migrate(schema, executor(db))).toEqual({ adopted: [1, 2], applied: [3] });
    expect(recorded(db)).toEqual([
      { version: 1, name: 'widgets' },
      { version: 2, name: 'seed' },
      { version: 3, name: 'colour' },
    ]);
    expect(db.prepare('SELECT id, qty FROM widgets').all()).toEqual([{ id: 'old', qty: 7 }]);
    expect(migrate(schema, executor(db))).toEqual({ adopted: [], applied: [] });
    // Without the older layout there is nothing to recognise: every step runs.
    expect(migrate(schema, executor(new Database(':memory:')))).toEqual({ adopted: [], applied: [1, 2, 3] });
  });

  it('adopts an older record table with its dates (a baseline given as a query)', () => {
    const db = new Database(':memory:');
    db.exec("CREATE TABLE widgets (id TEXT PRIMARY KEY, qty INTEGER NOT NULL); CREATE TABLE old_migrations (version INTEGER, name TEXT, applied_at TEXT); INSERT INTO old_migrations VALUES (1, 'widgets', '2026-01-01')");
    const schema: VersionedSchema = { ...widgets, baseline: { probe: "SELECT 1 FROM sqlite_master WHERE name = 'old_migrations'", versions: 'SELECT version, name, applied_at FROM old_migrations' } };
    expect(migrate(schema, executor(db))).toEqual({ adopted: [1], applied: [2, 3] });
    expect(db.prepare("SELECT applied_at FROM db_migrations WHERE version = 1").pluck().get()).toBe('2026-01-01');
  });

  it('a step another process applied meanwhile is skipped (the record is read again inside its transaction)', () => {
    const path = join(tempDir('sg-migrations-'), 'race.db');
    const a = new Database(path);
    const b = new Database(path);
    const xa = executor(a);
    let txs = 0;
    // A reads the record (nothing done), then, before A's first step, B migrates everything.
    const racing: MigrationExecutor = { ...xa, transaction: (fn) => (++txs === 2 && migrate(widgets, executor(b)), xa.transaction(fn)) };
    expect(migrate(widgets, racing)).toEqual({ adopted: [], applied: [] });
    expect(recorded(a)).toHaveLength(3);
    expect(a.prepare('SELECT COUNT(*) FROM widgets').pluck().get()).toBe(1);
  });

  it('refuses a bad step list before anything runs', () => {
    const db = new Database(':memory:');
    const bad = (name: string, steps: MigrationStep[]) => () => migrate({ name, steps }, executor(db));
    expect(bad('m', [{ version: 2, name: 'a', sql: 'SELECT 1' }, { version: 1, name: 'b', sql: 'SELECT 1' }])).toThrow(/^m: version 1 after 2: versions must be integers, strictly ascending$/);
    expect(bad('m', [{ version: 1.5, name: 'a', sql: 'SELECT 1' }])).toThrow(/version 1.5 after 0/);
    expect(bad('m', [{ version: 1, name: 'a' }])).toThrow(/m v1: give exactly one of sql and up/);
    expect(bad('m', [{ version: 1, name: 'a', sql: 'SELECT 1', up: () => undefined }])).toThrow(/exactly one of sql and up/);
    expect(bad('Bad Name', [])).toThrow(expect.objectContaining({ code: 'SG_ERR_MIGRATION', message: "module name 'Bad Name': expected [a-z][a-z0-9_-]*" }));
    expect(tables(db)).toEqual([]);
    expect(checkSchema(widgets)).toBe(widgets.steps);
  });

  it('a code step needs an executor that applies it; an asynchronous one, the asynchronous runner', () => {
    const up: VersionedSchema = { name: 'code', steps: [{ version: 1, name: 'code', up: () => undefined }] };
    expect(() => migrate(up, executor(new Database(':memory:')))).toThrow(/code v1 \(code\): a code step \(up\) needs an executor with apply\(\)/);
    const db = new Database(':memory:');
    expect(() => migrate(up, { ...executor(db), apply: (() => Promise.resolve()) as () => void })).toThrow(/needs the asynchronous runner/);
    expect(recorded(db, 'code')).toEqual([]);
  });

  it('the asynchronous runner is the same algorithm: code steps, rollback, newer release', async () => {
    const db = new Database(':memory:');
    const calls: string[] = [];
    const apply = async (s: MigrationStep) => {
      await new Promise((r) => setTimeout(r, 1));
      calls.push(s.name);
      if (s.sql) db.exec(s.sql);
      else if (s.name === 'fail') throw new Error('boom');
      else db.exec("INSERT INTO widgets VALUES ('by-code', 2, NULL)");
    };
    const schema: VersionedSchema = { name: 'widgets', steps: [...widgets.steps, { version: 4, name: 'code', up: () => undefined }] };
    expect(await migrateAsync(schema, asyncExecutor(db, apply))).toEqual({ adopted: [], applied: [1, 2, 3, 4] });
    expect(calls).toEqual(['widgets', 'seed', 'colour', 'code']);
    expect(db.prepare('SELECT id FROM widgets ORDER BY id').pluck().all()).toEqual(['by-code', 'seed']);
    const failing: VersionedSchema = { name: 'widgets', steps: [...schema.steps, { version: 5, name: 'fail', up: () => undefined }] };
    await expect(migrateAsync(failing, asyncExecutor(db, apply))).rejects.toMatchObject({ code: 'SG_ERR_MIGRATION', message: 'widgets v5 (fail): boom' });
    expect(recorded(db)).toHaveLength(4);
    await expect(migrateAsync(widgets, asyncExecutor(db, apply))).rejects.toMatchObject({ code: 'SG_ERR_MIGRATION_NEWER' });
    // Without apply, SQL steps are executed by the executor itself.
    expect(await migrateAsync({ name: 'plain', steps: [{ version: 1, name: 't', sql: 'CREATE TABLE t (x)' }] }, asyncExecutor(db))).toEqual({ adopted: [], applied: [1] });
    await expect(migrateAsync({ name: 'code', steps: [{ version: 1, name: 'c', up: () => undefined }] }, asyncExecutor(db))).rejects.toThrow(/needs an executor with apply/);
  });

  it('numbers ? placeholders for PostgreSQL', () => {
    expect(numbered('INSERT INTO db_migrations VALUES (?, ?, ?, ?)')).toBe('INSERT INTO db_migrations VALUES ($1, $2, $3, $4)');
    expect(numbered('SELECT 1')).toBe('SELECT 1');
  });
});
