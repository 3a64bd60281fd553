import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteMigrations } from '../../../cloud/store/sqlite-migrations.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import type { Store } from '../../../cloud/store/store.js';
import { mv, storeContract, type StoreHarness } from '../../contracts/store.contract.js';
import { storeLedgerContract } from '../../contracts/store-ledger.contract.js';
import { storeTruthContract } from '../../contracts/store-truth.contract.js';
import { storeRefsContract } from '../../contracts/store-refs.contract.js';

/** A temp-file store; every store it opened is closed on destroy. */
function sqliteHarness(): StoreHarness & { path: string; sql(q: string): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'stockgate-store-'));
  const path = join(dir, 'ledger.db');
  const opened: Store[] = [];
  return {
    path,
    async sql(q: string) {
      // Another connection, as an intruder would use (the store's own keeps running).
      const db = new Database(path);
      try {
        db.exec(q);
      } finally {
        db.close();
      }
    },
    async open() {
      const s = new SqliteStore(path);
      opened.push(s);
      return s;
    },
    async destroy() {
      for (const s of opened) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

storeContract('SqliteStore (temp file)', sqliteHarness);

describe('SqliteStore specifics', () => {
  let h: ReturnType<typeof sqliteHarness> | undefined;
  afterEach(() => h?.destroy());

  it('records each migration once, in WAL mode, however often it is opened', async () => {
    h = sqliteHarness();
    for (let i = 0; i < 3; i++) await (await h.open()).close();
    const s = await h.open();
    await s.commit([{ movements: [mv()], deadLetters: [] }]);
    await s.close();
    const db = new Database(h.path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const rows = db.prepare("SELECT version, name FROM db_migrations WHERE module = 'ledger' ORDER BY version").all();
      expect(rows).toEqual(sqliteMigrations.map((m) => ({ version: m.version, name: m.name })));
      expect(db.prepare('SELECT COUNT(*) FROM ledger').pluck().get()).toBe(1);
    } finally {
      db.close();
    }
  });
});

storeLedgerContract('SqliteStore (temp file)', sqliteHarness);
storeTruthContract('SqliteStore (temp file)', sqliteHarness);
storeRefsContract('SqliteStore (temp file)', sqliteHarness);
