/**
 * Document contexts of a scan session (issue 10 §2-3, issue 11 §1): `stockgate:req/ID`,
 * `stockgate:po/ID` and `stockgate:so/ID` pin one business document for the session; its
 * movements carry `req`, `po` or `order` (wire-valid), only on their own kind of movement.
 */
import { describe, expect, it } from 'vitest';
import type { ScanReading } from '../../devices/driver.js';
import { ScanSession } from '../../edge/scan-session.js';
import { Movement } from '../../protocols/mqtt/index.js';

const AT = Date.parse('2026-12-06T02:19:00.000Z');
const DEVICE = { id: 'dock1', type: 'scanner' };
const scan = (data: string, at = AT): ScanReading => ({ kind: 'scan', data, raw: `${data}\r`, at });
const session = (idleMs?: number) => new ScanSession({ mode: 'receive', location: 'DOCK-1', uom: 'ea' }, idleMs ? { idleMs } : {});
const draftOf = (s: ScanSession, data: string, at = AT) => {
  const out = s.handle(scan(data, at), DEVICE);
  if (out.type !== 'movement') throw new Error(`expected a movement, got ${JSON.stringify(out)}`);
  return out.draft;
};
const wire = (d: object) => Movement.parse({ v: 1, id: 'MV0000000001', edge: 'edge-1', seq: 1, site: 'S1', ...d });

describe('document contexts: stockgate:req/ID, stockgate:po/ID, stockgate:so/ID', () => {
  it('a requisition QR switches to issue mode and the issues carry req; the operator is told', () => {
    const s = session();
    const out = s.handle(scan('stockgate:req/REQ-12'), DEVICE);
    expect(out).toMatchObject({ type: 'control', code: 'REQ', context: { mode: 'issue', req: 'REQ-12' }, say: expect.stringContaining('requisition REQ-12') });
    const d = draftOf(s, 'CEM');
    expect(d).toMatchObject({ kind: 'issue', req: 'REQ-12' });
    expect(wire(d).req).toBe('REQ-12');
  });

  it('a PO QR pins receipts to that PO (GS1 batch and expiry kept); another document replaces it', () => {
    const s = session();
    s.handle(scan('MODE:ISSUE'), DEVICE);
    expect(s.handle(scan('stockgate:po/PO-7'), DEVICE)).toMatchObject({ type: 'control', code: 'PO', context: { mode: 'receive', po: 'PO-7' } });
    const d = draftOf(s, '(01)09501101530003(10)L1(17)270630(30)40');
    expect(d).toMatchObject({ kind: 'receive', po: 'PO-7', gtin: '09501101530003', batch: 'L1', expiry: '2027-06-30', qty: 40 });
    expect(wire(d)).toMatchObject({ po: 'PO-7', batch: 'L1' });
    // A sales order replaces the PO: one document at a time, issue mode.
    expect(s.handle(scan('stockgate:so/SO-0123456789ABCDEF'), DEVICE)).toMatchObject({ context: { mode: 'issue', order: 'SO-0123456789ABCDEF' } });
    expect(s.context.po).toBeUndefined();
    expect(draftOf(s, 'CEM')).toMatchObject({ kind: 'issue', order: 'SO-0123456789ABCDEF' });
  });

  it('a document rides only on its own kind of movement; PO: with no value unpins; bad ids are refused', () => {
    const s = session();
    s.handle(scan('stockgate:req/12'), DEVICE);
    s.handle(scan('MODE:RETURN'), DEVICE);
    expect(draftOf(s, 'CEM').req).toBeUndefined();
    s.handle(scan('PO:PO-3'), DEVICE);
    s.handle(scan('MODE:ISSUE'), DEVICE);
    expect(draftOf(s, 'CEM').po).toBeUndefined();
    expect(s.handle(scan('PO:'), DEVICE)).toMatchObject({ type: 'control', say: 'purchase order PO-3 unpinned' });
    s.handle(scan('MODE:RECEIVE'), DEVICE);
    expect(draftOf(s, 'CEM').po).toBeUndefined();
    expect(s.handle(scan('stockgate:po/PO 3'), DEVICE)).toMatchObject({ type: 'error', code: 'SG_ERR_SCAN_CONTROL' });
    expect(s.handle(scan('stockgate:po/PO-3/x'), DEVICE)).toMatchObject({ type: 'error', code: 'SG_ERR_SCAN_CONTROL' });
  });

  it('an idle session drops its document with the other bindings', () => {
    const s = session(60_000);
    s.handle(scan('stockgate:req/REQ-5'), DEVICE);
    expect(s.expireIdle(AT + 61_000)).toEqual({ req: 'REQ-5' });
    expect(draftOf(s, 'CEM', AT + 62_000).req).toBeUndefined();
  });
});
