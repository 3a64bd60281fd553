import { describe, expect, it } from 'vitest';
import type { ScanReading } from '../../devices/driver.js';
import { MemoryItems } from '../../edge/item-cache.js';
import { ScanSession } from '../../edge/scan-session.js';

const DEVICE = { id: 'dock1', type: 'scanner' };
const scan = (data: string): ScanReading => ({ kind: 'scan', data, raw: data, at: Date.parse('2026-11-22T02:19:00.000Z') });
const session = (rules = {}) => new ScanSession({ mode: 'receive', location: 'DOCK-1', uom: 'ea' }, rules);

describe('ScanSession: project QR (stockgate: URLs)', () => {
  it.each([
    ['stockgate:project/P-1', { project: 'P-1' }],
    ['STOCKGATE:PROJECT/P-1/S-2', { project: 'P-1', stage: 'S-2' }],
    ['stockgate:project/P%2F7/Stage%201', { project: 'P/7', stage: 'Stage 1' }],
    ['stockgate:crew/C-12', { crew: 'C-12' }],
    ['stockgate:op/W-7', { operator: 'W-7' }],
  ])('%j sets %j', (data, expected) => {
    const s = session();
    const out = s.handle(scan(data), DEVICE);
    expect(out).toMatchObject({ type: 'control', context: expected });
  });

  it('a project QR without a stage clears the stage a previous one set', () => {
    const s = session();
    s.handle(scan('stockgate:project/P-1/S-2'), DEVICE);
    s.handle(scan('stockgate:project/P-3'), DEVICE);
    expect(s.context.project).toBe('P-3');
    expect(s.context.stage).toBeUndefined();
  });

  it.each([
    ['stockgate:project/', /expected stockgate:project/],
    ['stockgate:project/A/B/C', /expected stockgate:project/],
    ['stockgate:truck/T-1', /unknown kind 'truck'/],
    ['stockgate:crew/C-1/X', /a crew code has no stage/],
    ['stockgate:op/W-1/X', /a badge has no stage/],
    ['stockgate:project/%E0%A4%A', /bad percent-encoding/],
    ['stockgate:project/P%00', /expected stockgate:project/],
    [`stockgate:project/${'P'.repeat(65)}`, /longer than 64/],
  ])('%j is refused', (data, message) => {
    const s = session();
    const before = structuredClone(s.context);
    expect(s.handle(scan(data), DEVICE)).toMatchObject({ type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: expect.stringMatching(message) });
    expect(s.context).toEqual(before);
  });
});

describe('ScanSession: rules', () => {
  const items = new MemoryItems([
    { sku: 'CEM-50', gtin: '09506000134352', uom: 'bag' },
    { sku: 'PUMP-1', gtin: '04012345678901', serialised: true },
  ]);

  it('maps a GTIN to the cached sku and uom', () => {
    expect(session({ items }).handle(scan(']E09506000134352'), DEVICE)).toMatchObject({
      type: 'movement',
      draft: { sku: 'CEM-50', gtin: '09506000134352', uom: 'bag' },
      item: { sku: 'CEM-50' },
    });
  });

  it('refuses a serialised item without its serial; a serial label moves one unit whatever QTY: says', () => {
    const s = session({ items });
    s.handle(scan('QTY:5'), DEVICE);
    expect(s.handle(scan(']E04012345678901'), DEVICE)).toMatchObject({ type: 'error', code: 'SG_ERR_ITEM_SERIAL' });
    expect(s.handle(scan('(01)04012345678901(21)SN-9'), DEVICE)).toMatchObject({ type: 'movement', draft: { sku: 'PUMP-1', serial: 'SN-9', qty: 1 } });
  });

  it('unknownItems reject refuses unknown items only when the cache has items', () => {
    expect(session({ items, unknownItems: 'reject' }).handle(scan('NOPE'), DEVICE)).toMatchObject({ type: 'error', code: 'SG_ERR_ITEM_UNKNOWN', message: 'NOPE is not in the item master' });
    expect(session({ items: new MemoryItems(), unknownItems: 'reject' }).handle(scan('NOPE'), DEVICE)).toMatchObject({ type: 'movement' });
    expect(session({ items }).handle(scan('NOPE'), DEVICE)).toMatchObject({ type: 'movement' });
  });

  it('issueRequires applies to issues only; setRules changes it live', () => {
    const s = session({ issueRequires: ['crew'] });
    expect(s.handle(scan('A'), DEVICE)).toMatchObject({ type: 'movement' });
    s.handle(scan('MODE:ISSUE'), DEVICE);
    expect(s.handle(scan('A'), DEVICE)).toMatchObject({ type: 'error', code: 'SG_ERR_SCAN_CONTEXT', message: 'issue needs CREW: scanned first' });
    s.setRules({});
    expect(s.handle(scan('A'), DEVICE)).toMatchObject({ type: 'movement', draft: { kind: 'issue' } });
  });
});
