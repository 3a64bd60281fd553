import type { Migration } from './db/index.js';

/**
 * A versioned SQL schema change of a SQLite module. Append only: a released migration never
 * changes. Opening, migrating and transactions are `cloud/db/`'s job (one database, one way in).
 */
export type SqliteMigration = Migration & { sql: string };
