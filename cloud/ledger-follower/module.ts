import type { DbModule, Migration } from '../db/index.js';

/**
 * `ledger_cursors`: how far each consumer of a follower has read, per site. Per site because the
 * ledger's positions are gap-free per site only: commits of one site are serialised on its chain
 * head (cloud/store/postgres.ts, step 1), while commits of two sites by two ingesters may become
 * visible out of position order. The row `(follower, '', '')` is the follower's lock row
 * (`SELECT ... FOR UPDATE`: one follower process at a time).
 */
const migrations: Migration[] = [
  {
    version: 1,
    name: 'ledger cursors per follower, consumer and site',
    up: async (db) => {
      await db.schema
        .createTable('ledger_cursors')
        .addColumn('follower', 'text', (c) => c.notNull())
        .addColumn('consumer', 'text', (c) => c.notNull())
        .addColumn('site', 'text', (c) => c.notNull())
        .addColumn('pos', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_cursors_pk', ['follower', 'consumer', 'site'])
        .execute();
    },
  },
];

export const ledgerFollowerModule: DbModule = { name: 'ledger-follower', migrations: { sqlite: migrations, postgres: migrations } };
