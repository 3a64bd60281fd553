import { DbError, type Dialect, type DbModule, type Migration } from './db.js';

/** Records which migrations ran: one row per (module, version). Same shape on both dialects. */
export const DB_MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS db_migrations (
  module TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY (module, version)
)`;

const MODULE_RE = /^[a-z][a-z0-9_-]{0,63}$/;
const TABLE_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A module's migration list for a dialect, checked: a plain module name, versions positive and
 * strictly ascending, each with `sql` or `up`. A bad list is a programming error and stops the
 * start with the module and version named.
 */
export function migrationsOf(module: DbModule, dialect: Dialect): readonly Migration[] {
  if (!MODULE_RE.test(module.name)) throw new DbError('SG_ERR_DB_MIGRATION', `module name '${module.name}': expected [a-z][a-z0-9_-]*`);
  const list = module.migrations[dialect];
  let last = 0;
  for (const m of list) {
    if (!Number.isInteger(m.version) || m.version <= last) {
      throw new DbError('SG_ERR_DB_MIGRATION', `${module.name} (${dialect}): version ${m.version} after ${last}: versions must be integers, strictly ascending`);
    }
    if ((m.sql === undefined) === (m.up === undefined)) throw new DbError('SG_ERR_DB_MIGRATION', `${module.name} v${m.version} (${dialect}): give exactly one of sql and up`);
    last = m.version;
  }
  const legacy = module.legacyTable?.[dialect];
  if (legacy !== undefined && !TABLE_RE.test(legacy)) throw new DbError('SG_ERR_DB_MIGRATION', `${module.name}: legacyTable '${legacy}' is not a plain table name`);
  return list;
}

export const nowIso = () => new Date().toISOString();
