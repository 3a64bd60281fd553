import { Point } from '@influxdata/influxdb-client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LedgerChangeRow } from '../../../cloud/store/store.js';
import type { SeriesState } from '../../../cloud/timeseries/export-store.js';
import { Guards } from '../../../cloud/timeseries/guards.js';
import { BatchBuilder, commitTouched, SeriesTable } from '../../../cloud/timeseries/points.js';

const NOW = Date.parse('2026-12-06T03:00:00.000Z');

function guards(hits: string[] = []) {
  return new Guards({ retentionMs: 30 * 86_400_000, futureMs: 86_400_000, now: () => NOW }, { count: (g, a) => hits.push(`${g}/${a}`), log: () => undefined });
}

let pos = 0;
interface R {
  ts: string | number;
  site: string;
  location: string;
  toLocation: string;
  kind: string;
  sku: string;
  /** Units (converted to the stored thousandths), or a raw column value as a driver may return it. */
  qty: number | string;
  uom: string;
  project: string;
  status: string;
  variance: number;
}
/** A ledger row as `Store.ledgerChangeRows` returns it (quantities in thousandths, ts_ms). */
function row(o: Partial<R>): LedgerChangeRow {
  pos++;
  const ts = o.ts ?? '2026-12-06T02:59:00.000Z';
  const milli = (v: number | string) => (typeof v === 'number' ? Math.round(v * 1000) : v);
  return [
    pos, (typeof ts === 'string' ? Date.parse(ts) : ts), o.site ?? 's1', o.location ?? 'A', o.toLocation ?? null, o.kind ?? 'receive', o.sku ?? 'SKU-1',
    milli(o.qty ?? 1) as number, o.uom ?? 'ea', o.project ?? '', o.status ?? 'applied', o.variance === undefined ? null : (milli(o.variance) as number),
    '2026-12-06T02:59:01.000Z', null, null,
  ];
}

const table = (committed: Map<string, SeriesState> = new Map()) => new SeriesTable(committed);

describe('BatchBuilder: line protocol from ledger rows', () => {
  it('sums same-millisecond movements of a series into one point and keeps the last balance of that ms', () => {
    const b = new BatchBuilder(table(), guards());
    b.ledgerRow(row({ qty: 2 }));
    b.ledgerRow(row({ qty: 3 }));
    b.ledgerRow(row({ kind: 'issue', qty: 1 }));
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
    const b = new BatchBuilder(table(committed), guards());
    b.ledgerRow(row({ qty: 2, ts: '2026-12-06T02:58:00.000Z' })); // late event: after the series' last point
    expect(b.lines()).toEqual([
      `stockgate_movements,kind=receive,site=s1,uom=ea count=1,qty=2 ${t + 1}`,
      `stockgate_stock,location=A,site=s1,sku=SKU-1,uom=ea on_hand=12 ${t + 1}`,
    ]);
    const tt = b.touched();
    const i = tt.series.findIndex((x) => x.key === 'stockgate_stock\u001fs1\u001fA\u001fSKU-1\u001fea');
    expect(tt.series[i]!.state(tt.ts[i]!, tt.value[i]!)).toEqual({ ts: t + 1, value: 12 });
  });

  it('writes exactly what the client\'s Point writes (escaping, sorted tags and fields, floats)', () => {
    const b = new BatchBuilder(table(), guards());
    b.ledgerRow(row({ site: 'site a', location: 'BIN,7=x', sku: 'SKU 1', qty: 0.1, project: 'P=1' }));
    b.telemetry({ seq: 1, ts: NOW - 1000, receivedAt: NOW, site: 's1', edge: 'e 1', device: 'scale,1', fields: { b_weight: 1e-7, a_count: 3 } });
    const t = Date.parse('2026-12-06T02:59:00.000Z');
    const viaPoint = [
      new Point('stockgate_movements').tag('site', 'site a').tag('kind', 'receive').tag('project', 'P=1').tag('uom', 'ea').floatField('count', 1).floatField('qty', 0.1).timestamp(t),
      new Point('stockgate_stock').tag('site', 'site a').tag('location', 'BIN,7=x').tag('sku', 'SKU 1').tag('uom', 'ea').floatField('on_hand', 0.1).timestamp(t),
      new Point('stockgate_device').tag('site', 's1').tag('edge', 'e 1').tag('device', 'scale,1').floatField('b_weight', 1e-7).floatField('a_count', 3).timestamp(NOW - 1000),
    ].map((p) => p.toLineProtocol());
    expect(b.lines()).toEqual(viaPoint);
  });

  it('writes UTF-8 tags (Chinese site and location names) as the client does, in large bodies too', () => {
    // ASCII bodies take a Latin-1 decode (kept outside the V8 heap when large); one non-ASCII
    // tag or field name anywhere must give the UTF-8 text, also past the 1 MB where Node keeps
    // such strings outside the heap.
    const t = Date.parse('2026-12-06T02:59:00.000Z');
    const b = new BatchBuilder(table(), guards());
    for (let i = 0; i < 20_000; i++) b.ledgerRow(row({ site: 's1', sku: `SKU-${i}`, ts: t + i }));
    b.ledgerRow(row({ site: '上海仓', location: '一号库', sku: 'SKU 1', ts: t + 20_000 }));
    const body = b.body();
    expect(Buffer.byteLength(body.text)).toBeGreaterThan(1 << 20);
    const lines = body.text.split('\n');
    expect(lines.length).toBe(body.lines);
    expect(lines.slice(-2)).toEqual([
      new Point('stockgate_movements').tag('site', '上海仓').tag('kind', 'receive').tag('uom', 'ea').floatField('count', 1).floatField('qty', 1).timestamp(t + 20_000).toLineProtocol(),
      new Point('stockgate_stock').tag('site', '上海仓').tag('location', '一号库').tag('sku', 'SKU 1').tag('uom', 'ea').floatField('on_hand', 1).timestamp(t + 20_000).toLineProtocol(),
    ]);
    const ascii = new BatchBuilder(table(), guards());
    for (let i = 0; i < 20_000; i++) ascii.ledgerRow(row({ site: 's1', sku: `SKU-${i}`, ts: t + i }));
    expect(ascii.body().text.split('\n')[0]).toBe(`stockgate_movements,kind=receive,site=s1,uom=ea count=1,qty=1 ${t}`);
  });

  it('is deterministic: the same rows on the same state give identical lines', () => {
    const rows = [row({ qty: 2 }), row({ kind: 'transfer', toLocation: 'B', qty: 1, project: 'P1' }), row({ kind: 'count', qty: 7, variance: 6 })];
    const a = new BatchBuilder(table(), guards());
    const b = new BatchBuilder(table(), guards());
    for (const r of rows) (a.ledgerRow(r), b.ledgerRow(r));
    expect(a.lines()).toEqual(b.lines());
    expect(a.lines().some((l) => l.includes('location=B') && l.includes('on_hand=1 '))).toBe(true);
    expect(a.lines().some((l) => l.includes('kind=transfer,project=P1,site=s1'))).toBe(true);
  });

  it('guards: a 40-day-old event falls back to its commit time, a string qty is repaired or refused, seconds become ms', () => {
    const hits: string[] = [];
    const b = new BatchBuilder(table(), guards(hits));
    b.ledgerRow(row({ ts: NOW - 40 * 86_400_000 }));
    // PostgreSQL returns BIGINT as a string: repaired (thousandths).
    b.ledgerRow(row({ sku: 'S2', qty: '2500' }));
    b.ledgerRow(row({ sku: 'S3', qty: 'lots' }));
    b.telemetry({ seq: 1, ts: Math.floor(NOW / 1000) - 5, receivedAt: NOW, site: 's1', edge: 'e1', device: 'scale1', fields: { weightKg: 1.5, status: 'ok' } });
    const lines = b.lines();
    expect(hits).toEqual(expect.arrayContaining(['retention/repaired', 'string_field/repaired', 'string_field/refused', 'precision/repaired']));
    expect(b.refused).toBe(1);
    for (const l of lines) expect(Number(l.slice(l.lastIndexOf(' ') + 1))).toBeGreaterThan(NOW - 30 * 86_400_000);
    expect(lines).toContain(`stockgate_device,device=scale1,edge=e1,site=s1 weightKg=1.5 ${(Math.floor(NOW / 1000) - 5) * 1000}`);
    expect(lines.some((l) => l.includes('sku=S2') && l.includes('on_hand=2.5'))).toBe(true);
    expect(lines.some((l) => l.includes('sku=S3'))).toBe(false);
  });

  it('never gives two points of one series the same millisecond, also when event times go backwards inside a request', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ dt: fc.integer({ min: 0, max: 5 }), kind: fc.constantFrom('receive', 'issue', 'transfer'), sku: fc.constantFrom('A', 'B'), qty: fc.integer({ min: 1, max: 9 }) }), { minLength: 1, maxLength: 60 }), (spec) => {
        const base = NOW - 60_000;
        const b = new BatchBuilder(table(), guards());
        for (const x of spec) b.ledgerRow(row({ ts: base + x.dt, kind: x.kind, sku: x.sku, qty: x.qty, toLocation: 'B' }));
        const seen = new Set<string>();
        let count = 0;
        for (const l of b.lines()) {
          const [series, fields, t] = l.split(' ');
          const key = `${series}@${t}`;
          expect(seen.has(key)).toBe(false);
          seen.add(key);
          if (series!.startsWith('stockgate_movements')) count += Number(/count=(\d+)/.exec(fields!)![1]);
        }
        // Summed, not overwritten: every movement is counted once.
        expect(count).toBe(spec.length);
      }),
    );
  });

  it('writes quantities exactly as String(thousandths / 1000) would', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), (q) => {
        const b = new BatchBuilder(table(), guards());
        b.ledgerRow(row({ kind: 'adjust', qty: q / 1000 }));
        const m = b.lines().find((l) => l.startsWith('stockgate_movements'))!;
        expect(m.split(' ')[1]).toBe(`count=1,qty=${String(q / 1000)}`);
      }),
    );
  });

  it('rebuilds byte-identical requests from the confirmed state and the logged bounds (what a re-send after a restart sends)', () => {
    const rows = Array.from({ length: 300 }, (_, i) => row({ ts: NOW - 60_000 + Math.floor(i / 3), kind: i % 4 === 0 ? 'issue' : 'receive', sku: `S${i % 7}`, qty: (i % 5) + 1, project: i % 3 ? '' : 'P1' }));
    const bounds = [40, 41, 150, 300];
    const run = (t: SeriesTable) => {
      const out: string[] = [];
      let from = 0;
      for (const to of bounds) {
        const b = new BatchBuilder(t, guards());
        for (const r of rows.slice(from, to)) b.ledgerRow(r);
        out.push(b.body().text);
        commitTouched(b.touched());
        from = to;
      }
      return out;
    };
    const first = new SeriesTable();
    const sent = run(first);
    // The confirmed state is the empty one here: a fresh table from it rebuilds the same bodies.
    expect(run(new SeriesTable(new SeriesTable().snapshot()))).toEqual(sent);
    // And from a state confirmed after the first two requests, the rest is the same again.
    const confirmed = new SeriesTable();
    for (const [from, to] of [[0, 40], [40, 41]] as const) {
      const b = new BatchBuilder(confirmed, guards());
      for (const r of rows.slice(from, to)) b.ledgerRow(r);
      commitTouched(b.touched());
    }
    const again = new SeriesTable(confirmed.snapshot());
    const rest: string[] = [];
    let from = 41;
    for (const to of [150, 300]) {
      const b = new BatchBuilder(again, guards());
      for (const r of rows.slice(from, to)) b.ledgerRow(r);
      rest.push(b.body().text);
      commitTouched(b.touched());
      from = to;
    }
    expect(rest).toEqual(sent.slice(2));
    // The last value of every stock series is the sum of its movements.
    const onHand = new Map<string, number>();
    for (const r of rows) onHand.set(r[6], (onHand.get(r[6]) ?? 0) + (r[5] === 'issue' ? -r[7] : r[7]));
    for (const [sku, v] of onHand) expect(first.snapshot().get(`stockgate_stock\u001fs1\u001fA\u001f${sku}\u001fea`)!.value).toBe(v / 1000);
  });
});
