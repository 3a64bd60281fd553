import type { DbModule, Migration } from '../db/index.js';

/**
 * The sales part of the one database (issue 11 §1): reservations and their per-(site, SKU)
 * counter row, sales orders with lines and timeline, and the answers kept per Idempotency-Key.
 *
 * `stock_reservation_totals` is the row every reservation updates with ONE conditional statement
 * (`... WHERE on_hand - reserved >= :q`): the lock on that row, not a lock on a SUM, is what
 * serialises competing reservations (ERPNext #51375 locked a SUM, so new rows escaped it).
 * `on_hand` there is Σ balances of the pair as the ledger follower last saw it; `reserved` is
 * Σ (qty − consumed) of the pair's `active` reservations (both checked by the contract suite).
 * Quantities are integer thousandths of the item's base unit, money integer fen.
 */
const tables = (big: string, serial: string): string => `
  CREATE TABLE stock_reservation_totals (
    site TEXT NOT NULL,
    sku TEXT NOT NULL,
    on_hand ${big} NOT NULL DEFAULT 0,
    reserved ${big} NOT NULL DEFAULT 0,
    last_grant ${big} NOT NULL DEFAULT 0,
    PRIMARY KEY (site, sku)
  );
  CREATE TABLE stock_reservations (
    id ${serial},
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    line INTEGER NOT NULL,
    site TEXT NOT NULL,
    sku TEXT NOT NULL,
    project TEXT,
    stage TEXT,
    qty ${big} NOT NULL,
    consumed ${big} NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (owner_kind, owner_id, line)
  );
  CREATE INDEX stock_reservations_pair ON stock_reservations (site, sku, status, id);
  CREATE TABLE sales_orders (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    customer TEXT NOT NULL,
    status TEXT NOT NULL,
    allow_partial INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX sales_orders_site ON sales_orders (site, created_at);
  CREATE TABLE sales_order_lines (
    order_id TEXT NOT NULL,
    line INTEGER NOT NULL,
    sku TEXT NOT NULL,
    qty ${big} NOT NULL,
    unit_price ${big} NOT NULL,
    reserved ${big} NOT NULL,
    shipped ${big} NOT NULL DEFAULT 0,
    PRIMARY KEY (order_id, line)
  );
  CREATE TABLE sales_order_events (
    id ${serial},
    order_id TEXT NOT NULL,
    state TEXT NOT NULL,
    at TEXT NOT NULL,
    by_user TEXT NOT NULL,
    note TEXT
  );
  CREATE INDEX sales_order_events_order ON sales_order_events (order_id, id);
  CREATE TABLE sales_idempotency (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
`;

const sqlite: Migration[] = [{ version: 1, name: 'reservations, sales orders, idempotency keys', sql: tables('INTEGER', 'INTEGER PRIMARY KEY AUTOINCREMENT') }];
const postgres: Migration[] = [{ version: 1, name: 'reservations, sales orders, idempotency keys', sql: tables('BIGINT', 'BIGSERIAL PRIMARY KEY') }];

export const salesModule: DbModule = { name: 'sales', migrations: { sqlite, postgres } };
