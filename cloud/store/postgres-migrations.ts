/**
 * Versioned schema migrations of the PostgreSQL store. Append only: a released migration never
 * changes; `schema_migrations` records which ran. Each runs in its own transaction, under a
 * session advisory lock per schema, so ingesters starting at once migrate one after the other.
 *
 * Same tables as the SQLite store (`sqlite-migrations.ts`). Differences:
 * - quantities: NUMERIC in version 1, BIGINT thousandths from version 2 (the same integers as SQLite);
 * - text keys use the "C" collation: byte order like SQLite, and the indexes serve ORDER BY;
 * - instants stay ISO-8601 text, returned exactly as written.
 */
export const postgresMigrations: Array<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'ledger, balances, dead letters, exceptions, identities, per-edge seq tracking',
    sql: `
      CREATE TABLE ledger (
        pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        edge TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL,
        ts TEXT NOT NULL,
        site TEXT COLLATE "C" NOT NULL,
        location TEXT COLLATE "C" NOT NULL,
        to_location TEXT COLLATE "C",
        kind TEXT NOT NULL,
        sku TEXT COLLATE "C" NOT NULL,
        gtin TEXT,
        epc TEXT,
        batch TEXT COLLATE "C" NOT NULL DEFAULT '',
        expiry TEXT,
        serial TEXT,
        qty NUMERIC NOT NULL,
        uom TEXT NOT NULL,
        project TEXT COLLATE "C" NOT NULL DEFAULT '',
        stage TEXT,
        operator TEXT,
        crew TEXT,
        device_id TEXT NOT NULL,
        device_type TEXT NOT NULL,
        raw TEXT NOT NULL,
        variance NUMERIC,
        applied_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'applied'
      );
      -- Not unique: the idempotency key is the movement id (see sqlite-migrations.ts).
      CREATE INDEX ledger_edge_seq ON ledger (site, edge, seq);
      CREATE INDEX ledger_site_pos ON ledger (site, pos);
      CREATE TABLE balances (
        site TEXT COLLATE "C" NOT NULL,
        location TEXT COLLATE "C" NOT NULL,
        sku TEXT COLLATE "C" NOT NULL,
        batch TEXT COLLATE "C" NOT NULL,
        project TEXT COLLATE "C" NOT NULL,
        on_hand NUMERIC NOT NULL,
        uom TEXT NOT NULL,
        expiry TEXT COLLATE "C",
        updated_at TEXT NOT NULL,
        PRIMARY KEY (site, location, sku, batch, project)
      ) WITH (fillfactor = 70); -- room for HOT updates: an upsert rewrites the row, not its indexes
      -- Serves GET /api/v1/stock?site=&sku= in the order it returns (an index-only range).
      CREATE INDEX balances_site_sku ON balances (site, sku, location, batch, project);
      CREATE INDEX balances_sku ON balances (sku);
      CREATE TABLE dead_letters (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        received_at TEXT NOT NULL,
        topic TEXT NOT NULL,
        site TEXT,
        edge TEXT,
        reason TEXT NOT NULL,
        message TEXT NOT NULL,
        payload TEXT NOT NULL
      );
      CREATE TABLE exceptions (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        type TEXT NOT NULL,
        site TEXT COLLATE "C" NOT NULL,
        movement_id TEXT NOT NULL,
        sku TEXT NOT NULL,
        location TEXT NOT NULL,
        batch TEXT NOT NULL,
        project TEXT NOT NULL,
        identity TEXT,
        on_hand NUMERIC,
        message TEXT NOT NULL,
        state TEXT COLLATE "C" NOT NULL DEFAULT 'open',
        raised_at TEXT NOT NULL,
        resolved_at TEXT,
        resolved_by TEXT,
        resolution TEXT
      );
      CREATE INDEX exceptions_site_state ON exceptions (site, state, id);
      CREATE TABLE identities (
        site TEXT COLLATE "C" NOT NULL,
        identity TEXT COLLATE "C" NOT NULL,
        sku TEXT NOT NULL,
        in_stock BOOLEAN NOT NULL,
        location TEXT NOT NULL,
        last_movement_id TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (site, identity)
      ) WITH (fillfactor = 70);
      CREATE TABLE edge_seqs (
        site TEXT COLLATE "C" NOT NULL,
        edge TEXT COLLATE "C" NOT NULL,
        hwm BIGINT NOT NULL,
        max_seq BIGINT NOT NULL,
        updated_at TEXT NOT NULL,
        -- Which store instance (ingester) last wrote the row, and when (database clock), and the
        -- lowest seq hole with when it was first seen: with competing ingesters a hole is
        -- reported only once it is a few seconds old (postgres.ts, trackSeqs).
        writer TEXT,
        writer_at TIMESTAMPTZ,
        gap_seq BIGINT,
        gap_at TIMESTAMPTZ,
        PRIMARY KEY (site, edge)
      ) WITH (fillfactor = 50);
    `,
  },
  {
    version: 2,
    name: 'exact quantities (integer thousandths), append-only hash-chained ledger, item master, unknown items, chain heads',
    // Issue 9; the same change as SQLite migration 3 (see sqlite-migrations.ts). Rows from before
    // get their chain numbers and hashes when the store opens (postgres.ts, chainLegacyRows).
    sql: `
      ALTER TABLE ledger
        ALTER COLUMN qty TYPE BIGINT USING round(qty * 1000),
        ALTER COLUMN variance TYPE BIGINT USING round(variance * 1000),
        ALTER COLUMN status DROP DEFAULT,
        ADD COLUMN ts_ms BIGINT,
        ADD COLUMN base_qty BIGINT,
        ADD COLUMN base_uom TEXT,
        ADD COLUMN rounding TEXT,
        ADD COLUMN posted_token TEXT,
        ADD COLUMN posted_user TEXT,
        ADD COLUMN chain_n BIGINT,
        ADD COLUMN hash TEXT;
      UPDATE ledger SET ts_ms = (extract(epoch FROM ts::timestamptz) * 1000)::bigint,
        base_qty = CASE WHEN status = 'applied' THEN qty END, base_uom = CASE WHEN status = 'applied' THEN uom END;
      ALTER TABLE ledger ALTER COLUMN ts_ms SET NOT NULL;
      CREATE UNIQUE INDEX ledger_site_chain ON ledger (site, chain_n);
      CREATE INDEX ledger_site_sku_ts ON ledger (site, sku, ts_ms);
      ALTER TABLE balances ALTER COLUMN on_hand TYPE BIGINT USING round(on_hand * 1000);
      ALTER TABLE exceptions ALTER COLUMN on_hand TYPE BIGINT USING round(on_hand * 1000);
      CREATE TABLE items (
        sku TEXT COLLATE "C" PRIMARY KEY,
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
      );
      CREATE TABLE item_codes (code TEXT COLLATE "C" PRIMARY KEY, sku TEXT COLLATE "C" NOT NULL);
      CREATE INDEX item_codes_sku ON item_codes (sku);
      CREATE TABLE unknown_items (
        sku TEXT COLLATE "C" PRIMARY KEY,
        uom TEXT NOT NULL,
        site TEXT NOT NULL,
        movement_id TEXT NOT NULL,
        first_seen TEXT NOT NULL
      );
      INSERT INTO unknown_items SELECT sku, min(uom), min(site), '', min(updated_at) FROM balances GROUP BY sku;
      CREATE TABLE chain_heads (
        site TEXT COLLATE "C" PRIMARY KEY,
        n BIGINT NOT NULL,
        hash TEXT NOT NULL,
        pos BIGINT NOT NULL,
        id TEXT NOT NULL
      );
    `,
  },
  {
    version: 3,
    // Issue 8, findings 1 and 5: see the SQLite migration 4.
    name: 'dead letters: sha256 and size of the bytes received, per-site index',
    sql: `
      ALTER TABLE dead_letters ADD COLUMN sha256 TEXT;
      ALTER TABLE dead_letters ADD COLUMN bytes BIGINT;
      CREATE INDEX dead_letters_site ON dead_letters (site, id);
    `,
  },
  {
    version: 4,
    // Issue 10 §3 / issue 11 §1: see the SQLite migration 5.
    name: 'ledger: document refs po, req, sales_order',
    sql: `
      ALTER TABLE ledger ADD COLUMN po TEXT;
      ALTER TABLE ledger ADD COLUMN req TEXT;
      ALTER TABLE ledger ADD COLUMN sales_order TEXT;
    `,
  },
  {
    version: 5,
    // Issue 9 bench: see the SQLite migration 6 (late-count lookups by (site, ts_ms)).
    name: 'ledger: late-count lookups by (site, ts_ms), not per SKU',
    sql: `
      DROP INDEX IF EXISTS ledger_site_sku_ts;
      CREATE INDEX ledger_site_ts ON ledger (site, ts_ms);
    `,
  },
  {
    version: 6,
    // See the SQLite migration 11: the store's open-time question "any row without its chain
    // hash?" answered from an (empty) partial index instead of a scan of the ledger.
    name: 'ledger: partial index of rows still without their chain hash',
    sql: `
      CREATE INDEX ledger_unhashed ON ledger (pos) WHERE hash IS NULL;
    `,
  },
  {
    version: 7,
    // Seqs an edge had refused for good (rejected: the edge drops them and never resends) count
    // as present for its gap tracking (PostgresStore.trackSeqs), or one malformed movement would
    // leave a gap below its hwm forever. Kept until hwm passes them.
    name: 'edge seqs refused for good, for gap tracking',
    sql: `
      CREATE TABLE edge_seqs_refused (
        site TEXT NOT NULL,
        edge TEXT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (site, edge, seq)
      );
    `,
  },
  {
    version: 8,
    // A commit sends its ledger rows and balance increments as one array literal of these row
    // types (PostgresStore, issue 14): record_in parses a ledger row in ~2.6 µs of backend CPU
    // where json_to_recordset spent ~8.8 (37 keys a row, nulls included), a balance increment in
    // ~0.6 instead of ~1.9, and both statements run while the site's other commits wait.
    // Attribute order is the literal's: the ledger row's insert columns with chain_n and hash
    // last (the rest of each row's literal is built before the chain head is locked).
    name: 'row types of the commit statements (ledger rows, balance increments)',
    sql: `
      CREATE TYPE ledger_insert_row AS (
        id TEXT, edge TEXT, seq BIGINT, ts TEXT, ts_ms BIGINT, site TEXT, location TEXT, to_location TEXT, kind TEXT,
        sku TEXT, gtin TEXT, epc TEXT, batch TEXT, expiry TEXT, serial TEXT, qty BIGINT, uom TEXT, base_qty BIGINT,
        base_uom TEXT, rounding TEXT, project TEXT, stage TEXT, operator TEXT, crew TEXT, device_id TEXT, device_type TEXT,
        raw TEXT, status TEXT, variance BIGINT, posted_token TEXT, posted_user TEXT, applied_at TEXT, po TEXT, req TEXT,
        sales_order TEXT, chain_n BIGINT, hash TEXT
      );
      CREATE TYPE balance_increment AS (
        site TEXT, location TEXT, sku TEXT, batch TEXT, project TEXT, delta BIGINT, uom TEXT, expiry TEXT
      );
    `,
  },
];
