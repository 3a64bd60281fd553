import type { SqliteMigration } from '../sqlite-db.js';

/**
 * Versioned schema migrations of the SQLite store. Append only: a released migration never
 * changes; `schema_migrations` records which ran.
 */
export const sqliteMigrations: SqliteMigration[] = [
  {
    version: 1,
    name: 'ledger, balances, dead letters',
    sql: `
      CREATE TABLE ledger (
        pos INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        edge TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts TEXT NOT NULL,
        site TEXT NOT NULL,
        location TEXT NOT NULL,
        to_location TEXT,
        kind TEXT NOT NULL,
        sku TEXT NOT NULL,
        gtin TEXT,
        epc TEXT,
        batch TEXT NOT NULL DEFAULT '',
        expiry TEXT,
        serial TEXT,
        qty REAL NOT NULL,
        uom TEXT NOT NULL,
        project TEXT NOT NULL DEFAULT '',
        stage TEXT,
        operator TEXT,
        crew TEXT,
        device_id TEXT NOT NULL,
        device_type TEXT NOT NULL,
        raw TEXT NOT NULL,
        variance REAL,
        applied_at TEXT NOT NULL
      );
      -- Not unique: the idempotency key is the movement id. A seq reused by an edge whose outbox
      -- was wiped must not make a new movement look like a duplicate.
      CREATE INDEX ledger_edge_seq ON ledger (site, edge, seq);
      CREATE INDEX ledger_site_pos ON ledger (site, pos);
      CREATE TABLE balances (
        site TEXT NOT NULL,
        location TEXT NOT NULL,
        sku TEXT NOT NULL,
        batch TEXT NOT NULL,
        project TEXT NOT NULL,
        on_hand REAL NOT NULL,
        uom TEXT NOT NULL,
        expiry TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (site, location, sku, batch, project)
      ) WITHOUT ROWID;
      CREATE INDEX balances_site_sku ON balances (site, sku);
      CREATE INDEX balances_sku ON balances (sku);
      CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at TEXT NOT NULL,
        topic TEXT NOT NULL,
        site TEXT,
        edge TEXT,
        reason TEXT NOT NULL,
        message TEXT NOT NULL,
        payload TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'ledger status, exceptions, serialised identities, per-edge seq tracking',
    sql: `
      ALTER TABLE ledger ADD COLUMN status TEXT NOT NULL DEFAULT 'applied';
      CREATE TABLE exceptions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        site TEXT NOT NULL,
        movement_id TEXT NOT NULL,
        sku TEXT NOT NULL,
        location TEXT NOT NULL,
        batch TEXT NOT NULL,
        project TEXT NOT NULL,
        identity TEXT,
        on_hand REAL,
        message TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open',
        raised_at TEXT NOT NULL,
        resolved_at TEXT,
        resolved_by TEXT,
        resolution TEXT
      );
      CREATE INDEX exceptions_site_state ON exceptions (site, state, id);
      CREATE TABLE identities (
        site TEXT NOT NULL,
        identity TEXT NOT NULL,
        sku TEXT NOT NULL,
        in_stock INTEGER NOT NULL,
        location TEXT NOT NULL,
        last_movement_id TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (site, identity)
      ) WITHOUT ROWID;
      CREATE TABLE edge_seqs (
        site TEXT NOT NULL,
        edge TEXT NOT NULL,
        hwm INTEGER NOT NULL,
        max_seq INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (site, edge)
      ) WITHOUT ROWID;
    `,
  },
];
