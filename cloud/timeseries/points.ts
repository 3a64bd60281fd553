/*
 * Why one file (over 400 lines): the line builder is the export's hot path (250k+ rows/s): the
 * series table, the parallel point arrays and the hand-written number formatting work on the same
 * objects without indirection, and the byte-identical re-send depends on all of it together.
 */
import { escape } from '@influxdata/influxdb-client';
import type { LedgerChangeRow } from '../store/store.js';
import type { AlertChangeRow, SeriesState, TelemetryRow } from './export-store.js';
import type { Guards } from './guards.js';

/**
 * Ledger rows, telemetry samples and alert changes -> line protocol (issue 13), deterministically:
 * the same rows on the same committed series state give byte-identical lines, so a re-send after a
 * failure or a restart writes the same points (merged by the server's deduplication).
 *
 * Timestamps are event times in ms, made unique per series:
 * - a point's time is max(event time, the series' last exported time + 1 ms). The last exported
 *   time of every series is durable (tsdb_series), so two points of one series can never share a
 *   millisecond across requests, and a late event never lands before the series' newest point
 *   (for `stockgate_stock` that keeps the last value = the ledger's balance);
 * - inside one request, the points of a series are non-decreasing in time in ledger/sequence
 *   order, and a change at the millisecond of the series' newest point of the request merges into
 *   it: `stockgate_movements` sums (count = n, qty = sum, the aggregate of a bucket that closes
 *   when the request does), `stockgate_stock`, `stockgate_device` and `stockgate_alerts` keep the
 *   state after the last change of that ms.
 *
 * Speed (the export reads 250k+ rows/s): one long-lived `Series` object per series holds its
 * escaped line prefix, its committed state and its state in the request being built; points are
 * parallel arrays, not objects; the request body is written straight into one Buffer. Nothing is
 * allocated per row beyond the series key string.
 */
export const MEASUREMENTS = {
  stock: 'stockgate_stock',
  movements: 'stockgate_movements',
  device: 'stockgate_device',
  alerts: 'stockgate_alerts',
} as const;

const STOCK = 0;
const MOVEMENTS = 1;
const DEVICE = 2;
const ALERTS = 3;
type Kind = typeof STOCK | typeof MOVEMENTS | typeof DEVICE | typeof ALERTS;

/** Tag names of each measurement in series-key order (the key is `measurement\x1fv1\x1fv2...`). */
const TAGS: Record<string, { kind: Kind; tags: readonly string[] }> = {
  [MEASUREMENTS.stock]: { kind: STOCK, tags: ['site', 'location', 'sku', 'uom'] },
  [MEASUREMENTS.movements]: { kind: MOVEMENTS, tags: ['site', 'kind', 'project', 'uom'] },
  [MEASUREMENTS.device]: { kind: DEVICE, tags: ['site', 'edge', 'device'] },
  [MEASUREMENTS.alerts]: { kind: ALERTS, tags: ['site', 'type'] },
};

const SEP = '\u001f';
const STOCK_KEY = MEASUREMENTS.stock + SEP;
const MOVEMENTS_KEY = MEASUREMENTS.movements + SEP;

/** Below this a number is not a millisecond Unix time after 1973; from MS_MAX on it is µs or ns. */
const MS_MIN = 1e11;
const MS_MAX = 1e14;

/**
 * One series: its key (durable in tsdb_series), the escaped line prefix (`measurement,tag=v,...`
 * exactly as the client's `Point.toLineProtocol` writes it: its `escape`, tags sorted by name,
 * empty ones left out), the committed state and the state inside the request being built.
 */
export class Series {
  readonly kind: Kind;
  private prefixBytes: Buffer | undefined;
  /** The prefix is ASCII (set with it): a body of such lines can be read as Latin-1. */
  ascii = true;
  /** Last exported time, ms; -1 when none. */
  ts: number;
  /** State after the last exported point: on-hand in thousandths (stock), open 0/1 (alerts), 0 otherwise. */
  value: number;
  /** The request (builder) the fields below belong to. */
  epoch = 0;
  bTs = 0;
  bValue = 0;
  bIdx = -1;

  constructor(readonly key: string, committed: SeriesState | undefined) {
    const m = key.slice(0, key.indexOf(SEP) < 0 ? key.length : key.indexOf(SEP));
    this.kind = TAGS[m]?.kind ?? DEVICE;
    this.ts = committed ? committed.ts : -1;
    this.value = committed ? (this.kind === STOCK ? Math.round(committed.value * 1000) : committed.value) : 0;
  }

  /** The durable state (tsdb_series) of a time and value of this series. */
  state(ts: number, value: number): SeriesState {
    return { ts, value: this.kind === STOCK ? value / 1000 : value };
  }

  get prefix(): Buffer {
    if (this.prefixBytes) return this.prefixBytes;
    const parts = this.key.split(SEP);
    const m = parts[0]!;
    const names = TAGS[m]?.tags ?? [];
    const tags: Array<[string, string]> = [];
    names.forEach((n, i) => {
      const v = parts[i + 1];
      if (v) tags.push([n, v]);
    });
    tags.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let p = escape.measurement(m);
    for (const [k, v] of tags) p += `,${escape.tag(k)}=${escape.tag(v)}`;
    this.prefixBytes = Buffer.from(p, 'utf8');
    this.ascii = this.prefixBytes.length === p.length;
    return this.prefixBytes;
  }
}

/**
 * Every series' state: the committed state (what the server acknowledged) plus, per builder, the
 * request's own. Long-lived: the exporter keeps one; a re-send builds a fresh one from the
 * confirmed state.
 */
export class SeriesTable {
  private readonly map = new Map<string, Series>();
  epoch = 0;

  constructor(committed: ReadonlyMap<string, SeriesState> = new Map()) {
    for (const [k, s] of committed) this.map.set(k, new Series(k, s));
  }

  get(key: string): Series {
    let s = this.map.get(key);
    if (s === undefined) {
      s = new Series(key, undefined);
      this.map.set(key, s);
    }
    return s;
  }

  /** Series by their four tag values, without building the key (the per-row path). */
  private readonly stockTree: Tree = new Map();
  private readonly movementsTree: Tree = new Map();

  /** The `stockgate_stock` series of (site, location, sku, uom). */
  stock(site: string, location: string, sku: string, uom: string): Series {
    return this.get4(this.stockTree, STOCK_KEY, site, location, sku, uom);
  }

  /** The `stockgate_movements` series of (site, kind, project, uom). */
  movements(site: string, kind: string, project: string, uom: string): Series {
    return this.get4(this.movementsTree, MOVEMENTS_KEY, site, kind, project, uom);
  }

  /**
   * Four Map lookups on the driver's strings cost less than concatenating the key and hashing
   * the (flattened) result for every row; the key is built once per series.
   */
  private get4(root: Tree, m: string, a: string, b: string, c: string, d: string): Series {
    let t1 = root.get(a);
    if (t1 === undefined) root.set(a, (t1 = new Map()));
    let t2 = t1.get(b);
    if (t2 === undefined) t1.set(b, (t2 = new Map()));
    let t3 = t2.get(c);
    if (t3 === undefined) t2.set(c, (t3 = new Map()));
    let s = t3.get(d);
    if (s === undefined) t3.set(d, (s = this.get(m + a + SEP + b + SEP + c + SEP + d)));
    return s;
  }

  get size(): number {
    return this.map.size;
  }

  /** Committed state of every series (tests). */
  snapshot(): Map<string, SeriesState> {
    const out = new Map<string, SeriesState>();
    for (const [k, s] of this.map) if (s.ts >= 0) out.set(k, s.state(s.ts, s.value));
    return out;
  }
}

type Tree = Map<string, Map<string, Map<string, Map<string, Series>>>>;

/** What a request changed, to make durable with its cursor once the server acknowledged it. */
export interface Touched {
  series: Series[];
  ts: Float64Array;
  value: Float64Array;
}

/** A request body: the lines joined by '\n' (no trailing newline) and how many there are. */
export interface Body {
  text: string;
  lines: number;
}

/** Digits of a non-negative safe integer, written as ASCII. */
function writeInt(buf: Buffer, off: number, n: number): number {
  if (n < 10) {
    buf[off] = 48 + n;
    return off + 1;
  }
  let len = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) len++;
  let x = n;
  for (let i = off + len - 1; i >= off; i--) {
    const q = Math.floor(x / 10);
    buf[i] = 48 + (x - q * 10);
    x = q;
  }
  return off + len;
}

/**
 * Thousandths as the decimal `String(v / 1000)` would print (what `Point.floatField` writes):
 * 2500 -> "2.5", -1 -> "-0.001", 0 -> "0". Exact: no float arithmetic on the value.
 */
function writeMilli(buf: Buffer, off: number, v: number): number {
  if (!Number.isSafeInteger(v) || Math.abs(v) >= 1e18) return off + buf.write(String(v / 1000), off, 'latin1');
  if (v < 0) {
    buf[off++] = 45;
    v = -v;
  }
  const int = Math.floor(v / 1000);
  let frac = v - int * 1000;
  off = writeInt(buf, off, int);
  if (frac !== 0) {
    buf[off++] = 46;
    let div = 100;
    while (frac !== 0) {
      const d = Math.floor(frac / div);
      buf[off++] = 48 + d;
      frac -= d * div;
      div /= 10;
    }
  }
  return off;
}

/**
 * The body is written here, then copied out as the request's text: one buffer for all requests
 * instead of megabytes of fresh memory per request (grows to the largest body, ~96 bytes a point).
 */
let scratch: Buffer = Buffer.allocUnsafe(1 << 16);

const ON_HAND = Buffer.from(' on_hand=');
const COUNT = Buffer.from(' count=');
const QTY = Buffer.from(',qty=');
const OPEN = Buffer.from(' open=');

/**
 * One request's worth of points over a series table. `touched()` is the series state to commit
 * when (and only when) the request got a 2xx.
 */
export class BatchBuilder {
  private readonly epoch: number;
  private readonly touchedList: Series[] = [];
  // The points, as parallel arrays: series, time, and two numbers (stock: on-hand; movements:
  // count, qty, both thousandths for qty; alerts: open) or the fields of a device sample.
  private readonly pS: Series[] = [];
  private readonly pT: number[] = [];
  private readonly pA: number[] = [];
  private readonly pB: number[] = [];
  private readonly pF: Array<Map<string, number> | undefined> = [];
  /** Event times inside [lo, hi] need no guard (the server's retention and future windows). */
  private readonly lo: number;
  private readonly hi: number;
  refused = 0;

  constructor(
    private readonly table: SeriesTable,
    private readonly guards: Guards,
  ) {
    this.epoch = ++table.epoch;
    const w = guards.window();
    this.lo = w.lo;
    this.hi = w.hi;
  }

  get size(): number {
    return this.pS.length;
  }

  /**
   * Where a new point of `s` at event time `t` goes: its time (non-decreasing, never on or before
   * a committed point) and the index of the point to merge into, or -1 for a new point.
   */
  private place(s: Series, t: number): number {
    let at = t > s.ts ? t : s.ts + 1;
    if (s.epoch === this.epoch) {
      if (at < s.bTs) at = s.bTs;
      if (at === s.bTs) return s.bIdx;
    } else {
      s.epoch = this.epoch;
      s.bValue = s.value;
      this.touchedList.push(s);
    }
    const i = this.pS.length;
    this.pS.push(s);
    this.pT.push(at);
    this.pA.push(0);
    this.pB.push(0);
    this.pF.push(undefined);
    s.bTs = at;
    s.bIdx = i;
    return -1;
  }

  /** The guards' verdict on an event time outside the fast path (undefined: refused). */
  private slowTime(r: LedgerChangeRow): number | undefined {
    return this.guards.timestamp(r[1], () => Date.parse(r[12]), () => ({ source: 'ledger', pos: r[0] }));
  }

  /** A quantity column that is not an integer of thousandths, through the guards. */
  private slowMilli(r: LedgerChangeRow, col: number, field: string): number | undefined {
    const n = this.guards.field(r[col], () => ({ source: 'ledger', pos: r[0], field }));
    return n === undefined ? undefined : Math.round(n);
  }

  private stock(site: string, location: string, sku: string, uom: string, t: number, delta: number): void {
    const s = this.table.stock(site, location, sku, uom);
    const merge = this.place(s, t);
    s.bValue += delta;
    this.pA[merge < 0 ? s.bIdx : merge] = s.bValue;
  }

  /** One ledger row: a `stockgate_movements` point and a `stockgate_stock` point per location it moved. */
  ledgerRow(r: LedgerChangeRow): void {
    // Fast path: a ms event time inside the server's window and an integer quantity need no
    // guard (no closure, no object for the log context).
    const ts = r[1];
    const t = typeof ts === 'number' && ts >= this.lo && ts <= this.hi && Number.isInteger(ts) ? ts : this.slowTime(r);
    const q = r[7];
    const qty = Number.isSafeInteger(q) ? q : this.slowMilli(r, 7, 'qty');
    if (t === undefined || qty === undefined) {
      this.refused++;
      return;
    }
    const site = r[2];
    const kind = r[5];
    const m = this.table.movements(site, kind, r[9] ?? '', r[8]);
    const i = this.place(m, t);
    const at = i < 0 ? m.bIdx : i;
    this.pA[at]! += 1;
    this.pB[at]! += qty;
    if (r[10] === 'exception') return;
    // Balances are kept in the item's base unit (a movement in another unit is converted, issue 9).
    const b = r[13];
    const base = b === null ? qty : Number.isSafeInteger(b) ? b : this.slowMilli(r, 13, 'baseQty');
    if (base === undefined) return;
    const uom = r[14] || r[8];
    const sku = r[6] ?? '';
    // The ledger's rules (cloud/ledger/rules.ts): receive, return and adjust add qty; issue takes
    // it; a transfer takes it at `location` and adds it at `toLocation`; a count sets one balance,
    // which changed it by its recorded `variance`.
    switch (kind) {
      case 'receive':
      case 'return':
      case 'adjust':
        this.stock(site, r[3], sku, uom, t, base);
        break;
      case 'issue':
        this.stock(site, r[3], sku, uom, t, -base);
        break;
      case 'transfer':
        this.stock(site, r[3], sku, uom, t, -base);
        if (r[4]) this.stock(site, r[4], sku, uom, t, base);
        break;
      case 'count': {
        const v = r[11] === null ? 0 : Number.isSafeInteger(r[11]) ? r[11] : this.slowMilli(r, 11, 'variance');
        this.stock(site, r[3], sku, uom, t, v ?? 0);
        break;
      }
      default:
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
    const series = this.table.get(MEASUREMENTS.device + SEP + s.site + SEP + s.edge + SEP + s.device);
    const i = this.place(series, t);
    if (i < 0) this.pF[series.bIdx] = fields;
    else for (const [k, v] of fields) this.pF[i]!.set(k, v);
  }

  /** One alert state change: `stockgate_alerts` open = 1 while any alert of the type is open at the site. */
  alert(a: AlertChangeRow): void {
    const t = this.guards.timestamp(a.ts, a.ts, { source: 'alerts', seq: a.seq });
    if (t === undefined) {
      this.refused++;
      return;
    }
    const s = this.table.get(MEASUREMENTS.alerts + SEP + a.site + SEP + a.type);
    const i = this.place(s, t);
    s.bValue = a.open > 0 ? 1 : 0;
    this.pA[i < 0 ? s.bIdx : i] = s.bValue;
  }

  /** The series this request changed and their state after it (to commit after a 2xx). */
  touched(): Touched {
    const n = this.touchedList.length;
    const out: Touched = { series: this.touchedList.slice(), ts: new Float64Array(n), value: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      const s = this.touchedList[i]!;
      out.ts[i] = s.bTs;
      out.value[i] = s.bValue;
    }
    return out;
  }

  /**
   * Serialise: the lines `Point.toLineProtocol` would write (the client's escaping, tags and fields
   * sorted by key, floats as `String(v)`; tests/cloud/timeseries/points.test.ts compares them),
   * written into one Buffer. A point whose time is not in ms (a precision mistake anywhere
   * upstream would land in 1970 or far ahead, where the server drops it silently) is refused.
   */
  body(): Body {
    const n = this.pS.length;
    if (scratch.length < n * 96) scratch = Buffer.allocUnsafe(n * 96);
    let buf: Buffer = scratch;
    let off = 0;
    let lines = 0;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const s = this.pS[i]!;
      const t = this.pT[i]!;
      if (!(t >= MS_MIN && t < MS_MAX && Number.isInteger(t))) {
        this.refused++;
        continue;
      }
      // Room for this line's fixed parts (numbers are at most ~25 bytes each); device fields below.
      if (off + s.prefix.length + 128 > buf.length) buf = grow(buf, off, s.prefix.length + 128);
      const start = off;
      if (lines > 0) buf[off++] = 10;
      off = put(buf, off, s.prefix);
      if (!s.ascii) ascii = false;
      switch (s.kind) {
        case STOCK:
          off = put(buf, off, ON_HAND);
          off = writeMilli(buf, off, this.pA[i]!);
          break;
        case MOVEMENTS:
          off = put(buf, off, COUNT);
          off = writeInt(buf, off, this.pA[i]!);
          off = put(buf, off, QTY);
          off = writeMilli(buf, off, this.pB[i]!);
          break;
        case ALERTS:
          off = put(buf, off, OPEN);
          off = writeInt(buf, off, this.pA[i]!);
          break;
        default: {
          const f = this.pF[i];
          if (!f || f.size === 0) {
            off = start;
            this.refused++;
            continue;
          }
          const names = [...f.keys()].sort();
          let text = '';
          for (const k of names) text += `${text ? ',' : ''}${escape.tag(k)}=${String(f.get(k))}`;
          const bytes = Buffer.byteLength(text);
          if (bytes !== text.length) ascii = false;
          const need = bytes + 32;
          if (off + need > buf.length) buf = grow(buf, off, need);
          buf[off++] = 32;
          off += buf.write(text, off, 'utf8');
        }
      }
      buf[off++] = 32;
      off = writeInt(buf, off, t);
      lines++;
    }
    // The text is a copy: the buffer is reused by the next body (one body is written at a time).
    // An ASCII body (the usual one) is decoded as Latin-1, the same characters: Node keeps a
    // Latin-1 string of over ~1 MB outside the V8 heap, freed with the string, instead of
    // megabytes per request in the old generation until the next full collection (RSS).
    scratch = buf;
    return { text: ascii ? buf.toString('latin1', 0, off) : buf.toString('utf8', 0, off), lines };
  }

  /** The lines (tests). */
  lines(): string[] {
    const b = this.body();
    return b.lines === 0 ? [] : b.text.split('\n');
  }
}

/** Copy a short byte string (a series prefix, a field name) into the body. */
function put(buf: Buffer, off: number, src: Buffer): number {
  // TypedArray.set, not Buffer.copy: for tens of bytes Buffer.copy's argument handling costs more
  // than the copy itself.
  buf.set(src, off);
  return off + src.length;
}

/** A buffer with room for `need` more bytes after `used`, the first `used` bytes copied. */
function grow(buf: Buffer, used: number, need: number): Buffer {
  const bigger = Buffer.allocUnsafe((buf.length + need) * 2);
  buf.copy(bigger, 0, 0, used);
  return bigger;
}

/** Make a request's touched state the committed state of its series (after the server's 2xx). */
export function commitTouched(t: Touched): void {
  for (let i = 0; i < t.series.length; i++) {
    const s = t.series[i]!;
    s.ts = t.ts[i]!;
    s.value = t.value[i]!;
  }
}

/** Field keys: letters, digits and `_` (telemetry names such as `outbox.backlog` -> `outbox_backlog`). */
export function fieldKey(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 128) || '_';
}
