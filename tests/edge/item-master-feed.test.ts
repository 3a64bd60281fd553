import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { ItemCache } from '../../edge/item-cache.js';
import { ItemMasterFeed } from '../../edge/item-master-feed.js';
import { openStateDb } from '../../edge/state-db.js';
import { tempDir } from '../helpers/procs.js';

const snap = (version: number, items: unknown[]) => JSON.stringify({ v: 1, version, items });

function open() {
  const db = openStateDb(join(tempDir(), 'state.db'));
  const cache = new ItemCache(db);
  return { db, cache, feed: new ItemMasterFeed(db, cache) };
}

describe('ItemMasterFeed: the cloud item master in the edge cache (issue 9)', () => {
  it('applies a snapshot into the master source and maps GTINs; an older or equal version is ignored', () => {
    const { cache, feed } = open();
    expect(feed.receive(snap(3, [{ sku: 'CEM-50', gtin: '09506000134352', uom: 'bag', unitWeightKg: 50 }]))).toEqual({ result: 'applied', version: 3, items: 1 });
    expect(cache.byGtin('09506000134352')).toMatchObject({ sku: 'CEM-50', uom: 'bag', unitWeightKg: 50, source: 'master' });
    expect(feed.version).toBe(3);
    expect(feed.receive(snap(3, []))).toMatchObject({ result: 'ignored' });
    expect(feed.receive(snap(2, []))).toMatchObject({ result: 'ignored' });
    expect(cache.bySku('CEM-50')).toBeDefined();
    // A newer snapshot replaces the whole set.
    expect(feed.receive(snap(4, [{ sku: 'BOLT', uom: 'ea' }]))).toMatchObject({ result: 'applied', items: 1 });
    expect(cache.bySku('CEM-50')).toBeUndefined();
  });

  it("never overrides the operator's items: local and remote-config rows win for a sku and a GTIN", () => {
    const { cache, feed } = open();
    cache.replace('local', [{ sku: 'CEM-50', gtin: '09506000134352', uom: 'bag' }]);
    cache.replace('remote', [{ sku: 'SAND', uom: 'kg' }]);
    feed.receive(snap(1, [
      { sku: 'CEM-50', gtin: '09506000134352', uom: 'kg' },
      { sku: 'SAND', uom: 't' },
      { sku: 'BOLT', uom: 'ea', unitWeightKg: 0.1 },
    ]));
    expect(cache.bySku('CEM-50')).toMatchObject({ uom: 'bag', source: 'local' });
    expect(cache.byGtin('09506000134352')).toMatchObject({ uom: 'bag', source: 'local' });
    expect(cache.bySku('SAND')).toMatchObject({ uom: 'kg', source: 'remote' });
    expect(cache.bySku('BOLT')).toMatchObject({ uom: 'ea', unitWeightKg: 0.1, source: 'master' });
    expect(cache.counts()).toEqual({ remote: 1, local: 1, master: 3 });
  });

  it('refuses an invalid snapshot with the field named and keeps what it had; an empty payload is ignored', () => {
    const { cache, feed } = open();
    feed.receive(snap(1, [{ sku: 'BOLT', uom: 'ea' }]));
    const bad = feed.receive(snap(2, [{ sku: 'X', unitWeightKg: -1 }]));
    expect(bad).toMatchObject({ result: 'rejected', version: 1 });
    expect(bad.result === 'rejected' && bad.error).toMatch(/unitWeightKg/);
    expect(feed.error).toMatch(/keeping version 1/);
    expect(feed.receive(snap(2, [{ sku: 'A' }, { sku: 'A' }]))).toMatchObject({ result: 'rejected' });
    expect(feed.receive('{')).toMatchObject({ result: 'rejected' });
    expect(feed.receive('')).toMatchObject({ result: 'ignored' });
    expect(cache.bySku('BOLT')).toBeDefined();
    expect(feed.receive(snap(2, [{ sku: 'BOLT', uom: 'ea' }]))).toMatchObject({ result: 'applied' });
    expect(feed.error).toBeUndefined();
  });

  it('upgrades a state.db made before the feed (CHECK allowed only remote/local), keeping its items', () => {
    const path = join(tempDir(), 'state.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE items (
      sku TEXT NOT NULL,
      source TEXT NOT NULL CHECK (source IN ('remote', 'local')),
      gtin TEXT, uom TEXT, unit_weight_kg REAL, serialised INTEGER NOT NULL DEFAULT 0, description TEXT,
      PRIMARY KEY (sku, source));
      CREATE INDEX items_gtin ON items (gtin) WHERE gtin IS NOT NULL;
      INSERT INTO items (sku, source, gtin, uom) VALUES ('OLD', 'local', '09506000134352', 'bag');`);
    old.close();
    const db = openStateDb(path);
    const cache = new ItemCache(db);
    expect(cache.byGtin('09506000134352')).toMatchObject({ sku: 'OLD', uom: 'bag', source: 'local' });
    expect(new ItemMasterFeed(db, cache).receive(snap(1, [{ sku: 'NEW' }]))).toMatchObject({ result: 'applied' });
    expect(cache.bySku('NEW')).toMatchObject({ source: 'master' });
    db.close();
    // Opening again does not rebuild anything.
    const again = openStateDb(path);
    expect(new ItemCache(again).size()).toBe(2);
    again.close();
  });
});
