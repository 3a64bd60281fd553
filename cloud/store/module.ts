import type { DbModule } from '../db/index.js';
import { postgresMigrations } from './postgres-migrations.js';
import { sqliteMigrations } from './sqlite-migrations.js';

/**
 * The ledger's part of the one database (ledger, balances, dead letters, exceptions, identities,
 * per-edge seqs). Its tuned statements (`sqlite.ts`, `postgres.ts`) run on the same connection.
 * stockgate 0.1 recorded these versions in `schema_migrations`.
 */
export const ledgerModule: DbModule = {
  name: 'ledger',
  migrations: { sqlite: sqliteMigrations, postgres: postgresMigrations },
  legacyTable: { sqlite: 'schema_migrations', postgres: 'schema_migrations' },
};
