import Database from 'better-sqlite3';
import { migrate, MigrationError, type MigrationReport, type MigrationStep, type VersionedSchema } from '../protocols/migrations/versioned.js';

/** A step of an edge file: SQL, or code on the better-sqlite3 handle (inside the step's transaction). */
export interface EdgeMigration extends MigrationStep {
  up?: (db: Database.Database) => void;
}

export type EdgeSchema = VersionedSchema<EdgeMigration>;

/**
 * Open one of the edge's SQLite files (`outbox.db`, `state.db`) and bring it to the schema's
 * latest version through the runner the cloud uses too (protocols/migrations/versioned.ts, issue
 * 15 §5): the `db_migrations` table in the file, each step in an IMMEDIATE transaction with its
 * row, a file of a newer release refused (`SG_ERR_MIGRATION_NEWER`, naming the file) before
 * anything changes.
 *
 * WAL with `synchronous=FULL`: what the edge commits (an outbox append, a remote config, an open
 * count) survives SIGKILL and power loss (WAL's default NORMAL does not survive power loss;
 * better-sqlite3 docs/performance.md).
 */
export function openEdgeDb(path: string, schema: EdgeSchema): { db: Database.Database; report: MigrationReport } {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const report = migrate(schema, {
      exec: (sql, params) => void (params?.length ? db.prepare(sql).run(...params) : db.exec(sql)),
      all: (sql, params) => db.prepare(sql).all(...(params ?? [])) as Array<Record<string, unknown>>,
      transaction: (fn) => db.transaction(fn).immediate(),
      apply: (step) => (step.up ? step.up(db) : db.exec(step.sql!)),
    });
    return { db, report };
  } catch (err) {
    db.close();
    throw err instanceof MigrationError ? new MigrationError(err.code, `${path}: ${err.message}`) : err;
  }
}
