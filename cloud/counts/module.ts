import type { DbModule, Migration } from '../db/index.js';

/**
 * The counts part of the one database (issue 11 §4): count sessions with the system quantity
 * snapshotted at open (and the ledger position it reflects), the count entries (REST or edge
 * `MODE:COUNT` scans, each with the ledger position it was counted at), and the lines computed
 * at submit (snapshot, movements in between, counted, variance, value). Quantities in integer
 * thousandths of the base unit, money in fen.
 */
const tables = (big: string, serial: string): string => `
  CREATE TABLE count_sessions (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    location TEXT,
    skus TEXT,
    status TEXT NOT NULL,
    snapshot_at TEXT NOT NULL,
    snapshot_pos ${big} NOT NULL,
    opened_by TEXT NOT NULL,
    value ${big},
    submitted_at TEXT,
    posted_at TEXT,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX count_sessions_open ON count_sessions (site, status);
  CREATE TABLE count_snapshot (
    session_id TEXT NOT NULL,
    location TEXT NOT NULL,
    sku TEXT NOT NULL,
    batch TEXT NOT NULL,
    uom TEXT NOT NULL,
    qty ${big} NOT NULL,
    PRIMARY KEY (session_id, location, sku, batch)
  );
  CREATE TABLE count_entries (
    id ${serial},
    session_id TEXT NOT NULL,
    location TEXT NOT NULL,
    sku TEXT NOT NULL,
    batch TEXT NOT NULL,
    qty ${big} NOT NULL,
    counted_at TEXT NOT NULL,
    counted_pos ${big} NOT NULL,
    source TEXT NOT NULL,
    movement_id TEXT,
    by_user TEXT NOT NULL
  );
  CREATE INDEX count_entries_session ON count_entries (session_id, id);
  CREATE TABLE count_lines (
    session_id TEXT NOT NULL,
    location TEXT NOT NULL,
    sku TEXT NOT NULL,
    batch TEXT NOT NULL,
    uom TEXT NOT NULL,
    snapshot ${big} NOT NULL,
    moved ${big} NOT NULL,
    counted ${big} NOT NULL,
    variance ${big} NOT NULL,
    booked ${big} NOT NULL,
    average_cost TEXT,
    value ${big} NOT NULL,
    PRIMARY KEY (session_id, location, sku, batch)
  );
`;

const sqlite: Migration[] = [{ version: 1, name: 'count sessions, snapshots, entries, lines', sql: tables('INTEGER', 'INTEGER PRIMARY KEY AUTOINCREMENT') }];
const postgres: Migration[] = [{ version: 1, name: 'count sessions, snapshots, entries, lines', sql: tables('BIGINT', 'BIGSERIAL PRIMARY KEY') }];

export const countsModule: DbModule = { name: 'counts', migrations: { sqlite, postgres } };
