import { Point } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../../../cloud/store/store.js';
import type { SeriesState } from '../../../cloud/timeseries/export-store.js';
import { Guards } from '../../../cloud/timeseries/guards.js';
import { BatchBuilder } from '../../../cloud/timeseries/points.js';

const NOW = Date.parse('2026-12-06T03:00:00.000Z');

function guards(hits: string[] = []) {
  return new Guards({ retentionMs: 30 * 86_400_000, futureMs: 86_400_000, now: () => NOW }, { count: (g, a) => hits.push(`${g}/${a}`), log: () => undefined });
}

let pos = 0;
function row(o: Partial<LedgerRow>): LedgerRow {
  pos++;
  return {
    pos, v: 1, id: `M${pos}`, edge: 'e1', seq: pos, ts: '2026-12-06T02:59:00.000Z', site: 's1', location: 'A', kind: 'receive', sku: 'SKU-1', qty: 1, uom: 'ea',
    device: { id: 'd', type: 'scanner' }, raw: 'x', appliedAt: '2026-12-06T02:59:01.000Z', status: 'applied', ...o,
  } as LedgerRow;
}

describe('BatchBuilder: line protocol from ledger rows', () => {
  it('sums same-millisecond movements of a series into one point and keeps the last balance of that ms', () => {
    const b = new BatchBuilder(new Map(), guards());
    b.ledger(row({ qty: 2 }));
    b.ledger(row({ qty: 3 }));
    b.ledger(row({ kind: 'issue', qty: 1 }));
    const lines = b.lines();
    const t = Date.parse('2026-12-06T02:59:00.000Z');
    expect(lines).toContain(`stockgate_movements,kind=receive,site=s1,uom=ea count=2,qty=5 ${t}`);
    expect(lines).toContain(`stockgate_movements,kind=issue,site=s1,uom=ea count=1,qty=1 ${t}`);
    // One stock point at that ms: the balance after the last change (2 + 3 - 1).
    expect(lines.filter((l) => l.startsWith('stockgate_stock'))).toEqual([`stockgate_stock,location=A,site=s1,sku=SKU-1,uom=ea on_hand=4 ${t}`]);
  });

  it('never reuses a committed millisecond of a series: the next request starts 1 ms after it', () => {
    const t = Date.parse('2026-12-06T02:59:00.000Z');
    const committed = new Map<string, SeriesState>([
      ['stockgate_movements\u001fs1\u001freceive\u001f\u001fea', { ts: t, value: 0 }],
      ['stockgate_stock\u001fs1\u001fA\u001fSKU-1\u001fea', { ts: t, value: 10 }],
    ]);
    const b = new BatchBuilder(committed, guards());
    b.ledger(row({ qty: 2, ts: '2026-12-06T02:58:00.000Z' })); // late event: after the series' last point
    expect(b.lines()).toEqual([
      `stockgate_movements,kind=receive,site=s1,uom=ea count=1,qty=2 ${t + 1}`,
      `stockgate_stock,location=A,site=s1,sku=SKU-1,uom=ea on_hand=12 ${t + 1}`,
    ]);
    expect(b.touched.get('stockgate_stock\u001fs1\u001fA\u001fSKU-1\u001fea')).toEqual({ ts: t + 1, value: 12 });
  });

  it('writes exactly what the client\'s Point writes (escaping, sorted tags and fields, floats)', () => {
    const b = new BatchBuilder(new Map(), guards());
    b.ledger(row({ site: 'site a', location: 'BIN,7=x', sku: 'SKU 1', qty: 0.1, project: 'P=1' }));
    b.telemetry({ seq: 1, ts: NOW - 1000, receivedAt: NOW, site: 's1', edge: 'e 1', device: 'scale,1', fields: { b_weight: 1e-7, a_count: 3 } });
    const t = Date.parse('2026-12-06T02:59:00.000Z');
    const viaPoint = [
      new Point('stockgate_movements').tag('site', 'site a').tag('kind', 'receive').tag('project', 'P=1').tag('uom', 'ea').floatField('count', 1).floatField('qty', 0.1).timestamp(t),
      new Point('stockgate_stock').tag('site', 'site a').tag('location', 'BIN,7=x').tag('sku', 'SKU 1').tag('uom', 'ea').floatField('on_hand', 0.1).timestamp(t),
      new Point('stockgate_device').tag('site', 's1').tag('edge', 'e 1').tag('device', 'scale,1').floatField('b_weight', 1e-7).floatField('a_count', 3).timestamp(NOW - 1000),
    ].map((p) => p.toLineProtocol());
    expect(b.lines()).toEqual(viaPoint);
  });

  it('is deterministic: the same rows on the same state give identical lines', () => {
    const rows = [row({ qty: 2 }), row({ kind: 'transfer', toLocation: 'B', qty: 1, project: 'P1' }), row({ kind: 'count', qty: 7, variance: 6 })];
    const a = new BatchBuilder(new Map(), guards());
    const b = new BatchBuilder(new Map(), guards());
    for (const r of rows) (a.ledger(r), b.ledger(r));
    expect(a.lines()).toEqual(b.lines());
    expect(a.lines().some((l) => l.includes('location=B') && l.includes('on_hand=1 '))).toBe(true);
    expect(a.lines().some((l) => l.includes('kind=transfer,project=P1,site=s1'))).toBe(true);
  });

  it('guards: a 40-day-old event falls back to its commit time, a string qty is repaired or refused, seconds become ms', () => {
    const hits: string[] = [];
    const b = new BatchBuilder(new Map(), guards(hits));
    b.ledger(row({ ts: new Date(NOW - 40 * 86_400_000).toISOString() }));
    b.ledger(row({ sku: 'S2', qty: '2.500' as unknown as number }));
    b.ledger(row({ sku: 'S3', qty: 'lots' as unknown as number }));
    b.telemetry({ seq: 1, ts: Math.floor(NOW / 1000) - 5, receivedAt: NOW, site: 's1', edge: 'e1', device: 'scale1', fields: { weightKg: 1.5, status: 'ok' } });
    const lines = b.lines();
    expect(hits).toEqual(expect.arrayContaining(['retention/repaired', 'string_field/repaired', 'string_field/refused', 'precision/repaired']));
    expect(b.refused).toBe(1);
    for (const l of lines) expect(Number(l.slice(l.lastIndexOf(' ') + 1))).toBeGreaterThan(NOW - 30 * 86_400_000);
    expect(lines).toContain(`stockgate_device,device=scale1,edge=e1,site=s1 weightKg=1.5 ${(Math.floor(NOW / 1000) - 5) * 1000}`);
    expect(lines.some((l) => l.includes('sku=S2') && l.includes('on_hand=2.5'))).toBe(true);
    expect(lines.some((l) => l.includes('sku=S3'))).toBe(false);
  });
});
