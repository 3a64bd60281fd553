/**
 * Deterministic ledger data for the time-series export (issue 13), and the check that what the
 * server holds matches the ledger exactly. Shared by `npm run bench -- --tsdb` and
 * tests/cloud/timeseries/*.test.ts.
 */
import type { Movement } from '../protocols/mqtt/index.js';
import type { Store } from '../cloud/store/store.js';

const KINDS = ['receive', 'receive', 'receive', 'issue', 'transfer', 'return', 'adjust', 'count'] as const;

/** Movement `i` of a run: a pure function of (i, site, edge, base time). */
export function movementAt(i: number, o: { site: string; edge: string; baseMs: number; skus?: number }): Movement {
  const h = Math.imul(i + 1, 2654435761) >>> 0;
  const kind = KINDS[h % KINDS.length]!;
  const skus = o.skus ?? 200;
  const loc = `L${(h >>> 4) % 5}`;
  const sku = (h >>> 8) % skus;
  const m: Record<string, unknown> = {
    v: 1,
    id: `${o.edge}-${String(i).padStart(10, '0')}`,
    edge: o.edge,
    seq: i + 1,
    // Several movements per millisecond on purpose: same-ms points must not overwrite each other.
    ts: new Date(o.baseMs + Math.floor(i / 4)).toISOString(),
    site: o.site,
    location: loc,
    kind,
    sku: `SKU-${sku}`,
    qty: kind === 'adjust' ? ((h >>> 12) % 2 ? 1 : -1) * (1 + ((h >>> 14) % 3)) : kind === 'count' ? (h >>> 12) % 50 : 1 + ((h >>> 12) % 9),
    // One uom per SKU (a balance has one uom).
    uom: sku % 7 === 0 ? 'kg' : 'ea',
    device: { id: 'dock1', type: 'scanner' },
    raw: 'x',
  };
  if (kind === 'transfer') m.toLocation = `L${((h >>> 4) % 5 + 1) % 5}`;
  if ((h >>> 20) % 3 === 0) m.project = `P${(h >>> 22) % 4}`;
  return m as unknown as Movement;
}

/** Commit movements [from, to) into the store in batches (one edge batch per commit). */
export async function seed(store: Store, from: number, to: number, o: { site: string; edge: string; baseMs: number; batch?: number; skus?: number }): Promise<void> {
  const size = o.batch ?? 5000;
  for (let i = from; i < to; i += size) {
    const movements: Movement[] = [];
    for (let j = i; j < Math.min(to, i + size); j++) movements.push(movementAt(j, o));
    await store.commit([{ movements, deadLetters: [] }]);
  }
}

export interface Truth {
  /** Ledger rows. */
  count: number;
  /** Sum of qty per uom, rounded to 6 places. */
  qty: Record<string, number>;
  /** On-hand per `site|location|sku|uom` from the balances (summed over batches and projects). */
  onHand: Record<string, number>;
}

const r6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** What the ledger says. */
export async function ledgerTruth(store: Store): Promise<Truth> {
  const t: Truth = { count: 0, qty: {}, onHand: {} };
  for (let after = 0; ;) {
    const rows = await store.ledgerAfter(after, 10_000);
    if (rows.length === 0) break;
    for (const r of rows) {
      t.count++;
      t.qty[r.uom] = r6((t.qty[r.uom] ?? 0) + Number(r.qty));
    }
    after = rows[rows.length - 1]!.pos;
  }
  for (const s of await store.stock({})) {
    const k = `${s.site}|${s.location}|${s.sku}|${s.uom}`;
    t.onHand[k] = r6((t.onHand[k] ?? 0) + Number(s.onHand));
  }
  return t;
}

interface Exported {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

async function exportSeries(url: string, match: string): Promise<Exported[]> {
  await fetch(`${url}/internal/force_flush`);
  const r = await fetch(`${url}/api/v1/export?match[]=${encodeURIComponent(match)}&start=0&end=${Math.floor(Date.now() / 1000) + 86_400}`);
  if (!r.ok) throw new Error(`export ${match}: ${r.status}`);
  return (await r.text()).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Exported);
}

/** What the server holds, read back via /api/v1/export; also the earliest timestamp seen. */
export async function serverTruth(url: string): Promise<Truth & { minTs: number; samples: number }> {
  const t = { count: 0, qty: {} as Record<string, number>, onHand: {} as Record<string, number>, minTs: Infinity, samples: 0 };
  for (const s of await exportSeries(url, 'stockgate_movements_count')) {
    for (const v of s.values) t.count += v;
    t.samples += s.values.length;
    for (const ts of s.timestamps) t.minTs = Math.min(t.minTs, ts);
  }
  for (const s of await exportSeries(url, 'stockgate_movements_qty')) {
    const u = s.metric.uom ?? '';
    for (const v of s.values) t.qty[u] = r6((t.qty[u] ?? 0) + v);
    t.samples += s.values.length;
  }
  for (const s of await exportSeries(url, 'stockgate_stock_on_hand')) {
    let last = -Infinity;
    let v = 0;
    s.timestamps.forEach((ts, i) => {
      if (ts >= last) (last = ts, v = s.values[i]!);
      t.minTs = Math.min(t.minTs, ts);
    });
    t.samples += s.values.length;
    t.onHand[`${s.metric.site}|${s.metric.location}|${s.metric.sku}|${s.metric.uom}`] = r6(v);
  }
  return t;
}

/**
 * What the server holds once it shows `done` (or after `timeoutMs`, whatever it holds then).
 * VictoriaMetrics acknowledges a write before the samples are searchable, and a busy or just
 * restarted server can take seconds to show them even after /internal/force_flush; a read-back
 * taken once can see a partial picture of data the server does hold. The caller still asserts on
 * what this returns, so a point that is really lost fails the test after the timeout.
 */
export async function serverTruthWhen(url: string, done: (t: Truth) => boolean, timeoutMs = 20_000): Promise<Truth & { minTs: number; samples: number }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const t = await serverTruth(url);
    if (done(t) || Date.now() > until) return t;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Differences between the ledger and the server ([] when they match exactly). */
export function compareTruth(ledger: Truth, server: Truth): string[] {
  const diff: string[] = [];
  if (ledger.count !== server.count) diff.push(`count: ledger ${ledger.count}, server ${server.count}`);
  for (const u of new Set([...Object.keys(ledger.qty), ...Object.keys(server.qty)])) {
    if ((ledger.qty[u] ?? 0) !== (server.qty[u] ?? 0)) diff.push(`qty ${u}: ledger ${ledger.qty[u]}, server ${server.qty[u]}`);
  }
  for (const k of new Set([...Object.keys(ledger.onHand), ...Object.keys(server.onHand)])) {
    // A series the ledger holds at 0 may never have had a point only if nothing moved it.
    if ((ledger.onHand[k] ?? 0) !== (server.onHand[k] ?? 0)) diff.push(`on_hand ${k}: ledger ${ledger.onHand[k]}, server ${server.onHand[k]}`);
  }
  return diff.slice(0, 20);
}
