import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKSTOP_PAGES, SqliteDatabase } from '../../../cloud/db/index.js';
import { tempDir } from '../../helpers/procs.js';

const open: SqliteDatabase[] = [];
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
});

function database(path: string, intervalMs: number): SqliteDatabase {
  const db = new SqliteDatabase(path, { checkpointer: { intervalMs } });
  open.push(db);
  db.handle.exec('CREATE TABLE t (n INTEGER PRIMARY KEY, body BLOB NOT NULL)');
  return db;
}

async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** cloud/db/wal-checkpointer.ts: the cloud's WAL checkpoints off its event loop. */
describe('the WAL checkpointer', () => {
  it('copies committed pages into the database file, the main connection only a backstop', async () => {
    const path = join(tempDir('sg-ckpt-'), 'stockgate.db');
    const db = database(path, 20);
    expect(db.handle.pragma('wal_autocheckpoint', { simple: true })).toBe(BACKSTOP_PAGES);
    // 1,500 transactions of one page each: fewer pages than the backstop, so the main connection
    // never checkpoints, and SQLite's default (1,000) would have checkpointed on it.
    const ins = db.handle.prepare('INSERT INTO t (n, body) VALUES (?, randomblob(3000))');
    for (let n = 1; n <= 1500; n++) ins.run(n);
    await until('the checkpoints', () => (db.checkpoints()?.frames ?? 0) >= 1500);
    // The rows' pages are in the database file itself, not only in the WAL.
    expect(statSync(path).size).toBeGreaterThanOrEqual(1500 * 3000);
    const s = db.checkpoints()!;
    expect(s.failures).toBe(0);
    expect(s.stopped).toBe(false);
  });

  it('never holds the writer up: commits go on while it runs, and every one is there after a reopen', async () => {
    const path = join(tempDir('sg-ckpt-'), 'stockgate.db');
    const db = database(path, 1);
    const ins = db.handle.prepare('INSERT INTO t (n, body) VALUES (?, randomblob(2000))');
    // A PASSIVE checkpoint takes no lock a writer waits for: no commit throws SQLITE_BUSY. (That
    // none waits, timing, is the bench's: bench/README.md.)
    for (let n = 1; n <= 3000; n++) {
      ins.run(n);
      if (n % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await until('a checkpoint', () => (db.checkpoints()?.checkpoints ?? 0) > 5);
    expect(db.checkpoints()!.failures).toBe(0);
    await db.close();
    // Its connection closed before the main one, so the last close checkpointed and removed the WAL.
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(db.checkpoints()!.stopped).toBe(true);
    const check = new BetterSqlite3(path, { readonly: true });
    try {
      expect(check.prepare('SELECT count(*) FROM t').pluck().get()).toBe(3000);
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      check.close();
    }
  });

  it('is off unless asked for: SQLite checkpoints on the connection as by default', () => {
    const db = new SqliteDatabase(join(tempDir('sg-ckpt-'), 'stockgate.db'));
    open.push(db);
    expect(db.checkpoints()).toBeUndefined();
    expect(db.handle.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });
});
