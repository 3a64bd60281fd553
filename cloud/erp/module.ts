import type { DbModule, Migration } from '../db/index.js';

/**
 * The ERP outbound queue (issue 11 §5): one row per business event to send, committed in the
 * transaction of the change it reports (a PO approved, a receipt, a project issue, an order
 * shipped, a month closed). `event_id` is unique: enqueueing the same event twice keeps one row,
 * and the adapter sends it as the document's key so the ERP side deduplicates retries.
 */
const table = (big: string, serial: string): string => `
  CREATE TABLE erp_outbox (
    id ${serial},
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    site TEXT,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at ${big} NOT NULL,
    lease_until ${big} NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
  );
  CREATE INDEX erp_outbox_due ON erp_outbox (state, next_at, id);
`;

export const erpModule: DbModule = {
  name: 'erp',
  migrations: {
    sqlite: [{ version: 1, name: 'ERP outbound queue', sql: table('INTEGER', 'INTEGER PRIMARY KEY AUTOINCREMENT') }] as Migration[],
    postgres: [{ version: 1, name: 'ERP outbound queue', sql: table('BIGINT', 'BIGSERIAL PRIMARY KEY') }] as Migration[],
  },
};
