import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';
import type { SqliteCredentialStore } from '../../cloud/auth/sqlite.js';
import { failFromError, printJson } from '../output.js';

/**
 * `stockgate admin init --data-dir DIR [--rotate]`: the first admin API token of a cloud data dir.
 * Prints `{"token":"sgt_..."}` once; `auth.db` keeps only its hash. Run again on an initialised
 * dir it refuses (`SG_ERR_ALREADY_INITIALISED`, exit 2) unless `--rotate`, which revokes the
 * previous init token and prints a new one (also the way back in after losing every admin token).
 * Safe while the cloud runs (SQLite WAL): the new token works at once.
 */
export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('administer a cloud data dir (credentials)');
  admin
    .command('init')
    .description('create the first admin API token of a cloud data dir; prints {"token":"..."} once')
    .requiredOption('--data-dir <dir>', 'the cloud\'s data dir (auth.db lives there)')
    .option('--rotate', 'replace the admin token made by an earlier init (the old one stops working)', false)
    .addHelpText('after', '\nUse the token as "Authorization: Bearer <token>"; issue narrower tokens with POST /api/v1/tokens.\nErrors: {"error":{"code","message"}} on stderr, exit 2 (SG_ERR_ALREADY_INITIALISED without --rotate).')
    .action(async (o: { dataDir: string; rotate: boolean }) => {
      let store: SqliteCredentialStore | undefined;
      try {
        mkdirSync(o.dataDir, { recursive: true });
        const { authDbPath, SqliteCredentialStore } = await import('../../cloud/auth/sqlite.js');
        store = new SqliteCredentialStore(authDbPath(o.dataDir));
        const { token } = await store.initAdmin({ rotate: o.rotate });
        printJson({ token });
      } catch (err) {
        await store?.close();
        failFromError(err, 'SG_ERR_ADMIN');
      }
      await store.close();
    });
}
