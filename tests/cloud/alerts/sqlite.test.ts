import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertStore } from '../../../cloud/alerts/alert-store.js';
import { alertSqliteMigrations, SqliteAlertStore } from '../../../cloud/alerts/sqlite.js';
import { alertStoreContract, type AlertStoreHarness } from '../../contracts/alert-store.contract.js';

/** A temp-file store; every store it opened is closed on destroy. */
function sqliteHarness(): AlertStoreHarness & { path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'stockgate-alerts-'));
  const path = join(dir, 'alerts.db');
  const opened: AlertStore[] = [];
  return {
    path,
    async open() {
      const s = new SqliteAlertStore(path);
      opened.push(s);
      return s;
    },
    async destroy() {
      for (const s of opened) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

alertStoreContract('SqliteAlertStore (temp file)', sqliteHarness);

describe('SqliteAlertStore specifics', () => {
  let h: ReturnType<typeof sqliteHarness> | undefined;
  afterEach(() => h?.destroy());

  it('records each migration once, in WAL mode with synchronous=FULL', async () => {
    h = sqliteHarness();
    for (let i = 0; i < 3; i++) await (await h.open()).close();
    const db = new Database(h.path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare("SELECT version, name FROM db_migrations WHERE module = 'alerts' ORDER BY version").all()).toEqual(
        alertSqliteMigrations.map((m) => ({ version: m.version, name: m.name })),
      );
    } finally {
      db.close();
    }
    // synchronous is per connection: check the store's own.
    const s = (await h.open()) as unknown as { db: Database.Database };
    expect(s.db.pragma('synchronous', { simple: true })).toBe(2);
  });
});
