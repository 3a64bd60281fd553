import { checkSchema, MigrationError, VERSION_TABLE_DDL, type VersionedSchema } from '../../protocols/migrations/versioned.js';
import { DbError, type Dialect, type DbModule, type Migration } from './db.js';

/**
 * Records which migrations ran: one row per (module, version). Same shape on both dialects, and
 * the same table the edge's SQLite files keep: the runner is `protocols/migrations/versioned.ts`
 * (issue 15 §5), shared by edge and cloud; this file adapts a `DbModule` to it.
 */
export const DB_MIGRATIONS_DDL = VERSION_TABLE_DDL;

const TABLE_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** The runner's errors as the cloud's (`SG_ERR_DB_MIGRATION`: a bad list, a failed step, a newer database). */
export function asDbError(err: unknown): unknown {
  return err instanceof MigrationError ? new DbError('SG_ERR_DB_MIGRATION', err.message) : err;
}

/**
 * A module's migration list for a dialect, checked: a plain module name, versions positive and
 * strictly ascending, each with `sql` or `up`. A bad list is a programming error and stops the
 * start with the module and version named.
 */
export function migrationsOf(module: DbModule, dialect: Dialect): readonly Migration[] {
  const legacy = module.legacyTable?.[dialect];
  if (legacy !== undefined && !TABLE_RE.test(legacy)) throw new DbError('SG_ERR_DB_MIGRATION', `${module.name}: legacyTable '${legacy}' is not a plain table name`);
  try {
    return checkSchema({ name: module.name, steps: module.migrations[dialect] });
  } catch (err) {
    throw asDbError(err);
  }
}

/**
 * A module as the runner's versioned schema. Its baseline is the record table stockgate 0.1 kept
 * for it (`legacyTable`): read once, when the module has no row in `db_migrations` yet.
 */
export function schemaOf(module: DbModule, dialect: Dialect): VersionedSchema<Migration> {
  const steps = migrationsOf(module, dialect);
  const legacy = module.legacyTable?.[dialect];
  if (legacy === undefined) return { name: module.name, steps };
  return {
    name: module.name,
    steps,
    baseline:
      dialect === 'sqlite'
        ? { probe: `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '${legacy}'`, versions: `SELECT version, name, applied_at FROM "${legacy}" ORDER BY version` }
        : { probe: `SELECT 1 WHERE to_regclass('${legacy}') IS NOT NULL`, versions: `SELECT version, name, applied_at::text AS applied_at FROM "${legacy}" ORDER BY version` },
  };
}

export const nowIso = () => new Date().toISOString();
