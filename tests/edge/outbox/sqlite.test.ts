import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { OutboxStore } from '../../../edge/outbox/outbox-store.js';
import { SqliteOutbox } from '../../../edge/outbox/sqlite.js';
import { Movement, ROW_COLUMNS, rowsToMovements } from '../../../protocols/mqtt/index.js';
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

  it('readRows: the same entries as readBatch, as rows of batch version 2 that rebuild the stored movements; an entry from before outbox version 2 too', () => {
    h = sqliteHarness();
    const s = h.open() as SqliteOutbox;
    s.append([
      draft(1, { qty: 1.5, uom: 'kg', operator: 'W-1' }),
      draft(2, { sku: undefined, epc: '3034257BF7194E4000001A85', raw: '\\u0000 not NUL: a "quote", \\ and 泵 🧱' }),
      draft(3, { kind: 'transfer', toLocation: 'RACK-2' }),
      draft(4, { kind: 'issue', project: 'P-1', stage: 'S-1', crew: 'C-1', req: 'R-1', order: 'SO-1', po: 'PO-1', batch: 'B', expiry: '2027-01-31', serial: 'SN', gtin: '09506000134352' }),
      draft(5),
    ]);
    // Entry 5 as an outbox before version 2 left it: no stored row.
    const db = new Database(h.path);
    db.prepare('UPDATE outbox SET row = NULL WHERE seq = 5').run();
    db.close();
    const rebuilt = (json: string) => {
      const r = rowsToMovements({ site: DEFAULT_IDENTITY.site, edge: DEFAULT_IDENTITY.edge, cols: [...ROW_COLUMNS], rows: JSON.parse(`[${json}]`) as unknown[] });
      expect(r.problems).toBeUndefined();
      return r.movements.map((m) => Movement.parse(m));
    };
    for (const [after, limit] of [[0, 10], [1, 2], [3, 10], [5, 10]] as const) {
      const a = s.readBatch(after, limit);
      const b = s.readRows(after, limit);
      if (!a) {
        expect(b).toBeUndefined();
        continue;
      }
      expect([b!.first, b!.last, b!.count]).toEqual([a.first, a.last, a.count]);
      expect(rebuilt(b!.json)).toEqual((JSON.parse(`[${a.json}]`) as unknown[]).map((m) => Movement.parse(m)));
      expect(b!.json.length).toBeLessThan(a.json.length);
    }
    // The stored row is the short one (no trailing nulls); the one built from JSON has every column.
    const rows = JSON.parse(`[${s.readRows(0, 10)!.json}]`) as unknown[][];
    expect(rows[0]).toHaveLength(ROW_COLUMNS.indexOf('operator') + 1);
    expect(rows[4]).toHaveLength(ROW_COLUMNS.length);
    expect(rows[0]![ROW_COLUMNS.indexOf('qty')]).toBe(1.5);
  });

  it('rows: false (an edge with --no-rows-form) stores no row at append, and readRows still reads the same movements', () => {
    h = sqliteHarness();
    const s = new SqliteOutbox({ path: h.path, ...DEFAULT_IDENTITY, rows: false });
    try {
      s.append([draft(1, { qty: 2.25 }), draft(2, { operator: 'W-2' })]);
      const db = new Database(h.path, { readonly: true });
      expect(db.prepare('SELECT row FROM outbox ORDER BY seq').pluck().all()).toEqual([null, null]);
      db.close();
      const b = s.readRows(0, 10)!;
      const r = rowsToMovements({ ...DEFAULT_IDENTITY, cols: [...ROW_COLUMNS], rows: JSON.parse(`[${b.json}]`) as unknown[] });
      expect(r.movements.map((m) => Movement.parse(m))).toEqual(s.read(0, 10).map((e) => Movement.parse(JSON.parse(e.json))));
    } finally {
      s.close();
    }
  });
});
