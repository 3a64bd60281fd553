import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutboxFullError } from '../../../edge/outbox/outbox-store.js';
import { SqliteOutbox } from '../../../edge/outbox/sqlite.js';
import { draft } from '../../contracts/outbox-store.contract.js';
import { tempDir } from '../../helpers/procs.js';

const ID = { site: 'site-A', edge: 'edge-1' };
const drafts = (n: number, from = 1) => Array.from({ length: n }, (_, i) => draft(from + i));

/** What the table really holds, the slow way. */
function truth(path: string): { count: number; bytes: number } {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT COUNT(*) AS count, COALESCE(SUM(LENGTH(CAST(json AS BLOB))), 0) AS bytes FROM outbox').get() as { count: number; bytes: number };
  } finally {
    db.close();
  }
}

describe('SqliteOutbox: size bound and overflow policy', () => {
  const open: SqliteOutbox[] = [];
  const mk = (path: string, maxBytes?: number) => {
    const o = new SqliteOutbox({ path, ...ID, ...(maxBytes ? { maxBytes } : {}) });
    open.push(o);
    return o;
  };
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
  });

  it('defaults to 256 MiB', () => {
    expect(mk(':memory:').maxBytes).toBe(256 * 1024 * 1024);
  });

  it('refuses new movements when full, stores none of the refused append, and never drops old ones', () => {
    const path = join(tempDir(), 'o.db');
    const o = mk(path, 20_000);
    let n = 0;
    let err: unknown;
    try {
      for (;;) n += o.append(drafts(10, n + 1)).length;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutboxFullError);
    const full = err as OutboxFullError;
    expect(full.code).toBe('SG_ERR_OUTBOX_FULL');
    expect(full.maxBytes).toBe(20_000);
    expect(full.bytes + full.needed).toBeGreaterThan(20_000);
    expect(full.message).toMatch(/^outbox full: \d+ of 20000 bytes unacked, \d+ more refused/);
    // Everything accepted before is still there, gapless from 1; the refused append left no trace.
    expect(o.lastSeq()).toBe(n);
    expect(o.read(0, 1e6).map((e) => e.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(o.backlog().bytes).toBeLessThanOrEqual(20_000);
    // Single movements still fit until the last byte; then they are refused too.
    while (o.backlog().bytes + 200 <= 20_000) n += o.append([draft(n + 1)]).length;
    expect(() => o.append([draft(999)])).toThrow(OutboxFullError);
    expect(o.lastSeq()).toBe(n);
    // Acks free room: the next append takes the next seq.
    o.ack([[1, 10]]);
    expect(o.append([draft(1000)])[0]!.seq).toBe(n + 1);
    expect(o.backlog()).toMatchObject(truth(path));
  });

  it('setMaxBytes lowers or raises the bound at runtime', () => {
    const o = mk(':memory:');
    o.append(drafts(10));
    o.setMaxBytes(100);
    expect(() => o.append([draft(11)])).toThrow(OutboxFullError);
    o.setMaxBytes(1_000_000);
    expect(o.append([draft(11)])[0]!.seq).toBe(11);
    expect(() => o.setMaxBytes(0)).toThrow(TypeError);
  });

  it('keeps exact counters across appends, acks, rejects and a restart', () => {
    const path = join(tempDir(), 'o.db');
    let o = mk(path);
    o.append(drafts(100));
    o.ack([[1, 10], [20, 29]]);
    o.reject([[50, 54]], 'INVALID_SCHEMA', 'x');
    o.append([draft(1, { raw: 'ümlaut – ✓' })]);
    expect(o.backlog()).toMatchObject({ ...truth(path), oldestSeq: 11 });
    o.close();
    o = mk(path);
    expect(o.backlog()).toMatchObject({ ...truth(path), count: 100 - 20 - 5 + 1 });
  });

  it('counts an outbox from before the counters once, at open', () => {
    const path = join(tempDir(), 'o.db');
    const o = mk(path);
    o.append(drafts(25));
    o.close();
    const db = new Database(path);
    db.prepare(`DELETE FROM meta WHERE key IN ('count', 'bytes')`).run();
    db.close();
    expect(mk(path).backlog()).toMatchObject({ ...truth(path), count: 25 });
  });

  it('backlog() is O(1) in the backlog size: no COUNT/SUM per call', () => {
    const o = mk(join(tempDir(), 'o.db'));
    for (let i = 0; i < 20; i++) o.append(drafts(5000, i * 5000 + 1));
    o.ack([[1, 1000]]);
    const t = performance.now();
    for (let i = 0; i < 2000; i++) o.backlog();
    const perCall = (performance.now() - t) / 2000;
    // A COUNT(*) + SUM(LENGTH(json)) over 99k rows takes milliseconds; the counters take microseconds.
    expect(perCall).toBeLessThan(0.2);
    expect(o.backlog()).toMatchObject({ count: 99_000, oldestSeq: 1001 });
  });
});
