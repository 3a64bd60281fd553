import type { DbModule } from '../db/index.js';

/**
 * The approval engine's tables (issue 10 §2): each site's bands per document type, and one row
 * per (document, revision, step). The primary key of `approvals` is what makes two concurrent
 * approvals of one step one transition: the decision is a conditional UPDATE of that row
 * (`state = 'pending'`), so the second finds nothing to update (engine.ts).
 */
const ddl = (big: string) => `
  CREATE TABLE approval_rules (
    site TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    min_amount ${big} NOT NULL,
    max_amount ${big},
    steps TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (site, doc_type, min_amount)
  );
  CREATE TABLE approvals (
    doc_type TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    step INTEGER NOT NULL,
    role TEXT NOT NULL,
    state TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    comment TEXT,
    PRIMARY KEY (doc_type, doc_id, revision, step)
  );
`;

export const approvalsModule: DbModule = {
  name: 'approvals',
  migrations: {
    sqlite: [{ version: 1, name: 'approval rules and approvals', sql: ddl('INTEGER') }],
    postgres: [{ version: 1, name: 'approval rules and approvals', sql: ddl('BIGINT') }],
  },
};
