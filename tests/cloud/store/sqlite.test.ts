import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from '../../../cloud/db/index.js';
import { negative } from '../../../cloud/ledger/rules.js';
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

  it('a group commit writes its WAL frames and no statement-journal pages (issue 14 §1)', async () => {
    // Bytes this thread wrote through write(2)/pwrite(2) (Linux): SQLite writes on the calling
    // thread, so the commit's WAL frames and any spilled statement journal are counted here.
    const wchar = () => Number(/wchar:\s+(\d+)/.exec(readFileSync('/proc/thread-self/io', 'utf8'))![1]);
    h = sqliteHarness();
    const db = new SqliteDatabase(h.path);
    try {
      db.handle.pragma('wal_autocheckpoint = 0'); // no checkpoint's writes in the figure
      const s = new SqliteStore(db);
      // 200 docks x 50 SKUs: a chunk of 32 balance upserts (one SKU, 32 docks) changes 32 pages,
      // 128 KiB, past the 64 KiB a statement journal keeps in memory before it spills to a file.
      const group = (tag: string) =>
        Array.from({ length: 40 }, (_, b) => ({
          deadLetters: [],
          movements: Array.from({ length: 50 }, (_, i) => mv({ id: `MV-J${tag}-${b}-${i}`, edge: `e-${b}`, seq: i + 1 + (tag === 'b' ? 50 : 0), location: `DOCK-${(b * 5 + i) % 200}`, sku: `SKU-${i}` })),
        }));
      await s.commit(group('a'));
      for (let k = 0; k < 4; k++) await s.commit(Array.from({ length: 200 }, (_, d) => ({ deadLetters: [], movements: Array.from({ length: 50 }, (_, i) => mv({ id: `MV-JW${k}-${d}-${i}`, edge: `w-${d}`, seq: k * 50 + i + 1, location: `DOCK-${d}`, sku: `SKU-${i}` })) })));
      const wal = () => statSync(`${h!.path}-wal`).size;
      const [w0, b0] = [wal(), wchar()];
      const r = await s.commit(group('b'));
      const [frames, written] = [wal() - w0, wchar() - b0];
      expect(r.batches.reduce((n, b) => n + b.applied, 0)).toBe(2000);
      expect(frames).toBeGreaterThan(100 * 4096);
      // Only the WAL frames: with the journal spilling to a file this commit wrote 6.8 times them.
      expect(written).toBeLessThan(frames * 1.1);
    } finally {
      await db.close();
    }
  });

  it('a row the ledger refuses for another reason (NOT NULL) fails the commit instead of passing as a duplicate', async () => {
    h = sqliteHarness();
    const s = await h.open();
    // A movement no validator would pass: device.id null breaks ledger.device_id NOT NULL.
    // With INSERT OR IGNORE it was skipped and reported 'duplicate', so the edge got an ack for a
    // movement that is in no ledger: lost.
    const bad = mv({ device: { id: null as unknown as string, type: 'scanner' } });
    await expect(s.commit([{ movements: [bad], deadLetters: [] }])).rejects.toThrow(/NOT NULL/);
    expect(await s.movement(bad.id)).toBeUndefined();
    // A true duplicate is still skipped and reported as one.
    const good = mv();
    expect((await s.commit([{ movements: [good], deadLetters: [] }])).batches[0]!.outcomes).toEqual(['applied']);
    expect((await s.commit([{ movements: [good], deadLetters: [] }])).batches[0]!.outcomes).toEqual(['duplicate']);
  });
});

describe('SqliteStore hash chain without UNIQUE (site, chain_n) (migration 7)', () => {
  let h: ReturnType<typeof sqliteHarness> | undefined;
  afterEach(() => h?.destroy());

  it('two processes committing to one file in turn keep one linear chain per site', async () => {
    h = sqliteHarness();
    const a = await h.open();
    const b = await h.open();
    const ms = Array.from({ length: 6 }, (_, i) => mv({ site: 'site-W', sku: 'W', qty: i + 1 }));
    // Each store's last head is stale once the other committed: a cached head would number the
    // next row again (with the UNIQUE index gone, a fork the verifier reports).
    await a.commit([{ movements: [ms[0]!, ms[1]!], deadLetters: [] }]);
    await b.commit([{ movements: [ms[2]!], deadLetters: [] }]);
    await a.commit([{ movements: [ms[3]!], deadLetters: [] }]);
    const r = await b.commit([{ movements: [ms[4]!, ms[5]!], deadLetters: [] }]);
    expect(r.heads).toEqual([expect.objectContaining({ site: 'site-W', n: 6 })]);
    expect(await a.verifyChain('site-W')).toEqual({ ok: true, checked: 6, brokenAt: null });
    const db = new Database(h.path, { readonly: true });
    try {
      expect(db.prepare("SELECT chain_n FROM ledger WHERE site = 'site-W' ORDER BY pos").pluck().all()).toEqual([1, 2, 3, 4, 5, 6]);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'ledger_site_chain'").get()).toBeUndefined();
    } finally {
      db.close();
    }
  });

  it('verify reports a row whose chain number was changed, though its hash was left alone', async () => {
    h = sqliteHarness();
    const s = await h.open();
    const ms = Array.from({ length: 3 }, () => mv({ site: 'site-N', sku: 'N' }));
    await s.commit([{ movements: ms, deadLetters: [] }]);
    expect((await s.verifyChain('site-N')).ok).toBe(true);
    await h.sql(`UPDATE ledger SET chain_n = 3 WHERE id = '${ms[1]!.id}'`);
    const row2 = (await s.movement(ms[1]!.id))!;
    expect(await s.verifyChain('site-N')).toEqual({ ok: false, checked: 2, brokenAt: { pos: row2.pos, id: ms[1]!.id } });
  });
});

describe('SqliteStore positions without AUTOINCREMENT (migration 8)', () => {
  let h: ReturnType<typeof sqliteHarness> | undefined;
  afterEach(() => h?.destroy());

  it('never gives a pos twice, even when the last row was removed behind its back', async () => {
    h = sqliteHarness();
    const s = await h.open();
    const ms = Array.from({ length: 3 }, () => mv({ site: 'site-P', sku: 'P' }));
    await s.commit([{ movements: ms, deadLetters: [] }]);
    const last = (await s.movement(ms[2]!.id))!.pos;
    await h.sql(`DELETE FROM ledger WHERE id = '${ms[2]!.id}'`);
    // Control: SQLite alone would number the next row with the removed row's pos.
    const db = new Database(h.path, { readonly: true });
    expect(db.prepare('SELECT MAX(pos) + 1 FROM ledger').pluck().get()).toBe(last);
    db.close();
    const next = [mv({ site: 'site-Q', sku: 'P' }), mv({ site: 'site-P', sku: 'P' })];
    await s.commit([{ movements: [ms[0]!, ...next], deadLetters: [] }]);
    expect((await s.movement(next[0]!.id))!.pos).toBe(last + 1);
    expect((await s.movement(next[1]!.id))!.pos).toBe(last + 2);
    // And on from there, once the gap is behind.
    const after = mv({ site: 'site-P', sku: 'P' });
    await s.commit([{ movements: [after], deadLetters: [] }]);
    expect((await s.movement(after.id))!.pos).toBe(last + 3);
  });
});

describe('SqliteStore reads a balance back only when negative() can use it', () => {
  // The commit skips RETURNING on_hand unless op.check && op.delta < 0; that is only the same
  // ledger if negative() raises nothing for every other op, whatever the balance after.
  const op = fc.record({
    key: fc.record({ site: fc.constant('s'), location: fc.constant('L'), sku: fc.string(), batch: fc.string(), project: fc.string() }),
    delta: fc.integer({ min: -1e9, max: 1e9 }),
    uom: fc.constant('ea'),
    expiry: fc.constant(null),
    check: fc.boolean(),
  });
  it('negative() is undefined for any balance when the op is not a checked decrease', () => {
    fc.assert(
      fc.property(op, fc.integer({ min: -1e12, max: 1e12 }), fc.constantFrom('receive', 'issue', 'transfer', 'count'), (o, after, kind) => {
        if (o.check && o.delta < 0) return true;
        return negative(mv({ kind: kind as 'receive' }), o, after) === undefined;
      }),
    );
  });
  it('control: a checked decrease below zero is raised', () => {
    const o = { key: { site: 's', location: 'L', sku: 'X', batch: '', project: '' }, delta: -1000, uom: 'ea', expiry: null, check: true };
    expect(negative(mv({ kind: 'issue' }), o, -1)).toMatchObject({ type: 'NEGATIVE_STOCK', onHand: -1 });
  });
});

describe('SqliteStore per-edge seq tracking (the scan is skipped when a batch follows hwm)', () => {
  let h: ReturnType<typeof sqliteHarness> | undefined;
  afterEach(() => h?.destroy());

  // Model: the set of seqs in the ledger; hwm runs up while every next seq is there; missing are
  // the holes between hwm and the highest seq seen (at most 16 ranges), as the ledger scan finds them.
  function model(have: Set<number>, was: { hwm: number; max: number }, batchMax: number) {
    const max = Math.max(was.max, batchMax);
    let hwm = was.hwm;
    while (hwm < max && have.has(hwm + 1)) hwm++;
    const missing: Array<[number, number]> = [];
    for (let lo = hwm + 1; lo <= max; lo++) {
      if (have.has(lo)) continue;
      let hi = lo;
      while (hi + 1 <= max && !have.has(hi + 1)) hi++;
      if (missing.length < 16) missing.push([lo, hi]);
      lo = hi;
    }
    return { hwm, max, missing };
  }

  it('reports hwm, max and the holes as the model does, for in-order, gapped, replayed and shuffled batches', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 }), fc.boolean(), async (batches, ordered) => {
        h?.destroy();
        h = sqliteHarness();
        const s = await h.open();
        // The same id per seq: a seq sent again is a replay (duplicate), as from an edge's outbox.
        const at = (seq: number) => mv({ id: `SEQ-${seq}`, edge: 'e', seq, sku: 'Q' });
        const have = new Set<number>();
        let was = { hwm: 0, max: 0 };
        // Runs that follow hwm exactly (the fast path) mixed with arbitrary ones.
        let next = 1;
        for (const raw of batches) {
          const seqs = ordered ? raw.map(() => next++) : raw;
          const r = await s.commit([{ movements: seqs.map(at), deadLetters: [] }]);
          for (const q of seqs) have.add(q);
          const want = model(have, was, Math.max(...seqs));
          expect(r.batches[0]!.missing).toEqual(want.missing);
          expect(await s.edgeSeq('site-A', 'e')).toMatchObject({ hwm: want.hwm, maxSeq: want.max });
          was = want;
          if (ordered && raw[0]! % 5 === 0) next += 2; // now and then a gap
        }
      }),
      { numRuns: 60 },
    );
  });

  it('as the model per edge when batches mix two edges (each batch tracked for its first movement\'s edge)', async () => {
    const mixed = fc.array(fc.array(fc.tuple(fc.constantFrom('e', 'f'), fc.integer({ min: 1, max: 30 })), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(mixed, async (batches) => {
        h?.destroy();
        h = sqliteHarness();
        const s = await h.open();
        const at = (edge: string, seq: number) => mv({ id: `SEQ-${edge}-${seq}`, edge, seq, sku: 'Q' });
        const have = { e: new Set<number>(), f: new Set<number>() } as Record<string, Set<number>>;
        const was = { e: { hwm: 0, max: 0 }, f: { hwm: 0, max: 0 } } as Record<string, { hwm: number; max: number }>;
        for (const b of batches) {
          const r = await s.commit([{ movements: b.map(([e, q]) => at(e, q)), deadLetters: [] }]);
          for (const [e, q] of b) have[e]!.add(q);
          const edge = b[0]![0];
          const want = model(have[edge]!, was[edge]!, Math.max(...b.map(([, q]) => q)));
          expect(r.batches[0]!.missing).toEqual(want.missing);
          expect(await s.edgeSeq('site-A', edge)).toMatchObject({ hwm: want.hwm, maxSeq: want.max });
          was[edge] = want;
        }
      }),
      { numRuns: 60 },
    );
  });
});

storeLedgerContract('SqliteStore (temp file)', sqliteHarness);
storeTruthContract('SqliteStore (temp file)', sqliteHarness);
storeRefsContract('SqliteStore (temp file)', sqliteHarness);
