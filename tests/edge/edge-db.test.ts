import Database from 'better-sqlite3';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { EdgeAgent } from '../../edge/agent.js';
import { parseEdgeConfig } from '../../edge/config.js';
import { IdentityTable } from '../../edge/identities.js';
import { ItemCache } from '../../edge/item-cache.js';
import { ItemMasterFeed } from '../../edge/item-master-feed.js';
import { openEdgeDb } from '../../edge/edge-db.js';
import { OUTBOX_SCHEMA, SqliteOutbox } from '../../edge/outbox/sqlite.js';
import { RemoteConfigManager } from '../../edge/remote-config.js';
import { openStateDb, STATE_SCHEMA } from '../../edge/state-db.js';
import { SqliteTallyStore } from '../../edge/tally-store.js';
import { Movement, ROW_COLUMNS, rowsToMovements } from '../../protocols/mqtt/index.js';
import { ROOT, tempDir } from '../helpers/procs.js';

/**
 * Issue 15 §5: the edge's SQLite files migrate through the shared versioned runner. The fixture
 * is an edge data dir written by stockgate 0.2 itself (commit 324a64e, before versioned edge
 * migrations; tests/fixtures/edge-0.2/make.mjs): unacked outbox entries, the seq counter, a
 * rejected entry, items of three sources, an identity in stock, remote config v3, an open count.
 */
const FIXTURE = join(ROOT, 'tests', 'fixtures', 'edge-0.2');
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
  site: string;
  edge: string;
  outbox: { lastSeq: number; backlog: Record<string, number>; entries: unknown[]; rejected: unknown[] };
  tables: Record<'outbox.db' | 'state.db', Record<string, unknown[]>>;
};
const { site, edge } = expected;

/** A copy of the fixture's data dir (the fixture itself is never opened for writing). */
function copyDataDir(): string {
  const dir = tempDir('sg-edge-upgrade-');
  for (const f of ['outbox.db', 'state.db']) copyFileSync(join(FIXTURE, 'data', f), join(dir, f));
  return dir;
}

/** Every table's rows read with plain SQLite (not the code under test), without the version table. */
function dump(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'db_migrations' ORDER BY name").pluck().all() as string[];
    return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all()]));
  } finally {
    db.close();
  }
}

function versions(path: string): Array<{ module: string; version: number; applied_at: string }> {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT module, version, applied_at FROM db_migrations ORDER BY module, version').all() as Array<{ module: string; version: number; applied_at: string }>;
  } finally {
    db.close();
  }
}

describe('edge migrations: a data dir of stockgate 0.2 (issue 15 §5)', () => {
  it('opens with nothing lost (entries, next seq, rejected, items, identity, remote config, open count): recorded as version 1, the outbox then migrated to 2', () => {
    const dir = copyDataDir();
    const outboxPath = join(dir, 'outbox.db');
    const statePath = join(dir, 'state.db');
    // The copy is what 0.2 wrote, and it has no version table.
    expect({ 'outbox.db': dump(outboxPath), 'state.db': dump(statePath) }).toEqual(expected.tables);
    expect(() => versions(outboxPath)).toThrow(/no such table: db_migrations/);

    const outbox = new SqliteOutbox({ path: outboxPath, site, edge });
    expect(outbox.read(0, 100)).toEqual(expected.outbox.entries);
    expect(outbox.lastSeq()).toBe(expected.outbox.lastSeq);
    expect(outbox.backlog()).toEqual(expected.outbox.backlog);
    expect(outbox.rejected(10)).toEqual(expected.outbox.rejected);
    const state = openStateDb(statePath);
    const items = new ItemCache(state);
    expect(items.byGtin('09506000134352')).toMatchObject({ sku: 'CEM-50', uom: 'bag', source: 'local' });
    expect(items.bySku('SAND')).toMatchObject({ source: 'remote' });
    expect(new ItemMasterFeed(state, items).version).toBe(4);
    expect(new IdentityTable(state).inStock('09506000134352+S-100')).toBe(true);
    expect(new RemoteConfigManager(state, () => undefined).restore()).toEqual({ result: 'applied', version: 3 });
    expect([...new SqliteTallyStore(state).load().entries()].map(([s, es]) => [s, es.map((e) => [e.key, e.qty, e.scans])])).toEqual([['dock1', [['L1|SKU-9', 12, 3]]]]);
    outbox.close();
    state.close();

    // Not a value changed: the outbox's entries only gained the column of version 2 (their row of
    // the batch version 2, NULL: read from their JSON when sent); each file was recognised as
    // version 1 of its schema, not run, and the outbox then ran version 2.
    const tables = { 'outbox.db': dump(outboxPath), 'state.db': dump(statePath) };
    const outboxRows = tables['outbox.db'].outbox as Array<Record<string, unknown>>;
    expect(outboxRows.length).toBeGreaterThan(0);
    expect(outboxRows.every((r) => r.row === null)).toBe(true);
    tables['outbox.db'].outbox = outboxRows.map(({ row: _row, ...rest }) => rest);
    expect(tables).toEqual(expected.tables);
    expect(versions(outboxPath).map((v) => [v.module, v.version])).toEqual([['outbox', 1], ['outbox', 2]]);
    expect(versions(statePath).map((v) => [v.module, v.version])).toEqual([['state', 1]]);
  });

  it("0.2's unacked entries go out in the rows form too: rows built from their JSON mean the same movements", () => {
    const dir = copyDataDir();
    const outbox = new SqliteOutbox({ path: join(dir, 'outbox.db'), site, edge });
    try {
      const stored = outbox.read(0, 100);
      const b = outbox.readRows(0, 100)!;
      expect([b.first, b.last, b.count]).toEqual([stored[0]!.seq, stored.at(-1)!.seq, stored.length]);
      const { movements, problems } = rowsToMovements({ site, edge, cols: [...ROW_COLUMNS], rows: JSON.parse(`[${b.json}]`) as unknown[] });
      expect(problems).toBeUndefined();
      expect(movements.map((m) => Movement.parse(m))).toEqual(stored.map((e) => Movement.parse(JSON.parse(e.json))));
    } finally {
      outbox.close();
    }
  });

  it('a 0.2 file is recognised as version 1 by its tables (adopted) and runs the later versions; a new one runs them all', () => {
    const dir = copyDataDir();
    for (const [f, schema, later] of [
      ['outbox.db', OUTBOX_SCHEMA, [2]],
      ['state.db', STATE_SCHEMA, []],
    ] as const) {
      const { db, report } = openEdgeDb(join(dir, f), schema);
      db.close();
      expect(report).toEqual({ adopted: [1], applied: later });
      const again = openEdgeDb(join(dir, f), schema);
      again.db.close();
      expect(again.report).toEqual({ adopted: [], applied: [] });
      const fresh = openEdgeDb(join(tempDir('sg-edge-new-'), f), schema);
      fresh.db.close();
      expect(fresh.report).toEqual({ adopted: [], applied: [1, ...later] });
    }
  });

  it('re-opening is idempotent, and the agent goes on from the next seq with the pending state', async () => {
    const dir = copyDataDir();
    new SqliteOutbox({ path: join(dir, 'outbox.db'), site, edge }).close();
    openStateDb(join(dir, 'state.db')).close();
    const first = { outbox: versions(join(dir, 'outbox.db')), state: versions(join(dir, 'state.db')) };
    const agent = new EdgeAgent(parseEdgeConfig({ dataDir: dir, broker: 'mqtt://127.0.0.1:9', site, edgeId: edge, location: 'DOCK-1', telemetryMs: 0 }), pino({ level: 'silent' }));
    try {
      // Opened a second time by the agent: the same version rows (not re-run, not re-adopted).
      expect({ outbox: versions(join(dir, 'outbox.db')), state: versions(join(dir, 'state.db')) }).toEqual(first);
      expect(agent.outbox.backlog().count).toBe(4);
      expect(agent.remote.version).toBe(3);
      const [m] = agent.record([{ ts: new Date().toISOString(), location: 'DOCK-1', kind: 'receive', sku: 'SKU-8', qty: 1, uom: 'ea', device: { id: 'test', type: 'api' }, raw: 'SKU-8' }]);
      expect(m!.seq).toBe(expected.outbox.lastSeq + 1);
      expect(agent.outbox.read(0, 100).map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
    } finally {
      await agent.stop();
    }
  });

  it('a file written by a newer release is refused before anything changes, naming the file and the versions', () => {
    const dir = copyDataDir();
    for (const [f, schema, known] of [
      ['outbox.db', 'outbox', 2],
      ['state.db', 'state', 1],
    ] as const) {
      const path = join(dir, f);
      const open = () => (f === 'outbox.db' ? new SqliteOutbox({ path, site, edge }).close() : openStateDb(path).close());
      open();
      const db = new Database(path);
      db.prepare("INSERT INTO db_migrations (module, version, name, applied_at) VALUES (?, ?, 'from the future', '2030-01-01T00:00:00.000Z')").run(schema, known + 1);
      db.close();
      const before = dump(path);
      expect(open).toThrow(expect.objectContaining({ code: 'SG_ERR_MIGRATION_NEWER', message: expect.stringMatching(new RegExp(`${f}: ${schema}: the database is at version ${known + 1}, this release knows versions up to ${known}`)) }));
      expect(dump(path)).toEqual(before);
    }
    // The agent does not start on it.
    const config = parseEdgeConfig({ dataDir: dir, broker: 'mqtt://127.0.0.1:9', site, edgeId: edge, location: 'DOCK-1', telemetryMs: 0 });
    expect(() => new EdgeAgent(config, pino({ level: 'silent' }))).toThrow(expect.objectContaining({ code: 'SG_ERR_MIGRATION_NEWER' }));
  });

  it('a new data dir runs every version of each schema', () => {
    const dir = tempDir('sg-edge-new-');
    new SqliteOutbox({ path: join(dir, 'outbox.db'), site, edge }).close();
    openStateDb(join(dir, 'state.db')).close();
    expect(Object.keys(dump(join(dir, 'outbox.db')))).toEqual(['meta', 'outbox', 'rejected']);
    expect(Object.keys(dump(join(dir, 'state.db')))).toEqual(['count_tally', 'identities', 'items', 'remote_config', 'state_meta']);
    expect(versions(join(dir, 'outbox.db')).map((v) => [v.module, v.version])).toEqual([['outbox', 1], ['outbox', 2]]);
    expect(versions(join(dir, 'state.db')).map((v) => [v.module, v.version])).toEqual([['state', 1]]);
  });
});
