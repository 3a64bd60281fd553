import Database from 'better-sqlite3';

/** A versioned schema change. Append only: a released migration never changes. */
export interface SqliteMigration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Open one of the cloud's SQLite files (ledger, alerts, auth) the same way: WAL with
 * `synchronous=FULL` (what is acked or queued survives a power cut; WAL's default NORMAL does not),
 * a busy timeout for a second process on the same file (`stockgate admin init` beside a running
 * cloud), and the pending migrations run in one IMMEDIATE transaction so two processes starting at
 * once migrate once.
 */
export function openSqlite(path: string, migrations: readonly SqliteMigration[]): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  db.transaction(() => {
    const done = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }
  }).immediate();
  return db;
}
