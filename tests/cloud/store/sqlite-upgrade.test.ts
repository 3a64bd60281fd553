import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type DbModule, SqliteDatabase, type SqliteDb } from '../../../cloud/db/index.js';
import { sqliteMigrations } from '../../../cloud/store/sqlite-migrations.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import { mv } from '../../contracts/store.contract.js';

/**
 * Upgrades of the SQLite ledger schema: a data file written at an earlier ledger version (the
 * store's own commit on the schema as that version left it) opens with the current migrations,
 * nothing lost and every balance unchanged.
 */

/** The database, as a store of an earlier release sees it: the ledger module migrated up to `version` only. */
function atVersion(db: SqliteDatabase, version: number): SqliteDb {
  const only = (m: DbModule): DbModule => ({ ...m, migrations: { sqlite: m.migrations.sqlite.filter((x) => x.version <= version), postgres: [] } });
  return Object.assign(Object.create(db) as SqliteDatabase, {
    migrateSync: (m: DbModule) => {
      db.migrateSync(m.name === 'ledger' ? only(m) : m);
      // Today's commit keeps the seqs above hwm in a table of migration 10: scaffolding, dropped
      // before the file is closed (the edge_seqs it computes are those of the ledger scan before:
      // the model test in sqlite.test.ts).
      if (m.name === 'ledger' && version < 10) db.handle.exec(SCAFFOLD);
    },
  });
}
const SCAFFOLD = 'CREATE TABLE edge_seqs_above (site TEXT NOT NULL, edge TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (site, edge, seq)) WITHOUT ROWID';

/** Everything the store keeps, read from the file. */
function snapshot(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    const all = (sql: string) => db.prepare(sql).all();
    return {
      ledger: all('SELECT * FROM ledger ORDER BY pos'),
      balances: all('SELECT * FROM balances ORDER BY site, location, sku, batch, project'),
      heads: all('SELECT * FROM chain_heads ORDER BY site'),
      exceptions: all('SELECT * FROM exceptions ORDER BY id'),
      identities: all('SELECT * FROM identities ORDER BY site, identity'),
      edgeSeqs: all('SELECT * FROM edge_seqs ORDER BY site, edge'),
      deadLetters: all('SELECT * FROM dead_letters ORDER BY id'),
      unknown: all('SELECT * FROM unknown_items ORDER BY sku'),
    };
  } finally {
    db.close();
  }
}

const indexes = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger' AND sql IS NOT NULL ORDER BY name").pluck().all() as string[];
  } finally {
    db.close();
  }
};

const ledgerSql = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return {
      table: db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger'").pluck().get() as string,
      sequence: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'ledger'").pluck().get() as number | undefined,
    };
  } finally {
    db.close();
  }
};

/** SQLite's plan for `sql` on the file (which indexes a query uses). */
const planOf = (path: string, sql: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
  } finally {
    db.close();
  }
};
/** How SQLite finds the highest head pos (the commit's never-reused-pos check). */
const headsPlan = (path: string) => planOf(path, 'SELECT MAX(pos) FROM chain_heads');
/** How SQLite answers the store's open-time question "any row without its chain hash?" (migration 11). */
const unhashedPlan = (path: string) => planOf(path, 'SELECT 1 FROM ledger WHERE hash IS NULL LIMIT 1');

describe('SqliteStore: rows without their chain hash (from before the chain) are found through the partial index', () => {
  it('a ledger whose hashes were never written gets them at open, and the chain verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-ledger-unhashed-'));
    try {
      const path = join(dir, 'stockgate.db');
      let s = new SqliteStore(path);
      await s.commit([{ movements: [mv({ sku: 'P', qty: 3 }), mv({ sku: 'Q', qty: 2 }), mv({ site: 'site-B', sku: 'P', qty: 1 })], deadLetters: [] }]);
      await s.close();
      const hashes = () => {
        const db = new Database(path, { readonly: true });
        try {
          return db.prepare('SELECT site, chain_n, hash FROM ledger ORDER BY pos').all();
        } finally {
          db.close();
        }
      };
      const written = hashes();
      // As a file from before the chain (migration 3) left them: no numbers, no hashes, no heads.
      const raw = new Database(path);
      raw.exec('UPDATE ledger SET chain_n = NULL, hash = NULL; DELETE FROM chain_heads');
      raw.close();
      expect(unhashedPlan(path)).toContain('ledger_unhashed');
      s = new SqliteStore(path);
      try {
        expect(hashes()).toEqual(written);
        expect(await s.verifyChain('site-A')).toMatchObject({ ok: true, checked: 2 });
        expect(await s.verifyChain('site-B')).toMatchObject({ ok: true, checked: 1 });
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each([6, 7, 8, 9, 10])('SqliteStore upgrade: data written at ledger version %i', (version) => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Two sites; receives, issues (one below zero), a transfer, a count, serials, a replay, a dead letter. */
  async function writeAt(version: number, path: string): Promise<void> {
    const db = new SqliteDatabase(path);
    try {
      const s = new SqliteStore(atVersion(db, version));
      const a = (over: Parameters<typeof mv>[0]) => mv({ edge: 'up-edge', ...over });
      const first = [a({ sku: 'P', qty: 10 }), a({ sku: 'P', qty: 2.5, batch: 'L1' }), a({ sku: 'Q', qty: 3, serial: 'SN-1' })];
      await s.commit([{ movements: first, deadLetters: [] }]);
      await s.commit([
        { movements: [a({ sku: 'P', kind: 'issue', qty: 4 }), a({ sku: 'Q', kind: 'issue', qty: 5 }), first[0]!], deadLetters: [] },
        { movements: [mv({ site: 'site-B', edge: 'b-edge', sku: 'P', qty: 7 })], deadLetters: [{ topic: 't', site: 'site-A', edge: 'up-edge', reason: 'INVALID_SCHEMA', message: 'qty', payload: '{}' }] },
      ]);
      await s.commit([{ movements: [a({ sku: 'P', kind: 'transfer', qty: 1, toLocation: 'BIN-2' }), a({ sku: 'P', kind: 'count', qty: 6 })], deadLetters: [] }]);
      await s.close();
      if (version < 10) db.handle.exec('DROP TABLE edge_seqs_above');
      expect(await db.versions('ledger')).toEqual(sqliteMigrations.filter((m) => m.version <= version).map((m) => m.version));
    } finally {
      await db.close();
    }
  }

  it('opens at the current version with every row, balance, head and seq kept; the chain verifies and continues', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-ledger-up-'));
    const path = join(dir, 'stockgate.db');
    await writeAt(version, path);
    const before = snapshot(path);
    // Control: the file really has what migrations 7 and 8 take away, and the data is there.
    if (version < 7) expect(indexes(path)).toContain('ledger_site_chain');
    if (version < 8) expect(ledgerSql(path).table).toContain('AUTOINCREMENT');
    if (version < 8) expect(ledgerSql(path).sequence).toBe(Math.max(...before.ledger.map((x) => (x as { pos: number }).pos)));
    if (version < 9) expect(headsPlan(path)).not.toContain('chain_heads_pos');
    expect(unhashedPlan(path)).not.toContain('ledger_unhashed');
    expect(before.ledger.length).toBe(8); // 9 sent, one a replay
    expect(before.exceptions.length).toBeGreaterThan(0);

    const s = new SqliteStore(path);
    try {
      expect(snapshot(path)).toEqual(before);
      expect(indexes(path)).not.toContain('ledger_site_chain');
      expect(indexes(path)).toEqual(['ledger_site_pos', 'ledger_site_ts', 'ledger_unhashed']);
      expect(unhashedPlan(path)).toContain('ledger_unhashed');
      // Every ledger seq of an edge above its hwm, read from the ledger itself (the oracle).
      const above = (e: { site: string; edge: string; hwm: number }) =>
        [...new Set(before.ledger.filter((r) => (r as { site: string }).site === e.site && (r as { edge: string }).edge === e.edge).map((r) => (r as { seq: number }).seq))]
          .filter((q) => q > e.hwm)
          .sort((x, y) => x - y);
      const kept = new Database(path, { readonly: true });
      const edgeSeqs = before.edgeSeqs as Array<{ site: string; edge: string; hwm: number; max_seq: number }>;
      for (const e of edgeSeqs) {
        expect(kept.prepare('SELECT seq FROM edge_seqs_above WHERE site = ? AND edge = ? ORDER BY seq').pluck().all(e.site, e.edge)).toEqual(above(e));
      }
      kept.close();
      // Control: a gap was pending on the upgraded edge.
      const up = edgeSeqs.find((e) => e.edge === 'up-edge')!;
      expect(up.max_seq).toBeGreaterThan(up.hwm);
      const n = (site: string) => before.ledger.filter((r) => (r as { site: string }).site === site).length;
      expect(await s.verifyChain('site-A')).toEqual({ ok: true, checked: n('site-A'), brokenAt: null });
      expect(await s.verifyChain('site-B')).toEqual({ ok: true, checked: n('site-B'), brokenAt: null });

      const next = mv({ edge: 'up-edge', sku: 'P', qty: 1 });
      const r = await s.commit([{ movements: [next], deadLetters: [] }]);
      expect(r.heads).toEqual([expect.objectContaining({ site: 'site-A', n: n('site-A') + 1 })]);
      const maxPos = Math.max(...before.ledger.map((x) => (x as { pos: number }).pos));
      expect((await s.movement(next.id))!.pos).toBeGreaterThan(maxPos);
      expect((await s.movement(next.id))!.pos).toBe(maxPos + 1);
      expect(await s.verifyChain('site-A')).toEqual({ ok: true, checked: n('site-A') + 1, brokenAt: null });
      expect(ledgerSql(path).sequence).toBeUndefined();
      // The gap is reported after the upgrade as the ledger shows it (read from the file).
      const f = new Database(path, { readonly: true });
      const cur = f.prepare("SELECT hwm, max_seq AS max FROM edge_seqs WHERE edge = 'up-edge'").get() as { hwm: number; max: number };
      const have = new Set(f.prepare("SELECT seq FROM ledger WHERE edge = 'up-edge'").pluck().all() as number[]);
      f.close();
      const holes: Array<[number, number]> = [];
      for (let q = cur.hwm + 1; q <= cur.max; q++) {
        if (have.has(q)) continue;
        const last = holes.at(-1);
        if (last && last[1] === q - 1) last[1] = q;
        else holes.push([q, q]);
      }
      expect(holes.length).toBeGreaterThan(0);
      const gapped = await s.commit([{ movements: [mv({ edge: 'up-edge', seq: cur.max + 1, sku: 'P' })], deadLetters: [] }]);
      expect(gapped.batches[0]!.missing).toEqual(holes);
      // Filled: hwm runs to the end, and nothing is kept above it.
      const fill = holes.flatMap(([lo, hi]) => Array.from({ length: hi - lo + 1 }, (_, i) => mv({ edge: 'up-edge', seq: lo + i, sku: 'P' })));
      expect((await s.commit([{ movements: fill, deadLetters: [] }])).batches[0]!.missing).toEqual([]);
      expect(await s.edgeSeq('site-A', 'up-edge')).toMatchObject({ hwm: cur.max + 1, maxSeq: cur.max + 1 });
      const g = new Database(path, { readonly: true });
      expect(g.prepare("SELECT COUNT(*) FROM edge_seqs_above WHERE edge = 'up-edge'").pluck().get()).toBe(0);
      g.close();
    } finally {
      await s.close();
    }
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT version FROM db_migrations WHERE module = 'ledger' ORDER BY version").pluck().all()).toEqual(sqliteMigrations.map((m) => m.version));
    db.close();
  });
});
