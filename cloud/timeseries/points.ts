import { escape } from '@influxdata/influxdb-client';
import type { LedgerChange } from '../store/store.js';
import type { AlertChangeRow, SeriesState, TelemetryRow } from './export-store.js';
import { type Guards, lineTimestampIsMs } from './guards.js';

/**
 * Ledger rows, telemetry samples and alert changes -> line protocol (issue 13), deterministically:
 * the same rows on the same committed series state give byte-identical lines, so a re-send after a
 * failure or a restart writes the same points (merged by the server's deduplication).
 *
 * Timestamps are event times in ms, made unique per series:
 * - a point's time is max(event time, the series' last exported time + 1 ms). The last exported
 *   time of every series is durable (tsdb_series, advanced with the cursor), so two points of one
 *   series can never share a millisecond across requests, and a late event never lands before the
 *   series' newest point (for `stockgate_stock` that keeps the last value = the ledger's balance);
 * - inside one request, `stockgate_movements` points of one series at the same millisecond are
 *   summed into one point (count = n, qty = sum): the aggregate per closed bucket, where the bucket
 *   is (series, ms) of one request and is closed because the next request starts after it;
 * - `stockgate_stock`, `stockgate_device` and `stockgate_alerts` carry a state: their points of one
 *   series are non-decreasing in time in ledger/sequence order, and a later change at the same
 *   millisecond replaces the earlier one (the state after the last change of that ms).
 */
export const MEASUREMENTS = {
  stock: 'stockgate_stock',
  movements: 'stockgate_movements',
  device: 'stockgate_device',
  alerts: 'stockgate_alerts',
} as const;

type Tags = Array<[string, string]>;

interface Pending {
  key: string;
  measurement: string;
  tags: Tags;
  fields: Map<string, number>;
  t: number;
}

/**
 * `measurement,tag=value,...` of a series, escaped by the client's `escape` (what its `Point` uses),
 * tags sorted by key and empty ones left out, exactly as `Point.toLineProtocol` writes them. Cached
 * per series (bounded: cleared beyond 200k series) because it is the same string for every point.
 */
const prefixes = new Map<string, string>();
function prefixOf(key: string, measurement: string, tags: Tags): string {
  let p = prefixes.get(key);
  if (p !== undefined) return p;
  p = escape.measurement(measurement);
  for (const [k, v] of [...tags].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) if (v) p += `,${escape.tag(k)}=${escape.tag(v)}`;
  if (prefixes.size >= 200_000) prefixes.clear();
  prefixes.set(key, p);
  return p;
}

/** Quantities are exact decimals in the ledger; floats here are rounded to 6 places (the ledger's own). */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function seriesKey(measurement: string, tags: Tags): string {
  let k = measurement;
  for (const [, v] of tags) k += `\u001f${v}`;
  return k;
}

/**
 * One request's worth of points over a committed series state. `touched` is the series state to
 * commit with the cursor when (and only when) the request got a 2xx.
 */
export class BatchBuilder {
  readonly touched = new Map<string, SeriesState>();
  private readonly points: Pending[] = [];
  /** key -> index in `points` of the newest point of a 'last' series in this batch. */
  private readonly lastIdx = new Map<string, number>();
  /** key@t -> index in `points` of a summed `stockgate_movements` point. */
  private readonly sumIdx = new Map<string, number>();
  refused = 0;

  constructor(
    private readonly committed: ReadonlyMap<string, SeriesState>,
    private readonly guards: Guards,
  ) {}

  get size(): number {
    return this.points.length;
  }

  private state(key: string): SeriesState | undefined {
    return this.touched.get(key) ?? this.committed.get(key);
  }

  /** The earliest time a new point of `key` may take: 1 ms after the last committed point. */
  private floor(key: string): number {
    const c = this.committed.get(key);
    return c ? c.ts + 1 : 0;
  }

  /** A state series: non-decreasing times; the same ms replaces the earlier point's fields. */
  private last(measurement: string, tags: Tags, t: number, fields: Map<string, number>, value: number): void {
    const key = seriesKey(measurement, tags);
    const prev = this.touched.get(key);
    let at = Math.max(t, this.floor(key));
    if (prev && this.lastIdx.has(key)) at = Math.max(at, prev.ts);
    const i = this.lastIdx.get(key);
    if (i !== undefined && this.points[i]!.t === at) {
      for (const [f, v] of fields) this.points[i]!.fields.set(f, v);
    } else {
      this.lastIdx.set(key, this.points.length);
      this.points.push({ key, measurement, tags, fields, t: at });
    }
    this.touched.set(key, { ts: at, value });
  }

  /** A flow series: points at the same ms of one request are summed. */
  private sum(measurement: string, tags: Tags, t: number, fields: Array<[string, number]>): void {
    const key = seriesKey(measurement, tags);
    const at = Math.max(t, this.floor(key));
    const k = `${key}@${at}`;
    const i = this.sumIdx.get(k);
    if (i !== undefined) {
      const f = this.points[i]!.fields;
      for (const [n, v] of fields) f.set(n, round6((f.get(n) ?? 0) + v));
    } else {
      this.sumIdx.set(k, this.points.length);
      this.points.push({ key, measurement, tags, fields: new Map(fields), t: at });
    }
    const prev = this.state(key);
    if (!prev || at > prev.ts) this.touched.set(key, { ts: at, value: 0 });
  }

  /** One ledger row: a `stockgate_movements` point and a `stockgate_stock` point per location it moved. */
  ledger(r: LedgerChange): void {
    const where = () => ({ source: 'ledger', pos: r.pos });
    const t = this.guards.timestamp(r.ts, () => Date.parse(r.appliedAt), where);
    const qty = typeof r.qty === 'number' && Number.isFinite(r.qty) ? r.qty : this.guards.field(r.qty, () => ({ ...where(), field: 'qty' }));
    if (t === undefined || qty === undefined) {
      this.refused++;
      return;
    }
    this.sum(MEASUREMENTS.movements, [['site', r.site], ['kind', r.kind], ['project', r.project ?? ''], ['uom', r.uom]], t, [['count', 1], ['qty', qty]]);
    // Balances are kept in the item's base unit (a movement in another unit is converted, issue 9).
    const base = r.baseQty === undefined ? qty : typeof r.baseQty === 'number' && Number.isFinite(r.baseQty) ? r.baseQty : this.guards.field(r.baseQty, () => ({ ...where(), field: 'baseQty' }));
    const uom = r.baseUom ?? r.uom;
    if (base === undefined) return;
    for (const [location, delta] of stockDeltas(r, base, this.guards)) {
      const tags: Tags = [['site', r.site], ['location', location], ['sku', r.sku ?? ''], ['uom', uom]];
      const key = seriesKey(MEASUREMENTS.stock, tags);
      // In thousandths, like the ledger: exact, no float drift over millions of changes.
      const onHand = (Math.round((this.state(key)?.value ?? 0) * 1000) + Math.round(delta * 1000)) / 1000;
      this.last(MEASUREMENTS.stock, tags, t, new Map([['on_hand', onHand]]), onHand);
    }
  }

  /** One telemetry sample of one device: a `stockgate_device` point with its numeric fields. */
  telemetry(s: TelemetryRow): void {
    const where = { source: 'telemetry', seq: s.seq };
    const t = this.guards.timestamp(s.ts, s.receivedAt, where);
    if (t === undefined) {
      this.refused++;
      return;
    }
    const fields = new Map<string, number>();
    for (const [name, raw] of Object.entries(s.fields)) {
      const v = this.guards.field(raw, { ...where, field: name });
      if (v !== undefined) fields.set(fieldKey(name), v);
    }
    if (fields.size === 0) {
      this.refused++;
      return;
    }
    this.last(MEASUREMENTS.device, [['site', s.site], ['edge', s.edge], ['device', s.device]], t, fields, 0);
  }

  /** One alert state change: `stockgate_alerts` open = 1 while any alert of the type is open at the site. */
  alert(a: AlertChangeRow): void {
    const where = { source: 'alerts', seq: a.seq };
    const t = this.guards.timestamp(a.ts, a.ts, where);
    if (t === undefined) {
      this.refused++;
      return;
    }
    const open = a.open > 0 ? 1 : 0;
    this.last(MEASUREMENTS.alerts, [['site', a.site], ['type', a.type]], t, new Map([['open', open]]), open);
  }

  /**
   * Serialise: the line `Point.toLineProtocol` would write (the client's escaping, tags and fields
   * sorted by key, floats as `String(v)`, tests/cloud/timeseries/points.test.ts compares them), with
   * the series prefix cached, because building a Point per line costs more than the rest of the
   * export together.
   */
  lines(): string[] {
    const out: string[] = [];
    for (const p of this.points) {
      let fields = '';
      const names = p.fields.size === 1 ? [...p.fields.keys()] : [...p.fields.keys()].sort();
      for (const k of names) fields += `${fields ? ',' : ''}${escape.tag(k)}=${String(p.fields.get(k))}`;
      const line = `${prefixOf(p.key, p.measurement, p.tags)} ${fields} ${p.t}`;
      // Belt and braces: a line whose timestamp is not in ms would be dropped silently.
      if (!fields || !lineTimestampIsMs(line)) {
        this.refused++;
        continue;
      }
      out.push(line);
    }
    return out;
  }
}

/**
 * How a ledger row changed on-hand per location of its (site, sku, uom), by the ledger's rules
 * (cloud/store/sqlite.ts applyBalance): receive, return and adjust add qty; issue takes it; a
 * transfer takes it at `location` and adds it at `toLocation`; a count sets one balance, which
 * changed it by its recorded `variance`. A row with status `exception` moved no stock. `qty` is
 * the quantity in the balance's (base) unit.
 */
export function stockDeltas(r: LedgerChange, qty: number, guards: Guards): Array<[string, number]> {
  if (r.status === 'exception') return [];
  switch (r.kind) {
    case 'receive':
    case 'return':
    case 'adjust':
      return [[r.location, qty]];
    case 'issue':
      return [[r.location, -qty]];
    case 'transfer':
      return r.toLocation ? [[r.location, -qty], [r.toLocation, qty]] : [[r.location, -qty]];
    case 'count': {
      const v = r.variance === undefined ? 0 : guards.field(r.variance, { source: 'ledger', pos: r.pos, field: 'variance' });
      return [[r.location, v ?? 0]];
    }
    default:
      return [];
  }
}

/** Field keys: letters, digits and `_` (telemetry names such as `outbox.backlog` -> `outbox_backlog`). */
export function fieldKey(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 128) || '_';
}
