import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { OutboxStore } from '../../../edge/outbox/outbox-store.js';
import { SqliteOutbox } from '../../../edge/outbox/sqlite.js';
import { DEFAULT_IDENTITY, draft, outboxStoreContract, type OutboxHarness } from '../../contracts/outbox-store.contract.js';

/** A temp-file outbox; every store it opened is closed on destroy. */
function sqliteHarness(): OutboxHarness & { path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'stockgate-outbox-'));
  const path = join(dir, 'outbox.db');
  const opened: OutboxStore[] = [];
  return {
    path,
    open(identity = DEFAULT_IDENTITY) {
      const s = new SqliteOutbox({ path, ...identity });
      opened.push(s);
      return s;
    },
    destroy() {
      for (const s of opened) s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

outboxStoreContract('SqliteOutbox (temp file)', sqliteHarness);

describe('SqliteOutbox specifics', () => {
  let h: ReturnType<typeof sqliteHarness> | undefined;
  afterEach(() => h?.destroy());

  it('puts the file in WAL mode and records the owner, the seq counter and the backlog counters in meta', () => {
    h = sqliteHarness();
    const s = h.open();
    s.append([draft(1), draft(2)]);
    s.ack([[1, 2]]);
    s.close();
    const db = new Database(h.path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const meta = Object.fromEntries((db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
      expect(meta).toEqual({ owner: 'site-A/edge-1', last_seq: '2', count: '0', bytes: '0' });
      expect(db.prepare('SELECT COUNT(*) FROM outbox').pluck().get()).toBe(0);
    } finally {
      db.close();
    }
  });

  it('works on :memory: (no durability, same behaviour)', () => {
    const s = new SqliteOutbox({ path: ':memory:', site: 's', edge: 'e' });
    try {
      expect(s.append([draft(1), draft(2)]).map((m) => m.seq)).toEqual([1, 2]);
      expect(s.read(0, 10)).toHaveLength(2);
    } finally {
      s.close();
    }
  });
});
