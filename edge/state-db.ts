import Database from 'better-sqlite3';

/**
 * The edge's local state beside the outbox (`<dataDir>/state.db`): the item cache
 * (`item-cache.ts`), the serialised-identity table (`identities.ts`), the last good remote
 * config (`remote-config.ts`) and open counts (`tally-store.ts`). A separate file from `outbox.db` so the outbox stays a plain
 * append/delete log and its size bound counts movements only.
 *
 * WAL with `synchronous=FULL`, like the outbox: a remote config or identity written here must
 * survive SIGKILL as the outbox does.
 */
export function openStateDb(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS items (
      sku TEXT NOT NULL,
      source TEXT NOT NULL CHECK (source IN ('remote', 'local', 'master')),
      gtin TEXT,
      uom TEXT,
      unit_weight_kg REAL,
      serialised INTEGER NOT NULL DEFAULT 0,
      description TEXT,
      PRIMARY KEY (sku, source)
    );
    CREATE INDEX IF NOT EXISTS items_gtin ON items (gtin) WHERE gtin IS NOT NULL;
    CREATE TABLE IF NOT EXISTS identities (
      identity TEXT PRIMARY KEY,
      in_stock INTEGER NOT NULL,
      location TEXT NOT NULL,
      movement_id TEXT NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS remote_config (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      version INTEGER NOT NULL,
      json TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS state_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS count_tally (
      session TEXT NOT NULL,
      key TEXT NOT NULL,
      json TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (session, key)
    );
  `);
  // state.db files made before the cloud item master feed (issue 9) allow only remote/local items:
  // rebuild the table with the wider CHECK (SQLite cannot alter a CHECK), keeping every row.
  const itemsSql = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'items'`).pluck().get() as string;
  if (!itemsSql.includes("'master'")) {
    db.transaction(() => {
      db.exec(`
        ALTER TABLE items RENAME TO items_before_master;
        DROP INDEX IF EXISTS items_gtin;
        ${itemsSql.replace("CHECK (source IN ('remote', 'local'))", "CHECK (source IN ('remote', 'local', 'master'))")};
        INSERT INTO items SELECT * FROM items_before_master;
        DROP TABLE items_before_master;
        CREATE INDEX items_gtin ON items (gtin) WHERE gtin IS NOT NULL;
      `);
    })();
  }
  return db;
}
