/** The public face of `cloud/db/`: modules import from here only. */
export { type Db, type DbModule, DbError, type Dialect, type Migration, type PostgresDb, type SqliteDb, type Tx } from './db.js';
export { DB_FILE, dbPath, openDatabase, type OpenDatabaseOptions } from './open.js';
export { PostgresDatabase, type PostgresDbOptions } from './postgres.js';
export { inMemoryStatementJournals, SqliteDatabase } from './sqlite.js';
export { reusable, type ReusableOptions, reusableStats } from './reusable-query.js';
