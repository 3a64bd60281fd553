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
  {
    version: 3,
    name: 'exact quantities (integer thousandths), append-only hash-chained ledger, item master, unknown items, chain heads',
    // Issue 9. Quantities become INTEGER thousandths of the unit (REAL drifted below 1e-6); the
    // ledger is rebuilt with the columns a row needs at insert (it is never updated again):
    // base_qty/base_uom (what was booked, in the item's base unit), rounding (of a unit
    // conversion), ts_ms (counts compare movement times), posted_token/posted_user (REST),
    // chain_n/hash (the per-site hash chain, cloud/ledger/chain.ts; rows from before get theirs
    // when the store opens). Existing SKUs keep their uom as provisional base unit (unknown_items),
    // so the first movement after the upgrade cannot start a balance in another unit.
    sql: `
      CREATE TABLE ledger_v3 (
        pos INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        edge TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
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
        qty INTEGER NOT NULL,
        uom TEXT NOT NULL,
        base_qty INTEGER,
        base_uom TEXT,
        rounding TEXT,
        project TEXT NOT NULL DEFAULT '',
        stage TEXT,
        operator TEXT,
        crew TEXT,
        device_id TEXT NOT NULL,
        device_type TEXT NOT NULL,
        raw TEXT NOT NULL,
        status TEXT NOT NULL,
        variance INTEGER,
        posted_token TEXT,
        posted_user TEXT,
        applied_at TEXT NOT NULL,
        chain_n INTEGER,
        hash TEXT
      );
      INSERT INTO ledger_v3 (pos, id, edge, seq, ts, ts_ms, site, location, to_location, kind, sku, gtin, epc, batch, expiry, serial,
          qty, uom, base_qty, base_uom, project, stage, operator, crew, device_id, device_type, raw, status, variance, applied_at)
        SELECT pos, id, edge, seq, ts, CAST(ROUND((julianday(ts) - 2440587.5) * 86400000) AS INTEGER), site, location, to_location, kind, sku,
          gtin, epc, batch, expiry, serial, CAST(ROUND(qty * 1000) AS INTEGER), uom,
          CASE WHEN status = 'applied' THEN CAST(ROUND(qty * 1000) AS INTEGER) END, CASE WHEN status = 'applied' THEN uom END,
          project, stage, operator, crew, device_id, device_type, raw, status, CAST(ROUND(variance * 1000) AS INTEGER), applied_at
        FROM ledger ORDER BY pos;
      DROP TABLE ledger;
      ALTER TABLE ledger_v3 RENAME TO ledger;
      CREATE INDEX ledger_edge_seq ON ledger (site, edge, seq);
      CREATE INDEX ledger_site_pos ON ledger (site, pos);
      CREATE UNIQUE INDEX ledger_site_chain ON ledger (site, chain_n);
      -- Counts look up the rows of a SKU stamped after them.
      CREATE INDEX ledger_site_sku_ts ON ledger (site, sku, ts_ms);

      CREATE TABLE balances_v3 (
        site TEXT NOT NULL,
        location TEXT NOT NULL,
        sku TEXT NOT NULL,
        batch TEXT NOT NULL,
        project TEXT NOT NULL,
        on_hand INTEGER NOT NULL,
        uom TEXT NOT NULL,
        expiry TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (site, location, sku, batch, project)
      ) WITHOUT ROWID;
      INSERT INTO balances_v3 SELECT site, location, sku, batch, project, CAST(ROUND(on_hand * 1000) AS INTEGER), uom, expiry, updated_at FROM balances;
      DROP TABLE balances;
      ALTER TABLE balances_v3 RENAME TO balances;
      CREATE INDEX balances_site_sku ON balances (site, sku);
      CREATE INDEX balances_sku ON balances (sku);

      UPDATE exceptions SET on_hand = CAST(ROUND(on_hand * 1000) AS INTEGER) WHERE on_hand IS NOT NULL;

      CREATE TABLE items (
        sku TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        uom TEXT NOT NULL,
        gtins TEXT NOT NULL DEFAULT '[]',
        conversions TEXT NOT NULL DEFAULT '[]',
        unit_weight_kg TEXT,
        tracking TEXT NOT NULL DEFAULT 'none',
        shelf_life_days INTEGER,
        standard_cost TEXT,
        epcs TEXT NOT NULL DEFAULT '[]',
        updated_at TEXT NOT NULL
      ) WITHOUT ROWID;
      -- GTINs ('gtin:<14 digits>') and EPCs ('epc:<hex>') of the item master, each naming one SKU.
      CREATE TABLE item_codes (code TEXT PRIMARY KEY, sku TEXT NOT NULL) WITHOUT ROWID;
      CREATE INDEX item_codes_sku ON item_codes (sku);
      CREATE TABLE unknown_items (
        sku TEXT PRIMARY KEY,
        uom TEXT NOT NULL,
        site TEXT NOT NULL,
        movement_id TEXT NOT NULL,
        first_seen TEXT NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO unknown_items SELECT sku, MIN(uom), MIN(site), '', MIN(updated_at) FROM balances GROUP BY sku;
      CREATE TABLE chain_heads (
        site TEXT PRIMARY KEY,
        n INTEGER NOT NULL,
        hash TEXT NOT NULL,
        pos INTEGER NOT NULL,
        id TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    // Issue 8, findings 1 and 5: a dead letter keeps a bounded prefix of the bytes received plus
    // their SHA-256 and size; per-site pruning (oldest first) reads them by (site, id).
    name: 'dead letters: sha256 and size of the bytes received, per-site index',
    sql: `
      ALTER TABLE dead_letters ADD COLUMN sha256 TEXT;
      ALTER TABLE dead_letters ADD COLUMN bytes INTEGER;
      CREATE INDEX dead_letters_site ON dead_letters (site, id);
    `,
  },
  {
    version: 5,
    // Issue 10 §3 / issue 11 §1: the business documents a movement names (optional wire fields
    // po, req, order), kept on the row for the ledger follower's consumers (receipt -> PO line,
    // requisition and sales-order reservations). `order` is an SQL keyword: the column is sales_order.
    name: 'ledger: document refs po, req, sales_order',
    sql: `
      ALTER TABLE ledger ADD COLUMN po TEXT;
      ALTER TABLE ledger ADD COLUMN req TEXT;
      ALTER TABLE ledger ADD COLUMN sales_order TEXT;
    `,
  },
  {
    version: 6,
    // Issue 9 bench: the (site, sku, ts_ms) index cost about a third of the ingest throughput
    // (every row lands at a random place of it, so each group commit writes many more WAL pages).
    // Counts find the rows stamped after them through (site, ts_ms) instead: rows arrive roughly
    // in time order, so its inserts append; a count scans its site's rows newer than its ts.
    name: 'ledger: late-count lookups by (site, ts_ms), not per SKU',
    sql: `
      DROP INDEX IF EXISTS ledger_site_sku_ts;
      CREATE INDEX ledger_site_ts ON ledger (site, ts_ms);
    `,
  },
  {
    version: 7,
    // Issue 9 bench (commit CPU per row): one ledger writer per SQLite file, which numbers a
    // site's rows from the head it reads inside its own transaction (SqliteStore.head), so the
    // UNIQUE (site, chain_n) index only cost an index insert per row. Chain order is pos order
    // (verifyChain reads it through ledger_site_pos); a number out of place is reported by the
    // verifier like a wrong hash. PostgreSQL keeps its index: several ingesters share a schema.
    name: 'ledger: no unique (site, chain_n) index',
    sql: `
      DROP INDEX IF EXISTS ledger_site_chain;
    `,
  },
  {
    version: 8,
    // Issue 9 bench (commit CPU per row): AUTOINCREMENT wrote the ledger's sqlite_sequence row
    // on every insert. Without it SQLite gives highest pos + 1; the ledger never deletes, and the
    // store places a row after the highest pos its chain heads recorded should the last row be
    // removed (SqliteStore.commitSync), so a pos is still never given twice. Same columns in the
    // same order, same positions; a one-time copy of the table.
    name: 'ledger: pos without AUTOINCREMENT',
    sql: `
      CREATE TABLE ledger_v8 (
        pos INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        edge TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
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
        qty INTEGER NOT NULL,
        uom TEXT NOT NULL,
        base_qty INTEGER,
        base_uom TEXT,
        rounding TEXT,
        project TEXT NOT NULL DEFAULT '',
        stage TEXT,
        operator TEXT,
        crew TEXT,
        device_id TEXT NOT NULL,
        device_type TEXT NOT NULL,
        raw TEXT NOT NULL,
        status TEXT NOT NULL,
        variance INTEGER,
        posted_token TEXT,
        posted_user TEXT,
        applied_at TEXT NOT NULL,
        chain_n INTEGER,
        hash TEXT,
        po TEXT,
        req TEXT,
        sales_order TEXT
      );
      INSERT INTO ledger_v8 (pos, id, edge, seq, ts, ts_ms, site, location, to_location, kind, sku, gtin, epc, batch, expiry, serial,
          qty, uom, base_qty, base_uom, rounding, project, stage, operator, crew, device_id, device_type, raw, status, variance,
          posted_token, posted_user, applied_at, chain_n, hash, po, req, sales_order)
        SELECT pos, id, edge, seq, ts, ts_ms, site, location, to_location, kind, sku, gtin, epc, batch, expiry, serial,
          qty, uom, base_qty, base_uom, rounding, project, stage, operator, crew, device_id, device_type, raw, status, variance,
          posted_token, posted_user, applied_at, chain_n, hash, po, req, sales_order
        FROM ledger ORDER BY pos;
      DROP TABLE ledger;
      ALTER TABLE ledger_v8 RENAME TO ledger;
      CREATE INDEX ledger_edge_seq ON ledger (site, edge, seq);
      CREATE INDEX ledger_site_pos ON ledger (site, pos);
      CREATE INDEX ledger_site_ts ON ledger (site, ts_ms);
    `,
  },
  {
    version: 9,
    // Every group commit reads the highest pos the chain heads recorded (the never-reused pos of
    // migration 8): without an index a scan of all sites (~1.5 µs per 50 sites, 0.3 ms at 10,000);
    // with it one b-tree step. A head is written once per site per commit: the index costs little.
    name: 'chain heads: index on pos',
    sql: `
      CREATE INDEX chain_heads_pos ON chain_heads (pos);
    `,
  },
  {
    version: 10,
    // Issue 9 bench (commit CPU per row): the (site, edge, seq) index served only the seq-tracking
    // scan for the seqs above an edge's hwm, and cost an index insert on every ledger row. Those
    // seqs are now kept apart while above hwm (SqliteStore.trackSeqs): filled here from the
    // ledger, with the index, before it goes. Every ledger seq of an edge above its hwm, as the
    // scan saw them (an edge with no row yet: hwm 0).
    name: 'edge seqs above hwm kept apart; ledger without the (site, edge, seq) index',
    sql: `
      CREATE TABLE edge_seqs_above (
        site TEXT NOT NULL,
        edge TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (site, edge, seq)
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO edge_seqs_above (site, edge, seq)
        SELECT l.site, l.edge, l.seq FROM ledger l
        WHERE l.seq > COALESCE((SELECT e.hwm FROM edge_seqs e WHERE e.site = l.site AND e.edge = l.edge), 0)
        ORDER BY l.site, l.edge, l.seq;
      DROP INDEX IF EXISTS ledger_edge_seq;
    `,
  },
  {
    version: 11,
    // Every store open asks whether rows from before the hash chain (migration 3) still lack
    // their hash (SqliteStore.chainLegacyRows). Without an index that is a scan of the whole
    // ledger when none do, the usual answer: ~0.35 s per open at 1M rows. A partial index holds
    // only the unhashed rows, so it is empty once they are chained and the question is one
    // b-tree step; rows inserted with their hash (all of them since migration 3) never enter it.
    name: 'ledger: partial index of rows still without their chain hash',
    sql: `
      CREATE INDEX ledger_unhashed ON ledger (pos) WHERE hash IS NULL;
    `,
  },
];
