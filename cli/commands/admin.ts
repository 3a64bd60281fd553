import type { Command } from 'commander';
import type { CredentialStore } from '../../cloud/auth/credential-store.js';
import type { Db, PostgresDb, SqliteDb } from '../../cloud/db/index.js';
import { failFromError, printJson } from '../output.js';

/**
 * `stockgate admin init --data-dir DIR [--store postgres://...] [--rotate]`: the first admin API
 * token of a cloud's database. Opens the same database as `stockgate cloud` with the same flags
 * (the SQLite file of the data dir, or the PostgreSQL schema of `--store`; a 0.1 data dir is
 * upgraded on the way). Prints `{"token":"sgt_..."}` once; the database keeps only its hash. Run
 * again on an initialised database it refuses (`SG_ERR_ALREADY_INITIALISED`, exit 2) unless
 * `--rotate`, which revokes the previous init token and prints a new one (also the way back in
 * after losing every admin token). Safe while the cloud runs: the new token works at once, on
 * every ingester sharing the schema.
 */
export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('administer a cloud\'s database (credentials)');
  admin
    .command('init')
    .description('create the first admin API token of a cloud\'s database; prints {"token":"..."} once')
    .requiredOption('--data-dir <dir>', 'the cloud\'s data dir (its SQLite database lives there)')
    .option('--store <url>', 'PostgreSQL (postgres://USER@HOST:PORT/DB), as given to stockgate cloud, instead of the SQLite file in --data-dir')
    .option('--rotate', 'replace the admin token made by an earlier init (the old one stops working)', false)
    .addHelpText('after', '\nUse the token as "Authorization: Bearer <token>"; issue narrower tokens with POST /api/v1/tokens.\nErrors: {"error":{"code","message"}} on stderr, exit 2 (SG_ERR_ALREADY_INITIALISED without --rotate).')
    .action(async (o: { dataDir: string; store?: string; rotate: boolean }) => {
      let db: Db | undefined;
      let store: CredentialStore | undefined;
      try {
        if (o.store !== undefined && !/^postgres(ql)?:\/\/\S+$/.test(o.store)) throw Object.assign(new Error('store: expected postgres://USER@HOST:PORT/DB'), { code: 'SG_ERR_CONFIG' });
        const { openDatabase } = await import('../../cloud/db/index.js');
        const { cloudModules } = await import('../../cloud/modules.js');
        db = await openDatabase({ dataDir: o.dataDir, ...(o.store ? { store: o.store } : {}), modules: cloudModules });
        if (db.dialect === 'postgres') {
          const { PgCredentialStore } = await import('../../cloud/auth/postgres.js');
          store = await PgCredentialStore.on(db as PostgresDb);
        } else {
          const { SqliteCredentialStore } = await import('../../cloud/auth/sqlite.js');
          store = new SqliteCredentialStore(db as SqliteDb);
        }
        const { token } = await store.initAdmin({ rotate: o.rotate });
        await store.close();
        await db.close();
        printJson({ token });
      } catch (err) {
        await store?.close().catch(() => undefined);
        await db?.close().catch(() => undefined);
        failFromError(err, 'SG_ERR_ADMIN');
      }
    });
}
