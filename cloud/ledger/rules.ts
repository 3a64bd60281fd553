/**
 * The ledger's rules, in one pure module both stores use (issue 9): what a movement does to
 * balances and serialised identities, which exceptions it raises, and a count's variance. A
 * store reads the state through a `LedgerReader`, asks `plan()` what one movement does, and
 * writes the plan; it decides nothing itself. Quantities are integer thousandths ("milli") of
 * the item's base unit of measure (`protocols/ledger/quantity.ts`).
 */
import { Decimal } from 'decimal.js';
import { identityOf } from '../../protocols/ledger/identity.js';
import { toMilli } from '../../protocols/ledger/quantity.js';
import type { Movement } from '../../protocols/mqtt/index.js';
import { decodeEpc } from '../../protocols/rfid/epc.js';

export type ExceptionType =
  /** A movement took a balance below zero. It was applied: it physically happened. */
  | 'NEGATIVE_STOCK'
  /** A receive/return of a serialised identity already in stock at the site: not stock. */
  | 'DUPLICATE_IDENTITY'
  /** An issue/transfer of a serialised identity the ledger does not hold in stock. */
  | 'IDENTITY_NOT_IN_STOCK'
  /** A unit of measure the item master cannot convert to the item's base unit: recorded, no balance. */
  | 'UOM_MISMATCH'
  /** The first movement of a SKU the item master does not know (applied; raised once per SKU). */
  | 'UNKNOWN_ITEM'
  /** An EPC that is no SGTIN and that the item master does not map (SSCC, GRAI, GIAI, raw): not booked. */
  | 'UNMAPPED_EPC'
  /** A count applied after movements stamped later than it: its result differs from the live figure. */
  | 'LATE_COUNT'
  /** A count without a batch of a batch-tracked item: recorded, no balance. */
  | 'COUNT_WITHOUT_BATCH'
  /** Stock on hand fell below what is reserved: the newest reservations are at risk (issue 11 §1). */
  | 'RESERVATION_AT_RISK'
  /** Net issues to a project stage beyond plan + tolerance (超领, issue 10 §1): applied, routed to the project's manager. */
  | 'OVER_ISSUE'
  /** A receipt beyond its PO line's ordered quantity + 2%, or pinned to a PO with no open line of the SKU (issue 10 §3): recorded anyway. */
  | 'OVER_RECEIPT'
  /** A receipt that matched no open PO line (issue 10 §4): costed at the item's standard cost, flagged here. */
  | 'NO_PO_RECEIPT';

export type Tracking = 'none' | 'batch' | 'serial';

/** The item master's record of a SKU (`cloud/catalog/`). */
export interface ItemMaster {
  sku: string;
  name: string;
  /** Base unit of measure: balances of the item are in it. */
  uom: string;
  gtins: string[];
  /** `{uom: 'box', factor: 50}`: 1 box = 50 base units. */
  conversions: Array<{ uom: string; factor: number }>;
  /** Weight of one base unit in kg: a weight (GS1 net weight, a scale) converts through it. */
  unitWeightKg: number | null;
  tracking: Tracking;
  shelfLifeDays: number | null;
  /** Integer fen as a digit string ("3350"); the API shows it as CNY ("33.50", cloud/catalog). */
  standardCost: string | null;
  /** EPCs (upper-case hex) of tags mapped to this item (SSCC, GRAI, GIAI, raw tags). */
  epcs: string[];
  updatedAt: string;
}

/** A balance key ('' when a movement has no batch or project). */
export interface Key {
  site: string;
  location: string;
  sku: string;
  batch: string;
  project: string;
}

/** What the rules read. Reads see the effects of movements planned and written before. */
export interface LedgerReader {
  item(sku: string): ItemMaster | undefined;
  itemByGtin(gtin: string): ItemMaster | undefined;
  itemByEpc(epc: string): ItemMaster | undefined;
  /** The uom a SKU unknown to the master was first seen in (its provisional base unit). */
  provisionalUom(sku: string): string | undefined;
  identity(site: string, identity: string): { inStock: boolean; location: string } | undefined;
  /** On hand (milli) of a key, undefined when there is no balance row. */
  balance(key: Key): number | undefined;
  /** Balance rows of a SKU at a location and project, every batch. */
  locationBatches(site: string, location: string, sku: string, project: string): Array<{ batch: string; onHand: number }>;
  /**
   * Net balance effect (milli) at the scope of the ledger rows applied so far whose `ts` is after
   * `tsMs`, and how many there are. `batch` undefined: every batch of the location.
   */
  laterEffect(scope: { site: string; location: string; sku: string; project: string; batch?: string }, tsMs: number): { effect: number; rows: number };
}

export interface Raised {
  type: ExceptionType;
  key: Key;
  message: string;
  identity?: string;
  /** Balance after the movement (milli), for NEGATIVE_STOCK. */
  onHand?: number;
}

export interface BalanceOp {
  key: Key;
  /** milli of `uom` (the item's base unit). */
  delta: number;
  uom: string;
  expiry: string | null;
  /** A decrease by a movement (not a count): below zero after it raises NEGATIVE_STOCK. */
  check: boolean;
}

/** What one movement does. The ledger row's status and variance are final here (rows are never updated). */
export interface Plan {
  /** The balance SKU (mapped through the item master's GTINs/EPCs when the movement has no sku). */
  sku: string;
  key: Key;
  status: 'applied' | 'exception';
  /** The movement's own quantity and uom, milli. */
  qty: number;
  /** The quantity in the item's base unit (milli), null when nothing was booked. */
  baseQty: number | null;
  baseUom: string | null;
  /** Exact converted quantity minus the booked one, when a conversion rounded (decimal string). */
  rounding: string | null;
  /** Counts: counted minus on hand at the count's ts (milli of the base unit). */
  variance: number | null;
  tsMs: number;
  ops: BalanceOp[];
  identity?: { identity: string; inStock: boolean; location: string };
  raised: Raised[];
  /** A SKU seen for the first time without a master record: remember its uom (and raise UNKNOWN_ITEM once). */
  newUnknown?: { sku: string; uom: string };
}

/** The balance SKU of a movement and its master record. `unmapped` for an EPC that names no item. */
export function resolveItem(m: Movement, r: LedgerReader): { sku: string; item?: ItemMaster; unmapped?: string } {
  if (m.sku !== undefined) {
    const item = r.item(m.sku);
    return item ? { sku: m.sku, item } : { sku: m.sku };
  }
  if (m.gtin !== undefined) {
    const item = r.itemByGtin(m.gtin);
    return item ? { sku: item.sku, item } : { sku: m.gtin };
  }
  const epc = m.epc!;
  const mapped = r.itemByEpc(epc);
  if (mapped) return { sku: mapped.sku, item: mapped };
  const d = decodeEpc(epc);
  if (d.scheme === 'sgtin-96') {
    const item = r.itemByGtin(d.gtin);
    return item ? { sku: item.sku, item } : { sku: d.gtin };
  }
  // SSCC (a pallet), GRAI/GIAI (assets), raw tags: no trade item to book (issue 9).
  return { sku: epc, unmapped: d.scheme === 'raw' ? 'a raw (non-GS1) EPC' : `an ${d.scheme.toUpperCase()}` };
}

const HALF_UP = Decimal.ROUND_HALF_UP;

/**
 * `Date.parse(ts)`, with the form edges and `new Date().toISOString()` write
 * (`YYYY-MM-DDTHH:mm:ss.sssZ`) read by hand: Date.parse costs about 150 ns per ledger row, this
 * about 50. Only fields where Date.UTC and Date.parse agree take the short way (year >= 100,
 * since Date.UTC maps 0..99 to 19xx; day <= 28, so no month is overrun; hour < 24); any other
 * text goes to Date.parse (a property test compares both on random texts of this form).
 */
export function instantMs(ts: string): number {
  if (ts.length !== 24 || ts.charCodeAt(23) !== 0x5a /* Z */) return Date.parse(ts);
  const year = digits(ts, 0, 4);
  const month = digits(ts, 5, 2);
  const day = digits(ts, 8, 2);
  const hour = digits(ts, 11, 2);
  const minute = digits(ts, 14, 2);
  const second = digits(ts, 17, 2);
  const ms = digits(ts, 20, 3);
  if (
    (year | month | day | hour | minute | second | ms) < 0 ||
    ts.charCodeAt(4) !== 0x2d || ts.charCodeAt(7) !== 0x2d || ts.charCodeAt(10) !== 0x54 || ts.charCodeAt(13) !== 0x3a || ts.charCodeAt(16) !== 0x3a || ts.charCodeAt(19) !== 0x2e ||
    year < 100 || month < 1 || month > 12 || day < 1 || day > 28 || hour > 23 || minute > 59 || second > 59
  ) {
    return Date.parse(ts);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** The decimal value of `n` ASCII digits of `s` at `at`; -1 when one is not a digit. */
function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * The movement's quantity in the base unit: itself, through a conversion (`factor` base units per
 * unit), or a weight in kg through the item's unit weight; rounded half up to 3 decimals, the
 * difference kept as `rounding`. Undefined when no conversion exists.
 */
export function toBase(qty: number, uom: string, base: string, item: ItemMaster | undefined): { milli: number; rounding: string | null } | undefined {
  if (uom === base) return { milli: toMilli(qty), rounding: null };
  if (!item) return undefined;
  let exact: Decimal | undefined;
  const conv = item.conversions.find((c) => c.uom === uom);
  if (conv) exact = new Decimal(qty).times(conv.factor);
  else if (uom === 'kg' && item.unitWeightKg) exact = new Decimal(qty).div(item.unitWeightKg);
  if (!exact) return undefined;
  const booked = exact.toDecimalPlaces(3, HALF_UP);
  const diff = exact.minus(booked);
  return { milli: booked.times(1000).toNumber(), rounding: diff.isZero() ? null : diff.toDecimalPlaces(12, HALF_UP).toString() };
}

/** What movement `m` does, given the state `r` (every earlier movement already written). */
export function plan(m: Movement, r: LedgerReader): Plan {
  // The common case (a SKU on the movement) without resolveItem's result object: this runs once
  // per ledger row on the ingest hot path.
  let sku: string;
  let item: ItemMaster | undefined;
  let unmapped: string | undefined;
  if (m.sku !== undefined) {
    sku = m.sku;
    item = r.item(sku);
  } else ({ sku, item, unmapped } = resolveItem(m, r));
  const key: Key = { site: m.site, location: m.location, sku, batch: m.batch ?? '', project: m.project ?? '' };
  const p: Plan = {
    sku,
    key,
    status: 'exception',
    qty: toMilli(m.qty),
    baseQty: null,
    baseUom: null,
    rounding: null,
    variance: null,
    tsMs: instantMs(m.ts),
    ops: [],
    raised: [],
  };
  if (unmapped) {
    p.raised.push({ type: 'UNMAPPED_EPC', key, message: `epc ${m.epc} is ${unmapped} the item master does not map: ${m.kind} recorded, not booked as stock` });
    return p;
  }
  let base = item?.uom ?? r.provisionalUom(sku);
  if (base === undefined) {
    base = m.uom;
    p.newUnknown = { sku, uom: m.uom };
    p.raised.push({ type: 'UNKNOWN_ITEM', key, message: `sku ${sku} is not in the item master: applied in ${m.uom}; add the item (PUT /api/v1/items/${sku})` });
  }
  // In the base unit already (most rows), toBase's answer is p.qty with no rounding: not asked.
  let q = p.qty;
  if (m.uom !== base) {
    const conv = toBase(m.qty, m.uom, base, item);
    if (!conv) {
      p.raised.push({
        type: 'UOM_MISMATCH',
        key,
        message: `uom ${m.uom}: ${sku} is kept in ${base} and ${item ? 'the item master has no conversion from it' : 'is not in the item master'}: ${m.kind} of ${m.qty} ${m.uom} recorded, no balance changed`,
      });
      return p;
    }
    q = conv.milli;
    p.rounding = conv.rounding;
  }
  p.baseQty = q;
  p.baseUom = base;
  const expiry = m.expiry ?? null;

  // Serialised identities: a second receive of one in stock is not stock.
  const identity = identityOf(m);
  if (identity) {
    const cur = r.identity(m.site, identity);
    switch (m.kind) {
      case 'receive':
      case 'return':
        if (cur?.inStock) {
          p.raised.push({ type: 'DUPLICATE_IDENTITY', key, identity, message: `${identity} is already in stock at ${m.site} (${cur.location}): ${m.kind} not counted` });
          p.baseQty = null;
          p.baseUom = null;
          return p;
        }
        p.identity = { identity, inStock: true, location: m.location };
        break;
      case 'issue':
      case 'transfer':
        if (!cur?.inStock) p.raised.push({ type: 'IDENTITY_NOT_IN_STOCK', key, identity, message: `${identity} was not in stock at ${m.site} when ${m.kind === 'issue' ? 'issued' : 'transferred'}` });
        p.identity = { identity, inStock: m.kind === 'transfer', location: m.kind === 'transfer' ? m.toLocation! : m.location };
        break;
      case 'count':
      case 'adjust':
        p.identity = { identity, inStock: m.qty > 0, location: m.location };
        break;
    }
  }

  switch (m.kind) {
    case 'receive':
    case 'return':
    case 'adjust':
      p.ops.push({ key, delta: q, uom: base, expiry, check: q < 0 });
      break;
    case 'issue':
      p.ops.push({ key, delta: -q, uom: base, expiry, check: true });
      break;
    case 'transfer':
      p.ops.push({ key, delta: -q, uom: base, expiry, check: true }, { key: { ...key, location: m.toLocation! }, delta: q, uom: base, expiry, check: false });
      break;
    case 'count':
      if (!countOps(m, r, p, item, base, q, expiry)) {
        p.baseQty = null;
        p.baseUom = null;
        p.identity = undefined;
        return p;
      }
      break;
  }
  p.status = 'applied';
  return p;
}

/**
 * A count states the quantity at its `ts` (issue 9, C4): variance = counted - on hand at ts, where
 * on hand at ts = on hand now - the effect of the rows applied so far that are stamped after ts.
 * The variance is applied as a delta, so later movements stay in effect. With a batch (or for a
 * batch-tracked item) the count is of that batch; without one, of the location's total of the
 * SKU in that project, every batch (C5): the batch rows go to 0 and the batchless row holds the
 * count. A batch-tracked item counted without a batch is an exception. Returns false when nothing
 * is booked.
 */
function countOps(m: Movement, r: LedgerReader, p: Plan, item: ItemMaster | undefined, base: string, counted: number, expiry: string | null): boolean {
  const { key } = p;
  if (item?.tracking === 'batch' && key.batch === '') {
    p.raised.push({ type: 'COUNT_WITHOUT_BATCH', key, message: `count of ${m.qty} ${m.uom} of ${key.sku} at ${key.location} has no batch, and ${key.sku} is batch-tracked: recorded, no balance changed` });
    return false;
  }
  let now: number;
  let later: { effect: number; rows: number };
  if (key.batch !== '') {
    now = r.balance(key) ?? 0;
    later = r.laterEffect({ site: key.site, location: key.location, sku: key.sku, project: key.project, batch: key.batch }, p.tsMs);
    p.variance = counted - (now - later.effect);
    p.ops.push({ key, delta: p.variance, uom: base, expiry, check: false });
  } else {
    const rows = r.locationBatches(key.site, key.location, key.sku, key.project);
    now = rows.reduce((a, x) => a + x.onHand, 0);
    later = r.laterEffect({ site: key.site, location: key.location, sku: key.sku, project: key.project }, p.tsMs);
    p.variance = counted - (now - later.effect);
    let moved = 0;
    for (const x of rows) {
      if (x.batch === '' || x.onHand === 0) continue;
      moved += x.onHand;
      p.ops.push({ key: { ...key, batch: x.batch }, delta: -x.onHand, uom: base, expiry: null, check: false });
    }
    p.ops.push({ key, delta: moved + p.variance, uom: base, expiry, check: false });
  }
  if (later.rows > 0 && later.effect !== 0) {
    const live = now + p.variance;
    p.raised.push({
      type: 'LATE_COUNT',
      key,
      message: `count of ${m.qty} ${m.uom} stamped ${m.ts} arrived after ${later.rows} later movement(s): they stay in effect, so ${key.sku} at ${key.location} is ${live / 1000}, not the counted ${counted / 1000}`,
    });
  }
  return true;
}

/** NEGATIVE_STOCK when a decrease took a balance below zero (applied anyway: the goods moved). */
export function negative(m: Movement, op: BalanceOp, after: number): Raised | undefined {
  if (!op.check || op.delta >= 0 || after >= 0) return undefined;
  return { type: 'NEGATIVE_STOCK', key: op.key, onHand: after, message: `${m.kind} of ${m.qty} ${m.uom} took ${op.key.sku} at ${op.key.location} to ${after / 1000}` };
}

/** Effect of an applied ledger row on a location (the SQL of `laterEffect` computes the same). */
export function effectAt(row: { kind: string; location: string; toLocation: string | null; baseQty: number; variance: number | null }, location: string): number {
  let e = 0;
  if (row.location === location) {
    if (row.kind === 'issue' || row.kind === 'transfer') e -= row.baseQty;
    else if (row.kind === 'count') e += row.variance ?? 0;
    else e += row.baseQty;
  }
  if (row.toLocation === location) e += row.baseQty;
  return e;
}

/** SQL expression of `effectAt` over ledger columns, `$L` standing for the location parameter. */
export function effectSql(loc: string): string {
  return `(CASE WHEN location = ${loc} THEN (CASE kind WHEN 'issue' THEN -base_qty WHEN 'transfer' THEN -base_qty WHEN 'count' THEN variance ELSE base_qty END) ELSE 0 END
    + CASE WHEN to_location = ${loc} THEN base_qty ELSE 0 END)`;
}
