import { describe, expect, it } from 'vitest';
import type { ScanReading } from '../../devices/driver.js';
import { MemoryItems } from '../../edge/item-cache.js';
import { addQty, roundQty, weightInItemUom } from '../../edge/item-uom.js';
import { ScanSession } from '../../edge/scan-session.js';

const DEVICE = { id: 'dock1', type: 'scanner' };
const AT = Date.parse('2026-11-22T02:19:00.000Z');
const scan = (data: string): ScanReading => ({ kind: 'scan', data, raw: data, at: AT });

describe('weightInItemUom (issue 9, C3)', () => {
  it('keeps kg for unknown items, items without a uom and items mastered in kg', () => {
    expect(weightInItemUom(25, undefined)).toEqual({ ok: true, qty: 25, uom: 'kg', via: 'kg', rounded: false });
    expect(weightInItemUom(25, {})).toMatchObject({ ok: true, qty: 25, uom: 'kg' });
    expect(weightInItemUom(25, { uom: 'kg', unitWeightKg: 50 })).toMatchObject({ ok: true, qty: 25, uom: 'kg' });
  });

  it('converts to another weight unit exactly', () => {
    expect(weightInItemUom(1.25, { uom: 'g' })).toMatchObject({ ok: true, qty: 1250, uom: 'g', via: 'weight-unit', rounded: false });
    expect(weightInItemUom(250, { uom: 't' })).toMatchObject({ ok: true, qty: 0.25, uom: 't' });
  });

  it('converts through unitWeightKg into the item uom, rounding half up to 3 decimals', () => {
    expect(weightInItemUom(25, { uom: 'bag', unitWeightKg: 25 })).toEqual({ ok: true, qty: 1, uom: 'bag', via: 'unit-weight', rounded: false });
    expect(weightInItemUom(0.3, { uom: 'ea', unitWeightKg: 0.1 })).toMatchObject({ qty: 3, rounded: false }); // no float drift (0.3/0.1 = 2.9999999999999996 in binary)
    expect(weightInItemUom(1, { uom: 'ea', unitWeightKg: 0.3 })).toMatchObject({ qty: 3.333, rounded: true });
    expect(weightInItemUom(0.0025, { uom: 'ea', unitWeightKg: 1 })).toMatchObject({ qty: 0.003, rounded: true }); // half up
  });

  it('cannot convert an item counted in pieces without a unit weight', () => {
    const r = weightInItemUom(25, { uom: 'bag' });
    expect(r).toMatchObject({ ok: false, uom: 'bag' });
    if (!r.ok) expect(r.reason).toMatch(/counted in bag .* no unitWeightKg/);
  });

  it('adds and rounds exactly', () => {
    expect(addQty(0.1, 0.2)).toBe(0.3);
    expect(roundQty(1.0005)).toBe(1.001);
  });
});

describe('ScanSession: the item master uom wins over the scan (issue 9, C3)', () => {
  const items = new MemoryItems([
    { sku: 'CEM-50', gtin: '09506000134352', uom: 'bag', unitWeightKg: 25 },
    { sku: 'GROUT', gtin: '04012345678901', uom: 'bag' },
    { sku: 'SAND', gtin: '09501101530003', uom: 'kg' },
  ]);
  const session = () => new ScanSession({ mode: 'receive', location: 'DOCK-1', uom: 'ea' }, { items });

  it('a (3103)025000 label of an item in bags with a unit weight is 1 bag, and says it converted', () => {
    const out = session().handle(scan('(01)09506000134352(3103)025000'), DEVICE);
    expect(out).toMatchObject({ type: 'movement', draft: { sku: 'CEM-50', qty: 1, uom: 'bag' }, converted: { fromQty: 25, fromUom: 'kg', via: 'unit-weight' } });
    expect(out).not.toHaveProperty('uomMismatch');
  });

  it('without a unit weight the label goes as kg and the outcome flags the mismatch for the operator', () => {
    const out = session().handle(scan('(01)04012345678901(3103)025000'), DEVICE);
    expect(out).toMatchObject({ type: 'movement', draft: { sku: 'GROUT', qty: 25, uom: 'kg' } });
    expect(out.type === 'movement' && out.uomMismatch).toMatch(/GROUT weighs 25 kg .* counted in bag .*UOM_MISMATCH/);
  });

  it('an item mastered in kg keeps the weight; an unknown GTIN keeps the scan uom', () => {
    expect(session().handle(scan('(01)09501101530003(3102)001250'), DEVICE)).toMatchObject({ draft: { sku: 'SAND', qty: 12.5, uom: 'kg' } });
    expect(session().handle(scan('(01)09421902960055(3102)001250'), DEVICE)).toMatchObject({ draft: { gtin: '09421902960055', qty: 12.5, uom: 'kg' } });
  });

  it('a count AI (37) and a plain scan take the item uom, not the session uom', () => {
    expect(session().handle(scan('(01)09506000134352(37)20'), DEVICE)).toMatchObject({ draft: { qty: 20, uom: 'bag' } });
    expect(session().handle(scan('CEM-50'), DEVICE)).toMatchObject({ draft: { qty: 1, uom: 'bag' } });
    expect(session().handle(scan('NOT-MASTERED'), DEVICE)).toMatchObject({ draft: { qty: 1, uom: 'ea' } });
  });
});

describe('the edge makes only exact quantities (3 decimals, issue 9)', () => {
  const session = () => new ScanSession({ mode: 'receive', location: 'DOCK-1', uom: 'ea' }, { items: new MemoryItems([{ sku: 'GROUT', gtin: '04012345678901', uom: 'bag' }]) });

  it('a GS1 label with 5 decimals of kg (AI 3105) is rounded half up to 3, kept exact in raw', () => {
    const out = session().handle(scan('(01)09421902960055(3105)012345'), DEVICE);
    expect(out).toMatchObject({ type: 'movement', draft: { qty: 0.123, uom: 'kg', raw: '(01)09421902960055(3105)012345' } });
    expect(session().handle(scan('(01)04012345678901(3105)012345'), DEVICE)).toMatchObject({ draft: { qty: 0.123, uom: 'kg' }, uomMismatch: expect.any(String) });
    expect(weightInItemUom(0.0125, undefined)).toEqual({ ok: true, qty: 0.013, uom: 'kg', via: 'kg', rounded: true });
  });

  it('QTY: with more than 3 decimals is refused with the field named', () => {
    const out = session().handle(scan('QTY:0.0001'), DEVICE);
    expect(out).toMatchObject({ type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: expect.stringMatching(/^QTY: '0.0001' .*at most 3 decimals/) });
    expect(session().handle(scan('QTY:0.125'), DEVICE)).toMatchObject({ type: 'control', context: { qty: 0.125 } });
  });
});
