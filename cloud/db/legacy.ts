import { existsSync, linkSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { DbError, type DbModule } from './db.js';
import { migrationsOf, nowIso } from './migrations.js';
import type { PostgresDatabase } from './postgres.js';
import type { SqliteDatabase } from './sqlite.js';

/**
 * Upgrade of a data dir written by stockgate 0.1, which kept three SQLite files: `ledger.db`
 * (ledger, balances, ...), `alerts.db` and `auth.db` (mode 0600). Since 0.2 everything lives in
 * one database. Nothing is lost and nothing is deleted:
 *
 * - `ledger.db` becomes the one file `stockgate.db` (a rename, after its WAL is folded in); its
 *   `schema_migrations` become the `ledger` module's versions.
 * - `alerts.db` and `auth.db` are copied table by table into the one database (SQLite) in one
 *   transaction with their modules' versions, then renamed `*.imported-0.1` (a backup to delete
 *   once the upgrade is checked).
 * - On PostgreSQL (`--store`), the ledger and alerts were already in the schema; only `auth.db`
 *   of the data dir is copied in (rows already there are kept: a token id or MQTT username present
 *   in the schema wins, and the conflict is reported).
 *
 * Every step is idempotent and safe when two processes start on the same data dir at once.
 */

/** The legacy files imported by table copy, and the module that owns their tables. */
export const LEGACY_FILES = [
  { file: 'auth.db', module: 'auth' },
  { file: 'alerts.db', module: 'alerts' },
] as const;
export const LEGACY_LEDGER = 'ledger.db';
export const IMPORTED_SUFFIX = '.imported-0.1';

export interface UpgradeReport {
  /** What was done, one line each, for the log. */
  steps: string[];
  /** Rows not copied because the target already had them (PostgreSQL: an id or username in use). */
  skipped: Array<{ file: string; table: string; rows: number }>;
  /** Legacy files left alone, and why. */
  warnings: string[];
}

const isCode = (err: unknown, code: string) => (err as { code?: string }).code === code;

/**
 * Fold a legacy file's WAL into it and leave it in rollback-journal mode, so it is one
 * self-contained file (to copy, rename, keep). Refuses when another process has it open: a cloud
 * of the previous release must be stopped before the upgrade.
 */
function settle(path: string): boolean {
  let db: BetterSqlite3.Database;
  try {
    db = new BetterSqlite3(path, { fileMustExist: true });
  } catch (err) {
    if (!existsSync(path)) return false; // another process moved it first
    throw err;
  }
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('journal_mode = DELETE');
  } catch (err) {
    throw new DbError('SG_ERR_DB_UPGRADE', `${path}: cannot take it over (${(err as Error).message}): stop the stockgate 0.1 process that has it open, then start again`);
  } finally {
    db.close();
  }
  return true;
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (!isCode(err, 'ENOENT')) throw err;
  }
}

/** `ledger.db` -> `stockgate.db` (link + unlink: never replaces a `stockgate.db` another process made). */
export function adoptLegacyLedger(dataDir: string, target: string, report: UpgradeReport): void {
  const old = join(dataDir, LEGACY_LEDGER);
  if (!existsSync(old)) return;
  if (existsSync(target)) {
    // A crash between link and unlink leaves both names on one file: finish the job.
    if (statSync(old).ino === statSync(target).ino) unlinkQuiet(old);
    return;
  }
  if (!settle(old)) return;
  try {
    linkSync(old, target);
  } catch (err) {
    if (isCode(err, 'EEXIST') || isCode(err, 'ENOENT')) return; // another process did it
    throw err;
  }
  unlinkQuiet(old);
  unlinkQuiet(`${old}-wal`);
  unlinkQuiet(`${old}-shm`);
  report.steps.push(`${LEGACY_LEDGER} is now ${target}`);
}

function keepAsBackup(path: string, report: UpgradeReport): void {
  let to = `${path}${IMPORTED_SUFFIX}`;
  if (existsSync(to)) to = `${to}-${Date.now()}`;
  try {
    renameSync(path, to);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return;
    throw err;
  }
  unlinkQuiet(`${path}-wal`);
  unlinkQuiet(`${path}-shm`);
  report.steps.push(`${path} kept as ${to}`);
}

interface LegacyVersion {
  version: number;
  name: string;
  applied_at: string;
}

/**
 * Copy a legacy SQLite file into the one SQLite database: in one IMMEDIATE transaction, run the
 * module's migrations the file had (so the tables have the file's shape), copy every table by
 * column name, carry AUTOINCREMENT counters, record the versions with their original dates. A
 * module that already has versions in the database was imported (or created) before: skipped.
 */
export function importSqliteFile(db: SqliteDatabase, path: string, module: DbModule, report: UpgradeReport): void {
  if (!existsSync(path) || !settle(path)) return;
  const h = db.handle;
  h.prepare('ATTACH DATABASE ? AS legacy').run(path);
  let imported = false;
  try {
    h.transaction(() => {
      if (h.prepare('SELECT 1 FROM db_migrations WHERE module = ?').get(module.name)) return;
      const hasTable = (name: string) => !!h.prepare("SELECT 1 FROM legacy.sqlite_master WHERE type = 'table' AND name = ?").get(name);
      // 0.1 recorded versions in schema_migrations; a file a 0.2 store opened on its own, in db_migrations.
      const versions = hasTable('schema_migrations')
        ? (h.prepare('SELECT version, name, applied_at FROM legacy.schema_migrations ORDER BY version').all() as LegacyVersion[])
        : hasTable('db_migrations')
          ? (h.prepare('SELECT version, name, applied_at FROM legacy.db_migrations WHERE module = ? ORDER BY version').all(module.name) as LegacyVersion[])
          : [];
      const list = migrationsOf(module, 'sqlite');
      for (const v of versions) {
        const m = list.find((x) => x.version === v.version);
        if (!m || m.sql === undefined) throw new DbError('SG_ERR_DB_UPGRADE', `${path}: ${module.name} version ${v.version} (${v.name}) is unknown to this release: it was written by a newer stockgate`);
        h.exec(m.sql);
        h.prepare('INSERT INTO db_migrations (module, version, name, applied_at) VALUES (?, ?, ?, ?)').run(module.name, v.version, v.name, v.applied_at ?? nowIso());
      }
      const tables = h
        .prepare("SELECT name FROM legacy.sqlite_master WHERE type = 'table' AND name NOT IN ('schema_migrations', 'db_migrations') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .pluck()
        .all() as string[];
      const counts: string[] = [];
      for (const t of tables) {
        if (!h.prepare("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?").get(t)) {
          throw new DbError('SG_ERR_DB_UPGRADE', `${path}: table ${t} has no counterpart in the ${module.name} module's schema`);
        }
        const cols = (h.prepare("SELECT name FROM pragma_table_info(?, 'legacy')").pluck().all(t) as string[]).map((c) => `"${c.replace(/"/g, '""')}"`).join(', ');
        const n = h.prepare(`INSERT INTO main."${t}" (${cols}) SELECT ${cols} FROM legacy."${t}"`).run().changes;
        counts.push(`${t} ${n}`);
      }
      if (hasTable('sqlite_sequence')) {
        for (const s of h.prepare('SELECT name, seq FROM legacy.sqlite_sequence').all() as Array<{ name: string; seq: number }>) {
          const cur = h.prepare('SELECT seq FROM main.sqlite_sequence WHERE name = ?').pluck().get(s.name) as number | undefined;
          if (cur === undefined) h.prepare('INSERT INTO main.sqlite_sequence (name, seq) VALUES (?, ?)').run(s.name, s.seq);
          else if (cur < s.seq) h.prepare('UPDATE main.sqlite_sequence SET seq = ? WHERE name = ?').run(s.seq, s.name);
        }
      }
      report.steps.push(`imported ${path} into the ${module.name} module (${counts.join(', ') || 'no tables'})`);
      imported = true;
    }).immediate();
  } finally {
    h.exec('DETACH DATABASE legacy');
  }
  // Keep the imported file aside, so it is never imported twice nor mistaken for the live one.
  // A file found when the module already had its tables is left where it is (and reported):
  // copying it over live rows could resurrect revoked tokens; the operator decides.
  if (imported) keepAsBackup(path, report);
  else report.warnings.push(`${path} was not imported: the database already has the ${module.name} module's tables (imported before, or created new); remove or rename the file once you have checked it`);
}

/**
 * Copy `auth.db`'s tables into the PostgreSQL schema (after the auth module's migrations ran
 * there): rows by column name through `json_populate_recordset`, `ON CONFLICT DO NOTHING`. Each
 * data dir of a scale-out deployment had its own `auth.db`; importing all of them gives the union.
 */
export async function importSqliteIntoPostgres(db: PostgresDatabase, path: string, report: UpgradeReport): Promise<void> {
  if (!existsSync(path) || !settle(path)) return;
  const src = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  const c = await db.pool.connect();
  try {
    const tables = src.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('schema_migrations', 'db_migrations') AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
    await c.query('BEGIN');
    const counts: string[] = [];
    for (const t of tables) {
      const rows = src.prepare(`SELECT * FROM "${t}"`).all();
      if (rows.length === 0) continue;
      if ((await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [t])).rows[0]!.t === null) {
        throw new DbError('SG_ERR_DB_UPGRADE', `${path}: table ${t} has no counterpart in the PostgreSQL schema`);
      }
      const r = await c.query(`INSERT INTO "${t}" SELECT * FROM json_populate_recordset(NULL::"${t}", $1::json) ON CONFLICT DO NOTHING`, [JSON.stringify(rows)]);
      counts.push(`${t} ${r.rowCount ?? 0}/${rows.length}`);
      const skipped = rows.length - (r.rowCount ?? 0);
      if (skipped > 0) report.skipped.push({ file: path, table: t, rows: skipped });
    }
    await c.query('COMMIT');
    report.steps.push(`imported ${path} into ${db.describe} (${counts.join(', ') || 'no rows'})`);
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
    src.close();
  }
  keepAsBackup(path, report);
}
