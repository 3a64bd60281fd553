import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IdentityTable, identityOf, inStockAfter } from '../../edge/identities.js';
import { ItemCache, readItemsFile } from '../../edge/item-cache.js';
import { openStateDb } from '../../edge/state-db.js';
import type { Movement } from '../../protocols/mqtt/index.js';
import { tempDir } from '../helpers/procs.js';

describe('ItemCache', () => {
  it('maps GTINs to skus, prefers the remote item master over local items, and survives a reopen', () => {
    const path = join(tempDir(), 'state.db');
    let db = openStateDb(path);
    let c = new ItemCache(db);
    expect(c.size()).toBe(0);
    expect(c.replace('local', [{ sku: 'CEM-50', gtin: '09506000134352', uom: 'bag' }, { sku: 'SAND' }])).toBe(true);
    expect(c.byGtin('09506000134352')).toEqual({ sku: 'CEM-50', gtin: '09506000134352', uom: 'bag', source: 'local' });
    c.replace('remote', [{ sku: 'CEM-50', gtin: '09506000134352', uom: 'sack', unitWeightKg: 50, serialised: false }, { sku: 'PUMP', serialised: true }]);
    expect(c.bySku('CEM-50')).toEqual({ sku: 'CEM-50', gtin: '09506000134352', uom: 'sack', unitWeightKg: 50, source: 'remote' });
    expect(c.bySku('PUMP')).toEqual({ sku: 'PUMP', serialised: true, source: 'remote' });
    expect(c.bySku('SAND')).toEqual({ sku: 'SAND', source: 'local' });
    expect(c.counts()).toEqual({ remote: 2, local: 2, master: 0 });
    expect(c.size()).toBe(4);
    // The same list again (a retained config after a reconnect) is not rewritten.
    expect(c.replace('remote', [{ sku: 'CEM-50', gtin: '09506000134352', uom: 'sack', unitWeightKg: 50, serialised: false }, { sku: 'PUMP', serialised: true }])).toBe(false);
    db.close();
    db = openStateDb(path);
    c = new ItemCache(db);
    expect(c.size()).toBe(4);
    c.replace('remote', []);
    expect(c.bySku('CEM-50')?.uom).toBe('bag');
    expect(c.byGtin('00000000000000')).toBeUndefined();
    db.close();
  });

  it('reads --items FILE (array or {items}) and names the field of a bad one', () => {
    const dir = tempDir();
    const f = (name: string, body: string) => {
      const p = join(dir, name);
      writeFileSync(p, body);
      return p;
    };
    expect(readItemsFile(f('a.json', '[{"sku":"A","unitWeightKg":0.5}]'))).toEqual([{ sku: 'A', unitWeightKg: 0.5 }]);
    expect(readItemsFile(f('b.json', '{"items":[{"sku":"B"}]}'))).toEqual([{ sku: 'B' }]);
    expect(() => readItemsFile(f('c.json', '[{"sku":"C","unitWeightKg":-1}]'))).toThrow(/items file .*c.json: 0.unitWeightKg: /);
    expect(() => readItemsFile(f('d.json', '[{"sku":"D"},{"sku":"D"}]'))).toThrow(/items: duplicate 'D'/);
    expect(() => readItemsFile(f('e.json', 'nope'))).toThrow(/items file .*e.json: /);
    expect(() => readItemsFile(join(dir, 'missing.json'))).toThrow(/ENOENT/);
  });
});

describe('IdentityTable', () => {
  const m = (kind: Movement['kind'], over: Partial<Movement> = {}): Movement =>
    ({ v: 1, id: `01JDQ7ZK3M8Y2V5XKJ4N6P9R${kind.slice(0, 2).toUpperCase()}`, edge: 'e', seq: 1, site: 's', ts: '2026-11-22T00:00:00.000Z', location: 'L', kind, qty: 1, uom: 'ea', device: { id: 'd', type: 'x' }, raw: '', epc: 'E2801', ...over }) as Movement;

  it('uses the cloud ledger identity keys', () => {
    expect(identityOf({ epc: 'E2801', gtin: '1', serial: '2' })).toBe('epc:E2801');
    expect(identityOf({ gtin: '09506000134352', sku: 'X', serial: 'S1' })).toBe('09506000134352+S1');
    expect(identityOf({ sku: 'X', serial: 'S1' })).toBe('X+S1');
    expect(identityOf({ sku: 'X' })).toBeUndefined();
    expect([inStockAfter({ kind: 'count', qty: 0 }), inStockAfter({ kind: 'adjust', qty: 1 }), inStockAfter({ kind: 'transfer', qty: 1 })]).toEqual([false, true, true]);
  });

  it('tracks units in and out of stock across a reopen', () => {
    const path = join(tempDir(), 'state.db');
    const db = openStateDb(path);
    const t = new IdentityTable(db);
    expect(t.apply([])).toBe(0);
    expect(t.apply([m('receive'), m('receive', { epc: undefined, sku: 'NOSERIAL' })])).toBe(1);
    expect(t.inStock('epc:E2801')).toBe(true);
    t.apply([m('issue')]);
    expect(t.inStock('epc:E2801')).toBe(false);
    t.apply([m('transfer', { toLocation: 'L2' })]);
    expect(t.inStockCount()).toBe(1);
    db.close();
    expect(new IdentityTable(openStateDb(path)).inStock('epc:E2801')).toBe(true);
  });
});
