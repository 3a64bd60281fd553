import type { DbModule, Migration } from '../db/index.js';

/**
 * The costing module's tables (issue 10, section 4). Exact amounts that may hold fractions of a
 * fen (stock value, an average unit cost, an issue's exact cost) are kept as decimal TEXT (the
 * decimal.js string), so both dialects store them bit for bit; posted amounts are whole fen
 * (BIGINT/INTEGER). Quantities are integer thousandths of the item's base unit.
 */
const tables = (text: string, serial: string, big: string): string => `
  CREATE TABLE cost_averages (
    site ${text} NOT NULL,
    sku ${text} NOT NULL,
    qty_milli ${big} NOT NULL,
    value_exact TEXT NOT NULL,
    last_average TEXT NOT NULL,
    updated_pos ${big} NOT NULL,
    PRIMARY KEY (site, sku)
  );
  CREATE TABLE cost_entries (
    id ${serial},
    project ${text} NOT NULL,
    stage ${text},
    category TEXT NOT NULL,
    source TEXT NOT NULL,
    amount_fen ${big} NOT NULL,
    exact_fen TEXT NOT NULL,
    date TEXT NOT NULL,
    period TEXT NOT NULL,
    site ${text},
    sku ${text},
    qty_milli ${big},
    unit_cost TEXT,
    movement ${text},
    pos ${big},
    ref TEXT,
    note TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL
  );
  CREATE INDEX cost_entries_project ON cost_entries (project, category);
  CREATE INDEX cost_entries_item ON cost_entries (site, sku, pos);
  CREATE UNIQUE INDEX cost_entries_movement ON cost_entries (movement, source);
  CREATE TABLE cost_carries (
    project ${text} NOT NULL,
    category TEXT NOT NULL,
    exact_fen TEXT NOT NULL,
    posted_fen ${big} NOT NULL,
    PRIMARY KEY (project, category)
  );
  CREATE TABLE cost_receipts (
    movement ${text} PRIMARY KEY,
    pos ${big} NOT NULL,
    site ${text} NOT NULL,
    sku ${text} NOT NULL,
    po ${text},
    po_line INTEGER,
    qty_milli ${big} NOT NULL,
    unit_cost TEXT NOT NULL,
    landed_exact TEXT NOT NULL,
    flag TEXT
  );
  CREATE INDEX cost_receipts_po ON cost_receipts (po, po_line);
  CREATE TABLE cost_landed (
    id ${serial},
    po ${text} NOT NULL,
    amount_fen ${big} NOT NULL,
    allocate TEXT NOT NULL,
    to_stock_fen ${big} NOT NULL,
    variance_fen ${big} NOT NULL,
    pending_fen ${big} NOT NULL,
    by_user TEXT NOT NULL,
    at TEXT NOT NULL
  );
  CREATE TABLE cost_landed_pending (
    po ${text} NOT NULL,
    po_line INTEGER NOT NULL,
    site ${text} NOT NULL,
    sku ${text} NOT NULL,
    remaining_milli ${big} NOT NULL,
    remaining_exact TEXT NOT NULL,
    PRIMARY KEY (po, po_line)
  );
  CREATE TABLE cost_periods (
    period TEXT PRIMARY KEY,
    closed_at TEXT NOT NULL,
    closed_by TEXT NOT NULL
  );
  CREATE TABLE cost_period_snapshots (
    period TEXT NOT NULL,
    project ${text} NOT NULL,
    figures TEXT NOT NULL,
    PRIMARY KEY (period, project)
  );
`;

/**
 * v2: a project's entries by (project, site, sku, pos) instead of (project, category). A return is
 * costed at what its project was issued of the item (`repo.issuedTo`: project, site and SKU
 * equal, in ledger order); with only (site, sku, pos) to search by, it read every entry of the
 * item at the site, every project's and every receipt's, so a return cost more the longer the
 * site's history (issue 14). The project's reports (`sums`, `entries`) still find its rows by the
 * first column; nothing read by category. Same number of indexes, so an insert costs the same.
 */
const projectItemIndex = `
  DROP INDEX cost_entries_project;
  CREATE INDEX cost_entries_project ON cost_entries (project, site, sku, pos);
`;
const sqlite: Migration[] = [
  { version: 1, name: 'costing tables', sql: tables('TEXT', 'INTEGER PRIMARY KEY AUTOINCREMENT', 'INTEGER') },
  { version: 2, name: "cost entries by project and item (a return's issues)", sql: projectItemIndex },
];
// PostgreSQL: "C" collation so that keys sort bytewise as on SQLite.
const postgres: Migration[] = [
  { version: 1, name: 'costing tables', sql: tables('TEXT COLLATE "C"', 'BIGSERIAL PRIMARY KEY', 'BIGINT') },
  { version: 2, name: "cost entries by project and item (a return's issues)", sql: projectItemIndex },
];

export const costingModule: DbModule = { name: 'costing', migrations: { sqlite, postgres } };
