import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { authDbPath, SqliteCredentialStore } from '../../../cloud/auth/sqlite.js';
import { SqliteDatabase } from '../../../cloud/db/index.js';
import { credentialStoreContract, type CredentialStoreHarness } from '../../contracts/credential-store.contract.js';
import { tempDir } from '../../helpers/procs.js';

/** Every byte of the database after a checkpoint, as latin1 text (to search for secrets). */
function fileText(path: string): string {
  const db = new Database(path);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return readFileSync(path).toString('latin1');
}

/** One SQLite file per test; each `open` is another connection to it (another process). */
function sqliteHarness(): CredentialStoreHarness {
  const path = join(tempDir('sg-auth-'), 'stockgate.db');
  const opened: SqliteCredentialStore[] = [];
  return {
    async open() {
      const s = new SqliteCredentialStore(path);
      opened.push(s);
      return s;
    },
    async storedText() {
      return fileText(path);
    },
    async destroy() {
      for (const s of opened) await s.close();
    },
  };
}

credentialStoreContract('SqliteCredentialStore (temp file)', sqliteHarness);

describe('SqliteCredentialStore specifics', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const s of open.splice(0).reverse()) await s.close();
  });

  it('makes its file mode 0600 (it holds hashes of every credential)', async () => {
    const dir = tempDir('sg-auth-');
    const s = new SqliteCredentialStore(authDbPath(dir));
    open.push(s);
    await s.initAdmin();
    expect(statSync(authDbPath(dir)).mode & 0o777).toBe(0o600);
  });

  it('on the shared database: a write waits for an open Kysely transaction instead of joining it', async () => {
    const db = new SqliteDatabase(join(tempDir('sg-auth-'), 'stockgate.db'));
    open.push(db);
    const s = new SqliteCredentialStore(db);
    let issued: Promise<unknown> | undefined;
    await expect(
      db.tx(async (trx) => {
        await trx.selectFrom('tokens').selectAll().execute();
        // Issued while the transaction is open; it must not become part of it.
        issued = s.issueToken({ name: 'outside', roles: ['operator'] });
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await issued;
    expect((await s.listTokens()).map((t) => t.name)).toEqual(['outside']);
  });
});
