import type Database from 'better-sqlite3';
import { openEdgeDb, type EdgeSchema } from './edge-db.js';

/** The tables of `state.db` as stockgate 0.2 made them (without a version table). */
const LAYOUT_0_2 = `
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
`;

/**
 * `state.db`'s versioned schema (issue 15 §5), append-only: a new table or column is a new step.
 *
 * Version 1 is the layout of stockgate 0.2. A 0.2 file (no version table) is recognised by its
 * tables (`baseline`) and recorded as version 1 without touching a row. A file older than that is
 * brought to it by step 1 itself: it creates what is missing, and rebuilds `items` when its CHECK
 * predates the cloud item master feed (issue 9: only remote/local; SQLite cannot alter a CHECK),
 * keeping every row.
 */
export const STATE_SCHEMA: EdgeSchema = {
  name: 'state',
  steps: [
    {
      version: 1,
      name: 'items, identities, remote config, state meta, count tally (stockgate 0.2)',
      up: (db) => {
        db.exec(LAYOUT_0_2);
        const itemsSql = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'items'`).pluck().get() as string;
        if (itemsSql.includes("'master'")) return;
        db.exec(`
          ALTER TABLE items RENAME TO items_before_master;
          DROP INDEX IF EXISTS items_gtin;
          ${itemsSql.replace("CHECK (source IN ('remote', 'local'))", "CHECK (source IN ('remote', 'local', 'master'))")};
          INSERT INTO items SELECT * FROM items_before_master;
          DROP TABLE items_before_master;
          CREATE INDEX items_gtin ON items (gtin) WHERE gtin IS NOT NULL;
        `);
      },
    },
  ],
  baseline: {
    probe: `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items' AND sql LIKE '%''master''%'
      AND (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('identities', 'remote_config', 'state_meta', 'count_tally')) = 4`,
    versions: [1],
  },
};

/**
 * The edge's local state beside the outbox (`<dataDir>/state.db`): the item cache
 * (`item-cache.ts`), the serialised-identity table (`identities.ts`), the last good remote
 * config (`remote-config.ts`) and open counts (`tally-store.ts`). A separate file from `outbox.db`
 * so the outbox stays a plain append/delete log and its size bound counts movements only.
 *
 * WAL with `synchronous=FULL`, like the outbox: a remote config or identity written here must
 * survive SIGKILL as the outbox does. Migrated by `STATE_SCHEMA` (edge-db.ts).
 */
export function openStateDb(path: string): Database.Database {
  return openEdgeDb(path, STATE_SCHEMA).db;
}
