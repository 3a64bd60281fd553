import type { DbModule } from '../db/index.js';

/**
 * Procurement's tables (issue 10 §2-3): suppliers, requisitions and their lines, purchase orders
 * and their lines (with the quantity received), and the receipt matches (ledger row -> PO line,
 * qty, unit price) that costing reads. Quantities are integer thousandths of the item's base
 * unit, money integer fen. Approvals live in cloud/approvals.
 */
const ddl = (d: 'sqlite' | 'postgres') => {
  const big = d === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const serial = d === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY';
  const text = d === 'sqlite' ? 'TEXT' : 'TEXT COLLATE "C"';
  return `
  CREATE TABLE suppliers (
    code ${text} PRIMARY KEY,
    name TEXT NOT NULL,
    lead_time_days INTEGER NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE requisitions (
    id ${serial},
    kind TEXT NOT NULL,
    project ${text} NOT NULL,
    stage TEXT NOT NULL,
    site ${text} NOT NULL,
    status TEXT NOT NULL,
    amount ${big} NOT NULL,
    revision INTEGER NOT NULL,
    requester TEXT NOT NULL,
    note TEXT,
    po ${big},
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX requisitions_site ON requisitions (site, id);
  CREATE INDEX requisitions_project ON requisitions (project, id);
  CREATE TABLE requisition_lines (
    req_id ${big} NOT NULL,
    line INTEGER NOT NULL,
    sku ${text} NOT NULL,
    qty ${big} NOT NULL,
    unit_price ${big},
    price TEXT NOT NULL,
    price_source TEXT NOT NULL,
    PRIMARY KEY (req_id, line)
  );
  CREATE TABLE purchase_orders (
    id ${serial},
    supplier ${text} NOT NULL,
    site ${text} NOT NULL,
    expected_at TEXT NOT NULL,
    status TEXT NOT NULL,
    amount ${big} NOT NULL,
    revision INTEGER NOT NULL,
    requester TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX purchase_orders_site ON purchase_orders (site, status, expected_at);
  CREATE TABLE po_lines (
    po_id ${big} NOT NULL,
    line INTEGER NOT NULL,
    sku ${text} NOT NULL,
    qty ${big} NOT NULL,
    unit_price ${big} NOT NULL,
    project TEXT,
    stage TEXT,
    requisition ${big},
    received ${big} NOT NULL DEFAULT 0,
    PRIMARY KEY (po_id, line)
  );
  CREATE INDEX po_lines_sku ON po_lines (sku, po_id);
  CREATE TABLE receipt_matches (
    ledger_id TEXT NOT NULL,
    pos ${big} NOT NULL,
    site TEXT NOT NULL,
    sku TEXT NOT NULL,
    po_id ${big} NOT NULL,
    line INTEGER NOT NULL,
    qty ${big} NOT NULL,
    unit_price ${big} NOT NULL,
    over_receipt ${big} NOT NULL DEFAULT 0,
    at TEXT NOT NULL,
    PRIMARY KEY (ledger_id, po_id, line)
  );
  CREATE INDEX receipt_matches_po ON receipt_matches (po_id, line);
`;
};

export const procurementModule: DbModule = {
  name: 'procurement',
  migrations: {
    sqlite: [{ version: 1, name: 'suppliers, requisitions, purchase orders, receipt matches', sql: ddl('sqlite') }],
    postgres: [{ version: 1, name: 'suppliers, requisitions, purchase orders, receipt matches', sql: ddl('postgres') }],
  },
};
