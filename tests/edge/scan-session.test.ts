import { describe, expect, it } from 'vitest';
import type { ScanReading } from '../../devices/driver.js';
import { resolveItem } from '../../edge/item.js';
import { ScanSession, type ScanOutcome, type SessionContext } from '../../edge/scan-session.js';
import { Movement } from '../../protocols/mqtt/index.js';

const AT = Date.parse('2026-11-22T02:19:00.000Z');
const DEVICE = { id: 'dock1', type: 'scanner' };

const scan = (data: string, over: Partial<ScanReading> = {}): ScanReading => ({ kind: 'scan', data, raw: `${data}\r`, at: AT, ...over });
const session = () => new ScanSession({ mode: 'receive', location: 'DOCK-1', uom: 'ea' });

function control(s: ScanSession, data: string): SessionContext {
  const out = s.handle(scan(data), DEVICE);
  if (out.type !== 'control') throw new Error(`expected a control outcome for ${JSON.stringify(data)}, got ${JSON.stringify(out)}`);
  return out.context;
}

function item(s: ScanSession, data: string, over: Partial<ScanReading> = {}) {
  const out = s.handle(scan(data, over), DEVICE);
  if (out.type !== 'movement') throw new Error(`expected a movement for ${JSON.stringify(data)}, got ${JSON.stringify(out)}`);
  return out.draft;
}

function expectError(out: ScanOutcome, code: string, message?: RegExp) {
  expect(out.type).toBe('error');
  if (out.type !== 'error') return;
  expect(out.code).toBe(code);
  if (message) expect(out.message).toMatch(message);
}

describe('ScanSession: initial context', () => {
  it('starts with qty 1 and the given mode, location and uom', () => {
    expect(session().context).toEqual({ mode: 'receive', qty: 1, location: 'DOCK-1', uom: 'ea' });
  });
});

describe('ScanSession: MODE', () => {
  it.each([
    ['MODE:RECEIVE', 'receive'],
    ['MODE:ISSUE', 'issue'],
    ['MODE:RETURN', 'return'],
    ['MODE:COUNT', 'count'],
    ['mode:issue', 'issue'],
    ['Mode:Return', 'return'],
    ['  MODE:COUNT \r', 'count'],
    ['MODE: issue ', 'issue'],
  ])('%j sets mode %s', (data, mode) => {
    const s = session();
    const out = s.handle(scan(data), DEVICE);
    expect(out).toEqual({ type: 'control', code: 'MODE', context: { ...s.context, mode } });
    expect(s.context.mode).toBe(mode);
    expect(item(s, 'SKU-1').kind).toBe(mode);
  });

  it.each(['MODE:TRANSFER', 'MODE:ADJUST', 'MODE:', 'MODE:STEAL'])('%j is an error and leaves the context unchanged', (data) => {
    const s = session();
    control(s, 'MODE:ISSUE');
    const before = structuredClone(s.context);
    expectError(s.handle(scan(data), DEVICE), 'SG_ERR_SCAN_CONTROL', /^MODE: /);
    expect(s.context).toEqual(before);
  });
});

describe('ScanSession: QTY', () => {
  it('is sticky until changed', () => {
    const s = session();
    expect(item(s, 'A').qty).toBe(1);
    expect(control(s, 'QTY:5').qty).toBe(5);
    expect(item(s, 'A').qty).toBe(5);
    expect(item(s, 'B').qty).toBe(5);
    control(s, 'MODE:ISSUE');
    control(s, 'LOC:BIN-2');
    expect(item(s, 'C').qty).toBe(5);
    control(s, 'qty:2.5');
    expect(item(s, 'D').qty).toBe(2.5);
    expect(item(s, 'E').qty).toBe(2.5);
  });

  it.each([
    ['QTY: 12 ', 12],
    ['QTY:007', 7],
    ['QTY:0.25', 0.25],
  ])('%j sets qty %s', (data, qty) => {
    expect(control(session(), data).qty).toBe(qty);
  });

  it.each(['QTY:0', 'QTY:0.0', 'QTY:-1', 'QTY:abc', 'QTY:', 'QTY:1e3', 'QTY:5.', 'QTY:.5', 'QTY:1,5', 'QTY:Infinity', 'QTY:0x10'])(
    '%j is an error and leaves the context unchanged',
    (data) => {
      const s = session();
      control(s, 'QTY:3');
      const before = structuredClone(s.context);
      expectError(s.handle(scan(data), DEVICE), 'SG_ERR_SCAN_CONTROL', /^QTY: /);
      expect(s.context).toEqual(before);
      expect(item(s, 'A').qty).toBe(3);
    },
  );
});

describe('ScanSession: LOC', () => {
  it('changes the location of the following movements', () => {
    const s = session();
    expect(control(s, 'LOC:BIN-7').location).toBe('BIN-7');
    expect(item(s, 'A').location).toBe('BIN-7');
    expect(control(s, 'loc:Yard North').location).toBe('Yard North');
    expect(item(s, 'A').location).toBe('Yard North');
  });

  it.each(['LOC:', 'LOC:   ', `LOC:${'L'.repeat(65)}`])('%j is an error and leaves the context unchanged', (data) => {
    const s = session();
    const before = structuredClone(s.context);
    expectError(s.handle(scan(data), DEVICE), 'SG_ERR_SCAN_CONTROL', /^LOC: /);
    expect(s.context).toEqual(before);
  });

  it('accepts a 64-character location', () => {
    expect(control(session(), `LOC:${'L'.repeat(64)}`).location).toBe('L'.repeat(64));
  });
});

describe('ScanSession: PRJ / STAGE / OP / CREW', () => {
  it.each([
    ['PRJ', 'project'],
    ['STAGE', 'stage'],
    ['OP', 'operator'],
    ['CREW', 'crew'],
  ] as const)('%s sets %s (value kept as is) and an empty value clears it', (code, key) => {
    const s = session();
    const out = s.handle(scan(`${code.toLowerCase()}:Tower-A b`), DEVICE);
    expect(out).toEqual({ type: 'control', code, context: { ...s.context, [key]: 'Tower-A b' } });
    expect(s.context[key]).toBe('Tower-A b');
    expect(item(s, 'SKU-1')[key]).toBe('Tower-A b');

    const cleared = control(s, `${code}:`);
    expect(cleared).not.toHaveProperty(key);
    expect(s.context).not.toHaveProperty(key);
    expect(item(s, 'SKU-1')).not.toHaveProperty(key);
  });

  it.each(['PRJ', 'STAGE', 'OP', 'CREW'])('%s over 64 characters is an error and leaves the context unchanged', (code) => {
    const s = session();
    control(s, `${code}:keep`);
    const before = structuredClone(s.context);
    expectError(s.handle(scan(`${code}:${'x'.repeat(65)}`), DEVICE), 'SG_ERR_SCAN_CONTROL', new RegExp(`^${code}: `));
    expect(s.context).toEqual(before);
  });

  it('returns a copy of the context, not the live object', () => {
    const s = session();
    const ctx = control(s, 'PRJ:P1');
    ctx.project = 'mutated';
    ctx.qty = 99;
    expect(s.context.project).toBe('P1');
    expect(s.context.qty).toBe(1);
  });
});

describe('ScanSession: item scans', () => {
  it('produce a draft with kind, qty, location, uom, context, device, raw and ts', () => {
    const s = session();
    for (const c of ['MODE:ISSUE', 'QTY:4', 'LOC:BIN-3', 'PRJ:PRJ-7', 'STAGE:foundation', 'OP:badge-17', 'CREW:crew-b']) control(s, c);
    const d = item(s, 'BOLT-M8', { raw: ']C0BOLT-M8\r\n', aim: ']C0' });
    expect(d).toEqual({
      ts: '2026-11-22T02:19:00.000Z',
      location: 'BIN-3',
      kind: 'issue',
      sku: 'BOLT-M8',
      qty: 4,
      uom: 'ea',
      project: 'PRJ-7',
      stage: 'foundation',
      operator: 'badge-17',
      crew: 'crew-b',
      device: { id: 'dock1', type: 'scanner' },
      raw: ']C0BOLT-M8\r\n',
    });
  });

  it('produce a minimal draft without context', () => {
    expect(item(session(), ' SKU-1 ')).toEqual({
      ts: '2026-11-22T02:19:00.000Z',
      location: 'DOCK-1',
      kind: 'receive',
      sku: 'SKU-1',
      qty: 1,
      uom: 'ea',
      device: DEVICE,
      raw: ' SKU-1 \r',
    });
  });

  it('copy the device instead of keeping a reference', () => {
    const device = { id: 'd1', type: 'scanner' };
    const out = session().handle(scan('A'), device);
    device.id = 'changed';
    expect(out.type === 'movement' && out.draft.device).toEqual({ id: 'd1', type: 'scanner' });
  });

  it('treat an unknown KEY:value as an item code', () => {
    expect(item(session(), 'ABC:123').sku).toBe('ABC:123');
    // A GS1 Digital Link URI is GS1 data, not a SKU.
    expect(item(session(), 'HTTPS://id.gs1.org/01/09506000134352')).toMatchObject({ gtin: '09506000134352' });
  });

  it('make drafts that become valid wire movements once the outbox adds its fields', () => {
    const s = session();
    for (const c of ['MODE:COUNT', 'QTY:3', 'PRJ:P', 'OP:o']) control(s, c);
    const d = item(s, 'SKU-9');
    const r = Movement.safeParse({ ...d, v: 1, id: '01JDQ7ZK3M8Y2V5XKJ4N6P9R0T', edge: 'edge-1', seq: 1, site: 'site-A' });
    expect(r.success).toBe(true);
  });

  it('reject an empty scan', () => {
    expectError(session().handle(scan('  \r\n'), DEVICE), 'SG_ERR_SCAN_EMPTY');
  });

  it('accept a 64-character code and reject a 65-character one', () => {
    expect(item(session(), 'C'.repeat(64)).sku).toBe('C'.repeat(64));
    expectError(session().handle(scan('C'.repeat(65)), DEVICE), 'SG_ERR_SCAN_ITEM', /longer than 64 characters \(65\)/);
  });

  it.each([
    ['GS (FNC1 separator)', 'AB\x1dCD', '0x1d', 2],
    ['NUL', 'A\x00', '0x00', 1],
    ['DEL', 'X\x7fY', '0x7f', 1],
    ['tab inside', 'A\tB', '0x09', 1],
  ])('reject a code with a control byte: %s', (_label, data, hex, pos) => {
    const s = session();
    const before = structuredClone(s.context);
    expectError(s.handle(scan(data), DEVICE), 'SG_ERR_SCAN_ITEM', new RegExp(`control byte ${hex} at position ${pos}$`));
    expect(s.context).toEqual(before);
  });
});

describe('resolveItem', () => {
  it('reads a plain code as a SKU', () => {
    expect(resolveItem('BOLT-M8')).toEqual({ sku: 'BOLT-M8' });
  });
  it('rejects over 64 characters and control bytes with SG_ERR_SCAN_ITEM', () => {
    expect(resolveItem('x'.repeat(65))).toEqual({ code: 'SG_ERR_SCAN_ITEM', error: 'item code longer than 64 characters (65)' });
    expect(resolveItem('\x1fA')).toEqual({ code: 'SG_ERR_SCAN_ITEM', error: 'item code has control byte 0x1f at position 0' });
  });
});

describe('ScanSession: GS1 item scans', () => {
  const scanOf = (raw: string): ScanReading => ({ kind: 'scan', data: raw, raw, at: Date.now() });
  it('turns a GS1-128 receiving label into gtin, batch, expiry, serial and count', () => {
    const s = new ScanSession({ mode: 'receive', location: 'DOCK', uom: 'ea' });
    const out = s.handle(scanOf(']C101095060001343521726123110ABC123\x1d3712'), DEVICE);
    expect(out).toMatchObject({ type: 'movement', draft: { gtin: '09506000134352', batch: 'ABC123', expiry: '2026-12-31', qty: 12, uom: 'ea', kind: 'receive' } });
  });
  it('takes a 310n net weight as kg', () => {
    const s = new ScanSession({ mode: 'receive', location: 'DOCK', uom: 'ea' });
    const out = s.handle(scanOf('(01)09506000134352(3102)001250'), DEVICE);
    expect(out).toMatchObject({ type: 'movement', draft: { gtin: '09506000134352', qty: 12.5, uom: 'kg' } });
  });
  it('reads an EAN-13 with ]E0 as a GTIN-14', () => {
    const s = new ScanSession({ mode: 'receive', location: 'DOCK', uom: 'ea' });
    expect(s.handle(scanOf(']E04006381333931'), DEVICE)).toMatchObject({ type: 'movement', draft: { gtin: '04006381333931', qty: 1 } });
  });
  it('refuses GS1 data with a wrong check digit, with the protocol code', () => {
    const s = new ScanSession({ mode: 'receive', location: 'DOCK', uom: 'ea' });
    expect(s.handle(scanOf(']C10109506000134353'), DEVICE)).toMatchObject({ type: 'error', code: 'SG_ERR_PROTO_CHECK' });
  });
  it('refuses an SSCC-only label as not an item', () => {
    const s = new ScanSession({ mode: 'receive', location: 'DOCK', uom: 'ea' });
    expect(s.handle(scanOf(']C100106141412345678908'), DEVICE)).toMatchObject({ type: 'error', code: 'SG_ERR_SCAN_ITEM' });
  });
});
