import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Db, DbModule } from './db.js';
import { adoptLegacyLedger, importSqliteFile, importSqliteIntoPostgres, LEGACY_FILES, LEGACY_LEDGER, type UpgradeReport } from './legacy.js';
import { PostgresDatabase } from './postgres.js';
import { SqliteDatabase } from './sqlite.js';

/** The one SQLite file of a data dir (everything: ledger, credentials, alerts, later modules). */
export const DB_FILE = 'stockgate.db';
export function dbPath(dataDir: string): string {
  return join(dataDir, DB_FILE);
}

export interface OpenDatabaseOptions {
  /** The data dir: holds the SQLite file, and is where 0.1's files are looked for to upgrade. */
  dataDir: string;
  /** `postgres://...`: one PostgreSQL schema instead of the SQLite file (`--store`). */
  store?: string;
  /** PostgreSQL schema (tests); default the URL's search_path. */
  schema?: string;
  /** PostgreSQL pool size. */
  maxConnections?: number;
  /** Every module whose tables the process uses (`cloud/modules.ts`), migrated in this order. */
  modules: readonly DbModule[];
  /** Told what an upgrade did (one call per step) and what it could not copy. */
  log?: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
}

/**
 * Open the cloud's one database, the one way in: the SQLite file `stockgate.db` in the data dir,
 * or the PostgreSQL schema of `store`; upgrade a 0.1 data dir found there (`legacy.ts`); run every
 * module's pending migrations. Safe when several processes open it at once.
 */
export async function openDatabase(o: OpenDatabaseOptions): Promise<Db> {
  const report: UpgradeReport = { steps: [], skipped: [], warnings: [] };
  mkdirSync(o.dataDir, { recursive: true });
  const byName = new Map(o.modules.map((m) => [m.name, m]));
  let db: SqliteDatabase | PostgresDatabase;
  if (o.store) {
    db = await PostgresDatabase.open({ url: o.store, ...(o.schema ? { schema: o.schema } : {}), ...(o.maxConnections ? { maxConnections: o.maxConnections } : {}) });
    try {
      for (const m of o.modules) await db.migrate(m);
      if (byName.has('auth')) await importSqliteIntoPostgres(db, join(o.dataDir, 'auth.db'), report);
      // A SQLite deployment moved to PostgreSQL: its ledger and alerts are not copied (the ledger's
      // positions and hash chain belong to the schema); say so instead of ignoring them silently.
      for (const f of [LEGACY_LEDGER, 'alerts.db', DB_FILE]) {
        if (existsSync(join(o.dataDir, f))) report.warnings.push(`${join(o.dataDir, f)} is a SQLite database and --store is PostgreSQL: it was not imported`);
      }
    } catch (err) {
      await db.close();
      throw err;
    }
  } else {
    const path = dbPath(o.dataDir);
    adoptLegacyLedger(o.dataDir, path, report);
    db = new SqliteDatabase(path);
    try {
      // It holds credential hashes (auth.db was 0600 in 0.1).
      try {
        chmodSync(path, 0o600);
      } catch {
        /* not the owner: leave the mode as it is */
      }
      for (const l of LEGACY_FILES) {
        const m = byName.get(l.module);
        if (m) importSqliteFile(db, join(o.dataDir, l.file), m, report);
      }
      for (const m of o.modules) await db.migrate(m);
    } catch (err) {
      await db.close();
      throw err;
    }
  }
  for (const s of report.steps) o.log?.info({ database: db.describe }, `upgrade: ${s}`);
  for (const w of report.warnings) o.log?.warn({ database: db.describe }, `upgrade: ${w}`);
  for (const s of report.skipped) o.log?.warn({ ...s }, `upgrade: ${s.rows} row(s) of ${s.table} in ${s.file} were already in the database (same id or username) and were not copied`);
  return db;
}
